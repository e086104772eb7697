//! The service desk console's service: finding a patient (with a reason, audited),
//! the patient's account, choices, grants and open requests (never clinical content),
//! choices recorded on the patient's behalf, unlinking an account, and the held feed
//! items queue. Every function checks the caller is signed in as service desk staff;
//! every look-up and change is written to the audit trail with the agent's account.

use sha2::{Digest, Sha256};

use super::choices::{apply_choice, history_lines, parse_choice};
use super::proxy::{Answers, answer, date_answer, grant_view, verified_staff};
use super::storage::{
    ApplicationState, ChoiceBy, Delivery, HeldQuery, HeldResolution, HeldResource, NewDeskLookup,
    ResolveHeld, StorageError,
};
use super::{AppState, SignedIn};
use crate::audit::{ActorKind, NewAuditEvent, action};
use crate::choices::rules::Channel;
use crate::components::format;
use crate::desk::api::{
    DeskAccountView, DeskHome, DeskPatientView, DeskSourceView, HeldItemView, HeldQueueView,
};
use crate::desk::rules::{self, LOOKUP_REASONS};
use crate::domain::{Account, NhsNumber, Patient, PatientId};
use crate::error::{AppError, FieldProblem};

fn invalid(problems: Vec<FieldProblem>) -> AppError {
    AppError::Invalid { problems }
}

fn staff_audit(
    agent: &Account,
    now: chrono::DateTime<chrono::Utc>,
    what: &'static str,
) -> NewAuditEvent {
    NewAuditEvent {
        actor_account: Some(agent.id),
        ..NewAuditEvent::new(now, ActorKind::Staff, what)
    }
}

/// What is waiting in each of the desk's queues.
pub async fn home(state: &AppState, staff: Option<&SignedIn>) -> Result<DeskHome, AppError> {
    verified_staff(staff)?;
    let applications = state
        .storage
        .list_applications(ApplicationState::Pending)
        .await?
        .len();
    let held = state
        .storage
        .held_resources(HeldQuery {
            limit: 0,
            ..HeldQuery::default()
        })
        .await?
        .total;
    let now = state.clock.now();
    let reviews = state
        .storage
        .grants_not_revoked()
        .await?
        .iter()
        .filter(|(record, _)| {
            matches!(
                crate::proxy::rules::age_notice(
                    &record.grant,
                    &state.proxy.age_rules,
                    now.date_naive()
                ),
                Some(crate::proxy::rules::AgeNotice::ReviewDue { .. })
            )
        })
        .count();
    Ok(DeskHome {
        applications_waiting: applications as u64,
        held_items_waiting: held,
        reviews_due: reviews as u64,
    })
}

/// The patient a form names by NHS number and date of birth, if both match a record.
/// The same answer whether the number is unknown or the date differs, so that the
/// form cannot be used to learn dates of birth. `other_problem` (another field's,
/// found before) is listed with the form's own; while there is any problem nothing is
/// looked up, so a form with a missing reason cannot confirm that someone exists.
async fn patient_from_form(
    state: &AppState,
    answers: &Answers,
    other_problem: Option<FieldProblem>,
) -> Result<Patient, AppError> {
    let mut problems: Vec<FieldProblem> = other_problem.into_iter().collect();
    let number = NhsNumber::parse(answer(answers, "nhs-number"));
    if number.is_err() {
        problems.push(FieldProblem::new(
            "nhs-number",
            "Enter a valid 10-digit NHS number",
        ));
    }
    let born = match date_answer(answers, "birth-date", "Date of birth") {
        Ok(Some(date)) => Some(date),
        Ok(None) => {
            problems.push(FieldProblem::new(
                "birth-date-day",
                "Enter their date of birth",
            ));
            None
        }
        Err(problem) => {
            problems.push(problem);
            None
        }
    };
    let (Ok(number), Some(born), true) = (number, born, problems.is_empty()) else {
        return Err(invalid(problems));
    };
    let found = state.storage.find_patient_by_nhs_number(&number).await?;
    match found {
        Some(patient)
            if patient.birth_date.as_deref() == Some(&born.format("%Y-%m-%d").to_string()) =>
        {
            Ok(patient)
        }
        _ => Err(invalid(vec![FieldProblem::new(
            "nhs-number",
            "No record matches this NHS number and date of birth. Check both with the caller.",
        )])),
    }
}

/// Finds a patient by NHS number and date of birth, with a reason from the list: the
/// look-up is audited, and its id opens the patient's page to this agent for an hour.
pub async fn find_patient(
    state: &AppState,
    staff: Option<&SignedIn>,
    answers: &Answers,
) -> Result<String, AppError> {
    let agent = verified_staff(staff)?;
    let reason = answer(answers, "reason");
    let reason_problem = rules::lookup_reason(reason)
        .is_none()
        .then(|| FieldProblem::new("reason", "Select why you are looking at this record"));
    let patient = patient_from_form(state, answers, reason_problem).await?;
    let now = state.clock.now();
    let lookup = NewDeskLookup {
        agent: agent.id,
        patient: patient.id,
        reason: reason.to_owned(),
        at: now,
        expires_at: rules::lookup_expiry(now),
        audit: NewAuditEvent {
            patient: Some(patient.id),
            reason: Some(reason.to_owned()),
            ..staff_audit(agent, now, action::DESK_PATIENT_FOUND)
        },
    };
    Ok(state.storage.create_lookup(lookup).await?)
}

/// The patient an agent's own, unexpired look-up opens.
async fn looked_up(
    state: &AppState,
    agent: &Account,
    lookup: &str,
) -> Result<(Patient, String), AppError> {
    let found = state
        .storage
        .find_lookup(lookup, agent.id)
        .await?
        .filter(|l| rules::lookup_open(l.expires_at, state.clock.now()))
        .ok_or(AppError::NotFound)?;
    let patient = state
        .storage
        .find_patient(found.patient)
        .await?
        .ok_or(AppError::NotFound)?;
    Ok((patient, found.reason))
}

/// A reference for an account on the desk's pages: not its key, and not its NHS login
/// subject, but stable for the page and the unlink form.
fn account_reference(account: &Account) -> String {
    hex::encode(&Sha256::digest(format!("{}|{}", account.issuer, account.subject))[..6])
}

/// The patient's page: who they are, account, choices, grants, open requests. Each view
/// is audited with the look-up's reason.
pub async fn patient(
    state: &AppState,
    staff: Option<&SignedIn>,
    lookup: &str,
) -> Result<DeskPatientView, AppError> {
    let agent = verified_staff(staff)?;
    let (patient, reason) = looked_up(state, agent, lookup).await?;
    let now = state.clock.now();
    state
        .storage
        .append_audit(NewAuditEvent {
            patient: Some(patient.id),
            target: Some("desk:patient".to_owned()),
            reason: Some(reason.clone()),
            ..staff_audit(agent, now, action::DESK_PATIENT_VIEWED)
        })
        .await?;
    let accounts = state
        .storage
        .accounts_of_patient(patient.id)
        .await?
        .iter()
        .map(|a| DeskAccountView {
            reference: account_reference(a),
            identity_level: a
                .identity_level
                .clone()
                .unwrap_or_else(|| "Not known".into()),
            created: format::date(a.created_at),
            last_sign_in: a.last_sign_in_at.map(format::date_and_time),
        })
        .collect();
    let choices = state.storage.patient_choices(patient.id).await?;
    let sources = state
        .storage
        .list_organisations()
        .await?
        .into_iter()
        .map(|o| DeskSourceView {
            objected: choices.objects_to(o.id),
            ods_code: o.ods_code.as_str().to_owned(),
            name: o.name,
        })
        .collect();
    let grants = state
        .storage
        .grants_for_patient(patient.id)
        .await?
        .iter()
        .map(|record| grant_view(state, record, record.proxy_name.display_or("Someone"), now))
        .collect();
    let open_requests = state
        .storage
        .list_applications(ApplicationState::Pending)
        .await?
        .into_iter()
        .filter(|a| a.patient_nhs_number == patient.nhs_number.as_str())
        .map(|a| {
            format!(
                "Proxy application from {} ({}), received {}",
                a.applicant_name.display_or("someone"),
                a.basis.label(),
                format::date(a.created_at)
            )
        })
        .collect();
    let history = history_lines(&state.storage.choice_history(patient.id).await?, false);
    let access_requests = state
        .storage
        .access_requests_for_patient(patient.id)
        .await?
        .into_iter()
        .map(|r| {
            (
                r.public_id.clone(),
                format!(
                    "Received {} ({}): {}",
                    format::date(
                        r.received_on
                            .and_hms_opt(12, 0, 0)
                            .unwrap_or_default()
                            .and_utc()
                    ),
                    r.channel,
                    r.state.label()
                ),
            )
        })
        .collect();
    Ok(DeskPatientView {
        lookup: lookup.to_owned(),
        name: crate::server::storage::PersonName {
            given: patient.given_name.clone(),
            family: patient.family_name.clone(),
        }
        .display_or("Name not known"),
        nhs_number: patient.nhs_number.formatted(),
        birth_date: patient
            .birth_date
            .as_deref()
            .map(format::partial_date)
            .unwrap_or_else(|| "Not known".into()),
        reason: rules::lookup_reason(&reason).unwrap_or_default().to_owned(),
        accounts,
        has_left: choices.has_left(),
        left_on: choices.left_portal_at.map(format::date),
        sources,
        grants,
        open_requests,
        access_requests,
        history,
    })
}

/// A choice the desk records on the patient's behalf: the channel it came by, an
/// evidence reference (the letter's or call's) and the reason, all required.
pub async fn record_choice(
    state: &AppState,
    staff: Option<&SignedIn>,
    lookup: &str,
    answers: &Answers,
) -> Result<(), AppError> {
    let agent = verified_staff(staff)?;
    let (patient, _) = looked_up(state, agent, lookup).await?;
    let mut problems = Vec::new();
    let choice = match parse_choice(state, answers).await {
        Ok(choice) => Some(choice),
        Err(AppError::Invalid { problems: found }) => {
            problems.extend(found);
            None
        }
        Err(other) => return Err(other),
    };
    let channel =
        Channel::from_code(answer(answers, "channel")).filter(|c| Channel::DESK.contains(c));
    if channel.is_none() {
        problems.push(FieldProblem::new(
            "channel",
            "Select how the patient told us",
        ));
    }
    let evidence = answer(answers, "evidence");
    if evidence.is_empty() || evidence.len() > 100 {
        problems.push(FieldProblem::new(
            "evidence",
            "Enter the reference of the letter, call or visit (100 characters or fewer)",
        ));
    }
    let reason = answer(answers, "reason");
    if reason.is_empty() || reason.len() > 500 {
        problems.push(FieldProblem::new(
            "reason",
            "Enter the reason (500 characters or fewer)",
        ));
    }
    let (Some(choice), Some(channel), true) = (choice, channel, problems.is_empty()) else {
        return Err(invalid(problems));
    };
    let by = ChoiceBy {
        actor_kind: ActorKind::Staff,
        actor_account: Some(agent.id),
        channel,
        evidence_reference: Some(evidence.to_owned()),
        reason: Some(reason.to_owned()),
    };
    // The desk brings a patient back, but only the patient decides who is let back in.
    apply_choice(state, patient.id, choice, by, &[]).await
}

/// Logs a request for a copy of data that came by post, phone or email, for the
/// patient the agent's own look-up opens (`super::sar::log_request`).
pub async fn log_request(
    state: &AppState,
    staff: Option<&SignedIn>,
    lookup: &str,
    answers: &Answers,
) -> Result<String, AppError> {
    let agent = verified_staff(staff)?;
    let (patient, _) = looked_up(state, agent, lookup).await?;
    super::sar::log_request(state, agent.id, patient.id, answers).await
}

/// Unlinks an account from the record (a wrong match): its sessions end, and its next
/// sign-in links by NHS number as usual.
pub async fn unlink_account(
    state: &AppState,
    staff: Option<&SignedIn>,
    lookup: &str,
    answers: &Answers,
) -> Result<(), AppError> {
    let agent = verified_staff(staff)?;
    let (patient, _) = looked_up(state, agent, lookup).await?;
    let reason = answer(answers, "unlink-reason");
    if reason.is_empty() || reason.len() > 500 {
        return Err(invalid(vec![FieldProblem::new(
            "unlink-reason",
            "Enter why the account is being unlinked (500 characters or fewer)",
        )]));
    }
    let reference = answer(answers, "account");
    let account = state
        .storage
        .accounts_of_patient(patient.id)
        .await?
        .into_iter()
        .find(|a| account_reference(a) == reference)
        .ok_or(AppError::NotFound)?;
    let now = state.clock.now();
    let audit = NewAuditEvent {
        patient: Some(patient.id),
        target: Some(format!("account:{reference}")),
        reason: Some("wrong_match".to_owned()),
        ..staff_audit(agent, now, action::DESK_ACCOUNT_UNLINKED)
    };
    match state
        .storage
        .unlink_account(account.id, patient.id, agent.id, reason, audit)
        .await
    {
        Ok(()) => Ok(()),
        Err(StorageError::Conflict(_)) => Err(AppError::NotFound),
        Err(other) => Err(other.into()),
    }
}

fn held_view(held: &HeldResource, senders: &[crate::domain::Organisation]) -> HeldItemView {
    let sender = senders.iter().find(|o| o.id == held.sender);
    HeldItemView {
        public_id: held.public_id.clone(),
        sender: sender.map(|o| o.name.clone()).unwrap_or_default(),
        sender_ods_code: sender
            .map(|o| o.ods_code.as_str().to_owned())
            .unwrap_or_default(),
        resource_type: held.resource_type.clone(),
        received: format::date_and_time(held.received_at),
        why: format!("{}: {}", held.expression, held.reason),
        identifiers: rules::held_identifiers(&held.raw_resource)
            .into_iter()
            .map(|i| {
                let what = match i.system {
                    Some(system) => format!("{} ({system})", i.what),
                    None => i.what.to_owned(),
                };
                (what, i.value)
            })
            .collect(),
        resolution: held.resolution.as_deref().map(|r| match r {
            "matched" => "Matched to a patient".to_owned(),
            _ => "Sent back to the sender as unmatched".to_owned(),
        }),
    }
}

/// The held items queue, oldest first, a page at a time, optionally for one sender.
pub async fn held_queue(
    state: &AppState,
    staff: Option<&SignedIn>,
    sender: &str,
    page: u32,
) -> Result<HeldQueueView, AppError> {
    let agent = verified_staff(staff)?;
    let organisations = state.storage.list_organisations().await?;
    let filter = organisations
        .iter()
        .find(|o| !sender.is_empty() && o.ods_code.as_str() == sender);
    let query = HeldQuery {
        sender: filter.map(|o| o.id),
        offset: 0,
        limit: 0,
    };
    let total = state.storage.held_resources(query.clone()).await?.total;
    let (offset, page, pages) = rules::page_window(page, total);
    let items = state
        .storage
        .held_resources(HeldQuery {
            offset,
            limit: rules::PAGE_SIZE,
            ..query
        })
        .await?
        .items;
    // The identifiers listed may name patients (an NHS number as sent): the view is
    // audited, with the held items it showed.
    if !items.is_empty() {
        state
            .storage
            .append_audit(NewAuditEvent {
                target: Some(format!(
                    "held:{}",
                    items
                        .iter()
                        .map(|h| h.public_id.as_str())
                        .collect::<Vec<_>>()
                        .join(",")
                )),
                ..staff_audit(agent, state.clock.now(), action::DESK_HELD_ITEMS_LISTED)
            })
            .await?;
    }
    Ok(HeldQueueView {
        items: items.iter().map(|h| held_view(h, &organisations)).collect(),
        total,
        page,
        pages,
        sender: filter.map(|o| o.ods_code.as_str().to_owned()),
        senders: organisations
            .iter()
            .map(|o| (o.ods_code.as_str().to_owned(), o.name.clone()))
            .collect(),
    })
}

/// One held item: sender, type, time, why it was held and its identifiers. Audited, as
/// the identifiers may name a patient.
pub async fn held_item(
    state: &AppState,
    staff: Option<&SignedIn>,
    public_id: &str,
) -> Result<HeldItemView, AppError> {
    let agent = verified_staff(staff)?;
    let held = state
        .storage
        .find_held_resource(public_id)
        .await?
        .ok_or(AppError::NotFound)?;
    state
        .storage
        .append_audit(NewAuditEvent {
            target: Some(format!("held:{public_id}")),
            ..staff_audit(agent, state.clock.now(), action::DESK_HELD_ITEM_VIEWED)
        })
        .await?;
    Ok(held_view(&held, &state.storage.list_organisations().await?))
}

/// What the desk decided about a held item: `resolution` is `match` (with the patient's
/// NHS number and date of birth, checked against the item's identifiers) or `return`;
/// a reason always. `map` turns the held resource into a delivery for the patient (the
/// feed's own mapping, which lives in the server crate).
pub async fn resolve_held_item(
    state: &AppState,
    staff: Option<&SignedIn>,
    public_id: &str,
    answers: &Answers,
    map: impl FnOnce(&HeldResource, &NhsNumber) -> Result<Delivery, String>,
) -> Result<(), AppError> {
    let agent = verified_staff(staff)?;
    let held = state
        .storage
        .find_held_resource(public_id)
        .await?
        .filter(|h| h.resolved_at.is_none())
        .ok_or(AppError::NotFound)?;
    let reason = answer(answers, "reason");
    let reason_problem = (reason.is_empty() || reason.len() > 500)
        .then(|| FieldProblem::new("reason", "Enter the reason (500 characters or fewer)"));
    let now = state.clock.now();
    let mut confirmation = None;
    let resolution = match answer(answers, "resolution") {
        "match" => {
            let patient = patient_from_form(state, answers, reason_problem).await?;
            // A resource that points at others of its delivery by bundle-local address
            // would lose those links matched on its own (a result its report's release
            // rule or label should bind): the whole delivery must come again.
            if rules::refers_within_its_delivery(&held.raw_resource) {
                return Err(invalid(vec![FieldProblem::new(
                    "resolution",
                    "This item refers to other items sent with it, so it cannot be matched on its own. Send it back and ask the sender to send the whole delivery again with the patient corrected.",
                )]));
            }
            // The number the item carries, or the agent's word that the sender confirmed
            // it: never a match on a name or a guess.
            let carried = rules::held_identifiers(&held.raw_resource)
                .iter()
                .any(|i| i.value.replace(' ', "") == patient.nhs_number.as_str());
            if !carried && answer(answers, "confirmed") != "yes" {
                return Err(invalid(vec![FieldProblem::new(
                    "confirmed",
                    "The item does not carry this NHS number. Confirm that the sender told you it is about this patient",
                )]));
            }
            confirmation = Some(if carried {
                "nhs_number_on_item"
            } else {
                "confirmed_with_sender"
            });
            let delivery = map(&held, &patient.nhs_number).map_err(|why| {
                invalid(vec![FieldProblem::new(
                    "resolution",
                    &format!("This item cannot be matched; send it back to the sender. {why}"),
                )])
            })?;
            HeldResolution::Matched {
                patient: patient.id,
                delivery: Box::new(delivery),
            }
        }
        "return" => {
            if let Some(problem) = reason_problem {
                return Err(invalid(vec![problem]));
            }
            HeldResolution::Returned
        }
        _ => {
            let mut problems = vec![FieldProblem::new(
                "resolution",
                "Select what to do with this item",
            )];
            problems.extend(reason_problem);
            return Err(invalid(problems));
        }
    };
    let (what, patient): (&'static str, Option<PatientId>) = match &resolution {
        HeldResolution::Matched { patient, delivery } => {
            (held_match_action(&delivery.items), Some(*patient))
        }
        HeldResolution::Returned => (action::DESK_HELD_ITEM_RETURNED, None),
    };
    let resolve = ResolveHeld {
        public_id: public_id.to_owned(),
        resolution,
        by: agent.id,
        reason: reason.to_owned(),
        at: now,
        audit: NewAuditEvent {
            patient,
            target: Some(format!("held:{public_id}")),
            reason: confirmation.map(str::to_owned),
            ..staff_audit(agent, now, what)
        },
    };
    match state.storage.resolve_held_resource(resolve).await {
        Ok(()) => Ok(()),
        Err(StorageError::Conflict(_)) => Err(AppError::NotFound),
        Err(other) => Err(other.into()),
    }
}

/// How a match goes on the patient's trail. A match that adds only items the portal
/// never shows (a sexual health result sent with a mistyped NHS number) is audited all
/// the same, under an action the patient's log leaves out: a line saying something was
/// added, with nothing new in the record, would show that something is hidden.
fn held_match_action(items: &[super::storage::NewRecordItem]) -> &'static str {
    if items
        .iter()
        .any(|item| crate::privacy::is_shown(item.labels.iter().map(|(label, _)| label.as_str())))
    {
        action::DESK_HELD_ITEM_MATCHED
    } else {
        action::DESK_HELD_ITEM_MATCHED_UNSHOWN
    }
}

/// The reasons an agent picks from, for the find form.
pub fn lookup_reasons() -> Vec<(String, String)> {
    LOOKUP_REASONS
        .iter()
        .map(|(code, words)| ((*code).to_owned(), (*words).to_owned()))
        .collect()
}
