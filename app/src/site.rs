//! Facts every page may show: whether this is a demonstration, and who is signed in (so
//! the header can offer "Sign out" with the session's CSRF token).
//!
//! Pages are rendered on the server only (the browser runs just the islands), so they
//! read these facts straight from the request being rendered ([`current_site_info`]):
//! no server function, no resource, no `Suspense`. The frame used to read them through
//! a resource from two or three `Suspense` boundaries at once, and under load that
//! panicked now and then ("a reactive value that has already been disposed", a 500 for
//! the visitor). The server function stays for the browser's own use.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::AppError;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct SiteInfo {
    pub demo_mode: bool,
    pub patient: Option<PatientSession>,
    pub staff: Option<StaffSession>,
}

/// A signed-in patient, as pages need to know them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PatientSession {
    /// "P9", "P5" or "P0".
    pub identity_level: String,
    /// Linked to a record (P9 with a valid NHS number).
    pub has_record: bool,
    pub csrf_token: String,
    /// The name of the patient they chose to act for, if they did.
    pub acting_for: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StaffSession {
    pub csrf_token: String,
}

// A read: GET, so it needs no CSRF token (only state-changing requests do).
#[server(endpoint = "site_info", input = leptos::server_fn::codec::GetUrl)]
pub async fn get_site_info() -> Result<SiteInfo, AppError> {
    let state =
        use_context::<crate::server::AppState>().ok_or_else(|| AppError::internal(&"no state"))?;
    let viewer = crate::server::current_viewer().await;
    Ok(site_info_of(state.demo_mode, viewer))
}

/// The site facts of the request being rendered. On the server they come from the
/// request itself (the session layer's [`Viewer`](crate::server::Viewer) in its
/// extensions); in the browser, where no page is rendered, they are the signed-out
/// defaults.
pub fn current_site_info() -> SiteInfo {
    #[cfg(feature = "ssr")]
    {
        let demo_mode = use_context::<crate::server::AppState>().is_some_and(|s| s.demo_mode);
        site_info_of(demo_mode, crate::server::request_viewer())
    }
    #[cfg(not(feature = "ssr"))]
    SiteInfo::default()
}

#[cfg(feature = "ssr")]
fn site_info_of(demo_mode: bool, viewer: crate::server::Viewer) -> SiteInfo {
    SiteInfo {
        demo_mode,
        patient: viewer.patient.map(|p| PatientSession {
            identity_level: p.account.identity_level.unwrap_or_else(|| "P0".to_owned()),
            has_record: p.account.patient_id.is_some(),
            acting_for: p
                .acting_for
                .as_ref()
                .map(|g| g.patient_name.display_or("someone")),
            csrf_token: p.csrf_token,
        }),
        staff: viewer.staff.map(|s| StaffSession {
            csrf_token: s.csrf_token,
        }),
    }
}
