//! Facts about this installation that every page may show (for now: whether it is a
//! demonstration), fetched once per page through a server function so that the server
//! render and the browser's hydration agree.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::AppError;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SiteInfo {
    pub demo_mode: bool,
}

#[server(endpoint = "site_info")]
pub async fn get_site_info() -> Result<SiteInfo, AppError> {
    let state =
        use_context::<crate::server::AppState>().ok_or_else(|| AppError::internal(&"no state"))?;
    Ok(SiteInfo {
        demo_mode: state.demo_mode,
    })
}
