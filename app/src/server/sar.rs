//! The subject access request service: a patient (or a proxy whose grant's basis allows
//! it) asks for a copy of their data and follows the request; the service desk works
//! the queue, sorted by due date, moving each request through the pure state machine
//! (`crate::sar::rules`) with the statutory clock worked out at every read.
//!
//! Who may do what:
//! - the patient (P9, on their own record) asks and follows their own requests;
//! - a proxy acting for the patient under a grant in force whose basis is parental
//!   responsibility, a lasting power of attorney or a court deputyship asks on the
//!   patient's behalf (a grant made by invitation does not carry that right);
//! - the service desk sees every open request and changes them.
//!
//! Sending the answer (the FHIR bundle and the readable copy) is still to come: a
//! request can be moved to review, paused, extended or refused, not yet fulfilled.

use std::collections::BTreeMap;

use chrono::NaiveDate;

use super::proxy::{answer, date_answer, verified_staff};
use super::storage::{
    AccessRequestChange, NewAccessRequest, RequesterKind, StorageError, StoredAccessRequest,
};
use super::{AppState, SignedIn};
use crate::access::VERIFIED_IDENTITY;
use crate::audit::{ActorKind, NewAuditEvent, action};
use crate::components::format;
use crate::domain::{AccountId, PatientId};
use crate::error::{AppError, FieldProblem};
use crate::proxy::rules::{ProxyBasisKind, Section};
use crate::sar::api::{DeskRequestView, RequestHistoryLine, RequestView};
use crate::sar::rules::{self, Due, RequestScope, SarClock, SarEvent, Urgency};

type Answers = BTreeMap<String, String>;

fn invalid(field: &str, message: &str) -> AppError {
    AppError::Invalid {
        problems: vec![FieldProblem::new(field, message)],
    }
}

/// Whose record the signed-in person asks for, and as whom: their own, or the record
/// of the patient they act for when their grant's basis carries the right.
fn requester(
    state: &AppState,
    signed_in: Option<&SignedIn>,
) -> Result<(AccountId, PatientId, RequesterKind, Vec<Section>), AppError> {
    let signed_in = signed_in.ok_or(AppError::NotSignedIn)?;
    let account = &signed_in.account;
    if account.identity_level.as_deref() != Some(VERIFIED_IDENTITY) {
        return Err(AppError::IdentityNotVerified);
    }
    match &signed_in.acting_for {
        Some(record) => {
            let grant = &record.grant;
            let in_force =
                crate::proxy::rules::decide_grant(grant, &state.proxy.age_rules, state.clock.now())
                    .is_in_force();
            if !in_force || grant.proxy != account.id || grant.basis == ProxyBasisKind::Consent {
                return Err(AppError::ProxyAccessEnded);
            }
            Ok((
                account.id,
                grant.patient,
                RequesterKind::Proxy,
                grant.scope.sections(),
            ))
        }
        None => {
            let patient = account.patient_id.ok_or(AppError::IdentityNotVerified)?;
            Ok((
                account.id,
                patient,
                RequesterKind::Patient,
                Section::ALL.to_vec(),
            ))
        }
    }
}

/// Today in England: the statutory clock counts UK calendar days, so a request made at
/// 00:30 in summer time was received that day, not the UTC day before.
fn uk_today(now: chrono::DateTime<chrono::Utc>) -> NaiveDate {
    format::uk_local(now).date()
}

fn clock_of(request: &StoredAccessRequest) -> SarClock {
    SarClock {
        received: request.received_on,
        pauses: request.pauses.clone(),
        extension: request.extension.clone(),
    }
}

fn day_text(day: NaiveDate) -> String {
    format::date(day.and_hms_opt(12, 0, 0).unwrap_or_default().and_utc())
}

fn due_text(due: Due) -> String {
    match due {
        Due::By(day) => day_text(day),
        Due::Paused { since } => format!("Paused since {}", day_text(since)),
    }
}

fn scope_text(request: &StoredAccessRequest) -> String {
    let mut text = if request.scope.everything {
        "Everything".to_owned()
    } else {
        request
            .scope
            .sections
            .iter()
            .map(|s| s.label())
            .collect::<Vec<_>>()
            .join(", ")
    };
    match (request.date_from, request.date_to) {
        (Some(from), Some(to)) => {
            text.push_str(&format!(", {} to {}", day_text(from), day_text(to)))
        }
        (Some(from), None) => text.push_str(&format!(", from {}", day_text(from))),
        (None, Some(to)) => text.push_str(&format!(", up to {}", day_text(to))),
        (None, None) => {}
    }
    text
}

async fn history(state: &AppState, public_id: &str) -> Result<Vec<RequestHistoryLine>, AppError> {
    Ok(state
        .storage
        .access_request_history(public_id)
        .await?
        .into_iter()
        .map(|e| RequestHistoryLine {
            at: format::date_and_time(e.at),
            what: match e.event.as_str() {
                "received" => "Request received".to_owned(),
                "extended" => "Time limit extended".to_owned(),
                _ => e.state_after.label().to_owned(),
            },
            note: e.note,
        })
        .collect())
}

/// A request as its page shows it, without its history (which costs a read).
fn request_summary(state: &AppState, request: &StoredAccessRequest) -> RequestView {
    RequestView {
        public_id: request.public_id.clone(),
        received: day_text(request.received_on),
        scope: scope_text(request),
        note: request.note.clone(),
        state: request.state.label().to_owned(),
        is_open: !request.state.is_final(),
        due: (!request.state.is_final())
            .then(|| due_text(rules::due(&clock_of(request), &state.bank_holidays))),
        history: Vec::new(),
    }
}

/// A request with its history.
async fn request_view(
    state: &AppState,
    request: &StoredAccessRequest,
) -> Result<RequestView, AppError> {
    Ok(RequestView {
        history: history(state, &request.public_id).await?,
        ..request_summary(state, request)
    })
}

/// The requests for the record the signed-in person may ask about, newest first.
pub async fn my_requests(
    state: &AppState,
    signed_in: Option<&SignedIn>,
) -> Result<Vec<RequestView>, AppError> {
    let (account, patient, kind, _) = requester(state, signed_in)?;
    let mut views = Vec::new();
    for request in state.storage.access_requests_for_patient(patient).await? {
        // A proxy follows the requests they made, not the patient's own or another
        // proxy's.
        if kind == RequesterKind::Proxy && request.requested_by != Some(account) {
            continue;
        }
        views.push(request_view(state, &request).await?);
    }
    if kind == RequesterKind::Proxy {
        let now = state.clock.now();
        state
            .storage
            .append_audit(NewAuditEvent {
                actor_account: Some(account),
                patient: Some(patient),
                target: Some("requests".to_owned()),
                ..NewAuditEvent::new(now, ActorKind::Proxy, action::SAR_VIEWED)
            })
            .await?;
    }
    Ok(views)
}

/// Makes a request: `scope` is `everything` or `some` with a tick per section; an
/// optional date range (`from-*`, `to-*`); an optional note.
pub async fn make_request(
    state: &AppState,
    signed_in: Option<&SignedIn>,
    answers: &Answers,
) -> Result<String, AppError> {
    let (account, patient, kind, allowed) = requester(state, signed_in)?;
    let mut problems = Vec::new();
    let scope = match answer(answers, "scope") {
        "everything" => Some(RequestScope {
            everything: true,
            sections: Vec::new(),
        }),
        "some" => {
            let sections: Vec<Section> = Section::ALL
                .into_iter()
                .filter(|s| answers.get(s.code()).is_some_and(|v| v == "yes"))
                .collect();
            if sections.is_empty() {
                problems.push(FieldProblem::new(
                    "appointments",
                    "Select at least one part of your record",
                ));
            }
            Some(RequestScope {
                everything: false,
                sections,
            })
        }
        _ => {
            problems.push(FieldProblem::new("scope", "Select what you want a copy of"));
            None
        }
    };
    let from = date_answer(answers, "from", "The start date").unwrap_or_else(|p| {
        problems.push(p);
        None
    });
    let to = date_answer(answers, "to", "The end date").unwrap_or_else(|p| {
        problems.push(p);
        None
    });
    if let (Some(from), Some(to)) = (from, to)
        && from > to
    {
        problems.push(FieldProblem::new(
            "to-day",
            "The end date must be after the start date",
        ));
    }
    let note = answer(answers, "note");
    if note.chars().count() > 1000 {
        problems.push(FieldProblem::new(
            "note",
            "Your note must be 1000 characters or fewer",
        ));
    }
    // A proxy asks only for what their grant opens.
    let scope = scope.map(|scope| {
        if allowed.len() == Section::ALL.len() {
            scope
        } else if scope.everything {
            RequestScope {
                everything: false,
                sections: allowed.clone(),
            }
        } else {
            RequestScope {
                everything: false,
                sections: scope
                    .sections
                    .into_iter()
                    .filter(|s| allowed.contains(s))
                    .collect(),
            }
        }
    });
    if scope
        .as_ref()
        .is_some_and(|s| !s.everything && s.sections.is_empty())
        && problems.is_empty()
    {
        problems.push(FieldProblem::new(
            "appointments",
            "Your access to this record does not include those parts",
        ));
    }
    let (Some(scope), true) = (scope, problems.is_empty()) else {
        return Err(AppError::Invalid { problems });
    };
    let now = state.clock.now();
    let actor = match kind {
        RequesterKind::Patient => ActorKind::Patient,
        RequesterKind::Proxy => ActorKind::Proxy,
    };
    let request = NewAccessRequest {
        patient,
        requested_by: account,
        requester_kind: kind,
        scope,
        date_from: from,
        date_to: to,
        note: (!note.is_empty()).then(|| note.to_owned()),
        received_on: uk_today(now),
        at: now,
        audit: NewAuditEvent {
            actor_account: Some(account),
            patient: Some(patient),
            ..NewAuditEvent::new(now, actor, action::SAR_REQUESTED)
        },
    };
    Ok(state.storage.create_access_request(request).await?)
}

/// The desk's queue: every open request, soonest due first (paused ones after), with
/// how urgent each is.
pub async fn desk_queue(
    state: &AppState,
    staff: Option<&SignedIn>,
) -> Result<Vec<DeskRequestView>, AppError> {
    verified_staff(staff)?;
    let today = uk_today(state.clock.now());
    let mut open: Vec<(StoredAccessRequest, Due)> = state
        .storage
        .open_access_requests()
        .await?
        .into_iter()
        .map(|r| {
            let due = rules::due(&clock_of(&r), &state.bank_holidays);
            (r, due)
        })
        .collect();
    open.sort_by_key(|(_, due)| match due {
        Due::By(day) => (0, *day),
        Due::Paused { since } => (1, *since),
    });
    // The queue shows when each is due and where it is, nothing of what was asked (and
    // reads no history): opening one is the audited read.
    Ok(open
        .iter()
        .map(|(request, due)| {
            let summary = RequestView {
                note: None,
                scope: String::new(),
                ..request_summary(state, request)
            };
            desk_view(summary, request, *due, today)
        })
        .collect())
}

/// Whether the desk may make this change now: the state machine allows it, and proof
/// of identity is asked only of a request that did not come through a verified (P9)
/// NHS login session.
fn allowed_now(request: &StoredAccessRequest, event: SarEvent) -> bool {
    let verified_online = request.channel == "online";
    rules::transition(request.state, event).is_ok()
        && !(verified_online && event == SarEvent::AskForIdentity)
}

fn desk_view(
    view: RequestView,
    request: &StoredAccessRequest,
    due: Due,
    today: NaiveDate,
) -> DeskRequestView {
    let urgency = rules::urgency(due, today);
    let actions = [
        (
            SarEvent::AskForIdentity,
            "Ask for proof of identity (pauses the clock)",
        ),
        (
            SarEvent::IdentityVerified,
            "Identity confirmed (the clock runs again)",
        ),
        (
            SarEvent::AskForClarification,
            "Ask for more information (pauses the clock)",
        ),
        (
            SarEvent::Clarified,
            "Information received (the clock runs again)",
        ),
        (SarEvent::StartReview, "Start the clinical review"),
        (SarEvent::Refuse, "Refuse the request"),
    ]
    .into_iter()
    .filter(|(event, _)| allowed_now(request, *event))
    .map(|(event, label)| (event.code().to_owned(), label.to_owned()))
    .collect();
    DeskRequestView {
        request: view,
        requester: request.requester_kind.clone(),
        urgency: match urgency {
            Urgency::Overdue => "Overdue",
            Urgency::DueSoon => "Due soon",
            Urgency::OnTime => "On time",
            Urgency::Paused => "Paused",
        }
        .to_owned(),
        is_overdue: urgency == Urgency::Overdue,
        is_due_soon: urgency == Urgency::DueSoon,
        actions,
        can_extend: request.extension.is_none() && !request.state.is_final(),
    }
}

/// One request, for the desk. Opening it is the desk reading about a patient: audited.
pub async fn desk_request(
    state: &AppState,
    staff: Option<&SignedIn>,
    public_id: &str,
) -> Result<DeskRequestView, AppError> {
    let agent = verified_staff(staff)?;
    let request = state
        .storage
        .find_access_request(public_id)
        .await?
        .ok_or(AppError::NotFound)?;
    let now = state.clock.now();
    state
        .storage
        .append_audit(NewAuditEvent {
            actor_account: Some(agent.id),
            patient: Some(request.patient),
            target: Some(format!("request:{public_id}")),
            reason: Some("subject_access_request".to_owned()),
            ..NewAuditEvent::new(now, ActorKind::Staff, action::SAR_VIEWED)
        })
        .await?;
    let due = rules::due(&clock_of(&request), &state.bank_holidays);
    let view = request_view(state, &request).await?;
    Ok(desk_view(view, &request, due, uk_today(now)))
}

/// The desk moves a request on: `action` is a `SarEvent` code or `extend` (with
/// `months` and `reason`); a refusal needs its `reason`, which the requester is told
/// with their right to complain to the ICO.
pub async fn change_request(
    state: &AppState,
    staff: Option<&SignedIn>,
    public_id: &str,
    answers: &Answers,
) -> Result<(), AppError> {
    let agent = verified_staff(staff)?;
    let request = state
        .storage
        .find_access_request(public_id)
        .await?
        .ok_or(AppError::NotFound)?;
    let now = state.clock.now();
    let today = uk_today(now);
    let reason = answer(answers, "reason");
    if reason.chars().count() > 1000 {
        return Err(invalid(
            "reason",
            "The reason must be 1000 characters or fewer",
        ));
    }
    let chosen = answer(answers, "action");
    let (state_after, pauses, extension, event, note) = if chosen == "extend" {
        if request.state.is_final() {
            return Err(invalid("action", "This request is closed"));
        }
        let months = answer(answers, "months").parse::<u32>().unwrap_or(0);
        let extension = rules::decide_extension(
            &clock_of(&request),
            months,
            today,
            reason,
            &state.bank_holidays,
        )
        .map_err(|refusal| match refusal {
            rules::ExtensionRefusal::TooLong => invalid("months", "Extend by 1 or 2 months"),
            rules::ExtensionRefusal::NoReason => {
                invalid("reason", "Enter the reason the requester is told")
            }
            rules::ExtensionRefusal::TooLate { .. } => invalid(
                "action",
                "The first month has ended: the requester had to be told of an extension within it",
            ),
            rules::ExtensionRefusal::Paused => {
                invalid("action", "The clock is paused: extend once it runs again")
            }
            rules::ExtensionRefusal::AlreadyExtended => {
                invalid("action", "This request has already been extended")
            }
        })?;
        (
            request.state,
            request.pauses.clone(),
            Some(extension),
            "extended",
            Some(reason.to_owned()),
        )
    } else {
        let event = [
            SarEvent::AskForIdentity,
            SarEvent::IdentityVerified,
            SarEvent::AskForClarification,
            SarEvent::Clarified,
            SarEvent::StartReview,
            SarEvent::Refuse,
        ]
        .into_iter()
        .find(|e| e.code() == chosen)
        .ok_or_else(|| invalid("action", "Select what to do"))?;
        if !allowed_now(&request, event) {
            return Err(invalid("action", "That cannot be done to this request now"));
        }
        let to = rules::transition(request.state, event)
            .map_err(|_| invalid("action", "That cannot be done to this request now"))?;
        if event == SarEvent::Refuse && reason.is_empty() {
            return Err(invalid("reason", "Enter the reason the requester is told"));
        }
        let note = match event {
            SarEvent::Refuse => Some(format!(
                "{reason} You have the right to complain to the Information Commissioner's Office (ico.org.uk)."
            )),
            _ => (!reason.is_empty()).then(|| reason.to_owned()),
        };
        (
            to,
            rules::pauses_after(&request.pauses, request.state, to, today),
            request.extension.clone(),
            event.code(),
            note,
        )
    };
    let change = AccessRequestChange {
        public_id: public_id.to_owned(),
        from_state: request.state,
        read_at: request.updated_at,
        state: state_after,
        pauses,
        extension,
        event,
        actor_kind: ActorKind::Staff,
        actor_account: Some(agent.id),
        note,
        at: now,
        audit: NewAuditEvent {
            actor_account: Some(agent.id),
            patient: Some(request.patient),
            target: Some(format!("request:{public_id}")),
            reason: Some(event.to_owned()),
            ..NewAuditEvent::new(now, ActorKind::Staff, action::SAR_CHANGED)
        },
    };
    match state.storage.change_access_request(change).await {
        Ok(()) => Ok(()),
        Err(StorageError::Conflict(_)) => Err(invalid(
            "action",
            "This request changed while you were working on it. Check it and try again.",
        )),
        Err(other) => Err(other.into()),
    }
}
