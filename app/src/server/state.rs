//! The state every request handler and server function can reach: storage, the clock and
//! the Leptos options. Axum extracts parts of it with `FromRef`; server functions get it
//! from the Leptos context.

use std::sync::Arc;

use axum::extract::FromRef;
use leptos::config::LeptosOptions;

use super::{clock::Clock, storage::Storage};

#[derive(Clone)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    pub storage: Arc<dyn Storage>,
    pub clock: Arc<dyn Clock>,
    /// Shown as a banner on every page when the demo identity provider is on.
    pub demo_mode: bool,
    /// The proxy access rules in force (age rules, how long invitations stay open).
    pub proxy: crate::proxy::rules::ProxySettings,
    /// The days on which no subject access request is due.
    pub bank_holidays: crate::sar::rules::BankHolidays,
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}
