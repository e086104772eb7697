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
//! The desk also logs a request that came by post, phone or email: it starts waiting
//! for proof of identity, with the clock paused from the day it was received. In
//! review, the desk records the clinical reviewer's decisions (items withheld for
//! serious harm or third-party information, each with its reason); fulfilling then
//! prepares the answer from the record as the access decision lets the requester see
//! it, less the withheld items, and keeps it for the requester to download (FHIR,
//! HTML or PDF) for [`ANSWER_AVAILABLE_DAYS`] days, each download audited.

use std::collections::BTreeMap;

use chrono::NaiveDate;

use super::export::{Download, ExportFormat};
use super::proxy::{answer, date_answer, verified_staff};
use super::storage::{
    AccessRequestChange, NewAccessRequest, NewAnswer, NewReview, RecordQuery, RequesterKind,
    StorageError, StoredAccessRequest, WithheldItem,
};
use super::{AppState, SignedIn};
use crate::access::VERIFIED_IDENTITY;
use crate::audit::{ActorKind, NewAuditEvent, action};
use crate::components::format;
use crate::domain::{AccountId, PatientId};
use crate::error::{AppError, FieldProblem};
use crate::export::{ExportPurpose, ExportScope, PreparedFor, RecordExport, WithholdingGround};
use crate::proxy::rules::{ProxyBasisKind, Section};
use crate::sar::api::{
    DeskRequestView, RequestFormView, RequestHistoryLine, RequestView, ReviewItemView, ReviewView,
};
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
        reference: reference_of(&request.public_id),
        received: day_text(request.received_on),
        scope: scope_text(request),
        note: request.note.clone(),
        state: request.state.label().to_owned(),
        is_open: !request.state.is_final(),
        answer_until: None,
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
    let answer_until = match request.state {
        rules::SarState::Fulfilled => state
            .storage
            .access_request_answer(&request.public_id)
            .await?
            .filter(|a| a.available_until > state.clock.now())
            .map(|a| format::date_and_time(a.available_until)),
        _ => None,
    };
    Ok(RequestView {
        history: history(state, &request.public_id).await?,
        answer_until,
        ..request_summary(state, request)
    })
}

/// Days a request's answer stays downloadable after it is sent.
pub const ANSWER_AVAILABLE_DAYS: i64 = 30;

/// The request form's tie to the record it was opened for: `own`, or the grant the
/// signed-in person is acting under. A form sent after switching to another record in
/// another tab is refused rather than filed for the wrong person.
fn record_reference(signed_in: Option<&SignedIn>) -> String {
    match signed_in.and_then(|s| s.acting_for.as_ref()) {
        Some(record) => record.grant.public_id.clone(),
        None => "own".to_owned(),
    }
}

/// What the request form needs: whose record it is for.
pub async fn request_form(
    state: &AppState,
    signed_in: Option<&SignedIn>,
) -> Result<RequestFormView, AppError> {
    let (_, patient, kind, _) = requester(state, signed_in)?;
    let for_name = match kind {
        RequesterKind::Proxy => Some(
            state
                .storage
                .find_patient(patient)
                .await?
                .map(|p| {
                    crate::server::storage::PersonName {
                        given: p.given_name,
                        family: p.family_name,
                    }
                    .display_or("this person")
                })
                .unwrap_or_else(|| "this person".to_owned()),
        ),
        _ => None,
    };
    Ok(RequestFormView {
        record: record_reference(signed_in),
        for_name,
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

/// What a request covers, as its form gave it.
struct RequestAnswers {
    scope: RequestScope,
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
    note: Option<String>,
}

/// A request form's answers, checked: what it covers (`scope` is `everything` or
/// `some` with a tick per section, narrowed to `allowed`), an optional date range
/// (`from-*`, `to-*`) and an optional note.
fn request_answers(answers: &Answers, allowed: &[Section]) -> Result<RequestAnswers, AppError> {
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
                    "Select at least one part of the record",
                ));
            }
            Some(RequestScope {
                everything: false,
                sections,
            })
        }
        _ => {
            problems.push(FieldProblem::new("scope", "Select what the copy is of"));
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
            "The note must be 1000 characters or fewer",
        ));
    }
    // A proxy asks only for what their grant opens.
    let scope = scope.map(|scope| {
        if allowed.len() == Section::ALL.len() {
            scope
        } else if scope.everything {
            RequestScope {
                everything: false,
                sections: allowed.to_vec(),
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
    match (scope, problems.is_empty()) {
        (Some(scope), true) => Ok(RequestAnswers {
            scope,
            from,
            to,
            note: (!note.is_empty()).then(|| note.to_owned()),
        }),
        _ => Err(AppError::Invalid { problems }),
    }
}

/// Makes a request from the signed-in patient or proxy: see [`request_answers`]. The
/// form names the record it was opened for (`record`).
pub async fn make_request(
    state: &AppState,
    signed_in: Option<&SignedIn>,
    answers: &Answers,
) -> Result<String, AppError> {
    let (account, patient, kind, allowed) = requester(state, signed_in)?;
    if answer(answers, "record") != record_reference(signed_in) {
        return Err(invalid(
            "scope",
            "You changed whose record you are using after opening this form. Open the form again from the record you want a copy of.",
        ));
    }
    let RequestAnswers {
        scope,
        from,
        to,
        note,
    } = request_answers(answers, &allowed)?;
    let now = state.clock.now();
    let actor = match kind {
        RequesterKind::Patient => ActorKind::Patient,
        RequesterKind::Proxy => ActorKind::Proxy,
        RequesterKind::Desk => ActorKind::Staff,
    };
    let request = NewAccessRequest {
        patient,
        requested_by: account,
        requester_kind: kind,
        channel: "online",
        state: rules::SarState::Received,
        pauses: Vec::new(),
        scope,
        date_from: from,
        date_to: to,
        note,
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
            desk_view(summary, request, *due, today, false)
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
    reviewed: bool,
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
        (
            SarEvent::Fulfil,
            "Send the answer (the requester downloads it in the portal)",
        ),
        (SarEvent::Refuse, "Refuse the request"),
    ]
    .into_iter()
    .filter(|(event, _)| allowed_now(request, *event))
    .filter(|(event, _)| *event != SarEvent::Fulfil || reviewed)
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
        in_review: request.state == rules::SarState::InReview,
        reviewed,
        channel: request.channel.clone(),
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
    let reviewed = request.state == rules::SarState::InReview
        && state.storage.review_recorded(public_id).await?;
    Ok(desk_view(view, &request, due, uk_today(now), reviewed))
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
            SarEvent::Fulfil,
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
    // Sending the answer: only after the clinical review is recorded, and prepared now
    // from the record as the requester may see it, less what the review withheld.
    let answer = if state_after == rules::SarState::Fulfilled {
        if !state.storage.review_recorded(public_id).await? {
            return Err(invalid(
                "action",
                "Record the clinical review before sending the answer",
            ));
        }
        let copy = prepare_answer(state, agent.id, &request).await?;
        Some(NewAnswer {
            content: serde_json::to_string(&copy).map_err(|e| AppError::internal(&e))?,
            available_until: now + chrono::Duration::days(ANSWER_AVAILABLE_DAYS),
        })
    } else {
        None
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
        answer,
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

/// The reader a request's answer is prepared for, their basis and what the copy may
/// cover: the patient (asked online, or logged by the desk), or the proxy who asked,
/// under a grant that still carries the right and is in force now.
async fn answer_reader(
    state: &AppState,
    request: &StoredAccessRequest,
) -> Result<(crate::access::Reader, crate::access::Basis, PreparedFor), AppError> {
    use crate::access::{Basis, Reader};
    let kind = RequesterKind::from_code(&request.requester_kind)
        .ok_or_else(|| AppError::internal(&"a request's requester kind is unknown"))?;
    if kind == RequesterKind::Proxy {
        let proxy = request.requested_by.ok_or(AppError::NotFound)?;
        let now = state.clock.now();
        let grant = state
            .storage
            .grants_for_proxy(proxy)
            .await?
            .into_iter()
            .map(|record| record.grant)
            .find(|grant| {
                grant.patient == request.patient
                    && grant.basis != ProxyBasisKind::Consent
                    && crate::proxy::rules::decide_grant(grant, &state.proxy.age_rules, now)
                        .is_in_force()
            })
            .ok_or_else(|| {
                invalid(
                    "action",
                    "The person who asked no longer has access to this record: refuse the request and tell them why",
                )
            })?;
        let prepared_for = PreparedFor::Proxy {
            relationship: grant.basis.label().to_owned(),
        };
        Ok((
            Reader::requester_of_answer(proxy, None),
            Basis::Proxy {
                grant: Box::new(grant),
                age_rules: state.proxy.age_rules,
            },
            prepared_for,
        ))
    } else {
        Ok((
            Reader::requester_of_answer(
                request.requested_by.unwrap_or(crate::domain::AccountId(0)),
                Some(request.patient),
            ),
            Basis::OwnRecord,
            PreparedFor::ThePatient,
        ))
    }
}

/// The record as the requester may see it, read for a request (audited as `action` by
/// the agent), and what the request covers of it (before any review withholds).
async fn requested_record(
    state: &AppState,
    agent: AccountId,
    request: &StoredAccessRequest,
    audit_action: &'static str,
    target: String,
) -> Result<(crate::access::DecidedRecord, ExportScope, PreparedFor), AppError> {
    let (reader, basis, prepared_for) = answer_reader(state, request).await?;
    let now = state.clock.now();
    let read = state
        .storage
        .read_record(
            RecordQuery {
                limit: u32::MAX,
                ..RecordQuery::for_patient(request.patient)
            },
            NewAuditEvent {
                actor_account: Some(agent),
                patient: Some(request.patient),
                target: Some(target),
                reason: Some("subject_access_request".to_owned()),
                ..NewAuditEvent::new(now, ActorKind::Staff, audit_action)
            },
        )
        .await?;
    if crate::access::check_choices(&read.choices).is_err() {
        return Err(invalid(
            "action",
            "The patient has left the portal, so the answer cannot be given here: send it by another route",
        ));
    }
    let record = crate::access::decide_record(
        &reader,
        request.patient,
        &basis,
        &read.choices,
        read.items,
        &super::record_reader::in_force(read.rules),
        now,
    );
    let sections: Vec<Section> = if request.scope.everything {
        Section::ALL.to_vec()
    } else {
        request.scope.sections.clone()
    };
    let sections = sections
        .into_iter()
        .filter(|s| basis.allows_section(*s))
        .collect();
    let scope = ExportScope {
        sections,
        from: request.date_from,
        to: request.date_to,
        withheld: Vec::new(),
    };
    Ok((record, scope, prepared_for))
}

/// The answer to a request, prepared now: everything it covers that the access
/// decision shows the requester, less what the clinical review withheld.
async fn prepare_answer(
    state: &AppState,
    agent: AccountId,
    request: &StoredAccessRequest,
) -> Result<RecordExport, AppError> {
    let (record, mut scope, prepared_for) = requested_record(
        state,
        agent,
        request,
        action::SAR_ANSWER_PREPARED,
        format!("request:{}", request.public_id),
    )
    .await?;
    // Nothing goes out that the review did not see: an item that arrived, changed or
    // was released since (or a wider grant) needs the review again.
    let reviewed = state.storage.reviewed_items(&request.public_id).await?;
    let unseen = crate::export::selected(&record, &scope)
        .into_iter()
        .any(|d| !reviewed.contains(&(d.item.public_id.clone(), d.item.version)));
    if unseen {
        return Err(invalid(
            "action",
            "Items have arrived or changed since the clinical review: record the review again before sending the answer",
        ));
    }
    let withheld = state.storage.withheld_items(&request.public_id).await?;
    let mut grounds: Vec<WithholdingGround> = withheld.iter().map(|w| w.exemption).collect();
    grounds.sort();
    grounds.dedup();
    scope.withheld = withheld.into_iter().map(|w| w.item_public_id).collect();
    super::export::build(
        state,
        request.patient,
        &record,
        scope,
        ExportPurpose::SubjectAccess {
            reference: reference_of(&request.public_id),
            received_on: request.received_on,
            withheld_grounds: grounds,
        },
        prepared_for,
        state.clock.now(),
    )
    .await
}

/// The short reference a requester quotes: the first part of the request's id.
pub fn reference_of(public_id: &str) -> String {
    public_id
        .split('-')
        .next()
        .unwrap_or(public_id)
        .to_uppercase()
}

/// The clinical review page of a request in review: every item the answer would hold,
/// with what the review recorded. Opening it reads the patient's record: audited.
pub async fn review(
    state: &AppState,
    staff: Option<&SignedIn>,
    public_id: &str,
) -> Result<ReviewView, AppError> {
    let agent = verified_staff(staff)?;
    let request = state
        .storage
        .find_access_request(public_id)
        .await?
        .filter(|r| r.state == rules::SarState::InReview)
        .ok_or(AppError::NotFound)?;
    let (record, scope, _) = requested_record(
        state,
        agent.id,
        &request,
        action::SAR_VIEWED,
        format!("request:{public_id}:review"),
    )
    .await?;
    let withheld = state.storage.withheld_items(public_id).await?;
    let chosen = crate::export::selected(&record, &scope);
    let items_digest = digest_of(&chosen);
    let items = chosen
        .into_iter()
        .map(|d| {
            let item = &d.item;
            let decision = withheld.iter().find(|w| w.item_public_id == item.public_id);
            ReviewItemView {
                public_id: item.public_id.clone(),
                section: Section::of(item.kind).label().to_owned(),
                title: item.title.clone(),
                date: format::date(item.occurred_at.unwrap_or(item.first_received_at)),
                source: format!("{} ({})", item.source_name, item.source_ods_code.as_str()),
                withheld: decision
                    .map(|w| w.exemption.code().to_owned())
                    .unwrap_or_default(),
            }
        })
        .collect();
    Ok(ReviewView {
        public_id: public_id.to_owned(),
        items,
        reviewer: withheld
            .first()
            .map(|w| w.reviewer.clone())
            .unwrap_or_default(),
        reason: withheld
            .first()
            .map(|w| w.reason.clone())
            .unwrap_or_default(),
        recorded: state.storage.review_recorded(public_id).await?,
        items_digest,
    })
}

/// The items a review covers, by public id and version, in a stable order.
fn reviewed_set(chosen: &[&crate::access::DecidedItem]) -> Vec<(String, i64)> {
    let mut set: Vec<(String, i64)> = chosen
        .iter()
        .map(|d| (d.item.public_id.clone(), d.item.version))
        .collect();
    set.sort();
    set
}

/// A short digest of the items a review page lists.
fn digest_of(chosen: &[&crate::access::DecidedItem]) -> String {
    use sha2::{Digest, Sha256};
    let text = reviewed_set(chosen)
        .iter()
        .map(|(id, version)| format!("{id}@{version}"))
        .collect::<Vec<_>>()
        .join(",");
    hex::encode(&Sha256::digest(text.as_bytes())[..12])
}

/// Records the clinical review: for each item (`ground-{id}`: empty to include it,
/// or `serious_harm` / `third_party` to withhold it), the reviewer's name and role
/// (`reviewer`, always) and the reason (`reason`, when anything is withheld). Only
/// items the answer would hold can be withheld.
pub async fn record_review(
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
        .filter(|r| r.state == rules::SarState::InReview)
        .ok_or(AppError::NotFound)?;
    let mut problems = Vec::new();
    let reviewer = answer(answers, "reviewer");
    if reviewer.is_empty() || reviewer.chars().count() > 200 {
        problems.push(FieldProblem::new(
            "reviewer",
            "Enter the clinical reviewer's name and role (200 characters or fewer)",
        ));
    }
    let reason = answer(answers, "reason");
    if reason.chars().count() > 1000 {
        problems.push(FieldProblem::new(
            "reason",
            "The reason must be 1000 characters or fewer",
        ));
    }
    let (record, scope, _) = requested_record(
        state,
        agent.id,
        &request,
        action::SAR_VIEWED,
        format!("request:{public_id}:review"),
    )
    .await?;
    let chosen = crate::export::selected(&record, &scope);
    if answer(answers, "items") != digest_of(&chosen) {
        return Err(invalid(
            "reviewer",
            "The items to review changed since you opened this page. Check them and record the review again.",
        ));
    }
    let reviewed = reviewed_set(&chosen);
    let mut withheld = Vec::new();
    for decided in chosen {
        let id = &decided.item.public_id;
        match answer(answers, &format!("ground-{id}")) {
            "" => {}
            code => match WithholdingGround::from_code(code) {
                Some(exemption) => withheld.push(WithheldItem {
                    item_public_id: id.clone(),
                    exemption,
                    reason: reason.to_owned(),
                    reviewer: reviewer.to_owned(),
                }),
                None => problems.push(FieldProblem::new(
                    &format!("ground-{id}"),
                    "Select whether to include this item",
                )),
            },
        }
    }
    if !withheld.is_empty() && reason.is_empty() {
        problems.push(FieldProblem::new(
            "reason",
            "Enter why the items are withheld",
        ));
    }
    if !problems.is_empty() {
        return Err(AppError::Invalid { problems });
    }
    let now = state.clock.now();
    let count = withheld.len();
    let review = NewReview {
        public_id: public_id.to_owned(),
        read_at: request.updated_at,
        reviewed,
        withheld,
        recorded_by: agent.id,
        at: now,
        audit: NewAuditEvent {
            actor_account: Some(agent.id),
            patient: Some(request.patient),
            target: Some(format!("request:{public_id}")),
            reason: Some(format!("withheld={count}")),
            ..NewAuditEvent::new(now, ActorKind::Staff, action::SAR_REVIEWED)
        },
    };
    match state.storage.record_review(review).await {
        Ok(()) => Ok(()),
        Err(StorageError::Conflict(_)) => Err(invalid(
            "reviewer",
            "This request changed while you were working on it. Check it and try again.",
        )),
        Err(other) => Err(other.into()),
    }
}

/// The requester downloads a fulfilled request's answer, while it is available: the
/// patient (any request for their record) or the proxy who asked. The answer is given
/// as the requester may see the record now: an item their access no longer shows (a
/// narrower grant, an objection made since, a result taken back) is left out, and
/// after the patient has left the portal nothing is given. The read that decides it is
/// the download's audit row.
pub async fn download_answer(
    state: &AppState,
    signed_in: Option<&SignedIn>,
    public_id: &str,
    format: ExportFormat,
) -> Result<Download, AppError> {
    let (account, patient, kind, _) = requester(state, signed_in)?;
    let request = state
        .storage
        .find_access_request(public_id)
        .await?
        .filter(|r| r.patient == patient && r.state == rules::SarState::Fulfilled)
        .filter(|r| kind != RequesterKind::Proxy || r.requested_by == Some(account))
        .ok_or(AppError::NotFound)?;
    let now = state.clock.now();
    let stored = state
        .storage
        .access_request_answer(&request.public_id)
        .await?
        .filter(|a| a.available_until > now)
        .ok_or(AppError::NotFound)?;
    let reader =
        super::record_reader::RecordReader::for_signed_in(state.clone(), signed_in.cloned(), None)?;
    let now_visible = reader
        .read_for(
            action::SAR_ANSWER_DOWNLOADED,
            format!("request:{public_id}:{}", format.extension()),
        )
        .await?
        .record;
    // (The parser's message could quote the answer: it is not logged.)
    let mut copy: RecordExport = serde_json::from_str(&stored.content)
        .map_err(|_| AppError::internal(&"a stored answer could not be read"))?;
    copy.items.retain(|item| {
        now_visible
            .item(&item.public_id)
            .is_some_and(|d| d.is_shown())
    });
    super::export::render(&copy, format, "copy-of-your-data")
}

/// The desk logs a request that came by post, phone or email for a patient it has
/// looked up (`super::desk::log_request` checks the agent and the look-up): the channel, the day it was received and what it covers. It waits for
/// proof of identity, with the clock paused from the day it was received.
pub async fn log_request(
    state: &AppState,
    agent: AccountId,
    patient: PatientId,
    answers: &Answers,
) -> Result<String, AppError> {
    let mut problems = Vec::new();
    let channel = match answer(answers, "channel") {
        "post" => Some("post"),
        "phone" => Some("phone"),
        "email" => Some("email"),
        _ => {
            problems.push(FieldProblem::new("channel", "Select how the request came"));
            None
        }
    };
    let today = uk_today(state.clock.now());
    let received = super::proxy::required_date_by(
        answers,
        "received",
        "The date it was received",
        today,
        (
            "Enter the date it was received",
            "The date it was received must be today or in the past",
        ),
        &mut problems,
    );
    let parsed = match request_answers(answers, &Section::ALL) {
        Ok(parsed) => Some(parsed),
        Err(AppError::Invalid { problems: found }) => {
            problems.extend(found);
            None
        }
        Err(other) => return Err(other),
    };
    let (Some(channel), Some(received), Some(parsed), true) =
        (channel, received, parsed, problems.is_empty())
    else {
        return Err(AppError::Invalid { problems });
    };
    let now = state.clock.now();
    let request = NewAccessRequest {
        patient,
        requested_by: agent,
        requester_kind: RequesterKind::Desk,
        channel,
        state: rules::SarState::AwaitingIdentity,
        pauses: vec![rules::Pause {
            from: received,
            until: None,
        }],
        scope: parsed.scope,
        date_from: parsed.from,
        date_to: parsed.to,
        note: parsed.note,
        received_on: received,
        at: now,
        audit: NewAuditEvent {
            actor_account: Some(agent),
            patient: Some(patient),
            reason: Some(format!("channel:{channel}")),
            ..NewAuditEvent::new(now, ActorKind::Staff, action::SAR_LOGGED)
        },
    };
    Ok(state.storage.create_access_request(request).await?)
}
