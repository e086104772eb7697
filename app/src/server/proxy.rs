//! The proxy access service: what the patient, the proxy and (later) the service desk do
//! with grants and invitations. Server functions and the form routes call it; it applies
//! the pure rules (`crate::proxy::rules`), writes through storage (each change with its
//! history entry and audit row in one transaction) and answers the wire types of
//! `crate::proxy::api`.
//!
//! Who may do what:
//! - the patient (P9, on their own record, whatever record they are reading now) invites,
//!   withdraws invitations, and changes, suspends, resumes and revokes grants made with
//!   their consent; a young person agrees to a parent's access continuing at 16;
//! - the invitee (P9, with their own NHS login) accepts an invitation addressed to their
//!   own verified name and date of birth;
//! - a person holding grants chooses whose record to read: only a grant of their own,
//!   and only while it is in force.
//!
//! Nothing here tells anyone anything about a patient they have no grant for: a code
//! that is wrong, or an invitation for someone else, gets the same answer.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use sha2::{Digest, Sha256};

use super::storage::{
    ApplicationDecision, ApplicationState, GrantChange, GrantDecisionBy, GrantRecord,
    NewApplication, NewGrant, NewInvitation, StorageError, StoredApplication, StoredInvitation,
};
use super::{AppState, SignedIn};
use crate::access::VERIFIED_IDENTITY;
use crate::audit::{ActorKind, NewAuditEvent, action};
use crate::components::format;
use crate::components::forms::FormOutcome;
use crate::domain::{Account, AccountRole, PatientId};
use crate::error::{AppError, FieldProblem};
use crate::proxy::api::{
    ApplicationView, ChoicesView, DeskApplicationDetail, DeskApplicationQueue, DeskApplicationView,
    GrantDetail, GrantView, HistoryLine, InvitationView, PatientMatch, PeopleView,
};
use crate::proxy::rules::{
    self, AgeNotice, GRANTABLE_LABELS, GrantState, GrantStatus, InvitationRefusal, InvitationState,
    Invitee, ProxyBasisKind, Scope, Section,
};

/// The signed-in person, at P9, with a record of their own.
pub(crate) fn verified_patient(
    signed_in: Option<&SignedIn>,
) -> Result<(&Account, PatientId), AppError> {
    let signed_in = signed_in.ok_or(AppError::NotSignedIn)?;
    let account = &signed_in.account;
    if account.identity_level.as_deref() != Some(VERIFIED_IDENTITY) {
        return Err(AppError::IdentityNotVerified);
    }
    let patient = account.patient_id.ok_or(AppError::IdentityNotVerified)?;
    Ok((account, patient))
}

/// Whether the patient has left the portal (`crate::choices`): no access for anyone
/// else starts or resumes then; on coming back the patient chooses who returns.
async fn patient_has_left(state: &AppState, patient: PatientId) -> Result<bool, AppError> {
    Ok(state.storage.patient_choices(patient).await?.has_left())
}

/// An audit row for something the patient did about who can see their record.
fn patient_audit(
    account: &Account,
    patient: PatientId,
    now: DateTime<Utc>,
    what: &'static str,
    target: String,
) -> NewAuditEvent {
    NewAuditEvent {
        actor_account: Some(account.id),
        patient: Some(patient),
        target: Some(target),
        ..NewAuditEvent::new(now, ActorKind::Patient, what)
    }
}

/// The grant history's author, when it is the patient.
fn by_patient(account: &Account) -> GrantDecisionBy {
    GrantDecisionBy {
        actor_kind: ActorKind::Patient,
        actor_account: Some(account.id),
        decision_maker: None,
        reason: None,
    }
}

fn section_labels(scope: &Scope) -> Vec<String> {
    scope
        .sections()
        .into_iter()
        .map(|s| s.label().to_owned())
        .collect()
}

fn label_names(scope: &Scope) -> Vec<String> {
    GRANTABLE_LABELS
        .iter()
        .filter(|(label, _)| scope.labels.iter().any(|l| l == label))
        .map(|(_, name)| (*name).to_owned())
        .collect()
}

/// A grant as pages show it. `name` is the other person's.
pub(crate) fn grant_view(
    state: &AppState,
    record: &GrantRecord,
    name: String,
    now: DateTime<Utc>,
) -> GrantView {
    let grant = &record.grant;
    let decision = rules::decide_grant(grant, &state.proxy.age_rules, now);
    let patient_name = record.patient_name.display_or("the patient");
    let notice = rules::age_notice(grant, &state.proxy.age_rules, now.date_naive()).map(|n| match n {
        AgeNotice::ReviewDue { by } => format!(
            "Access for a child aged {} to {} is reviewed. The service desk will review this access by {}.",
            state.proxy.age_rules.review_from_age,
            state.proxy.age_rules.review_by_age,
            format::date(day_start(by))
        ),
        AgeNotice::SuspendsSoon { on } => format!(
            "{patient_name} turns {} on {}. This access will be paused then, unless {patient_name} agrees to it continuing.",
            state.proxy.age_rules.suspend_at_age,
            format::date(day_start(on))
        ),
        AgeNotice::SuspendedAtAge { on } => format!(
            "This access was paused on {}, when {patient_name} turned {}. It can continue only if {patient_name} agrees.",
            format::date(day_start(on)),
            state.proxy.age_rules.suspend_at_age
        ),
    });
    GrantView {
        public_id: grant.public_id.clone(),
        name,
        relationship: record.relationship.clone(),
        basis: grant.basis.label().to_owned(),
        sections: section_labels(&grant.scope),
        labels: label_names(&grant.scope),
        from: format::date(grant.starts_at),
        until: grant.ends_at.map(format::date),
        status: decision.status.label().to_owned(),
        in_force: decision.is_in_force(),
        is_revoked: decision.status == GrantStatus::Revoked,
        is_suspended_by_decision: grant.state == GrantState::Suspended,
        patient_controls: grant.basis == ProxyBasisKind::Consent,
        awaits_young_persons_consent: matches!(
            decision.reason,
            rules::GrantReason::ChildReachedAge { .. }
        ) && grant.state != GrantState::Revoked,
        last_used: grant.last_used_at.map(format::date),
        notice,
        scope: grant.scope.clone(),
        ends_on: grant
            .ends_at
            .map(|at| at.date_naive().format("%Y-%m-%d").to_string()),
    }
}

fn day_start(day: NaiveDate) -> DateTime<Utc> {
    day.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc()
}

/// The optional "End date" of a grant or an application: access runs to the end of that
/// day, so it ends at the start of the next. A date today or earlier is a problem, as
/// is one that is not a real date; either is added to `problems` and gives no end.
/// "Today" is the day in England, as the person typing the date counts it: at 00:30 in
/// summer time the UTC date is still yesterday's.
fn end_date_answer(
    answers: &Answers,
    now: DateTime<Utc>,
    problems: &mut Vec<FieldProblem>,
) -> Option<DateTime<Utc>> {
    match date_answer(answers, "ends-on", "End date") {
        Ok(Some(date)) if date <= format::uk_local(now).date() => {
            problems.push(FieldProblem::new(
                "ends-on-day",
                "End date must be in the future",
            ));
            None
        }
        Ok(date) => date.map(|d| day_start(d.succ_opt().unwrap_or(d))),
        Err(problem) => {
            problems.push(problem);
            None
        }
    }
}

/// "People who can see your record": the patient's grants and invitations.
pub async fn people(
    state: &AppState,
    signed_in: Option<&SignedIn>,
) -> Result<PeopleView, AppError> {
    let (_, patient) = verified_patient(signed_in)?;
    let now = state.clock.now();
    let grants = state.storage.grants_for_patient(patient).await?;
    let invitations = state.storage.list_invitations(patient).await?;
    Ok(PeopleView {
        grants: grants
            .iter()
            .map(|g| grant_view(state, g, g.proxy_name.display_or("Someone"), now))
            .collect(),
        invitations: invitations
            .iter()
            .map(|i| invitation_view(i, now))
            .collect(),
    })
}

fn invitation_view(invitation: &StoredInvitation, now: DateTime<Utc>) -> InvitationView {
    let rule = &invitation.invitation;
    let expired = rule.state == InvitationState::Pending && now >= rule.expires_at;
    let status = match rule.state {
        InvitationState::Pending if expired => "Expired",
        InvitationState::Pending => "Waiting to be accepted",
        InvitationState::Accepted => "Accepted",
        InvitationState::Withdrawn => "Withdrawn",
    };
    InvitationView {
        public_id: invitation.public_id.clone(),
        name: format!("{} {}", rule.given_name, rule.family_name),
        relationship: invitation.relationship.clone(),
        sent: format::date(invitation.created_at),
        expires: format::date(rule.expires_at),
        status: status.to_owned(),
        is_pending: rule.state == InvitationState::Pending && !expired,
    }
}

/// A grant with its history, worded for the page.
async fn grant_detail_of(
    state: &AppState,
    record: GrantRecord,
    patient_is: &str,
) -> Result<GrantDetail, AppError> {
    let now = state.clock.now();
    let history = state
        .storage
        .grant_history(record.grant.id)
        .await?
        .into_iter()
        .map(|event| HistoryLine {
            at: format::date_and_time(event.at),
            what: history_wording(&event.event).to_owned(),
            by: match event.actor_kind {
                ActorKind::Patient => patient_is.to_owned(),
                ActorKind::Proxy => record.proxy_name.display_or("They"),
                ActorKind::Staff => event
                    .decision_maker
                    .clone()
                    .unwrap_or_else(|| "The service desk".to_owned()),
                _ => "The portal".to_owned(),
            },
            reason: event.reason,
        })
        .collect();
    Ok(GrantDetail {
        grant: grant_view(state, &record, record.proxy_name.display_or("Someone"), now),
        history,
    })
}

/// One grant on the patient's record, with its history.
pub async fn grant_detail(
    state: &AppState,
    signed_in: Option<&SignedIn>,
    public_id: &str,
) -> Result<GrantDetail, AppError> {
    let (_, patient) = verified_patient(signed_in)?;
    let record = patient_grant(state, patient, public_id).await?;
    grant_detail_of(state, record, "You").await
}

fn history_wording(event: &str) -> &'static str {
    match event {
        "accepted" => "Invitation accepted: access started",
        "granted" => "Access granted by the service desk",
        "changed" => "What they can see was changed",
        "suspended" => "Access paused",
        "resumed" => "Access resumed",
        "revoked" => "Access stopped",
        "consented" => "Agreed to access continuing",
        "expired" => "Access ended on its end date",
        "lapsed" => "Access lapsed: not used for 5 years",
        "suspended_at_age" => "Access paused: the child reached the age to decide",
        "replaced" => "Closed: ended access replaced by a new one",
        _ => "Changed",
    }
}

/// A grant on this patient's record, or "not found" (never someone else's).
async fn patient_grant(
    state: &AppState,
    patient: PatientId,
    public_id: &str,
) -> Result<GrantRecord, AppError> {
    state
        .storage
        .find_grant(public_id)
        .await?
        .filter(|g| g.grant.patient == patient)
        .ok_or(AppError::NotFound)
}

/// A one-time invitation code: 12 characters from an alphabet without look-alikes
/// (about 60 bits), shown as three groups of four.
fn new_code() -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut rng = rand::rng();
    let chars: Vec<char> = (0..12)
        .map(|_| char::from(ALPHABET[rng.random_range(0..ALPHABET.len())]))
        .collect();
    chars
        .chunks(4)
        .map(|c| c.iter().collect::<String>())
        .collect::<Vec<_>>()
        .join("-")
}

/// The code as typed, made comparable: case and separators do not matter.
fn normalise_code(code: &str) -> String {
    code.chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

fn code_hash(code: &str) -> String {
    hex::encode(Sha256::digest(normalise_code(code).as_bytes()))
}

/// A form's answers.
pub type Answers = BTreeMap<String, String>;

pub(crate) fn answer<'a>(answers: &'a Answers, field: &str) -> &'a str {
    answers.get(field).map(|v| v.trim()).unwrap_or_default()
}

/// A date entered as day, month and year fields (`<prefix>-day`, …), as the design
/// system's date input asks for it. `Ok(None)` when all three are empty.
pub(crate) fn date_answer(
    answers: &Answers,
    prefix: &str,
    what: &str,
) -> Result<Option<NaiveDate>, FieldProblem> {
    let part = |p: &str| answer(answers, &format!("{prefix}-{p}"));
    let (day, month, year) = (part("day"), part("month"), part("year"));
    if day.is_empty() && month.is_empty() && year.is_empty() {
        return Ok(None);
    }
    let field = format!("{prefix}-day");
    let real = || FieldProblem::new(&field, &format!("{what} must be a real date"));
    let (Ok(d), Ok(m), Ok(y)) = (
        day.parse::<u32>(),
        month.parse::<u32>(),
        year.parse::<i32>(),
    ) else {
        return Err(real());
    };
    if !(1900..=2200).contains(&y) {
        return Err(FieldProblem::new(
            &field,
            &format!("{what} must include a year with 4 numbers"),
        ));
    }
    NaiveDate::from_ymd_opt(y, m, d).map(Some).ok_or_else(real)
}

/// A date the form must have, on or before `latest`: the date, or `None` with its
/// problem pushed (`missing` when blank, `too_late` when after `latest`, or why it is
/// not a real date).
pub(crate) fn required_date_by(
    answers: &Answers,
    prefix: &str,
    what: &str,
    latest: NaiveDate,
    (missing, too_late): (&str, &str),
    problems: &mut Vec<FieldProblem>,
) -> Option<NaiveDate> {
    let field = format!("{prefix}-day");
    match date_answer(answers, prefix, what) {
        Ok(Some(date)) if date > latest => {
            problems.push(FieldProblem::new(&field, too_late));
            None
        }
        Ok(Some(date)) => Some(date),
        Ok(None) => {
            problems.push(FieldProblem::new(&field, missing));
            None
        }
        Err(problem) => {
            problems.push(problem);
            None
        }
    }
}

/// A date of birth the form must have, before today.
fn birth_date_answer(
    answers: &Answers,
    today: NaiveDate,
    problems: &mut Vec<FieldProblem>,
) -> Option<NaiveDate> {
    required_date_by(
        answers,
        "birth-date",
        "Date of birth",
        today.pred_opt().unwrap_or(NaiveDate::MIN),
        (
            "Enter their date of birth",
            "Date of birth must be in the past",
        ),
        problems,
    )
}

/// The scope a form's checkboxes ask for.
fn scope_answer(answers: &Answers) -> Scope {
    let ticked = |field: &str| answers.contains_key(field);
    Scope {
        appointments: ticked("appointments"),
        letters: ticked("letters"),
        results: ticked("results"),
        labels: GRANTABLE_LABELS
            .iter()
            .filter(|(label, _)| ticked(&format!("label-{label}")))
            .map(|(label, _)| (*label).to_owned())
            .collect(),
    }
    .normalised()
}

fn is_plausible_email(email: &str) -> bool {
    let Some((local, domain)) = email.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !email.chars().any(char::is_whitespace)
        && email.len() <= 254
}

/// The patient invites someone: checks the answers, stores the invitation with a hash
/// of a new one-time code, and answers the code (shown once) to pass on.
pub async fn invite(
    state: &AppState,
    signed_in: Option<&SignedIn>,
    answers: &Answers,
) -> Result<FormOutcome, AppError> {
    let (account, patient) = verified_patient(signed_in)?;
    let now = state.clock.now();
    let mut problems = Vec::new();
    let given_name = answer(answers, "given-name");
    let family_name = answer(answers, "family-name");
    let relationship = answer(answers, "relationship");
    let email = answer(answers, "email");
    if given_name.is_empty() {
        problems.push(FieldProblem::new("given-name", "Enter their first name"));
    } else if given_name.chars().count() > 100 {
        problems.push(FieldProblem::new(
            "given-name",
            "First name must be 100 characters or fewer",
        ));
    }
    if family_name.is_empty() {
        problems.push(FieldProblem::new("family-name", "Enter their last name"));
    } else if family_name.chars().count() > 100 {
        problems.push(FieldProblem::new(
            "family-name",
            "Last name must be 100 characters or fewer",
        ));
    }
    let birth_date = birth_date_answer(answers, now.date_naive(), &mut problems);
    if relationship.is_empty() {
        problems.push(FieldProblem::new(
            "relationship",
            "Enter how they are related to you, for example daughter or friend",
        ));
    } else if relationship.chars().count() > 60 {
        problems.push(FieldProblem::new(
            "relationship",
            "Relationship must be 60 characters or fewer",
        ));
    }
    if !email.is_empty() && !is_plausible_email(email) {
        problems.push(FieldProblem::new(
            "email",
            "Enter an email address in the correct format, like name@example.com",
        ));
    }
    let scope = scope_answer(answers);
    if scope.is_empty() {
        problems.push(FieldProblem::new(
            "appointments",
            "Select at least one part of your record they can see",
        ));
    }
    let ends_at = end_date_answer(answers, now, &mut problems);
    let Some(birth_date) = birth_date.filter(|_| problems.is_empty()) else {
        return Err(AppError::Invalid { problems });
    };
    let code = new_code();
    let expires_at = rules::invitation_expires_at(now, state.proxy.invitation_days);
    state
        .storage
        .create_invitation(
            NewInvitation {
                patient,
                invited_by: account.id,
                given_name: given_name.to_owned(),
                family_name: family_name.to_owned(),
                birth_date,
                relationship: relationship.to_owned(),
                email: (!email.is_empty()).then(|| email.to_owned()),
                code_hash: code_hash(&code),
                scope,
                ends_at,
                created_at: now,
                expires_at,
            },
            patient_audit(account, patient, now, action::PROXY_INVITED, String::new()),
        )
        .await?;
    Ok(FormOutcome::InvitationCreated {
        code,
        name: format!("{given_name} {family_name}"),
        expires_on: format::date(expires_at),
    })
}

/// The patient withdraws a pending invitation of theirs.
pub async fn withdraw_invitation(
    state: &AppState,
    signed_in: Option<&SignedIn>,
    public_id: &str,
) -> Result<(), AppError> {
    let (account, patient) = verified_patient(signed_in)?;
    let now = state.clock.now();
    let audit = patient_audit(
        account,
        patient,
        now,
        action::PROXY_INVITATION_WITHDRAWN,
        format!("invitation:{public_id}"),
    );
    match state
        .storage
        .withdraw_invitation(patient, public_id, now, audit)
        .await
    {
        Err(StorageError::NotFound) => Err(AppError::NotFound),
        other => Ok(other?),
    }
}

/// What the patient (or the service desk) may do to a grant from its page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatientGrantAction {
    Change,
    Suspend,
    Resume,
    Revoke,
    /// A young person agrees to a parent's access continuing: it becomes a grant made
    /// with their consent, which they control.
    Consent,
}

impl PatientGrantAction {
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "change" => Some(Self::Change),
            "suspend" => Some(Self::Suspend),
            "resume" => Some(Self::Resume),
            "revoke" => Some(Self::Revoke),
            "consent" => Some(Self::Consent),
            _ => None,
        }
    }
}

/// The patient changes, suspends, resumes or revokes a grant made with their consent,
/// or agrees to a parent's access continuing.
pub async fn change_grant_as_patient(
    state: &AppState,
    signed_in: Option<&SignedIn>,
    public_id: &str,
    answers: &Answers,
) -> Result<(), AppError> {
    let (account, patient) = verified_patient(signed_in)?;
    let record = patient_grant(state, patient, public_id).await?;
    let now = state.clock.now();
    let grant = &record.grant;
    let action = PatientGrantAction::parse(answer(answers, "action")).ok_or(AppError::Request)?;
    let view = grant_view(state, &record, String::new(), now);
    let allowed = match action {
        PatientGrantAction::Consent => view.awaits_young_persons_consent,
        _ => grant.basis == ProxyBasisKind::Consent && !view.is_revoked,
    };
    if !allowed {
        return Err(AppError::NotFound);
    }
    let terms = new_terms(grant, action, answers, now)?;
    let change = GrantChange {
        from_state: grant.state,
        grant: grant.id,
        state: terms.state,
        basis: terms.basis,
        scope: terms.scope,
        ends_at: terms.ends_at,
        at: now,
        event: terms.event,
        by: by_patient(account),
        audit: patient_audit(
            account,
            patient,
            now,
            terms.audit_action,
            format!("grant:{}", grant.public_id),
        ),
    };
    match state.storage.change_grant(change).await {
        Err(StorageError::Conflict(_)) => Err(AppError::NotFound),
        other => other.map(|_| ()).map_err(AppError::from),
    }
}

/// A grant's terms after an action, and how the change is recorded.
struct NewTerms {
    state: GrantState,
    basis: ProxyBasisKind,
    scope: Scope,
    ends_at: Option<DateTime<Utc>>,
    event: &'static str,
    audit_action: &'static str,
}

/// The terms an action leaves a grant with; a change of scope or end date is checked.
fn new_terms(
    grant: &rules::Grant,
    action: PatientGrantAction,
    answers: &Answers,
    now: DateTime<Utc>,
) -> Result<NewTerms, AppError> {
    let (state, basis, scope, ends_at, event, audit_action) = match action {
        PatientGrantAction::Change => {
            let scope = scope_answer(answers);
            let mut problems = Vec::new();
            if scope.is_empty() {
                problems.push(FieldProblem::new(
                    "appointments",
                    "Select at least one part of the record they can see, or stop the access instead",
                ));
            }
            let ends_at = end_date_answer(answers, now, &mut problems);
            if !problems.is_empty() {
                return Err(AppError::Invalid { problems });
            }
            (
                grant.state,
                grant.basis,
                scope,
                ends_at,
                "changed",
                action::PROXY_GRANT_CHANGED,
            )
        }
        PatientGrantAction::Suspend => (
            GrantState::Suspended,
            grant.basis,
            grant.scope.clone(),
            grant.ends_at,
            "suspended",
            action::PROXY_GRANT_SUSPENDED,
        ),
        PatientGrantAction::Resume => (
            GrantState::Active,
            grant.basis,
            grant.scope.clone(),
            grant.ends_at,
            "resumed",
            action::PROXY_GRANT_RESUMED,
        ),
        PatientGrantAction::Revoke => (
            GrantState::Revoked,
            grant.basis,
            grant.scope.clone(),
            grant.ends_at,
            "revoked",
            action::PROXY_GRANT_REVOKED,
        ),
        PatientGrantAction::Consent => (
            GrantState::Active,
            ProxyBasisKind::Consent,
            grant.scope.clone(),
            grant.ends_at,
            "consented",
            action::PROXY_GRANT_CONSENTED,
        ),
    };
    Ok(NewTerms {
        state,
        basis,
        scope,
        ends_at,
        event,
        audit_action,
    })
}

/// A person has one live grant per patient. One that has ended by the clock (its end
/// date passed, or unused for five years) is closed (revoked, with a "replaced" entry in
/// its history) before a new grant for the same two people is made; a grant that is in
/// force or paused by someone's decision is left alone, and the new one is refused.
async fn close_ended_grant(
    state: &AppState,
    patient: PatientId,
    proxy: crate::domain::AccountId,
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    let existing = state
        .storage
        .grants_for_patient(patient)
        .await?
        .into_iter()
        .find(|g| g.grant.proxy == proxy && g.grant.state != GrantState::Revoked);
    let Some(record) = existing else {
        return Ok(());
    };
    let status = rules::decide_grant(&record.grant, &state.proxy.age_rules, now).status;
    if !matches!(status, GrantStatus::Expired | GrantStatus::Lapsed) {
        return Ok(());
    }
    let grant = &record.grant;
    let change = GrantChange {
        from_state: grant.state,
        grant: grant.id,
        state: GrantState::Revoked,
        basis: grant.basis,
        scope: grant.scope.clone(),
        ends_at: grant.ends_at,
        at: now,
        event: "replaced",
        by: GrantDecisionBy {
            actor_kind: ActorKind::System,
            actor_account: None,
            decision_maker: None,
            reason: None,
        },
        audit: NewAuditEvent {
            patient: Some(patient),
            target: Some(format!("grant:{}", grant.public_id)),
            reason: Some("replaced".to_owned()),
            ..NewAuditEvent::new(now, ActorKind::System, action::PROXY_GRANT_REVOKED)
        },
    };
    match state.storage.change_grant(change).await {
        Ok(_) | Err(StorageError::Conflict(_)) => Ok(()),
        Err(error) => Err(error.into()),
    }
}

/// The invitee as their own NHS login proved them.
fn invitee_of(account: &Account) -> Invitee {
    Invitee {
        given_name: account.given_name.clone(),
        family_name: account.family_name.clone(),
        birth_date: account
            .birth_date
            .as_deref()
            .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok()),
        own_record: account.patient_id,
    }
}

/// The one answer for a code that is wrong, or an invitation for someone else.
fn no_such_invitation() -> AppError {
    AppError::Invalid {
        problems: vec![FieldProblem::new(
            "code",
            "We could not find an invitation for you with that code. Check the code with the person who invited you",
        )],
    }
}

fn refusal_problem(refusal: InvitationRefusal) -> AppError {
    let message = match refusal {
        InvitationRefusal::DetailsDoNotMatch | InvitationRefusal::OwnRecord => {
            return no_such_invitation();
        }
        InvitationRefusal::Expired => {
            "This invitation has expired. Ask the person who invited you to send a new one"
        }
        InvitationRefusal::Withdrawn => "This invitation was withdrawn",
        InvitationRefusal::AlreadyAccepted => "This invitation has already been accepted",
    };
    AppError::Invalid {
        problems: vec![FieldProblem::new("code", message)],
    }
}

/// Finds the invitation a code belongs to and checks it is for the signed-in person.
async fn checked_invitation(
    state: &AppState,
    signed_in: Option<&SignedIn>,
    code: &str,
) -> Result<(StoredInvitation, String), AppError> {
    let (account, _) = verified_patient(signed_in)?;
    let normalised = normalise_code(code);
    if normalised.is_empty() {
        return Err(AppError::Invalid {
            problems: vec![FieldProblem::new(
                "code",
                "Enter the code from the person who invited you",
            )],
        });
    }
    let hash = code_hash(&normalised);
    let invitation = state
        .storage
        .find_invitation_by_code(&hash)
        .await?
        .ok_or_else(no_such_invitation)?;
    rules::check_acceptance(
        &invitation.invitation,
        &invitee_of(account),
        state.clock.now(),
    )
    .map_err(refusal_problem)?;
    Ok((invitation, hash))
}

/// The invitation behind a code, for the invitee to check before accepting.
pub async fn find_invitation(
    state: &AppState,
    signed_in: Option<&SignedIn>,
    code: &str,
) -> Result<FormOutcome, AppError> {
    let (invitation, _) = checked_invitation(state, signed_in, code).await?;
    // The patient's name and what they share are shown to the invitee: audited.
    if let Some(signed_in) = signed_in {
        state
            .storage
            .append_audit(NewAuditEvent {
                actor_account: Some(signed_in.account.id),
                patient: Some(invitation.invitation.patient),
                target: Some(format!("invitation:{}", invitation.public_id)),
                ..NewAuditEvent::new(
                    state.clock.now(),
                    ActorKind::Proxy,
                    action::PROXY_INVITATION_OPENED,
                )
            })
            .await?;
    }
    Ok(FormOutcome::InvitationFound {
        code: normalise_code(code),
        patient_name: invitation
            .patient_name
            .display_or("The person who invited you"),
        relationship: invitation.relationship.clone(),
        sections: section_labels(&invitation.scope),
        until: invitation.ends_at.map(format::date),
    })
}

/// The invitee accepts: the grant starts now, with the scope and end date the patient
/// chose.
pub async fn accept_invitation(
    state: &AppState,
    signed_in: Option<&SignedIn>,
    code: &str,
) -> Result<GrantRecord, AppError> {
    let (invitation, hash) = checked_invitation(state, signed_in, code).await?;
    let (account, _) = verified_patient(signed_in)?;
    let now = state.clock.now();
    let patient = invitation.invitation.patient;
    if patient_has_left(state, patient).await? {
        return Err(AppError::Invalid {
            problems: vec![FieldProblem::new(
                "code",
                "This invitation cannot be accepted at the moment. Ask the person who invited you.",
            )],
        });
    }
    close_ended_grant(state, patient, account.id, now).await?;
    let grant = NewGrant {
        patient,
        proxy: account.id,
        basis: ProxyBasisKind::Consent,
        relationship: invitation.relationship.clone(),
        scope: invitation.scope.clone(),
        starts_at: now,
        ends_at: invitation.ends_at,
        evidence_reference: None,
    };
    let by = GrantDecisionBy {
        actor_kind: ActorKind::Proxy,
        actor_account: Some(account.id),
        decision_maker: None,
        reason: None,
    };
    let audit = NewAuditEvent {
        actor_account: Some(account.id),
        patient: Some(patient),
        reason: Some("consent".to_owned()),
        ..NewAuditEvent::new(now, ActorKind::Proxy, action::PROXY_INVITATION_ACCEPTED)
    };
    match state
        .storage
        .accept_invitation(&hash, grant, by, now, audit)
        .await
    {
        Err(StorageError::Conflict(_)) => Err(AppError::Invalid {
            problems: vec![FieldProblem::new(
                "code",
                "You already have access to this person's record, or this invitation has already been used",
            )],
        }),
        other => Ok(other?),
    }
}

/// Whose records the signed-in person can open.
pub async fn choices(
    state: &AppState,
    signed_in: Option<&SignedIn>,
) -> Result<ChoicesView, AppError> {
    let (account, _) = verified_patient(signed_in)?;
    let now = state.clock.now();
    let grants = state.storage.grants_for_proxy(account.id).await?;
    Ok(ChoicesView {
        own_record: account.patient_id.is_some(),
        acting_for: signed_in
            .and_then(|s| s.acting_for.as_ref())
            .map(|g| g.patient_name.display_or("someone")),
        grants: grants
            .iter()
            .filter(|g| g.grant.state != GrantState::Revoked)
            .map(|g| grant_view(state, g, g.patient_name.display_or("Someone"), now))
            .collect(),
    })
}

/// Opens a record: `own` for the person's own, or one of their grants in force.
pub async fn choose(
    state: &AppState,
    signed_in: Option<&SignedIn>,
    choice: &str,
) -> Result<(), AppError> {
    let (account, _) = verified_patient(signed_in)?;
    let session = signed_in
        .map(|s| s.session_hash.as_str())
        .unwrap_or_default();
    let now = state.clock.now();
    let (grant, audit) = if choice == "own" {
        (None, None)
    } else {
        let record = state
            .storage
            .find_grant(choice)
            .await?
            .filter(|g| g.grant.proxy == account.id)
            .ok_or(AppError::NotFound)?;
        let decision = rules::decide_grant(&record.grant, &state.proxy.age_rules, now);
        if !decision.is_in_force() {
            return Err(AppError::ProxyAccessEnded);
        }
        // Opening someone's record is the proxy's own action on it.
        let audit = NewAuditEvent {
            actor_account: Some(account.id),
            patient: Some(record.grant.patient),
            target: Some(format!("grant:{}", record.grant.public_id)),
            reason: Some(record.grant.basis.code().to_owned()),
            ..NewAuditEvent::new(now, ActorKind::Proxy, action::PROXY_ACTING_FOR)
        };
        (Some(record.grant.id), Some(audit))
    };
    state.storage.set_acting_for(session, grant, audit).await?;
    Ok(())
}

/// The sections a grant opens, for pages that say what the proxy can see.
pub fn sections_of(record: &GrantRecord) -> Vec<Section> {
    record.grant.scope.sections()
}

// --- Applications and the service desk's verification queue -----------------------

/// What an applicant is told of a refusal: nothing about the patient, whatever the
/// reason was. The desk's own reason stays with the desk and the audit trail.
pub const REFUSALS: [(&str, &str); 3] = [
    (
        "evidence_not_verified",
        "We could not check the evidence you gave us. If you think this is wrong, contact the service desk.",
    ),
    (
        "details_not_matched",
        "We could not match the details you gave. Check them and apply again.",
    ),
    (
        "basis_not_valid",
        "The relationship you described does not give a right to see someone's record through this service.",
    ),
];

fn refusal_wording(code: &str) -> Option<&'static str> {
    REFUSALS.iter().find(|(c, _)| *c == code).map(|(_, w)| *w)
}

/// Someone applies to act for a patient on a basis the service desk verifies.
pub async fn apply(
    state: &AppState,
    signed_in: Option<&SignedIn>,
    answers: &Answers,
) -> Result<(), AppError> {
    let (account, _) = verified_patient(signed_in)?;
    let now = state.clock.now();
    let mut problems = Vec::new();
    let basis = ProxyBasisKind::from_code(answer(answers, "basis"))
        .filter(|b| ProxyBasisKind::APPLIED_FOR.contains(b));
    if basis.is_none() {
        problems.push(FieldProblem::new(
            "basis",
            "Select why you should be able to see their record",
        ));
    }
    let relationship = answer(answers, "relationship");
    if relationship.is_empty() {
        problems.push(FieldProblem::new(
            "relationship",
            "Enter how you are related to them, for example mother or son",
        ));
    } else if relationship.chars().count() > 60 {
        problems.push(FieldProblem::new(
            "relationship",
            "Relationship must be 60 characters or fewer",
        ));
    }
    let nhs_number = match crate::domain::NhsNumber::parse(answer(answers, "nhs-number")) {
        Ok(number) => Some(number),
        Err(_) if answer(answers, "nhs-number").is_empty() => {
            problems.push(FieldProblem::new("nhs-number", "Enter their NHS number"));
            None
        }
        Err(_) => {
            problems.push(FieldProblem::new(
                "nhs-number",
                "Enter a real NHS number: 10 numbers, like 485 777 3456",
            ));
            None
        }
    };
    let birth_date = birth_date_answer(answers, now.date_naive(), &mut problems);
    if let (Some(ProxyBasisKind::ParentalResponsibility), Some(born)) = (basis, birth_date)
        && rules::age_on(born, now.date_naive()) >= state.proxy.age_rules.suspend_at_age
    {
        problems.push(FieldProblem::new(
            "basis",
            "Parental responsibility gives access only to the record of a child under 16",
        ));
    }
    let evidence = answer(answers, "evidence");
    if evidence.is_empty() {
        problems.push(FieldProblem::new(
            "evidence",
            "Enter the reference of your evidence, for example the LPA registration number",
        ));
    } else if evidence.chars().count() > 100 {
        problems.push(FieldProblem::new(
            "evidence",
            "Evidence reference must be 100 characters or fewer",
        ));
    }
    let (Some(basis), Some(nhs_number), Some(birth_date)) = (basis, nhs_number, birth_date) else {
        return Err(AppError::Invalid { problems });
    };
    if !problems.is_empty() {
        return Err(AppError::Invalid { problems });
    }
    // The audit row goes on the named patient's trail only if the portal holds a record
    // with both the NHS number and the date of birth given: a mistyped number must not
    // put the application on a stranger's log (the applicant is told nothing either way).
    let born = birth_date.format("%Y-%m-%d").to_string();
    let patient = state
        .storage
        .find_patient_by_nhs_number(&nhs_number)
        .await?
        .filter(|p| p.birth_date.as_deref() == Some(born.as_str()))
        .map(|p| p.id);
    state
        .storage
        .create_application(
            NewApplication {
                applicant: account.id,
                basis,
                relationship: relationship.to_owned(),
                patient_nhs_number: nhs_number.as_str().to_owned(),
                patient_birth_date: birth_date,
                evidence_reference: evidence.to_owned(),
                at: now,
            },
            NewAuditEvent {
                actor_account: Some(account.id),
                patient,
                reason: Some(basis.code().to_owned()),
                ..NewAuditEvent::new(now, ActorKind::Proxy, action::PROXY_APPLIED)
            },
        )
        .await?;
    Ok(())
}

/// The signed-in person's own applications.
pub async fn my_applications(
    state: &AppState,
    signed_in: Option<&SignedIn>,
) -> Result<Vec<ApplicationView>, AppError> {
    let (account, _) = verified_patient(signed_in)?;
    Ok(state
        .storage
        .applications_by(account.id)
        .await?
        .into_iter()
        .map(|a| ApplicationView {
            public_id: a.public_id,
            basis: a.basis.label().to_owned(),
            relationship: a.relationship,
            sent: format::date(a.created_at),
            status: match a.state {
                ApplicationState::Pending => "Waiting for the service desk to check it",
                ApplicationState::Granted => "Accepted",
                ApplicationState::Refused => "Not accepted",
            }
            .to_owned(),
            refusal: a
                .refusal
                .as_deref()
                .and_then(refusal_wording)
                .map(str::to_owned),
        })
        .collect())
}

/// The signed-in service desk agent.
pub(crate) fn verified_staff(staff: Option<&SignedIn>) -> Result<&Account, AppError> {
    let staff = staff.ok_or(AppError::NotSignedIn)?;
    if staff.account.role != AccountRole::ServiceDesk {
        return Err(AppError::NotFound);
    }
    Ok(&staff.account)
}

fn desk_view(application: &StoredApplication) -> DeskApplicationView {
    DeskApplicationView {
        public_id: application.public_id.clone(),
        applicant_name: application.applicant_name.display_or("(name not given)"),
        basis: application.basis.label().to_owned(),
        relationship: application.relationship.clone(),
        patient_nhs_number: application.patient_nhs_number.clone(),
        patient_birth_date: format::date(day_start(application.patient_birth_date)),
        evidence_reference: application.evidence_reference.clone(),
        received: format::date_and_time(application.created_at),
        status: match application.state {
            ApplicationState::Pending => "Waiting",
            ApplicationState::Granted => "Granted",
            ApplicationState::Refused => "Refused",
        }
        .to_owned(),
        decision: application.decided_at.map(|at| {
            format!(
                "{} by {}: {}",
                format::date_and_time(at),
                application.decision_maker.clone().unwrap_or_default(),
                application.reason.clone().unwrap_or_default()
            )
        }),
    }
}

/// The verification queue: applications waiting, oldest first, a page at a time,
/// optionally for one basis (`basis` is its code; anything else lists every basis).
pub async fn application_queue(
    state: &AppState,
    staff: Option<&SignedIn>,
    basis: &str,
    page: u32,
) -> Result<DeskApplicationQueue, AppError> {
    verified_staff(staff)?;
    let filter = ProxyBasisKind::from_code(basis);
    let waiting: Vec<StoredApplication> = state
        .storage
        .list_applications(ApplicationState::Pending)
        .await?
        .into_iter()
        .filter(|a| filter.is_none_or(|basis| a.basis == basis))
        .collect();
    let total = waiting.len() as u64;
    let (offset, page, pages) = crate::desk::rules::page_window(page, total);
    Ok(DeskApplicationQueue {
        items: waiting
            .iter()
            .skip(offset as usize)
            .take(crate::desk::rules::PAGE_SIZE as usize)
            .map(desk_view)
            .collect(),
        total,
        page,
        pages,
        basis: filter.map(|b| b.code().to_owned()),
        bases: ProxyBasisKind::APPLIED_FOR
            .iter()
            .map(|b| (b.code().to_owned(), b.label().to_owned()))
            .collect(),
    })
}

/// The record an application names, if the portal holds one with both its NHS number
/// and its date of birth, and how it compares. A number alone does not say whose record
/// it is, to the desk or on the patient's trail (as when the application was made, and
/// as the desk's own find-patient rule): a mistyped or guessed number shows the desk
/// only that some record has it.
async fn match_patient(
    state: &AppState,
    application: &StoredApplication,
) -> Result<(Option<crate::domain::Patient>, PatientMatch), AppError> {
    let Ok(number) = crate::domain::NhsNumber::parse(&application.patient_nhs_number) else {
        return Ok((
            None,
            PatientMatch {
                found: None,
                number_held: false,
                child_under_age: None,
            },
        ));
    };
    let held = state.storage.find_patient_by_nhs_number(&number).await?;
    let number_held = held.is_some();
    let patient = held.filter(|p| {
        p.birth_date
            .as_deref()
            .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
            == Some(application.patient_birth_date)
    });
    let matched = PatientMatch {
        found: patient.as_ref().map(|p| {
            let name = [p.given_name.as_deref(), p.family_name.as_deref()]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(" ");
            format!(
                "{name}, born {}",
                format::date(day_start(application.patient_birth_date))
            )
        }),
        number_held,
        child_under_age: (application.basis == ProxyBasisKind::ParentalResponsibility
            && patient.is_some())
        .then(|| {
            rules::age_on(
                application.patient_birth_date,
                state.clock.now().date_naive(),
            ) < state.proxy.age_rules.suspend_at_age
        }),
    };
    Ok((patient, matched))
}

/// One application, with what the portal holds for the patient it names. Looking the
/// patient up is the desk reading a patient's details: it is audited.
pub async fn application_detail(
    state: &AppState,
    staff: Option<&SignedIn>,
    public_id: &str,
) -> Result<DeskApplicationDetail, AppError> {
    let agent = verified_staff(staff)?;
    let application = state
        .storage
        .find_application(public_id)
        .await?
        .ok_or(AppError::NotFound)?;
    let (patient, matched) = match_patient(state, &application).await?;
    if let Some(patient) = &patient {
        state
            .storage
            .append_audit(NewAuditEvent {
                actor_account: Some(agent.id),
                patient: Some(patient.id),
                target: Some(format!("application:{public_id}")),
                reason: Some("proxy_verification".to_owned()),
                ..NewAuditEvent::new(
                    state.clock.now(),
                    ActorKind::Staff,
                    action::PROXY_APPLICATION_CHECKED,
                )
            })
            .await?;
    }
    let pending = application.state == ApplicationState::Pending;
    let can_grant = pending && matched.found.is_some() && matched.child_under_age != Some(false);
    Ok(DeskApplicationDetail {
        application: desk_view(&application),
        patient: matched,
        is_pending: pending,
        can_grant,
    })
}

/// The desk grants or refuses an application: decision-maker and reason always; for a
/// grant, what it opens and until when (only when the record and date of birth match);
/// for a refusal, what the applicant is told.
pub async fn decide_application(
    state: &AppState,
    staff: Option<&SignedIn>,
    public_id: &str,
    answers: &Answers,
) -> Result<(), AppError> {
    let agent = verified_staff(staff)?;
    let now = state.clock.now();
    let application = state
        .storage
        .find_application(public_id)
        .await?
        .filter(|a| a.state == ApplicationState::Pending)
        .ok_or(AppError::NotFound)?;
    let mut problems = Vec::new();
    let decision = answer(answers, "decision");
    if !matches!(decision, "grant" | "refuse") {
        problems.push(FieldProblem::new("decision", "Select grant or refuse"));
    }
    let decision_maker = answer(answers, "decision-maker");
    if decision_maker.is_empty() {
        problems.push(FieldProblem::new(
            "decision-maker",
            "Enter who made the decision (name and role)",
        ));
    }
    let reason = answer(answers, "reason");
    if reason.is_empty() {
        problems.push(FieldProblem::new(
            "reason",
            "Enter the reason for the decision",
        ));
    } else if reason.chars().count() > 1000 {
        problems.push(FieldProblem::new(
            "reason",
            "Reason must be 1000 characters or fewer",
        ));
    }
    let (patient, matched) = match_patient(state, &application).await?;
    let matched_patient = patient.as_ref().map(|p| p.id);
    let grant = if decision == "grant" {
        let scope = scope_answer(answers);
        if scope.is_empty() {
            problems.push(FieldProblem::new(
                "appointments",
                "Select at least one part of the record, or refuse the application",
            ));
        }
        let ends_at = end_date_answer(answers, now, &mut problems);
        // `patient` is only ever the record matching both NHS number and date of birth.
        match patient.filter(|_| matched.child_under_age != Some(false)) {
            Some(patient) => Some(NewGrant {
                patient: patient.id,
                proxy: application.applicant,
                basis: application.basis,
                relationship: application.relationship.clone(),
                scope,
                starts_at: now,
                ends_at,
                evidence_reference: Some(application.evidence_reference.clone()),
            }),
            None => {
                problems.push(FieldProblem::new(
                    "decision",
                    "You cannot grant this application: no record matches the NHS number and date of birth, or the child is too old for parental responsibility",
                ));
                None
            }
        }
    } else {
        None
    };
    if let Some(grant) = &grant
        && patient_has_left(state, grant.patient).await?
    {
        problems.push(FieldProblem::new(
            "decision",
            "The patient has left the portal: access cannot start until they come back",
        ));
    }
    let refusal = (decision == "refuse").then(|| answer(answers, "refusal"));
    if let Some(code) = refusal
        && refusal_wording(code).is_none()
    {
        problems.push(FieldProblem::new(
            "refusal",
            "Select what to tell the applicant",
        ));
    }
    if !problems.is_empty() {
        return Err(AppError::Invalid { problems });
    }
    // A refusal is on the named patient's trail too, when the portal holds a record with
    // the application's NHS number and date of birth (`match_patient`).
    let audit_patient = match &grant {
        Some(grant) => Some(grant.patient),
        None => matched_patient,
    };
    // Codes only (the decision-maker and reason, in the desk's words, are in the grant's
    // history and on the application).
    let (audit_action, reason_code) = match &grant {
        Some(grant) => (
            action::PROXY_GRANTED,
            format!(
                "basis={};ends={}",
                application.basis.code(),
                grant
                    .ends_at
                    .map_or_else(|| "none".to_owned(), |at| at.date_naive().to_string())
            ),
        ),
        None => (
            action::PROXY_REFUSED,
            format!(
                "basis={};refusal={}",
                application.basis.code(),
                refusal.unwrap_or_default()
            ),
        ),
    };
    if let Some(grant) = &grant {
        close_ended_grant(state, grant.patient, grant.proxy, now).await?;
    }
    let result = state
        .storage
        .decide_application(ApplicationDecision {
            public_id: public_id.to_owned(),
            staff: agent.id,
            decision_maker: decision_maker.to_owned(),
            reason: reason.to_owned(),
            grant,
            refusal: refusal.map(str::to_owned),
            at: now,
            audit: NewAuditEvent {
                actor_account: Some(agent.id),
                patient: audit_patient,
                reason: Some(reason_code),
                ..NewAuditEvent::new(now, ActorKind::Staff, audit_action)
            },
        })
        .await;
    match result {
        Err(StorageError::Conflict(_)) => Err(AppError::Invalid {
            problems: vec![FieldProblem::new(
                "decision",
                "This application was decided already, or the applicant already has access to this record",
            )],
        }),
        other => other.map(|_| ()).map_err(AppError::from),
    }
}

// --- The service desk's view of grants --------------------------------------------

/// One grant, for the desk, with its history.
pub async fn desk_grant_detail(
    state: &AppState,
    staff: Option<&SignedIn>,
    public_id: &str,
) -> Result<GrantDetail, AppError> {
    let agent = verified_staff(staff)?;
    let record = state
        .storage
        .find_grant(public_id)
        .await?
        .ok_or(AppError::NotFound)?;
    state
        .storage
        .append_audit(NewAuditEvent {
            actor_account: Some(agent.id),
            patient: Some(record.grant.patient),
            target: Some(format!("grant:{public_id}")),
            ..NewAuditEvent::new(
                state.clock.now(),
                ActorKind::Staff,
                action::PROXY_GRANTS_VIEWED,
            )
        })
        .await?;
    let patient_is = record.patient_name.display_or("The patient");
    grant_detail_of(state, record, &patient_is).await
}

/// The desk changes, suspends, resumes or revokes any grant, recording who decided and
/// why.
pub async fn change_grant_as_desk(
    state: &AppState,
    staff: Option<&SignedIn>,
    public_id: &str,
    answers: &Answers,
) -> Result<(), AppError> {
    let agent = verified_staff(staff)?;
    let record = state
        .storage
        .find_grant(public_id)
        .await?
        .filter(|g| g.grant.state != GrantState::Revoked)
        .ok_or(AppError::NotFound)?;
    let now = state.clock.now();
    let action = PatientGrantAction::parse(answer(answers, "action"))
        .filter(|a| *a != PatientGrantAction::Consent)
        .ok_or(AppError::Request)?;
    let mut problems = Vec::new();
    let decision_maker = answer(answers, "decision-maker");
    if decision_maker.is_empty() {
        problems.push(FieldProblem::new(
            "decision-maker",
            "Enter who made the decision (name and role)",
        ));
    }
    let reason = answer(answers, "reason");
    if reason.is_empty() {
        problems.push(FieldProblem::new(
            "reason",
            "Enter the reason for the change",
        ));
    } else if reason.chars().count() > 1000 {
        problems.push(FieldProblem::new(
            "reason",
            "Reason must be 1000 characters or fewer",
        ));
    }
    if action == PatientGrantAction::Resume && patient_has_left(state, record.grant.patient).await?
    {
        problems.push(FieldProblem::new(
            "action",
            "The patient has left the portal: access cannot resume until they come back and choose it",
        ));
    }
    let terms = match new_terms(&record.grant, action, answers, now) {
        Ok(terms) => Some(terms),
        Err(AppError::Invalid { problems: more }) => {
            problems.extend(more);
            None
        }
        Err(other) => return Err(other),
    };
    let Some(terms) = terms.filter(|_| problems.is_empty()) else {
        return Err(AppError::Invalid { problems });
    };
    let change = GrantChange {
        from_state: record.grant.state,
        grant: record.grant.id,
        state: terms.state,
        basis: terms.basis,
        scope: terms.scope,
        ends_at: terms.ends_at,
        at: now,
        event: terms.event,
        by: GrantDecisionBy {
            actor_kind: ActorKind::Staff,
            actor_account: Some(agent.id),
            decision_maker: Some(decision_maker.to_owned()),
            reason: Some(reason.to_owned()),
        },
        audit: NewAuditEvent {
            actor_account: Some(agent.id),
            patient: Some(record.grant.patient),
            target: Some(format!("grant:{public_id}")),
            reason: Some(record.grant.basis.code().to_owned()),
            ..NewAuditEvent::new(now, ActorKind::Staff, terms.audit_action)
        },
    };
    match state.storage.change_grant(change).await {
        Err(StorageError::Conflict(_)) => Err(AppError::NotFound),
        other => other.map(|_| ()).map_err(AppError::from),
    }
}

/// Parents' access due for review: the child is between the review ages (11 to 13 by
/// default). Listing them names the patients, so each is audited as the desk's look-up.
pub async fn reviews_due(
    state: &AppState,
    staff: Option<&SignedIn>,
) -> Result<Vec<GrantView>, AppError> {
    let agent = verified_staff(staff)?;
    let now = state.clock.now();
    let mut due = Vec::new();
    for (record, _) in state.storage.grants_not_revoked().await? {
        let notice = rules::age_notice(&record.grant, &state.proxy.age_rules, now.date_naive());
        if !matches!(notice, Some(AgeNotice::ReviewDue { .. })) {
            continue;
        }
        state
            .storage
            .append_audit(NewAuditEvent {
                actor_account: Some(agent.id),
                patient: Some(record.grant.patient),
                target: Some(format!("grant:{}", record.grant.public_id)),
                reason: Some("age_review".to_owned()),
                ..NewAuditEvent::new(now, ActorKind::Staff, action::PROXY_GRANTS_VIEWED)
            })
            .await?;
        let name = format!(
            "{} for {}",
            record.proxy_name.display_or("Someone"),
            record.patient_name.display_or("a patient")
        );
        due.push(grant_view(state, &record, name, now));
    }
    Ok(due)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    #[test]
    fn codes_are_three_groups_of_four_and_typed_any_way() {
        let code = new_code();
        assert_eq!(code.len(), 14);
        assert_eq!(code.split('-').count(), 3);
        assert_eq!(
            code_hash(&code),
            code_hash(&code.to_lowercase().replace('-', " "))
        );
        assert_ne!(code_hash(&code), code_hash(&new_code()));
    }

    #[test]
    fn dates_are_entered_as_day_month_and_year() {
        let answers: Answers = [("d-day", "29"), ("d-month", "2"), ("d-year", "2023")]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        assert!(date_answer(&answers, "d", "Date").is_err());
        let mut good = answers.clone();
        good.insert("d-year".into(), "2024".into());
        assert_eq!(
            date_answer(&good, "d", "Date").unwrap(),
            NaiveDate::from_ymd_opt(2024, 2, 29)
        );
        assert_eq!(date_answer(&Answers::new(), "d", "Date").unwrap(), None);
    }
}
