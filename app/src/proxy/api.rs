//! The wire types of the proxy pages and the server functions that read them. Each is a
//! thin adapter over `server::proxy` (the service); the forms that change anything post
//! to their page's own address and are handled by the server's form routes, which call
//! the same service.

use leptos::prelude::*;
use leptos::server_fn::codec::GetUrl;
use serde::{Deserialize, Serialize};

use crate::error::AppError;

/// One grant, as the patient (or the service desk) sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GrantView {
    pub public_id: String,
    /// The proxy's name (on the patient's side) or the patient's (on the proxy's).
    pub name: String,
    pub relationship: String,
    pub basis: String,
    pub sections: Vec<String>,
    pub labels: Vec<String>,
    pub from: String,
    pub until: Option<String>,
    pub status: String,
    pub in_force: bool,
    pub is_revoked: bool,
    pub is_suspended_by_decision: bool,
    /// The patient controls it: a grant made with their consent.
    pub patient_controls: bool,
    /// A parent's access paused because the young person turned the age at which
    /// their consent is needed: they can agree to it continuing.
    pub awaits_young_persons_consent: bool,
    pub last_used: Option<String>,
    pub notice: Option<String>,
    /// The scope and end date as the change form shows them.
    pub scope: crate::proxy::rules::Scope,
    pub ends_on: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvitationView {
    pub public_id: String,
    pub name: String,
    pub relationship: String,
    pub sent: String,
    pub expires: String,
    pub status: String,
    pub is_pending: bool,
}

/// "People who can see your record".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeopleView {
    pub grants: Vec<GrantView>,
    pub invitations: Vec<InvitationView>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryLine {
    pub at: String,
    pub what: String,
    pub by: String,
    pub reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GrantDetail {
    pub grant: GrantView,
    pub history: Vec<HistoryLine>,
}

/// Whose record a person can open.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChoicesView {
    pub own_record: bool,
    /// The patient they are acting for now, if any.
    pub acting_for: Option<String>,
    pub grants: Vec<GrantView>,
}

/// An application for proxy access, as its applicant sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApplicationView {
    pub public_id: String,
    pub basis: String,
    pub relationship: String,
    pub sent: String,
    pub status: String,
    /// Why it was refused, worded so that nothing about the patient is disclosed.
    pub refusal: Option<String>,
}

/// An application as the service desk works it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeskApplicationView {
    pub public_id: String,
    pub applicant_name: String,
    pub basis: String,
    pub relationship: String,
    pub patient_nhs_number: String,
    pub patient_birth_date: String,
    pub evidence_reference: String,
    pub received: String,
    pub status: String,
    pub decision: Option<String>,
}

/// A page of the verification queue, oldest first, optionally for one basis.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeskApplicationQueue {
    pub items: Vec<DeskApplicationView>,
    /// Every waiting application the filter selects, not just this page.
    pub total: u64,
    pub page: u32,
    pub pages: u32,
    /// The basis filter in force (its code), and every basis to filter by.
    pub basis: Option<String>,
    pub bases: Vec<(String, String)>,
}

/// What the portal holds for the NHS number an application names, for the desk to check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PatientMatch {
    /// "Oliver Hart, born 21 March 2017", when a record has the application's NHS
    /// number and date of birth (only then: a number alone does not say whose it is).
    pub found: Option<String>,
    /// Whether any record has the application's NHS number (with `found` empty: that
    /// the date of birth does not match it).
    pub number_held: bool,
    /// For parental responsibility: whether the patient is under the age at which a
    /// parent's access stops.
    pub child_under_age: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeskApplicationDetail {
    pub application: DeskApplicationView,
    pub patient: PatientMatch,
    pub is_pending: bool,
    pub can_grant: bool,
}

#[cfg(feature = "ssr")]
use crate::server::proxy as service;

#[cfg(feature = "ssr")]
pub(crate) async fn context() -> Result<(crate::server::AppState, crate::server::Viewer), AppError>
{
    let state =
        use_context::<crate::server::AppState>().ok_or_else(|| AppError::internal(&"no state"))?;
    Ok((state, crate::server::current_viewer().await))
}

/// Gives the response the error's status.
#[cfg(feature = "ssr")]
pub(crate) fn with_status<T>(result: Result<T, AppError>) -> Result<T, AppError> {
    if let Err(error) = &result
        && let Some(response) = use_context::<leptos_axum::ResponseOptions>()
    {
        response.set_status(error.status());
    }
    result
}

#[server(endpoint = "proxy/people", input = GetUrl)]
pub async fn list_people() -> Result<PeopleView, AppError> {
    let (state, viewer) = context().await?;
    with_status(service::people(&state, viewer.patient.as_ref()).await)
}

#[server(endpoint = "proxy/grant", input = GetUrl)]
pub async fn get_grant(id: String) -> Result<GrantDetail, AppError> {
    let (state, viewer) = context().await?;
    with_status(service::grant_detail(&state, viewer.patient.as_ref(), &id).await)
}

#[server(endpoint = "proxy/choices", input = GetUrl)]
pub async fn list_choices() -> Result<ChoicesView, AppError> {
    let (state, viewer) = context().await?;
    with_status(service::choices(&state, viewer.patient.as_ref()).await)
}

#[server(endpoint = "proxy/applications", input = GetUrl)]
pub async fn list_my_applications() -> Result<Vec<ApplicationView>, AppError> {
    let (state, viewer) = context().await?;
    with_status(service::my_applications(&state, viewer.patient.as_ref()).await)
}

#[server(endpoint = "desk/proxy_applications", input = GetUrl)]
pub async fn list_desk_applications(
    basis: String,
    page: u32,
) -> Result<DeskApplicationQueue, AppError> {
    let (state, viewer) = context().await?;
    with_status(service::application_queue(&state, viewer.staff.as_ref(), &basis, page).await)
}

#[server(endpoint = "desk/proxy_application", input = GetUrl)]
pub async fn get_desk_application(id: String) -> Result<DeskApplicationDetail, AppError> {
    let (state, viewer) = context().await?;
    with_status(service::application_detail(&state, viewer.staff.as_ref(), &id).await)
}

#[server(endpoint = "desk/proxy_grant", input = GetUrl)]
pub async fn get_desk_grant(id: String) -> Result<GrantDetail, AppError> {
    let (state, viewer) = context().await?;
    with_status(service::desk_grant_detail(&state, viewer.staff.as_ref(), &id).await)
}

#[server(endpoint = "desk/proxy_reviews", input = GetUrl)]
pub async fn list_desk_reviews() -> Result<Vec<GrantView>, AppError> {
    let (state, viewer) = context().await?;
    with_status(service::reviews_due(&state, viewer.staff.as_ref()).await)
}
