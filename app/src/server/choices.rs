//! The choices service: what the patient chooses on "Your choices", and what the service
//! desk records on their behalf. Both go through [`apply_choice`]: the pure rules
//! (`crate::choices::rules`) decide, and storage records the choice with the grants it
//! suspends or restores, the history entry and the audit rows in one transaction.
//!
//! Who may do what:
//! - the patient (P9, on their own record, whatever record they are reading now) leaves
//!   and comes back, objects to a source and withdraws an objection; a patient who has
//!   left can still reach this page, and only this page, to come back;
//! - the service desk records the same choices for a patient it looked up, with the
//!   channel, an evidence reference and a reason (`server::desk`).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::proxy::verified_patient;
use super::record_reader::RecordReader;
use super::storage::{
    ChoiceBy, ChoiceChange, ChoiceEvent, GrantChange, GrantDecisionBy, GrantRecord, StorageError,
};
use super::{AppState, SignedIn};
use crate::audit::{ActorKind, NewAuditEvent, action};
use crate::choices::api::{ChoiceHistoryLine, ChoicesView, OfferedGrantView, SourceChoiceView};
use crate::choices::rules::{self, Channel, Choice, ChoiceRefusal, GrantAtChoice};
use crate::components::format;
use crate::domain::{OdsCode, PatientId};
use crate::error::{AppError, FieldProblem};
use crate::proxy::rules::GrantState;

/// The grant-history event of a suspension caused by the patient leaving: what tells a
/// grant to offer back from one a decision suspended.
pub const SUSPENDED_BY_LEAVING: &str = "suspended_left_portal";

type Answers = BTreeMap<String, String>;

/// "Your choices" for the signed-in patient.
pub async fn my_choices(
    state: &AppState,
    signed_in: Option<&SignedIn>,
) -> Result<ChoicesView, AppError> {
    let (account, patient) = verified_patient(signed_in)?;
    let choices = state.storage.patient_choices(patient).await?;
    let sources = if choices.has_left() {
        Vec::new()
    } else {
        let reader = RecordReader::own(state.clone(), account.clone(), None)?;
        let (sources, _) = reader.sources_before_objections().await?;
        let organisations = state.storage.list_organisations().await?;
        let mut listed: Vec<SourceChoiceView> = sources
            .into_iter()
            .map(|s| SourceChoiceView {
                objected: organisations
                    .iter()
                    .any(|o| o.ods_code.as_str() == s.ods_code && choices.objects_to(o.id)),
                ods_code: s.ods_code,
                name: s.name,
            })
            .collect();
        // An objected source is listed even when it has sent nothing else the patient
        // could see, so that the objection can be withdrawn.
        for org in organisations.iter().filter(|o| choices.objects_to(o.id)) {
            if !listed.iter().any(|s| s.ods_code == org.ods_code.as_str()) {
                listed.push(SourceChoiceView {
                    ods_code: org.ods_code.as_str().to_owned(),
                    name: org.name.clone(),
                    objected: true,
                });
            }
        }
        listed
    };
    let offered_back = if choices.has_left() {
        grants_at_choice(state, patient)
            .await?
            .into_iter()
            .filter(|(_, at)| rules::offered_back(std::slice::from_ref(at)).len() == 1)
            .map(|(record, _)| OfferedGrantView {
                public_id: record.grant.public_id.clone(),
                name: record.proxy_name.display_or("Someone"),
                relationship: record.relationship.clone(),
            })
            .collect()
    } else {
        Vec::new()
    };
    Ok(ChoicesView {
        has_left: choices.has_left(),
        left_on: choices.left_portal_at.map(format::date),
        sources,
        offered_back,
        history: history_lines(&state.storage.choice_history(patient).await?, true),
    })
}

/// The history as a person reads it: `to_patient` words it for the patient ("You").
pub fn history_lines(events: &[ChoiceEvent], to_patient: bool) -> Vec<ChoiceHistoryLine> {
    events
        .iter()
        .rev()
        .map(|event| {
            let source = event.organisation_name.clone().unwrap_or_default();
            let what = match event.choice.as_str() {
                "left_portal" => "Left the portal".to_owned(),
                "returned" => "Came back to the portal".to_owned(),
                "objected" => format!("Stopped showing records from {source}"),
                "objection_withdrawn" => format!("Showed records from {source} again"),
                other => other.to_owned(),
            };
            let by = match event.actor_kind {
                ActorKind::Staff => {
                    let mut by =
                        format!("The service desk, {}", event.channel.label().to_lowercase());
                    if let Some(reference) = &event.evidence_reference {
                        by.push_str(&format!(" (reference {reference})"));
                    }
                    by
                }
                _ if to_patient => "You, online".to_owned(),
                _ => "The patient, online".to_owned(),
            };
            ChoiceHistoryLine {
                at: format::date_and_time(event.at),
                what,
                by,
                reason: event.reason.clone(),
            }
        })
        .collect()
}

/// The patient changes a choice from "Your choices": `choice` is `leave`, `return`,
/// `object` or `withdraw`; `source` the ODS code of an organisation; `resume-<grant>`
/// each proxy to let back in on return.
pub async fn make_choice(
    state: &AppState,
    signed_in: Option<&SignedIn>,
    answers: &Answers,
) -> Result<(), AppError> {
    let (account, patient) = verified_patient(signed_in)?;
    let choice = parse_choice(state, answers).await?;
    let by = ChoiceBy {
        actor_kind: ActorKind::Patient,
        actor_account: Some(account.id),
        channel: Channel::Online,
        evidence_reference: None,
        reason: None,
    };
    apply_choice(state, patient, choice, by, &resumed(answers)).await
}

/// The grants to let back in, as the return form names them.
pub fn resumed(answers: &Answers) -> Vec<String> {
    answers
        .iter()
        .filter(|(key, value)| key.starts_with("resume-") && value.as_str() == "yes")
        .map(|(key, _)| key.trim_start_matches("resume-").to_owned())
        .collect()
}

/// The choice a form asks for.
pub async fn parse_choice(state: &AppState, answers: &Answers) -> Result<Choice, AppError> {
    let source = || async {
        let code = answers.get("source").map(|s| s.trim()).unwrap_or_default();
        let invalid = || AppError::Invalid {
            problems: vec![FieldProblem::new("source", "Select an organisation")],
        };
        let ods = OdsCode::parse(code).map_err(|_| invalid())?;
        state
            .storage
            .find_organisation_by_ods_code(&ods)
            .await?
            .map(|o| o.id)
            .ok_or_else(invalid)
    };
    match answers.get("choice").map(String::as_str) {
        Some("leave") => Ok(Choice::LeavePortal),
        Some("return") => Ok(Choice::ReturnToPortal),
        Some("object") => Ok(Choice::ObjectToSource(source().await?)),
        Some("withdraw") => Ok(Choice::WithdrawObjection(source().await?)),
        _ => Err(AppError::Invalid {
            problems: vec![FieldProblem::new("choice", "Select what you want to do")],
        }),
    }
}

/// The patient's grants with what the choices rules need of each: whether the leaving
/// suspended it (its latest history entry says so).
async fn grants_at_choice(
    state: &AppState,
    patient: PatientId,
) -> Result<Vec<(GrantRecord, GrantAtChoice)>, AppError> {
    let mut out = Vec::new();
    for record in state.storage.grants_for_patient(patient).await? {
        let suspended_by_leaving = record.grant.state == GrantState::Suspended
            && state
                .storage
                .grant_history(record.grant.id)
                .await?
                .last()
                .is_some_and(|e| e.event == SUSPENDED_BY_LEAVING);
        let at = GrantAtChoice {
            id: record.grant.id,
            state: record.grant.state,
            suspended_by_leaving,
        };
        out.push((record, at));
    }
    Ok(out)
}

/// Decides a choice for `patient` and records it with everything it changes.
pub async fn apply_choice(
    state: &AppState,
    patient: PatientId,
    choice: Choice,
    by: ChoiceBy,
    resume_public_ids: &[String],
) -> Result<(), AppError> {
    let now = state.clock.now();
    let current = state.storage.patient_choices(patient).await?;
    let grants = grants_at_choice(state, patient).await?;
    let mut resume = Vec::new();
    for public_id in resume_public_ids {
        let found = grants
            .iter()
            .find(|(record, _)| &record.grant.public_id == public_id)
            .ok_or_else(|| invalid("choice", "Choose only from the people listed"))?;
        resume.push(found.1.id);
    }
    let at_choice: Vec<GrantAtChoice> = grants.iter().map(|(_, at)| at.clone()).collect();
    let decision = rules::decide_choice(&current, choice, &at_choice, &resume, now)
        .map_err(refusal_problem)?;
    let mut grant_changes = Vec::new();
    for (record, _) in &grants {
        let id = record.grant.id;
        let change = if decision.suspend.contains(&id) {
            (
                GrantState::Active,
                GrantState::Suspended,
                SUSPENDED_BY_LEAVING,
                action::PROXY_GRANT_SUSPENDED,
            )
        } else if decision.resume.contains(&id) {
            (
                GrantState::Suspended,
                GrantState::Active,
                "resumed",
                action::PROXY_GRANT_RESUMED,
            )
        } else {
            continue;
        };
        grant_changes.push(grant_change(record, change, &by, patient, now));
    }
    let target = match choice.organisation() {
        Some(org) => {
            let ods = state
                .storage
                .list_organisations()
                .await?
                .into_iter()
                .find(|o| o.id == org)
                .map(|o| o.ods_code.as_str().to_owned())
                .unwrap_or_default();
            Some(format!("organisation:{ods}"))
        }
        None => None,
    };
    let audit = NewAuditEvent {
        actor_account: by.actor_account,
        patient: Some(patient),
        target,
        reason: Some(format!("channel:{}", by.channel.code())),
        ..NewAuditEvent::new(now, by.actor_kind, audit_action(choice))
    };
    let change = ChoiceChange {
        patient,
        choice,
        expected: current,
        at: now,
        by,
        grant_changes,
        audit,
    };
    match state.storage.record_choice(change).await {
        Ok(()) => Ok(()),
        Err(StorageError::Conflict(_)) => Err(invalid(
            "choice",
            "Your choices changed while you were making this one. Check them and try again.",
        )),
        Err(other) => Err(other.into()),
    }
}

fn grant_change(
    record: &GrantRecord,
    (from_state, state, event, what): (GrantState, GrantState, &'static str, &'static str),
    by: &ChoiceBy,
    patient: PatientId,
    now: DateTime<Utc>,
) -> GrantChange {
    let grant = &record.grant;
    let reason = if state == GrantState::Suspended {
        "The patient left the portal"
    } else {
        "The patient came back to the portal and let this person back in"
    };
    GrantChange {
        grant: grant.id,
        from_state,
        state,
        basis: grant.basis,
        scope: grant.scope.clone(),
        ends_at: grant.ends_at,
        at: now,
        event,
        by: GrantDecisionBy {
            actor_kind: by.actor_kind,
            actor_account: by.actor_account,
            decision_maker: None,
            reason: Some(reason.to_owned()),
        },
        audit: NewAuditEvent {
            actor_account: by.actor_account,
            patient: Some(patient),
            target: Some(format!("grant:{}", grant.public_id)),
            reason: Some(if state == GrantState::Suspended {
                "patient_left_portal".to_owned()
            } else {
                "patient_returned".to_owned()
            }),
            ..NewAuditEvent::new(now, by.actor_kind, what)
        },
    }
}

fn audit_action(choice: Choice) -> &'static str {
    match choice {
        Choice::LeavePortal => action::CHOICE_LEFT_PORTAL,
        Choice::ReturnToPortal => action::CHOICE_RETURNED,
        Choice::ObjectToSource(_) => action::CHOICE_OBJECTED,
        Choice::WithdrawObjection(_) => action::CHOICE_OBJECTION_WITHDRAWN,
    }
}

fn invalid(field: &str, message: &str) -> AppError {
    AppError::Invalid {
        problems: vec![FieldProblem::new(field, message)],
    }
}

fn refusal_problem(refusal: ChoiceRefusal) -> AppError {
    match refusal {
        ChoiceRefusal::AlreadyLeft => invalid("choice", "You have already left the portal"),
        ChoiceRefusal::NotLeft => invalid("choice", "You have not left the portal"),
        ChoiceRefusal::AlreadyObjected => invalid(
            "source",
            "Records from this organisation are already not shown",
        ),
        ChoiceRefusal::NoSuchObjection => {
            invalid("source", "Records from this organisation are already shown")
        }
        ChoiceRefusal::NotOfferedBack(_) => invalid("choice", "Choose only from the people listed"),
    }
}
