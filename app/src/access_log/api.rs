//! The wire types of "Who viewed my record" and the server function that reads it.

use leptos::prelude::*;
use leptos::server_fn::codec::GetUrl;
use serde::{Deserialize, Serialize};

use crate::error::AppError;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessLogEntry {
    pub at: String,
    /// The group: "You", "People acting for you", "The service desk", "The portal".
    pub who: String,
    pub name: String,
    pub what: String,
    pub why: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessLogView {
    pub entries: Vec<AccessLogEntry>,
    pub total: u64,
    pub page: u32,
    pub pages: u32,
    /// The filter in force (a group's code), and every group to filter by.
    pub who: Option<String>,
    pub own: bool,
    pub filters: Vec<(String, String)>,
}

#[cfg(feature = "ssr")]
use crate::proxy::api::{context, with_status};

#[server(endpoint = "account/access_log", input = GetUrl)]
pub async fn get_access_log(who: String, own: bool, page: u32) -> Result<AccessLogView, AppError> {
    let (state, viewer) = context().await?;
    with_status(
        crate::server::access_log::my_access_log(&state, viewer.patient.as_ref(), &who, own, page)
            .await,
    )
}
