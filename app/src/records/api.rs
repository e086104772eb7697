//! The server functions behind the record pages. Each is a read (GET, no CSRF token
//! needed) and thin: it finds the reader and their basis, reads once (the read and its
//! audit row in one transaction, then the one access decision over every item) and
//! hands the decided record to the pure projections in `server::record_view`. None takes
//! a patient id: the record is always the session's.

use leptos::prelude::*;
use leptos::server_fn::codec::GetUrl;

use super::view::*;
use crate::error::AppError;
#[cfg(feature = "ssr")]
use crate::proxy::rules::Section;

#[cfg(feature = "ssr")]
use crate::{
    server::record_reader::{ReadRecord, RecordReader},
    server::record_view,
};

/// Runs a server function's body and, when it fails, gives the response the error's
/// status (401 signed out, 403 not verified, 404 not found) instead of a generic 500.
#[cfg(feature = "ssr")]
async fn respond<T>(
    body: impl std::future::Future<Output = Result<T, AppError>>,
) -> Result<T, AppError> {
    let result = body.await;
    if let Err(error) = &result
        && let Some(response) = use_context::<leptos_axum::ResponseOptions>()
    {
        response.set_status(error.status());
    }
    result
}

/// The signed-in home page: next appointments, what is new since the last visit, and
/// results received but not yet available.
#[server(endpoint = "record/summary", input = GetUrl)]
pub async fn record_summary() -> Result<HomeSummary, AppError> {
    respond(async move {
        let reader = RecordReader::current().await?;
        let ReadRecord { record, sources } = reader.read("summary".to_owned()).await?;
        let now = reader.now;
        let mut appointments = record_view::appointment_entries(&record, now);
        appointments.retain(|a| a.upcoming && !a.cancelled);
        appointments.sort_by_key(|a| a.starts_at);
        appointments.truncate(3);
        let results = record_view::result_entries(&record);
        let last_visit = reader.account.previous_sign_in_at;
        let is_new = |p: &Provenance| last_visit.is_none_or(|visit| p.received_at > visit);
        let mut new_items: Vec<NewItem> = Vec::new();
        for letter in record_view::letter_entries(&record) {
            if letter.details().is_some() && is_new(&letter.provenance) {
                new_items.push(NewItem {
                    kind_label: "Letter".to_owned(),
                    href: format!("/record/letters/{}", letter.public_id),
                    title: letter.title,
                    provenance: letter.provenance,
                });
            }
        }
        for result in results.iter().filter(|r| r.is_available()) {
            if is_new(result.provenance()) {
                new_items.push(NewItem {
                    kind_label: "Test result".to_owned(),
                    href: format!("/record/results/{}", result.public_id()),
                    title: result.title().to_owned(),
                    provenance: result.provenance().clone(),
                });
            }
        }
        new_items.sort_by_key(|item| std::cmp::Reverse(item.provenance.received_at));
        new_items.truncate(10);
        let awaiting = results.into_iter().filter(|r| !r.is_available()).collect();
        let patient = reader.state.storage.find_patient(reader.patient_id).await?;
        let acting_for = reader.basis.grant().map(|grant| ActingFor {
            name: patient
                .as_ref()
                .map(|p| {
                    [p.given_name.as_deref(), p.family_name.as_deref()]
                        .into_iter()
                        .flatten()
                        .collect::<Vec<_>>()
                        .join(" ")
                })
                .filter(|name| !name.is_empty())
                .unwrap_or_else(|| "this person".to_owned()),
            sections: grant
                .scope
                .sections()
                .into_iter()
                .map(|s| s.label().to_owned())
                .collect(),
        });
        Ok(HomeSummary {
            acting_for,
            given_name: patient.and_then(|p| p.given_name),
            next_appointments: appointments,
            last_visit,
            new_items,
            awaiting,
            sources,
        })
    })
    .await
}

#[server(endpoint = "record/appointments", input = GetUrl)]
pub async fn list_appointments(
    kind: Option<String>,
    source: Option<String>,
    from: Option<String>,
    to: Option<String>,
) -> Result<RecordList<AppointmentEntry>, AppError> {
    respond(async move {
        let filter = RecordFilter {
            kind,
            source,
            from,
            to,
        };
        let reader = RecordReader::current().await?;
        let ReadRecord { record, sources } = reader.read("appointments".to_owned()).await?;
        let (parsed, problems) =
            record_view::parse_filter(&filter, &["upcoming", "past"], &sources);
        let mut entries: Vec<AppointmentEntry> =
            record_view::appointment_entries(&record, reader.now)
                .into_iter()
                .filter(|a| parsed.admits(&a.provenance.source_ods_code, a.starts_at))
                .filter(|a| match parsed.kind.as_deref() {
                    Some("upcoming") => a.upcoming,
                    Some("past") => !a.upcoming,
                    _ => true,
                })
                .collect();
        // Upcoming soonest first, then past most recent first.
        entries.sort_by(|a, b| match (a.upcoming, b.upcoming) {
            (true, true) => a.starts_at.cmp(&b.starts_at),
            (false, false) => b.starts_at.cmp(&a.starts_at),
            (true, false) => std::cmp::Ordering::Less,
            (false, true) => std::cmp::Ordering::Greater,
        });
        Ok(RecordList {
            outside_grant: !reader.basis.allows_section(Section::Appointments),
            entries,
            filter,
            problems,
            sources,
        })
    })
    .await
}

#[server(endpoint = "record/letters", input = GetUrl)]
pub async fn list_letters(
    source: Option<String>,
    from: Option<String>,
    to: Option<String>,
) -> Result<RecordList<LetterEntry>, AppError> {
    respond(async move {
        let filter = RecordFilter {
            kind: None,
            source,
            from,
            to,
        };
        let reader = RecordReader::current().await?;
        let ReadRecord { record, sources } = reader.read("letters".to_owned()).await?;
        let (parsed, problems) = record_view::parse_filter(&filter, &[], &sources);
        let entries = record_view::letter_entries(&record)
            .into_iter()
            .filter(|l| parsed.admits(&l.provenance.source_ods_code, l.occurred_at))
            .collect();
        Ok(RecordList {
            outside_grant: !reader.basis.allows_section(Section::Letters),
            entries,
            filter,
            problems,
            sources,
        })
    })
    .await
}

#[server(endpoint = "record/letter", input = GetUrl)]
pub async fn get_letter(id: String) -> Result<LetterEntry, AppError> {
    respond(async move {
        let reader = RecordReader::current().await?;
        let ReadRecord { record, .. } = reader.read(format!("letter:{id}")).await?;
        record
            .item(&id)
            .filter(|d| d.item.kind == crate::records::RecordKind::Document)
            .map(record_view::letter_entry)
            .ok_or(AppError::NotFound)
    })
    .await
}

#[server(endpoint = "record/results", input = GetUrl)]
pub async fn list_results(
    kind: Option<String>,
    source: Option<String>,
    from: Option<String>,
    to: Option<String>,
) -> Result<RecordList<ResultEntry>, AppError> {
    respond(async move {
        let filter = RecordFilter {
            kind,
            source,
            from,
            to,
        };
        let reader = RecordReader::current().await?;
        let ReadRecord { record, sources } = reader.read("results".to_owned()).await?;
        let results = record_view::result_entries(&record);
        let types: Vec<&str> = ResultType::ALL.iter().map(|t| t.code()).collect();
        let (parsed, problems) = record_view::parse_filter(&filter, &types, &sources);
        let kind = parsed.kind.as_deref().and_then(ResultType::from_code);
        let entries = results
            .into_iter()
            .filter(|r| {
                let (category, at) = match r {
                    ResultEntry::Available {
                        category,
                        occurred_at,
                        ..
                    } => (category.as_deref(), *occurred_at),
                    other => (None, Some(other.provenance().received_at)),
                };
                parsed.admits(&r.provenance().source_ods_code, at)
                // Withheld results have no category to show, so a type filter keeps
                // them only under "any type".
                && kind.is_none_or(|k| r.is_available() && ResultType::of_category(category) == k)
            })
            .collect();
        Ok(RecordList {
            outside_grant: !reader.basis.allows_section(Section::Results),
            entries,
            filter,
            problems,
            sources,
        })
    })
    .await
}

#[server(endpoint = "record/result", input = GetUrl)]
pub async fn get_result(id: String) -> Result<ResultEntry, AppError> {
    respond(async move {
        let reader = RecordReader::current().await?;
        let ReadRecord { record, .. } = reader.read(format!("result:{id}")).await?;
        let results = record_view::result_entries(&record);
        results
            .into_iter()
            .find(|r| match r {
                ResultEntry::Available {
                    public_id,
                    observations,
                    ..
                } => *public_id == id || observations.iter().any(|o| o.public_id == id),
                other => other.public_id() == id,
            })
            .ok_or(AppError::NotFound)
    })
    .await
}

#[server(endpoint = "record/history", input = GetUrl)]
pub async fn get_result_history(code: String) -> Result<ResultHistory, AppError> {
    respond(async move {
        let reader = RecordReader::current().await?;
        let ReadRecord { record, .. } = reader.read(format!("history:{code}")).await?;
        let results = record_view::result_entries(&record);
        record_view::result_history(&results, &code).ok_or(AppError::NotFound)
    })
    .await
}
