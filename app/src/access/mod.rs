//! The one access decision. Every read of a patient's record (pages, server functions,
//! attachment downloads, counts, the home summary, "what is new", the source list and
//! its freshness panel, filters, and every export) asks this module, for a reader, the
//! patient whose record it is, the reader's basis, each item's facts and `now`, what the
//! reader may see of each item:
//!
//! - **shown**: everything the portal holds for display;
//! - **withheld until a date**: that it exists, its title and the date it opens;
//! - **held for the clinical team**: that it exists and its title, and who releases it;
//! - **hidden**: no trace at all (not listed, not counted, its source not named).
//!
//! Each answer carries the rule that decided it as a typed [`Reason`]. The rules, in
//! the order they are weighed (domain rules, "Sensitive information", "Release delays"):
//! 1. no basis for this reader on this record: hidden. A proxy's basis is their grant
//!    (`crate::proxy::rules`): it must be theirs, for this record, and in force now;
//! 2. the patient's choices (`crate::choices`): after they left the portal nothing is
//!    read; an item from a source they objected to is hidden, with its relatives;
//! 3. a section the basis does not open (a grant's scope): hidden, with all the item's
//!    relatives (a report's PDF is a letter that tells what its results would);
//! 4. a privacy label the basis does not allow (for the patient: the excluded set; for
//!    a proxy also every label the grant does not name): hidden, and so are all the
//!    item's relatives (a report's title can tell what its sexual health result would);
//! 5. entered in error, cancelled, or retracted by the sender: hidden (a report takes
//!    its results with it);
//! 6. a result not yet final (preliminary, registered, partial): held, shown only as
//!    "in progress";
//! 7. a result that names a report not yet received: held until it arrives;
//! 8. the release engine (`crate::release`): the sender's instruction, then the most
//!    specific rule; unrecognised results are held.
//!
//! A report and its results are decided together as the lab sent them
//! ([`relatives`]): each item takes the most restrictive decision of its group, so a
//! re-delivery of one part can never loosen what another part decided.
//!
//! Pure: no I/O, no clock reads, no Leptos, no sqlx; it compiles for the browser too.

pub mod relatives;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::choices::rules::PatientChoices;
use crate::domain::{Account, AccountId, AccountRole, PatientId};
use crate::proxy::rules::{self as proxy_rules, AgeRules, Grant, Section};
use crate::records::{RecordItem, RecordKind};
use crate::release::{Availability, DecidedBy, ItemFacts, RuleSet};

/// The identity level NHS login must have proved before anyone sees clinical data.
pub const VERIFIED_IDENTITY: &str = "P9";

/// Who is reading. Built from the signed-in account; never from the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reader {
    pub account: AccountId,
    pub kind: ReaderKind,
    /// The NHS login identity level ("P9", "P5", "P0"), for people who sign in with it.
    pub identity_level: Option<String>,
    /// The record the account belongs to: the patient's own.
    pub own_record: Option<PatientId>,
}

/// The kinds of reader. Proxies, the service desk and clinicians come with their own
/// bases; each is a new arm of the same decision, never a second code path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReaderKind {
    /// A person signed in with NHS login.
    Patient,
    /// Service desk staff, signed in with their organisation's provider.
    ServiceDesk,
}

impl Reader {
    pub fn of(account: &Account) -> Self {
        Self {
            account: account.id,
            kind: match account.role {
                AccountRole::Patient => ReaderKind::Patient,
                AccountRole::ServiceDesk => ReaderKind::ServiceDesk,
            },
            identity_level: account.identity_level.clone(),
            own_record: account.patient_id,
        }
    }

    /// The requester of a subject access request, as the request's answer is prepared
    /// for them: the patient (`own_record`) or a proxy (`account`, with no record of
    /// their own here). Their identity was proved when they asked (a P9 NHS login
    /// session) or checked by the service desk before the request could move on, so
    /// the answer holds what the access decision lets that person see, and no more.
    #[cfg(feature = "ssr")]
    pub(crate) fn requester_of_answer(account: AccountId, own_record: Option<PatientId>) -> Self {
        Self {
            account,
            kind: ReaderKind::Patient,
            identity_level: Some(VERIFIED_IDENTITY.to_owned()),
            own_record,
        }
    }

    fn is_verified(&self) -> bool {
        self.identity_level.as_deref() == Some(VERIFIED_IDENTITY)
    }
}

/// On what grounds a reader reads a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Basis {
    /// The patient, reading their own record.
    OwnRecord,
    /// Someone acting for the patient under a grant, as the age rules in force apply
    /// to it.
    Proxy {
        grant: Box<Grant>,
        age_rules: AgeRules,
    },
}

impl Basis {
    /// Whether an item with this privacy label may be shown on this basis. The patient
    /// sees everything except the labels shared records leave out altogether; a proxy
    /// only the labels their grant names besides.
    pub fn allows_label(&self, label: &str) -> bool {
        match self {
            Basis::OwnRecord => !crate::privacy::EXCLUDED.contains(&label),
            Basis::Proxy { grant, .. } => grant.scope.allows_label(label),
        }
    }

    /// Whether the basis opens a section of the record: the patient's own, all of it.
    pub fn allows_section(&self, section: Section) -> bool {
        match self {
            Basis::OwnRecord => true,
            Basis::Proxy { grant, .. } => grant.scope.allows_section(section),
        }
    }

    /// The grant, when the basis is one.
    pub fn grant(&self) -> Option<&Grant> {
        match self {
            Basis::OwnRecord => None,
            Basis::Proxy { grant, .. } => Some(grant),
        }
    }
}

/// Why a reader may not open a record at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Refusal {
    /// NHS login has not proved who they are to P9.
    IdentityNotVerified,
    /// Their account is not linked to any record.
    NoRecord,
    /// The record is someone else's and the reader has no basis to read it.
    NotTheirRecord,
    /// The reader's grant is not in force (suspended, revoked, ended, lapsed, not
    /// started, or stopped by the age rules).
    GrantNotInForce,
    /// The patient has left the portal (`crate::choices`): nobody reads their record
    /// here until they come back.
    PatientLeftPortal,
}

/// The basis on which a reader reads their own record, and whose record it is.
pub fn own_record(reader: &Reader) -> Result<(PatientId, Basis), Refusal> {
    if reader.kind != ReaderKind::Patient || !reader.is_verified() {
        return Err(Refusal::IdentityNotVerified);
    }
    let patient = reader.own_record.ok_or(Refusal::NoRecord)?;
    // The own-record basis does not depend on the clock.
    check_record_access(reader, patient, &Basis::OwnRecord, DateTime::<Utc>::MIN_UTC)?;
    Ok((patient, Basis::OwnRecord))
}

/// The basis on which a proxy reads the record their grant names, and whose record it
/// is: the grant must be the reader's own and in force at `now`.
pub fn proxy_record(
    reader: &Reader,
    grant: Grant,
    age_rules: AgeRules,
    now: DateTime<Utc>,
) -> Result<(PatientId, Basis), Refusal> {
    let patient = grant.patient;
    let basis = Basis::Proxy {
        grant: Box::new(grant),
        age_rules,
    };
    check_record_access(reader, patient, &basis, now)?;
    Ok((patient, basis))
}

/// Whether the basis holds for this reader and this record at `now`. Every basis needs
/// a person whose NHS login proved who they are (P9).
pub fn check_record_access(
    reader: &Reader,
    patient: PatientId,
    basis: &Basis,
    now: DateTime<Utc>,
) -> Result<(), Refusal> {
    if reader.kind != ReaderKind::Patient || !reader.is_verified() {
        return Err(Refusal::IdentityNotVerified);
    }
    match basis {
        Basis::OwnRecord if reader.own_record == Some(patient) => Ok(()),
        Basis::OwnRecord => Err(Refusal::NotTheirRecord),
        Basis::Proxy { grant, .. } if grant.proxy != reader.account || grant.patient != patient => {
            Err(Refusal::NotTheirRecord)
        }
        Basis::Proxy { grant, age_rules } => {
            if proxy_rules::decide_grant(grant, age_rules, now).is_in_force() {
                Ok(())
            } else {
                Err(Refusal::GrantNotInForce)
            }
        }
    }
}

/// Whether the patient's choices let anyone read their record in the portal: not
/// after they left it (`crate::choices`), whoever the reader.
pub fn check_choices(choices: &PatientChoices) -> Result<(), Refusal> {
    if choices.has_left() {
        Err(Refusal::PatientLeftPortal)
    } else {
        Ok(())
    }
}

/// What the reader may see of one item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    Shown,
    /// Exists; its title and the date it opens may be shown.
    WithheldUntil {
        opens_at: DateTime<Utc>,
    },
    /// Exists; its title may be shown, and that the clinical team will release it.
    HeldForClinicalTeam,
    /// No trace.
    Hidden,
}

impl Outcome {
    /// Higher is more restrictive; of two withheld dates the later is.
    pub fn restriction(self) -> (u8, Option<DateTime<Utc>>) {
        match self {
            Outcome::Shown => (0, None),
            Outcome::WithheldUntil { opens_at } => (1, Some(opens_at)),
            Outcome::HeldForClinicalTeam => (2, None),
            Outcome::Hidden => (3, None),
        }
    }
}

/// The rule that decided.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "rule", rename_all = "snake_case")]
pub enum Reason {
    /// The reader has no basis to read this record.
    NoBasis { refusal: Refusal },
    /// The item is in a section the reader's grant does not open.
    OutsideGrant { section: Section },
    /// The item carries a privacy label the basis does not allow.
    ExcludedLabel { label: String },
    /// The patient objected to the item's source (`crate::choices`): its ODS code.
    ObjectedToSource { source: String },
    /// The sender marked it entered in error.
    EnteredInError,
    /// The sender cancelled it.
    Cancelled,
    /// The sender withdrew it (`retract`).
    RetractedBySender,
    /// A result that is not final yet: preliminary, registered or partial.
    NotFinal { status: String },
    /// A result that names a report not yet received.
    AwaitingReport,
    /// The release engine: the sender's instruction, a rule, or no rule.
    Release { decided_by: DecidedBy },
    /// Decided by a relative (the report it belongs to, one of its results).
    Relative {
        public_id: String,
        reason: Box<Reason>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessDecision {
    pub outcome: Outcome,
    pub reason: Reason,
}

impl AccessDecision {
    fn new(outcome: Outcome, reason: Reason) -> Self {
        Self { outcome, reason }
    }

    /// The reason at the root of a chain of relatives.
    pub fn root_reason(&self) -> &Reason {
        let mut reason = &self.reason;
        while let Reason::Relative { reason: inner, .. } = reason {
            reason = inner;
        }
        reason
    }
}

/// How far a status lets an item be shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StatusClass {
    Final,
    InProgress,
    Cancelled,
    EnteredInError,
}

/// Results show only final, amended, corrected and appended content; documents also
/// their ordinary states (current, superseded). Anything else a sender may send is "not
/// final" (the most restrictive reading that still says the result exists).
fn classify_status(kind: RecordKind, status: &str) -> StatusClass {
    match (kind, status) {
        (_, "entered-in-error") => StatusClass::EnteredInError,
        (RecordKind::Appointment | RecordKind::Encounter, _) => StatusClass::Final,
        (_, "cancelled") => StatusClass::Cancelled,
        (_, "final" | "amended" | "corrected" | "appended") => StatusClass::Final,
        (RecordKind::Document, "current" | "superseded") => StatusClass::Final,
        _ => StatusClass::InProgress,
    }
}

/// The release engine's view of an item.
pub fn release_facts(item: &RecordItem) -> ItemFacts<'_> {
    ItemFacts {
        kind: item.kind,
        source_ods: item.source_ods_code.as_str(),
        category: item.category.as_deref(),
        code: item.code.as_deref(),
        abnormal: item.abnormal,
        issued_at: item.issued_at,
        effective_at: item.effective_at,
        received_at: item.first_received_at,
        directive: item.release_directive,
    }
}

/// One item's own decision, before its relatives are weighed, and whether it binds its
/// relatives too.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnDecision {
    pub decision: AccessDecision,
    /// Whether the decision applies to the item's whole group: labels, status and
    /// release do; a withdrawn result leaves its report and siblings alone, but a
    /// withdrawn report takes its results with it.
    pub binds_relatives: bool,
}

/// Decides one item on its own facts (rules 1 to 7 of the module documentation).
#[allow(clippy::too_many_arguments)]
pub fn decide(
    reader: &Reader,
    patient: PatientId,
    basis: &Basis,
    choices: &PatientChoices,
    item: &RecordItem,
    awaiting_report: bool,
    rules: &RuleSet,
    now: DateTime<Utc>,
) -> OwnDecision {
    let hidden = |reason, binds_relatives| OwnDecision {
        decision: AccessDecision::new(Outcome::Hidden, reason),
        binds_relatives,
    };
    if let Err(refusal) =
        check_record_access(reader, patient, basis, now).and_then(|()| check_choices(choices))
    {
        return hidden(Reason::NoBasis { refusal }, true);
    }
    if item.patient_id != patient {
        return hidden(
            Reason::NoBasis {
                refusal: Refusal::NotTheirRecord,
            },
            false,
        );
    }
    // An objection covers everything the source sent; binding, so that a group is
    // decided together like every other hiding rule.
    if choices.objects_to(item.source) {
        return hidden(
            Reason::ObjectedToSource {
                source: item.source_ods_code.as_str().to_owned(),
            },
            true,
        );
    }
    let section = Section::of(item.kind);
    if !basis.allows_section(section) {
        return hidden(Reason::OutsideGrant { section }, true);
    }
    if let Some(label) = item.labels.iter().find(|l| !basis.allows_label(l)) {
        return hidden(
            Reason::ExcludedLabel {
                label: label.clone(),
            },
            true,
        );
    }
    let takes_its_results = item.kind == RecordKind::DiagnosticReport;
    let status = if item.entered_in_error {
        StatusClass::EnteredInError
    } else {
        classify_status(item.kind, &item.status)
    };
    match status {
        StatusClass::EnteredInError => return hidden(Reason::EnteredInError, takes_its_results),
        StatusClass::Cancelled => return hidden(Reason::Cancelled, takes_its_results),
        StatusClass::InProgress | StatusClass::Final => {}
    }
    let release = crate::release::decide(&release_facts(item), rules, now);
    if release.availability == Availability::Withdrawn {
        return hidden(Reason::RetractedBySender, takes_its_results);
    }
    let held = |reason| OwnDecision {
        decision: AccessDecision::new(Outcome::HeldForClinicalTeam, reason),
        binds_relatives: true,
    };
    if status == StatusClass::InProgress {
        return held(Reason::NotFinal {
            status: item.status.clone(),
        });
    }
    if awaiting_report {
        return held(Reason::AwaitingReport);
    }
    let outcome = match release.availability {
        Availability::Visible => Outcome::Shown,
        Availability::WithheldUntil { opens_at } => Outcome::WithheldUntil { opens_at },
        Availability::HeldForClinician | Availability::Withdrawn => Outcome::HeldForClinicalTeam,
    };
    OwnDecision {
        decision: AccessDecision::new(
            outcome,
            Reason::Release {
                decided_by: release.decided_by,
            },
        ),
        binds_relatives: true,
    }
}

/// An item the reader may know about, with its decision and its group.
#[derive(Debug, Clone, PartialEq)]
pub struct DecidedItem {
    pub item: RecordItem,
    pub decision: AccessDecision,
    /// Items with the same group are relatives (see [`relatives`]).
    pub group: usize,
}

impl DecidedItem {
    pub fn is_shown(&self) -> bool {
        self.decision.outcome == Outcome::Shown
    }
}

/// A record as one reader may know it: hidden items are gone, every other item carries
/// its decision. The only way from stored items to anything a reader sees.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DecidedRecord {
    items: Vec<DecidedItem>,
}

impl DecidedRecord {
    /// Every item the reader may know exists, in the order storage gave them.
    pub fn items(&self) -> &[DecidedItem] {
        &self.items
    }

    /// One item by public id, if the reader may know it exists.
    pub fn item(&self, public_id: &str) -> Option<&DecidedItem> {
        self.items.iter().find(|d| d.item.public_id == public_id)
    }
}

/// Decides every item of a record together with its relatives, and drops the hidden.
pub fn decide_record(
    reader: &Reader,
    patient: PatientId,
    basis: &Basis,
    choices: &PatientChoices,
    items: Vec<RecordItem>,
    rules: &RuleSet,
    now: DateTime<Utc>,
) -> DecidedRecord {
    if check_record_access(reader, patient, basis, now).is_err() || check_choices(choices).is_err()
    {
        return DecidedRecord::default();
    }
    let kinship = relatives::kinship(&items);
    let own: Vec<OwnDecision> = items
        .iter()
        .enumerate()
        .map(|(index, item)| {
            decide(
                reader,
                patient,
                basis,
                choices,
                item,
                kinship.awaiting_report[index],
                rules,
                now,
            )
        })
        .collect();
    // The most restrictive binding decision of each group, and which item made it.
    let mut strictest: std::collections::HashMap<usize, usize> = Default::default();
    for (index, decision) in own.iter().enumerate() {
        if !decision.binds_relatives {
            continue;
        }
        let group = kinship.group[index];
        let stricter = strictest.get(&group).is_none_or(|&current| {
            decision.decision.outcome.restriction() > own[current].decision.outcome.restriction()
        });
        if stricter {
            strictest.insert(group, index);
        }
    }
    let public_ids: Vec<String> = items.iter().map(|i| i.public_id.clone()).collect();
    let mut decided = Vec::with_capacity(items.len());
    for (index, item) in items.into_iter().enumerate() {
        let group = kinship.group[index];
        let mine = &own[index].decision;
        let decision = match strictest.get(&group) {
            Some(&other)
                if other != index
                    && mine.outcome != Outcome::Hidden
                    && own[other].decision.outcome.restriction() > mine.outcome.restriction() =>
            {
                AccessDecision::new(
                    own[other].decision.outcome,
                    Reason::Relative {
                        public_id: public_ids[other].clone(),
                        reason: Box::new(own[other].decision.reason.clone()),
                    },
                )
            }
            _ => mine.clone(),
        };
        if decision.outcome != Outcome::Hidden {
            decided.push(DecidedItem {
                item,
                decision,
                group,
            });
        }
    }
    DecidedRecord { items: decided }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;
    use crate::choices::rules::PatientChoices;
    use crate::domain::{OdsCode, OrganisationId};
    use crate::records::{Coding, ItemDetails, Relations, ReleaseDirective};
    use crate::release::{ReleasePolicy, ReleaseRule};
    use chrono::TimeZone;

    const ME: PatientId = PatientId(1);

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 22, 9, 0, 0).unwrap()
    }

    fn me() -> Reader {
        Reader {
            account: AccountId(10),
            kind: ReaderKind::Patient,
            identity_level: Some("P9".to_owned()),
            own_record: Some(ME),
        }
    }

    fn rules() -> RuleSet {
        let rule = |name: &str, category: &str, policy| ReleaseRule {
            name: name.to_owned(),
            description: name.to_owned(),
            source: None,
            category: Some(category.to_owned()),
            code: None,
            abnormal: None,
            policy,
        };
        RuleSet {
            version: 1,
            rules: vec![
                rule("lab", "LAB", ReleasePolicy::Immediately),
                rule("histo", "SP", ReleasePolicy::ClinicianRelease),
                rule("rad", "RAD", ReleasePolicy::AfterDays { days: 28 }),
            ],
        }
    }

    fn item(id: &str, kind: RecordKind, category: Option<&str>) -> RecordItem {
        RecordItem {
            public_id: id.to_owned(),
            patient_id: ME,
            kind,
            parent_public_id: None,
            source: OrganisationId(1),
            source_name: "Lab".to_owned(),
            source_ods_code: OdsCode::parse("RXX").unwrap(),
            version: 1,
            status: "final".to_owned(),
            entered_in_error: false,
            title: format!("title of {id}"),
            occurred_at: Some(now()),
            occurred_text: None,
            details: ItemDetails::Observation {
                status: "final".to_owned(),
                code: Coding::default(),
                effective: None,
                value: None,
                reference_range: None,
                interpretation: None,
                note: None,
            },
            category: category.map(str::to_owned),
            code_system: None,
            code: None,
            abnormal: None,
            issued_at: Some(now() - chrono::Duration::days(1)),
            effective_at: None,
            release_directive: ReleaseDirective::None,
            labels: Vec::new(),
            relations: Relations {
                known_as: vec![format!("{kind:?}/{id}")],
                ..Relations::default()
            },
            first_received_at: now(),
            last_received_at: now(),
        }
    }

    /// A report naming its result in `result`, as a batch or separate updates leave them.
    fn report_and_result(category: &str) -> (RecordItem, RecordItem) {
        let mut report = item("r", RecordKind::DiagnosticReport, Some(category));
        let result = item("o", RecordKind::Observation, Some("LAB"));
        report.relations.members.push("Observation/o".to_owned());
        (report, result)
    }

    fn outcomes(items: Vec<RecordItem>) -> Vec<(String, Outcome)> {
        decide_record(
            &me(),
            ME,
            &Basis::OwnRecord,
            &PatientChoices::none(),
            items,
            &rules(),
            now(),
        )
        .items()
        .iter()
        .map(|d| (d.item.public_id.clone(), d.decision.outcome))
        .collect()
    }

    #[test]
    fn a_histopathology_result_is_held_with_its_report_in_either_order() {
        let (report, result) = report_and_result("SP");
        let held = vec![
            ("r".to_owned(), Outcome::HeldForClinicalTeam),
            ("o".to_owned(), Outcome::HeldForClinicalTeam),
        ];
        assert_eq!(outcomes(vec![report.clone(), result.clone()]), held);
        let mut reversed = outcomes(vec![result, report]);
        reversed.reverse();
        assert_eq!(reversed, held);
    }

    #[test]
    fn a_result_decided_by_its_report_says_so() {
        let (report, result) = report_and_result("RAD");
        let record = decide_record(
            &me(),
            ME,
            &Basis::OwnRecord,
            &PatientChoices::none(),
            vec![report, result],
            &rules(),
            now(),
        );
        let decided = record.item("o").unwrap();
        assert!(matches!(
            decided.decision.outcome,
            Outcome::WithheldUntil { .. }
        ));
        assert!(
            matches!(&decided.decision.reason, Reason::Relative { public_id, .. } if public_id == "r")
        );
        assert!(matches!(
            decided.decision.root_reason(),
            Reason::Release { decided_by: DecidedBy::Rule { name, .. } } if name == "rad"
        ));
    }

    #[test]
    fn a_sensitive_result_hides_its_report_and_a_sensitive_report_its_results() {
        let (report, mut result) = report_and_result("LAB");
        result.labels.push(crate::privacy::SEXUAL_HEALTH.to_owned());
        assert_eq!(outcomes(vec![report.clone(), result.clone()]), vec![]);
        let (mut report, result) = report_and_result("LAB");
        report.labels.push(crate::privacy::HIV.to_owned());
        assert_eq!(outcomes(vec![result, report]), vec![]);
    }

    #[test]
    fn a_result_that_names_a_report_not_yet_received_waits_for_it() {
        let mut result = item("o", RecordKind::Observation, Some("LAB"));
        result
            .relations
            .belongs_to
            .push("ServiceRequest/s1".to_owned());
        assert_eq!(
            outcomes(vec![result.clone()]),
            vec![("o".to_owned(), Outcome::HeldForClinicalTeam)]
        );
        let mut report = item("r", RecordKind::DiagnosticReport, Some("LAB"));
        report
            .relations
            .belongs_to
            .push("ServiceRequest/s1".to_owned());
        assert_eq!(
            outcomes(vec![result, report]),
            vec![
                ("o".to_owned(), Outcome::Shown),
                ("r".to_owned(), Outcome::Shown)
            ]
        );
    }

    #[test]
    fn a_preliminary_report_is_in_progress_and_takes_its_results_with_it() {
        let (mut report, result) = report_and_result("LAB");
        report.status = "preliminary".to_owned();
        let record = decide_record(
            &me(),
            ME,
            &Basis::OwnRecord,
            &PatientChoices::none(),
            vec![report, result],
            &rules(),
            now(),
        );
        for decided in record.items() {
            assert_eq!(decided.decision.outcome, Outcome::HeldForClinicalTeam);
            assert!(matches!(
                decided.decision.root_reason(),
                Reason::NotFinal { .. }
            ));
        }
    }

    #[test]
    fn a_withdrawn_report_takes_its_results_but_a_withdrawn_result_leaves_its_report() {
        let (mut report, result) = report_and_result("LAB");
        report.release_directive = ReleaseDirective::Retract;
        assert_eq!(outcomes(vec![report, result]), vec![]);
        let (report, mut result) = report_and_result("LAB");
        result.status = "cancelled".to_owned();
        assert_eq!(
            outcomes(vec![report, result]),
            vec![("r".to_owned(), Outcome::Shown)]
        );
    }

    #[test]
    fn an_unrecognised_result_is_held_and_a_held_letter_waits() {
        let report = item("r", RecordKind::DiagnosticReport, None);
        let mut letter = item("l", RecordKind::Document, None);
        letter.release_directive = ReleaseDirective::Hold;
        let plain_letter = item("p", RecordKind::Document, None);
        assert_eq!(
            outcomes(vec![report, letter, plain_letter]),
            vec![
                ("r".to_owned(), Outcome::HeldForClinicalTeam),
                ("l".to_owned(), Outcome::HeldForClinicalTeam),
                ("p".to_owned(), Outcome::Shown),
            ]
        );
    }

    #[test]
    fn nobody_without_a_basis_sees_anything() {
        let mut unverified = me();
        unverified.identity_level = Some("P5".to_owned());
        assert_eq!(
            check_record_access(&unverified, ME, &Basis::OwnRecord, now()),
            Err(Refusal::IdentityNotVerified)
        );
        assert_eq!(own_record(&unverified), Err(Refusal::IdentityNotVerified));
        let mut other = me();
        other.own_record = Some(PatientId(2));
        assert_eq!(
            check_record_access(&other, ME, &Basis::OwnRecord, now()),
            Err(Refusal::NotTheirRecord)
        );
        let mine = item("a", RecordKind::Appointment, None);
        let record = decide_record(
            &other,
            ME,
            &Basis::OwnRecord,
            &PatientChoices::none(),
            vec![mine.clone()],
            &rules(),
            now(),
        );
        assert!(record.items().is_empty());
        // An item of someone else's that reached a read by mistake is hidden.
        let mut theirs = mine;
        theirs.patient_id = PatientId(2);
        assert_eq!(outcomes(vec![theirs]), vec![]);
    }

    const CARER: AccountId = AccountId(20);

    fn carer() -> Reader {
        Reader {
            account: CARER,
            kind: ReaderKind::Patient,
            identity_level: Some("P9".to_owned()),
            own_record: Some(PatientId(5)),
        }
    }

    fn grant(scope: proxy_rules::Scope) -> Grant {
        Grant {
            id: proxy_rules::GrantId(1),
            public_id: "g".to_owned(),
            patient: ME,
            proxy: CARER,
            basis: proxy_rules::ProxyBasisKind::Consent,
            scope,
            state: proxy_rules::GrantState::Active,
            starts_at: now() - chrono::Duration::days(30),
            ends_at: None,
            last_used_at: None,
            patient_birth_date: None,
        }
    }

    fn proxy_basis(grant: Grant) -> Basis {
        Basis::Proxy {
            grant: Box::new(grant),
            age_rules: AgeRules::default(),
        }
    }

    fn a_record() -> Vec<RecordItem> {
        let (report, result) = report_and_result("LAB");
        let mut private = item("m", RecordKind::Document, None);
        private
            .labels
            .push(crate::privacy::MENTAL_HEALTH.to_owned());
        vec![
            item("a", RecordKind::Appointment, None),
            item("l", RecordKind::Document, None),
            private,
            report,
            result,
        ]
    }

    fn proxy_sees(basis: &Basis) -> Vec<String> {
        decide_record(
            &carer(),
            ME,
            basis,
            &PatientChoices::none(),
            a_record(),
            &rules(),
            now(),
        )
        .items()
        .iter()
        .map(|d| d.item.public_id.clone())
        .collect()
    }

    #[test]
    fn a_proxy_sees_only_the_sections_and_labels_of_their_grant() {
        let everything = proxy_basis(grant(proxy_rules::Scope::all_sections()));
        assert_eq!(proxy_sees(&everything), vec!["a", "l", "r", "o"]);
        let with_label = proxy_basis(grant(proxy_rules::Scope {
            labels: vec![crate::privacy::MENTAL_HEALTH.to_owned()],
            ..proxy_rules::Scope::all_sections()
        }));
        assert_eq!(proxy_sees(&with_label), vec!["a", "l", "m", "r", "o"]);
        let letters_only = proxy_basis(grant(proxy_rules::Scope {
            letters: true,
            ..proxy_rules::Scope::default()
        }));
        assert_eq!(proxy_sees(&letters_only), vec!["l"]);
        let record = decide_record(
            &me(),
            ME,
            &Basis::OwnRecord,
            &PatientChoices::none(),
            a_record(),
            &rules(),
            now(),
        );
        assert_eq!(record.items().len(), 5, "the patient sees all of it");
    }

    #[test]
    fn a_grant_that_is_not_in_force_or_not_theirs_opens_nothing() {
        let mut suspended = grant(proxy_rules::Scope::all_sections());
        suspended.state = proxy_rules::GrantState::Suspended;
        assert_eq!(
            check_record_access(&carer(), ME, &proxy_basis(suspended.clone()), now()),
            Err(Refusal::GrantNotInForce)
        );
        assert!(proxy_sees(&proxy_basis(suspended)).is_empty());
        let mut ended = grant(proxy_rules::Scope::all_sections());
        ended.ends_at = Some(now());
        assert!(proxy_sees(&proxy_basis(ended)).is_empty());
        // Someone else's grant, or a grant read against another record.
        let mut theirs = grant(proxy_rules::Scope::all_sections());
        theirs.proxy = AccountId(99);
        assert_eq!(
            check_record_access(&carer(), ME, &proxy_basis(theirs), now()),
            Err(Refusal::NotTheirRecord)
        );
        let basis = proxy_basis(grant(proxy_rules::Scope::all_sections()));
        assert_eq!(
            check_record_access(&carer(), PatientId(2), &basis, now()),
            Err(Refusal::NotTheirRecord)
        );
        // A proxy whose NHS login is no longer P9 reads nothing.
        let mut unverified = carer();
        unverified.identity_level = Some("P5".to_owned());
        assert_eq!(
            check_record_access(&unverified, ME, &basis, now()),
            Err(Refusal::IdentityNotVerified)
        );
        // Release rules apply to a proxy exactly as to the patient.
        let (report, result) = report_and_result("RAD");
        let record = decide_record(
            &carer(),
            ME,
            &basis,
            &PatientChoices::none(),
            vec![report, result],
            &rules(),
            now(),
        );
        assert!(
            record
                .items()
                .iter()
                .all(|d| matches!(d.decision.outcome, Outcome::WithheldUntil { .. }))
        );
    }

    proptest::proptest! {
        /// Whatever the grant and whatever the record, a proxy is shown only items of
        /// this patient, in sections the grant opens, with no label it does not name,
        /// and only while the grant is in force; and never more than the patient.
        #[test]
        fn no_proxy_reaches_anything_outside_their_grant(
            appointments: bool, letters: bool, results: bool,
            mental_health: bool, restricted: bool,
            state in 0u8..3, ends_in_days in proptest::option::of(-40i64..40),
            kinds in proptest::collection::vec((0usize..5, 0u8..5, proptest::bool::ANY), 1..12),
        ) {
            let mut labels = Vec::new();
            if mental_health { labels.push(crate::privacy::MENTAL_HEALTH.to_owned()); }
            if restricted { labels.push(crate::privacy::RESTRICTED.to_owned()); }
            let scope = proxy_rules::Scope { appointments, letters, results, labels };
            let mut g = grant(scope.clone());
            g.state = [proxy_rules::GrantState::Active, proxy_rules::GrantState::Suspended, proxy_rules::GrantState::Revoked][usize::from(state)];
            g.ends_at = ends_in_days.map(|d| now() + chrono::Duration::days(d));
            let in_force = proxy_rules::decide_grant(&g, &AgeRules::default(), now()).is_in_force();
            let label_pool = [None, Some(crate::privacy::MENTAL_HEALTH), Some(crate::privacy::RESTRICTED), Some(crate::privacy::HIV), Some(crate::privacy::SUBSTANCE_MISUSE)];
            let items: Vec<RecordItem> = kinds.iter().enumerate().map(|(n, (kind, label, other_patient))| {
                let mut it = item(&format!("i{n}"), RecordKind::ALL[*kind], Some("LAB"));
                if let Some(l) = label_pool[usize::from(*label)] { it.labels.push(l.to_owned()); }
                if *other_patient { it.patient_id = PatientId(2); }
                it
            }).collect();
            let basis = proxy_basis(g);
            let seen = decide_record(&carer(), ME, &basis, &PatientChoices::none(), items.clone(), &rules(), now());
            let patient_sees = decide_record(&me(), ME, &Basis::OwnRecord, &PatientChoices::none(), items, &rules(), now());
            if !in_force { proptest::prop_assert!(seen.items().is_empty()); }
            for decided in seen.items() {
                proptest::prop_assert_eq!(decided.item.patient_id, ME);
                proptest::prop_assert!(scope.allows_section(Section::of(decided.item.kind)));
                proptest::prop_assert!(decided.item.labels.iter().all(|l| scope.allows_label(l)));
                proptest::prop_assert!(patient_sees.item(&decided.item.public_id).is_some());
            }
        }
    }

    #[test]
    fn an_objection_hides_the_sources_items_and_their_relatives_from_every_reader() {
        let lab = OrganisationId(1);
        let (report, result) = report_and_result("LAB");
        // Another organisation's appointment stays.
        let mut other = item("x", RecordKind::Appointment, None);
        other.source = OrganisationId(2);
        other.source_ods_code = OdsCode::parse("A81001").unwrap();
        let objecting = PatientChoices {
            objections: vec![lab],
            ..PatientChoices::none()
        };
        let items = vec![report, result, other];
        let patient_sees = decide_record(
            &me(),
            ME,
            &Basis::OwnRecord,
            &objecting,
            items.clone(),
            &rules(),
            now(),
        );
        let ids: Vec<&str> = patient_sees
            .items()
            .iter()
            .map(|d| d.item.public_id.as_str())
            .collect();
        assert_eq!(ids, vec!["x"]);
        let basis = proxy_basis(grant(proxy_rules::Scope::all_sections()));
        let carer_sees = decide_record(
            &carer(),
            ME,
            &basis,
            &objecting,
            items.clone(),
            &rules(),
            now(),
        );
        assert_eq!(carer_sees.items().len(), 1);
        // The item's own decision names the objection.
        let own = decide(
            &me(),
            ME,
            &Basis::OwnRecord,
            &objecting,
            &items[1],
            false,
            &rules(),
            now(),
        );
        assert_eq!(own.decision.outcome, Outcome::Hidden);
        assert_eq!(
            own.decision.reason,
            Reason::ObjectedToSource {
                source: "RXX".to_owned()
            }
        );
        // Withdrawn, everything is back.
        let all = decide_record(
            &me(),
            ME,
            &Basis::OwnRecord,
            &PatientChoices::none(),
            items,
            &rules(),
            now(),
        );
        assert_eq!(all.items().len(), 3);
    }

    #[test]
    fn after_the_patient_leaves_nobody_reads_anything() {
        let left = PatientChoices {
            left_portal_at: Some(now()),
            ..PatientChoices::none()
        };
        assert_eq!(check_choices(&left), Err(Refusal::PatientLeftPortal));
        let basis = proxy_basis(grant(proxy_rules::Scope::all_sections()));
        for (reader, basis) in [(me(), Basis::OwnRecord), (carer(), basis)] {
            let record = decide_record(&reader, ME, &basis, &left, a_record(), &rules(), now());
            assert!(record.items().is_empty());
            let one = decide(
                &reader,
                ME,
                &basis,
                &left,
                &a_record()[0],
                false,
                &rules(),
                now(),
            );
            assert_eq!(
                one.decision.reason,
                Reason::NoBasis {
                    refusal: Refusal::PatientLeftPortal
                }
            );
        }
    }
}
