//! The wire types of the service desk console and the server functions that read them.
//! Nothing here carries clinical content: a patient is shown by name, NHS number, date
//! of birth, account status, choices, grants and open requests; a held item by sender,
//! type, time and identifiers. Every change is a form posted to the page's address and
//! handled by the server's form routes, which call the same service (`server::desk`).

use leptos::prelude::*;
use leptos::server_fn::codec::GetUrl;
use serde::{Deserialize, Serialize};

use crate::choices::api::ChoiceHistoryLine;
use crate::error::AppError;
use crate::proxy::api::GrantView;

/// The console's front page: what is waiting in each queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeskHome {
    pub applications_waiting: u64,
    pub held_items_waiting: u64,
    pub reviews_due: u64,
}

/// An NHS login account linked to a record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeskAccountView {
    /// A reference for the unlink form (not the account's key).
    pub reference: String,
    pub identity_level: String,
    pub created: String,
    pub last_sign_in: Option<String>,
}

/// An organisation the desk can record an objection to or withdraw one from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeskSourceView {
    pub ods_code: String,
    pub name: String,
    pub objected: bool,
}

/// A patient as the desk sees them: who they are, their account, choices, grants and
/// open requests. No clinical content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeskPatientView {
    pub lookup: String,
    pub name: String,
    pub nhs_number: String,
    pub birth_date: String,
    pub reason: String,
    pub accounts: Vec<DeskAccountView>,
    pub has_left: bool,
    pub left_on: Option<String>,
    pub sources: Vec<DeskSourceView>,
    pub grants: Vec<GrantView>,
    /// Proxy applications waiting that name this patient.
    pub open_requests: Vec<String>,
    /// Requests for a copy of data: `(id, summary)`, newest first.
    pub access_requests: Vec<(String, String)>,
    pub history: Vec<ChoiceHistoryLine>,
}

/// One held feed item in the queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeldItemView {
    pub public_id: String,
    pub sender: String,
    pub sender_ods_code: String,
    pub resource_type: String,
    pub received: String,
    /// Why the feed could not match it (the element and the rule, no patient data).
    pub why: String,
    /// `(what, value)`: identifiers only.
    pub identifiers: Vec<(String, String)>,
    /// "Matched to a patient" or "Sent back to the sender", once resolved.
    pub resolution: Option<String>,
}

/// A page of the held items queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeldQueueView {
    pub items: Vec<HeldItemView>,
    pub total: u64,
    pub page: u32,
    pub pages: u32,
    /// The sender filter in force (its ODS code), and every sender to filter by.
    pub sender: Option<String>,
    pub senders: Vec<(String, String)>,
}

#[cfg(feature = "ssr")]
use crate::proxy::api::{context, with_status};
#[cfg(feature = "ssr")]
use crate::server::desk as service;

#[server(endpoint = "desk/home", input = GetUrl)]
pub async fn get_desk_home() -> Result<DeskHome, AppError> {
    let (state, viewer) = context().await?;
    with_status(service::home(&state, viewer.staff.as_ref()).await)
}

#[server(endpoint = "desk/patient", input = GetUrl)]
pub async fn get_desk_patient(lookup: String) -> Result<DeskPatientView, AppError> {
    let (state, viewer) = context().await?;
    with_status(service::patient(&state, viewer.staff.as_ref(), &lookup).await)
}

#[server(endpoint = "desk/held_items", input = GetUrl)]
pub async fn list_held_items(sender: String, page: u32) -> Result<HeldQueueView, AppError> {
    let (state, viewer) = context().await?;
    with_status(service::held_queue(&state, viewer.staff.as_ref(), &sender, page).await)
}

#[server(endpoint = "desk/held_item", input = GetUrl)]
pub async fn get_held_item(id: String) -> Result<HeldItemView, AppError> {
    let (state, viewer) = context().await?;
    with_status(service::held_item(&state, viewer.staff.as_ref(), &id).await)
}
