//! The wire types of subject access requests and the server functions that read them.
//! Changes are forms posted to the pages' own addresses, handled by the server's form
//! routes, which call the same service (`server::sar`).

use leptos::prelude::*;
use leptos::server_fn::codec::GetUrl;
use serde::{Deserialize, Serialize};

use crate::error::AppError;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestHistoryLine {
    pub at: String,
    pub what: String,
    /// What the requester was told (a refusal's reason, an extension's reason).
    pub note: Option<String>,
}

/// A request as the requester (and the desk) read it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestView {
    pub public_id: String,
    /// The short reference the requester quotes ("3F2A9C1B").
    pub reference: String,
    pub received: String,
    /// "Everything" or the parts asked for, with the date range.
    pub scope: String,
    pub note: Option<String>,
    pub state: String,
    pub is_open: bool,
    /// The date the answer is due by, or since when the clock has been paused.
    pub due: Option<String>,
    /// Until when the answer can be downloaded (fulfilled, not yet expired).
    pub answer_until: Option<String>,
    pub history: Vec<RequestHistoryLine>,
}

/// What the request form needs: the record it is opened for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestFormView {
    /// Sent back with the form: `own`, or the grant acted under.
    pub record: String,
    /// The patient's name, when asking for someone else.
    pub for_name: Option<String>,
}

/// One item the answer would hold, for the clinical review.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReviewItemView {
    pub public_id: String,
    pub section: String,
    pub title: String,
    pub date: String,
    pub source: String,
    /// Empty when included, otherwise the ground it is withheld on.
    pub withheld: String,
}

/// The clinical review of a request in review.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReviewView {
    pub public_id: String,
    pub items: Vec<ReviewItemView>,
    pub reviewer: String,
    pub reason: String,
    /// Whether a review has been recorded (the answer can then be sent).
    pub recorded: bool,
    /// Sent back with the form: which items the reviewer saw (their ids and versions),
    /// so a review is never recorded for a list that changed meanwhile.
    pub items_digest: String,
}

/// A request in the desk's queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeskRequestView {
    pub request: RequestView,
    /// `patient` or `proxy`.
    pub requester: String,
    /// "Overdue", "Due soon", "On time" or "Paused".
    pub urgency: String,
    pub is_overdue: bool,
    pub is_due_soon: bool,
    /// `(code, words)` for every change the request's state allows now.
    pub actions: Vec<(String, String)>,
    pub can_extend: bool,
    pub in_review: bool,
    /// In review, and the clinical review has been recorded.
    pub reviewed: bool,
    /// `online`, `post`, `phone` or `email`.
    pub channel: String,
}

#[cfg(feature = "ssr")]
use crate::proxy::api::{context, with_status};

#[server(endpoint = "sar/mine", input = GetUrl)]
pub async fn list_my_requests() -> Result<Vec<RequestView>, AppError> {
    let (state, viewer) = context().await?;
    with_status(crate::server::sar::my_requests(&state, viewer.patient.as_ref()).await)
}

#[server(endpoint = "desk/requests", input = GetUrl)]
pub async fn list_desk_requests() -> Result<Vec<DeskRequestView>, AppError> {
    let (state, viewer) = context().await?;
    with_status(crate::server::sar::desk_queue(&state, viewer.staff.as_ref()).await)
}

#[server(endpoint = "desk/request", input = GetUrl)]
pub async fn get_desk_request(id: String) -> Result<DeskRequestView, AppError> {
    let (state, viewer) = context().await?;
    with_status(crate::server::sar::desk_request(&state, viewer.staff.as_ref(), &id).await)
}

#[server(endpoint = "sar/form", input = GetUrl)]
pub async fn get_request_form() -> Result<RequestFormView, AppError> {
    let (state, viewer) = context().await?;
    with_status(crate::server::sar::request_form(&state, viewer.patient.as_ref()).await)
}

#[server(endpoint = "desk/request_review", input = GetUrl)]
pub async fn get_request_review(id: String) -> Result<ReviewView, AppError> {
    let (state, viewer) = context().await?;
    with_status(crate::server::sar::review(&state, viewer.staff.as_ref(), &id).await)
}
