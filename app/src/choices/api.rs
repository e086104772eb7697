//! The wire types of the "Your choices" page and the server function that reads it.
//! Changes are posted by the page's forms to the server's form routes, which call the
//! same service (`server::choices`).

use leptos::prelude::*;
use leptos::server_fn::codec::GetUrl;
use serde::{Deserialize, Serialize};

use crate::error::AppError;

/// A source of the patient's record, and whether they object to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceChoiceView {
    pub ods_code: String,
    pub name: String,
    pub objected: bool,
}

/// A proxy whose access the patient's leaving paused, offered back on their return.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OfferedGrantView {
    pub public_id: String,
    pub name: String,
    pub relationship: String,
}

/// One entry of the history of the patient's choices.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChoiceHistoryLine {
    pub at: String,
    pub what: String,
    /// "You, online" or "The service desk, by post (reference …)".
    pub by: String,
    /// The desk's reason, in the agent's words.
    pub reason: Option<String>,
}

/// "Your choices".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChoicesView {
    pub has_left: bool,
    pub left_on: Option<String>,
    /// Empty while the patient has left (their record is not read then).
    pub sources: Vec<SourceChoiceView>,
    pub offered_back: Vec<OfferedGrantView>,
    pub history: Vec<ChoiceHistoryLine>,
}

#[cfg(feature = "ssr")]
use crate::proxy::api::{context, with_status};

#[server(endpoint = "choices/mine", input = GetUrl)]
pub async fn get_my_choices() -> Result<ChoicesView, AppError> {
    let (state, viewer) = context().await?;
    with_status(crate::server::choices::my_choices(&state, viewer.patient.as_ref()).await)
}
