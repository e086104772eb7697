//! Facts every page may show: whether this is a demonstration, and who is signed in (so
//! the header can offer "Sign out" with the session's CSRF token). Fetched once per page
//! through a server function so that the server render and the browser's hydration
//! agree.

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
    Ok(SiteInfo {
        demo_mode: state.demo_mode,
        patient: viewer.patient.map(|p| PatientSession {
            identity_level: p.account.identity_level.unwrap_or_else(|| "P0".to_owned()),
            has_record: p.account.patient_id.is_some(),
            csrf_token: p.csrf_token,
        }),
        staff: viewer.staff.map(|s| StaffSession {
            csrf_token: s.csrf_token,
        }),
    })
}
