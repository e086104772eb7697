//! "Who viewed my record": the patient's own audit trail, in plain language
//! (`crate::audit::log`), for the patient alone: it always shows the signed-in person's
//! own record, whatever record they are reading now, so a proxy never sees another
//! person's log.

use super::proxy::verified_patient;
use super::storage::PatientLogQuery;
use super::{AppState, SignedIn};
use crate::access_log::api::{AccessLogEntry, AccessLogView};
use crate::audit::log::{self, LEFT_OUT, OWN_VIEWS, Who};
use crate::components::format;
use crate::desk::rules::{PAGE_SIZE, lookup_reason, page_window};
use crate::error::AppError;

/// A page of the log, newest first: `who` filters by who acted (a `Who` code; anything
/// else shows everyone), `own` adds the patient's own views and sign-ins.
pub async fn my_access_log(
    state: &AppState,
    signed_in: Option<&SignedIn>,
    who: &str,
    own: bool,
    page: u32,
) -> Result<AccessLogView, AppError> {
    let (_, patient) = verified_patient(signed_in)?;
    let who = Who::from_code(who);
    // Asking for "You" is asking for the patient's own views too.
    let show_own = own || who == Some(Who::You);
    let query = PatientLogQuery {
        actor_kinds: who.map(|w| w.actor_kinds().to_vec()).unwrap_or_default(),
        hide_own_views: !show_own,
        own_views: OWN_VIEWS.to_vec(),
        left_out: LEFT_OUT.to_vec(),
        offset: 0,
        limit: 0,
    };
    let total = state
        .storage
        .patient_log(patient, query.clone())
        .await?
        .total;
    let (offset, page, pages) = page_window(page, total);
    let rows = state
        .storage
        .patient_log(
            patient,
            PatientLogQuery {
                offset,
                limit: PAGE_SIZE,
                ..query
            },
        )
        .await?
        .rows;
    let entries = rows
        .iter()
        .filter_map(|row| {
            let line = log::describe(
                &row.event,
                row.actor_patient == Some(patient),
                row.actor_name.as_deref(),
                lookup_reason,
            )?;
            Some(AccessLogEntry {
                at: format::date_and_time(row.event.at),
                who: line.who.label().to_owned(),
                name: line.name,
                what: line.what,
                why: line.why,
            })
        })
        .collect();
    Ok(AccessLogView {
        entries,
        total,
        page,
        pages,
        who: who.map(|w| w.code().to_owned()),
        own: show_own,
        filters: Who::ALL
            .iter()
            .map(|w| (w.code().to_owned(), w.label().to_owned()))
            .collect(),
    })
}
