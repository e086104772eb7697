//! Who is making a request, as resolved from the session cookies by the server's session
//! layer and put in the request's extensions. Patient and staff sessions are separate:
//! a request may carry either, both or neither, and each page asks for the one it needs.

use chrono::{DateTime, Utc};

use super::storage::{Account, GrantRecord};

/// A signed-in account and its session.
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub account: Account,
    /// The grant under which the person chose to act for someone, if any (see
    /// `crate::proxy`); checked again by the access decision at every read.
    pub acting_for: Option<GrantRecord>,
    /// SHA-256 of the session id (the id itself is only ever in the cookie).
    pub session_hash: String,
    pub csrf_token: String,
    /// When the session will end if nothing else happens.
    pub expires_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Default)]
pub struct Viewer {
    pub patient: Option<SignedIn>,
    pub staff: Option<SignedIn>,
}

/// The viewer of the current request, as the session layer resolved it; signed out when
/// there is none (for example in a test that renders without the layer).
pub async fn current_viewer() -> Viewer {
    request_viewer()
}

/// [`current_viewer`] without waiting: the session layer's [`Viewer`] from the request's
/// extensions, which leptos_axum puts in the reactive context of every page render and
/// server function. Pages render synchronously, so the frame reads it this way.
pub fn request_viewer() -> Viewer {
    leptos::prelude::use_context::<http::request::Parts>()
        .and_then(|parts| parts.extensions.get::<Viewer>().cloned())
        .unwrap_or_default()
}
