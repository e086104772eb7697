//! The rules of proxy access (NHS standard DAPB3051 "Proxy"; `shared/docs/domain.md`,
//! "Proxy access"), as pure functions of a grant's facts and the clock:
//!
//! - a **grant** lets one person (with their own NHS login at P9) read one patient's
//!   record within a [`Scope`]: which sections, and which privacy labels beyond the
//!   ones nobody sees; none by default;
//! - whether a grant is in force is worked out at every read ([`decide_grant`]), from
//!   what people decided (suspended, revoked), its dates, when it was last used (access
//!   unused for five years lapses) and, for a child patient, their age (a parent's
//!   access is suspended at 16 unless the young person consents);
//! - **invitations** (the patient's consent) are accepted only by someone whose own
//!   verified name and date of birth match what the patient entered, before they
//!   expire ([`check_acceptance`]);
//! - the **age notices** patient and proxy are shown ahead of a change ([`age_notice`]).
//!
//! Every answer carries its reason. No I/O, no clock reads: `now` is an argument.

use chrono::{DateTime, Datelike, Duration, Months, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::{AccountId, PatientId};
use crate::records::RecordKind;

/// Access unused for this long lapses (DAPB3051).
pub const LAPSE_AFTER_YEARS: u32 = 5;

/// Invitations expire after this many days unless configured otherwise.
pub const DEFAULT_INVITATION_DAYS: i64 = 14;

/// The grounds on which someone acts for a patient.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProxyBasisKind {
    /// The patient invited them.
    Consent,
    /// A parent (or other person with parental responsibility) of a child under 16.
    ParentalResponsibility,
    /// A registered health and welfare lasting power of attorney.
    LastingPowerOfAttorney,
    /// A deputy appointed by the Court of Protection.
    CourtDeputy,
}

impl ProxyBasisKind {
    pub const ALL: [ProxyBasisKind; 4] = [
        ProxyBasisKind::Consent,
        ProxyBasisKind::ParentalResponsibility,
        ProxyBasisKind::LastingPowerOfAttorney,
        ProxyBasisKind::CourtDeputy,
    ];

    /// The bases someone applies for, and the service desk verifies.
    pub const APPLIED_FOR: [ProxyBasisKind; 3] = [
        ProxyBasisKind::ParentalResponsibility,
        ProxyBasisKind::LastingPowerOfAttorney,
        ProxyBasisKind::CourtDeputy,
    ];

    pub fn code(self) -> &'static str {
        match self {
            ProxyBasisKind::Consent => "consent",
            ProxyBasisKind::ParentalResponsibility => "parental_responsibility",
            ProxyBasisKind::LastingPowerOfAttorney => "lasting_power_of_attorney",
            ProxyBasisKind::CourtDeputy => "court_deputy",
        }
    }

    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|b| b.code() == code)
    }

    /// How the basis is named to patients, proxies and the service desk.
    pub fn label(self) -> &'static str {
        match self {
            ProxyBasisKind::Consent => "Invited by the patient",
            ProxyBasisKind::ParentalResponsibility => "Parental responsibility",
            ProxyBasisKind::LastingPowerOfAttorney => {
                "Lasting power of attorney (health and welfare)"
            }
            ProxyBasisKind::CourtDeputy => "Court-appointed deputy",
        }
    }

    /// Only the patient's consent needs no evidence checked by the service desk.
    pub fn needs_verification(self) -> bool {
        self != ProxyBasisKind::Consent
    }
}

/// The parts of a record a grant can open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Section {
    Appointments,
    Letters,
    Results,
}

impl Section {
    pub const ALL: [Section; 3] = [Section::Appointments, Section::Letters, Section::Results];

    /// The section an item belongs to: visits (appointments and admissions), documents,
    /// and test results (reports and their results).
    pub fn of(kind: RecordKind) -> Section {
        match kind {
            RecordKind::Appointment | RecordKind::Encounter => Section::Appointments,
            RecordKind::Document => Section::Letters,
            RecordKind::DiagnosticReport | RecordKind::Observation => Section::Results,
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            Section::Appointments => "appointments",
            Section::Letters => "letters",
            Section::Results => "results",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Section::Appointments => "Appointments",
            Section::Letters => "Letters",
            Section::Results => "Test results",
        }
    }
}

/// The privacy labels a grant may include. Items with the labels shared records leave
/// out altogether (`crate::privacy::EXCLUDED`) are never shown to anyone, so no grant
/// can include them; these are the ones a patient sees and a proxy sees only when the
/// grant says so.
pub const GRANTABLE_LABELS: [(&str, &str); 3] = [
    (crate::privacy::MENTAL_HEALTH, "Mental health"),
    (
        crate::privacy::SUBSTANCE_MISUSE,
        "Drug and alcohol services",
    ),
    (
        crate::privacy::RESTRICTED,
        "Information the sender marked as restricted",
    ),
];

/// What a grant opens: sections, and privacy labels beyond the ones nobody sees. A
/// label the grant does not name is not included (the most restrictive reading).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Scope {
    pub appointments: bool,
    pub letters: bool,
    pub results: bool,
    pub labels: Vec<String>,
}

impl Scope {
    /// Every section, no extra labels: the usual grant.
    pub fn all_sections() -> Self {
        Scope {
            appointments: true,
            letters: true,
            results: true,
            labels: Vec::new(),
        }
    }

    pub fn allows_section(&self, section: Section) -> bool {
        match section {
            Section::Appointments => self.appointments,
            Section::Letters => self.letters,
            Section::Results => self.results,
        }
    }

    /// Whether an item with this label may be shown under the grant. A sender's own code
    /// is read as the portal label it stands for ("PSY" is mental health). Never an
    /// excluded label; the codes that say an item is not sensitive ("N", "L", "U")
    /// always; any other label only when the grant names it, so a label nobody has
    /// mapped keeps the item from a proxy (the most restrictive reading).
    pub fn allows_label(&self, label: &str) -> bool {
        let label = crate::privacy::label_for_security_code(label).unwrap_or(label);
        if crate::privacy::EXCLUDED.contains(&label) {
            return false;
        }
        crate::privacy::NOT_SENSITIVE.contains(&label) || self.labels.iter().any(|l| l == label)
    }

    /// Whether the grant opens anything at all.
    pub fn is_empty(&self) -> bool {
        !(self.appointments || self.letters || self.results)
    }

    /// The sections the grant opens, in page order.
    pub fn sections(&self) -> Vec<Section> {
        Section::ALL
            .into_iter()
            .filter(|s| self.allows_section(*s))
            .collect()
    }

    /// The same scope with only labels a grant may name, each once, in a fixed order.
    pub fn normalised(mut self) -> Self {
        self.labels = GRANTABLE_LABELS
            .iter()
            .map(|(label, _)| *label)
            .filter(|label| self.labels.iter().any(|l| l == label))
            .map(str::to_owned)
            .collect();
        self
    }
}

/// What people decided about a grant. The clock decides the rest ([`GrantStatus`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GrantState {
    Active,
    Suspended,
    Revoked,
}

impl GrantState {
    pub fn code(self) -> &'static str {
        match self {
            GrantState::Active => "active",
            GrantState::Suspended => "suspended",
            GrantState::Revoked => "revoked",
        }
    }

    pub fn from_code(code: &str) -> Option<Self> {
        match code {
            "active" => Some(GrantState::Active),
            "suspended" => Some(GrantState::Suspended),
            "revoked" => Some(GrantState::Revoked),
            _ => None,
        }
    }
}

/// A grant's id. Pages address grants by [`Grant::public_id`], never by this.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct GrantId(pub i64);

/// One person's access to one patient's record, as the rules need to know it. Never
/// sent to a browser as it is (it holds internal ids): pages get `proxy::api` views.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub id: GrantId,
    /// A random id for pages and forms.
    pub public_id: String,
    pub patient: PatientId,
    /// The proxy's own account (their own NHS login).
    pub proxy: AccountId,
    pub basis: ProxyBasisKind,
    pub scope: Scope,
    pub state: GrantState,
    pub starts_at: DateTime<Utc>,
    /// Access ends at this moment, if an end was set.
    pub ends_at: Option<DateTime<Utc>>,
    /// The last time the proxy read or did anything under the grant.
    pub last_used_at: Option<DateTime<Utc>>,
    /// The patient's date of birth, for the age rules (parental responsibility).
    pub patient_birth_date: Option<NaiveDate>,
}

/// The age rules for child patients (configurable; DAPB3051 and the GP online services
/// guidance on proxy access for children).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgeRules {
    /// From this age a parent's access is reviewed…
    pub review_from_age: u32,
    /// …and the review is due by this age.
    pub review_by_age: u32,
    /// At this age a parent's access is suspended unless the young person consents.
    pub suspend_at_age: u32,
    /// How many months ahead the patient and proxy are told.
    pub notice_months: u32,
}

impl Default for AgeRules {
    fn default() -> Self {
        AgeRules {
            review_from_age: 11,
            review_by_age: 13,
            suspend_at_age: 16,
            notice_months: 3,
        }
    }
}

/// The proxy rules a trust configures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProxySettings {
    pub age_rules: AgeRules,
    /// How many days an invitation stays open.
    pub invitation_days: i64,
}

impl Default for ProxySettings {
    fn default() -> Self {
        ProxySettings {
            age_rules: AgeRules::default(),
            invitation_days: DEFAULT_INVITATION_DAYS,
        }
    }
}

/// Whether a grant can be used now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GrantStatus {
    /// Starts later.
    Pending,
    Active,
    Suspended,
    Revoked,
    Expired,
    Lapsed,
}

impl GrantStatus {
    pub fn label(self) -> &'static str {
        match self {
            GrantStatus::Pending => "Starts later",
            GrantStatus::Active => "Active",
            GrantStatus::Suspended => "Suspended",
            GrantStatus::Revoked => "Revoked",
            GrantStatus::Expired => "Ended",
            GrantStatus::Lapsed => "Lapsed",
        }
    }
}

/// Why a grant has the status it has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "rule", rename_all = "snake_case")]
pub enum GrantReason {
    InForce,
    StartsAt {
        at: DateTime<Utc>,
    },
    SuspendedByDecision,
    RevokedByDecision,
    EndDatePassed {
        at: DateTime<Utc>,
    },
    /// Not used for five years: it lapsed at `at`.
    UnusedForFiveYears {
        at: DateTime<Utc>,
    },
    /// The child turned the age at which a parent's access stops unless they consent.
    ChildReachedAge {
        age: u32,
        on: NaiveDate,
    },
    /// A parental responsibility grant for a patient whose date of birth is not known:
    /// the age rules cannot be applied, so it is not used.
    ChildAgeUnknown,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct GrantDecision {
    pub status: GrantStatus,
    pub reason: GrantReason,
}

impl GrantDecision {
    pub fn is_in_force(&self) -> bool {
        self.status == GrantStatus::Active
    }
}

/// The day someone born on `birth_date` turns `age` (29 February birthdays fall on 28
/// February in other years).
pub fn birthday(birth_date: NaiveDate, age: u32) -> NaiveDate {
    birth_date
        .checked_add_months(Months::new(age * 12))
        .unwrap_or(birth_date)
}

fn start_of(day: NaiveDate) -> DateTime<Utc> {
    day.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc()
}

/// When a grant lapses if it is not used again: five years after its last use, or
/// after it started if it has never been used.
pub fn lapses_at(grant: &Grant) -> DateTime<Utc> {
    let last_activity = grant
        .last_used_at
        .map_or(grant.starts_at, |used| used.max(grant.starts_at));
    last_activity
        .checked_add_months(Months::new(LAPSE_AFTER_YEARS * 12))
        .unwrap_or(last_activity)
}

/// Whether a grant is in force at `now`, and why. Revocation is final and weighs first;
/// then the end date, then lapse, then a suspension someone decided, then the age
/// rules, then the start date.
pub fn decide_grant(grant: &Grant, rules: &AgeRules, now: DateTime<Utc>) -> GrantDecision {
    let decision = |status, reason| GrantDecision { status, reason };
    if grant.state == GrantState::Revoked {
        return decision(GrantStatus::Revoked, GrantReason::RevokedByDecision);
    }
    if let Some(ends_at) = grant.ends_at
        && now >= ends_at
    {
        return decision(
            GrantStatus::Expired,
            GrantReason::EndDatePassed { at: ends_at },
        );
    }
    let lapses = lapses_at(grant);
    if now >= lapses {
        return decision(
            GrantStatus::Lapsed,
            GrantReason::UnusedForFiveYears { at: lapses },
        );
    }
    if grant.state == GrantState::Suspended {
        return decision(GrantStatus::Suspended, GrantReason::SuspendedByDecision);
    }
    if grant.basis == ProxyBasisKind::ParentalResponsibility {
        let Some(birth_date) = grant.patient_birth_date else {
            return decision(GrantStatus::Suspended, GrantReason::ChildAgeUnknown);
        };
        let turns = birthday(birth_date, rules.suspend_at_age);
        if now >= start_of(turns) {
            return decision(
                GrantStatus::Suspended,
                GrantReason::ChildReachedAge {
                    age: rules.suspend_at_age,
                    on: turns,
                },
            );
        }
    }
    if now < grant.starts_at {
        return decision(
            GrantStatus::Pending,
            GrantReason::StartsAt {
                at: grant.starts_at,
            },
        );
    }
    decision(GrantStatus::Active, GrantReason::InForce)
}

/// What the patient and the proxy are told ahead of an age rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "notice", rename_all = "snake_case")]
pub enum AgeNotice {
    /// The child is in the review window: the access should be reviewed by `by`.
    ReviewDue { by: NaiveDate },
    /// The access will be suspended on `on` unless the young person agrees.
    SuspendsSoon { on: NaiveDate },
    /// The access was suspended on `on`; the young person can agree to it continuing.
    SuspendedAtAge { on: NaiveDate },
}

/// The age notice for a parental responsibility grant on `today`, if any: the review
/// window (from the review age until the review is due), the notice period before the
/// suspension age, and after it.
pub fn age_notice(grant: &Grant, rules: &AgeRules, today: NaiveDate) -> Option<AgeNotice> {
    if grant.basis != ProxyBasisKind::ParentalResponsibility || grant.state == GrantState::Revoked {
        return None;
    }
    let birth_date = grant.patient_birth_date?;
    let suspends_on = birthday(birth_date, rules.suspend_at_age);
    if today >= suspends_on {
        return Some(AgeNotice::SuspendedAtAge { on: suspends_on });
    }
    let notice_from = suspends_on
        .checked_sub_months(Months::new(rules.notice_months))
        .unwrap_or(suspends_on);
    if today >= notice_from {
        return Some(AgeNotice::SuspendsSoon { on: suspends_on });
    }
    let review_from = birthday(birth_date, rules.review_from_age);
    let review_by = birthday(birth_date, rules.review_by_age);
    if today >= review_from && today < review_by {
        return Some(AgeNotice::ReviewDue { by: review_by });
    }
    None
}

/// An invitation the patient made, as the rules need it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invitation {
    pub patient: PatientId,
    pub given_name: String,
    pub family_name: String,
    pub birth_date: NaiveDate,
    pub state: InvitationState,
    pub expires_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InvitationState {
    Pending,
    Accepted,
    Withdrawn,
}

impl InvitationState {
    pub fn code(self) -> &'static str {
        match self {
            InvitationState::Pending => "pending",
            InvitationState::Accepted => "accepted",
            InvitationState::Withdrawn => "withdrawn",
        }
    }

    pub fn from_code(code: &str) -> Option<Self> {
        match code {
            "pending" => Some(InvitationState::Pending),
            "accepted" => Some(InvitationState::Accepted),
            "withdrawn" => Some(InvitationState::Withdrawn),
            _ => None,
        }
    }
}

/// The person accepting, as their own NHS login (P9) proved them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invitee {
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub birth_date: Option<NaiveDate>,
    /// Their own record, if they have one: nobody accepts an invitation to it.
    pub own_record: Option<PatientId>,
}

/// Why an invitation cannot be accepted. The messages never say whose it was.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InvitationRefusal {
    Expired,
    Withdrawn,
    AlreadyAccepted,
    /// The invitee's verified name or date of birth is not what the patient entered.
    DetailsDoNotMatch,
    /// The patient's own invitation to themselves.
    OwnRecord,
}

/// Names compare without case, accents of the same letter, spaces, hyphens or
/// apostrophes: "O'Neil-Smith" is "oneilsmith".
pub fn normalise_name(name: &str) -> String {
    name.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

/// Whether `invitee` may accept `invitation` at `now`: it must name them (their own
/// verified names and date of birth), not be their own record's, be pending and not
/// have expired.
pub fn check_acceptance(
    invitation: &Invitation,
    invitee: &Invitee,
    now: DateTime<Utc>,
) -> Result<(), InvitationRefusal> {
    // Whose it is comes first, so that someone it is not for learns nothing about it.
    if invitee.own_record == Some(invitation.patient) {
        return Err(InvitationRefusal::OwnRecord);
    }
    let same = |entered: &str, proved: Option<&String>| {
        proved.is_some_and(|p| !p.trim().is_empty() && normalise_name(p) == normalise_name(entered))
    };
    if !same(&invitation.given_name, invitee.given_name.as_ref())
        || !same(&invitation.family_name, invitee.family_name.as_ref())
        || invitee.birth_date != Some(invitation.birth_date)
    {
        return Err(InvitationRefusal::DetailsDoNotMatch);
    }
    match invitation.state {
        InvitationState::Withdrawn => return Err(InvitationRefusal::Withdrawn),
        InvitationState::Accepted => return Err(InvitationRefusal::AlreadyAccepted),
        InvitationState::Pending => {}
    }
    if now >= invitation.expires_at {
        return Err(InvitationRefusal::Expired);
    }
    Ok(())
}

/// When an invitation made at `now` expires.
pub fn invitation_expires_at(now: DateTime<Utc>, days: i64) -> DateTime<Utc> {
    now + Duration::days(days.max(1))
}

/// The age of someone born on `birth_date` on `today`, in whole years.
pub fn age_on(birth_date: NaiveDate, today: NaiveDate) -> u32 {
    let mut years = today.year() - birth_date.year();
    if (today.month(), today.day()) < (birth_date.month(), birth_date.day()) {
        years -= 1;
    }
    u32::try_from(years).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;
    use chrono::TimeZone;

    fn at(y: i32, m: u32, d: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, 9, 0, 0).unwrap()
    }

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn grant(basis: ProxyBasisKind) -> Grant {
        Grant {
            id: GrantId(1),
            public_id: "g1".to_owned(),
            patient: PatientId(1),
            proxy: AccountId(2),
            basis,
            scope: Scope::all_sections(),
            state: GrantState::Active,
            starts_at: at(2024, 1, 10),
            ends_at: None,
            last_used_at: None,
            patient_birth_date: Some(day(2017, 3, 21)),
        }
    }

    fn status(grant: &Grant, now: DateTime<Utc>) -> GrantStatus {
        decide_grant(grant, &AgeRules::default(), now).status
    }

    #[test]
    fn a_grant_is_active_between_its_start_and_end() {
        let mut g = grant(ProxyBasisKind::Consent);
        g.ends_at = Some(at(2026, 6, 1));
        assert_eq!(status(&g, at(2024, 1, 9)), GrantStatus::Pending);
        assert_eq!(status(&g, at(2025, 1, 1)), GrantStatus::Active);
        let ended = decide_grant(&g, &AgeRules::default(), at(2026, 6, 1));
        assert_eq!(ended.status, GrantStatus::Expired);
        assert_eq!(
            ended.reason,
            GrantReason::EndDatePassed { at: at(2026, 6, 1) }
        );
    }

    #[test]
    fn revocation_is_final_and_suspension_holds_until_resumed() {
        let mut g = grant(ProxyBasisKind::Consent);
        g.state = GrantState::Suspended;
        assert_eq!(status(&g, at(2025, 1, 1)), GrantStatus::Suspended);
        g.state = GrantState::Revoked;
        g.ends_at = Some(at(2025, 2, 1));
        assert_eq!(status(&g, at(2026, 1, 1)), GrantStatus::Revoked);
    }

    #[test]
    fn access_unused_for_five_years_lapses_counting_from_the_last_use() {
        let mut g = grant(ProxyBasisKind::LastingPowerOfAttorney);
        assert_eq!(status(&g, at(2029, 1, 9)), GrantStatus::Active);
        let lapsed = decide_grant(&g, &AgeRules::default(), at(2029, 1, 10));
        assert_eq!(lapsed.status, GrantStatus::Lapsed);
        assert_eq!(
            lapsed.reason,
            GrantReason::UnusedForFiveYears {
                at: at(2029, 1, 10)
            }
        );
        g.last_used_at = Some(at(2028, 12, 1));
        assert_eq!(status(&g, at(2033, 11, 30)), GrantStatus::Active);
        assert_eq!(status(&g, at(2033, 12, 1)), GrantStatus::Lapsed);
        // A suspended grant still lapses: suspension does not keep it alive.
        g.state = GrantState::Suspended;
        assert_eq!(status(&g, at(2034, 1, 1)), GrantStatus::Lapsed);
    }

    #[test]
    fn a_parents_access_is_suspended_when_the_child_turns_sixteen() {
        let mut g = grant(ProxyBasisKind::ParentalResponsibility);
        g.last_used_at = Some(at(2032, 6, 1));
        assert_eq!(
            status(&g, Utc.with_ymd_and_hms(2033, 3, 20, 23, 59, 0).unwrap()),
            GrantStatus::Active
        );
        let sixteen = decide_grant(&g, &AgeRules::default(), at(2033, 3, 21));
        assert_eq!(sixteen.status, GrantStatus::Suspended);
        assert_eq!(
            sixteen.reason,
            GrantReason::ChildReachedAge {
                age: 16,
                on: day(2033, 3, 21)
            }
        );
        // Once the young person consents, the grant is theirs: a consent grant.
        let mut consented = g.clone();
        consented.basis = ProxyBasisKind::Consent;
        assert_eq!(status(&consented, at(2033, 3, 21)), GrantStatus::Active);
        // Without a date of birth the age rules cannot be applied: not used.
        let mut unknown = g;
        unknown.patient_birth_date = None;
        assert_eq!(
            decide_grant(&unknown, &AgeRules::default(), at(2025, 1, 1)).reason,
            GrantReason::ChildAgeUnknown
        );
    }

    #[test]
    fn the_age_rules_are_configuration() {
        let mut g = grant(ProxyBasisKind::ParentalResponsibility);
        g.last_used_at = Some(at(2031, 1, 1));
        let rules = AgeRules {
            suspend_at_age: 14,
            ..AgeRules::default()
        };
        assert_eq!(
            decide_grant(&g, &rules, at(2031, 3, 21)).status,
            GrantStatus::Suspended
        );
        assert_eq!(
            decide_grant(&g, &AgeRules::default(), at(2031, 3, 21)).status,
            GrantStatus::Active
        );
    }

    #[test]
    fn notices_come_in_the_review_window_and_three_months_before_sixteen() {
        let g = grant(ProxyBasisKind::ParentalResponsibility);
        let rules = AgeRules::default();
        assert_eq!(age_notice(&g, &rules, day(2028, 3, 20)), None);
        assert_eq!(
            age_notice(&g, &rules, day(2028, 3, 21)),
            Some(AgeNotice::ReviewDue {
                by: day(2030, 3, 21)
            })
        );
        assert_eq!(age_notice(&g, &rules, day(2030, 3, 21)), None);
        assert_eq!(age_notice(&g, &rules, day(2032, 12, 20)), None);
        assert_eq!(
            age_notice(&g, &rules, day(2032, 12, 21)),
            Some(AgeNotice::SuspendsSoon {
                on: day(2033, 3, 21)
            })
        );
        assert_eq!(
            age_notice(&g, &rules, day(2033, 3, 21)),
            Some(AgeNotice::SuspendedAtAge {
                on: day(2033, 3, 21)
            })
        );
        assert_eq!(
            age_notice(
                &grant(ProxyBasisKind::LastingPowerOfAttorney),
                &rules,
                day(2033, 3, 21)
            ),
            None
        );
    }

    #[test]
    fn a_leap_day_birthday_falls_on_the_last_day_of_february() {
        assert_eq!(birthday(day(2012, 2, 29), 16), day(2028, 2, 29));
        assert_eq!(birthday(day(2012, 2, 29), 13), day(2025, 2, 28));
    }

    fn invitation() -> Invitation {
        Invitation {
            patient: PatientId(1),
            given_name: "Mary-Jane".to_owned(),
            family_name: "O'Neil".to_owned(),
            birth_date: day(1970, 5, 4),
            state: InvitationState::Pending,
            expires_at: at(2026, 12, 17),
        }
    }

    fn invitee() -> Invitee {
        Invitee {
            given_name: Some("MARY JANE".to_owned()),
            family_name: Some("oneil".to_owned()),
            birth_date: Some(day(1970, 5, 4)),
            own_record: Some(PatientId(7)),
        }
    }

    #[test]
    fn an_invitation_is_accepted_only_by_the_person_named_before_it_expires() {
        let now = at(2026, 12, 3);
        assert_eq!(check_acceptance(&invitation(), &invitee(), now), Ok(()));
        let mut other = invitee();
        other.birth_date = Some(day(1970, 5, 5));
        assert_eq!(
            check_acceptance(&invitation(), &other, now),
            Err(InvitationRefusal::DetailsDoNotMatch)
        );
        let mut unnamed = invitee();
        unnamed.given_name = None;
        assert_eq!(
            check_acceptance(&invitation(), &unnamed, now),
            Err(InvitationRefusal::DetailsDoNotMatch)
        );
        assert_eq!(
            check_acceptance(&invitation(), &invitee(), at(2026, 12, 17)),
            Err(InvitationRefusal::Expired)
        );
        let mut withdrawn = invitation();
        withdrawn.state = InvitationState::Withdrawn;
        assert_eq!(
            check_acceptance(&withdrawn, &invitee(), now),
            Err(InvitationRefusal::Withdrawn)
        );
        let mut myself = invitee();
        myself.own_record = Some(PatientId(1));
        assert_eq!(
            check_acceptance(&invitation(), &myself, now),
            Err(InvitationRefusal::OwnRecord)
        );
    }

    #[test]
    fn a_grant_never_includes_a_label_nobody_sees() {
        let scope = Scope {
            labels: vec![
                crate::privacy::HIV.to_owned(),
                crate::privacy::MENTAL_HEALTH.to_owned(),
            ],
            ..Scope::all_sections()
        };
        assert!(!scope.allows_label(crate::privacy::HIV));
        assert!(scope.allows_label(crate::privacy::MENTAL_HEALTH));
        assert!(!scope.allows_label(crate::privacy::RESTRICTED));
        assert_eq!(
            scope.clone().normalised().labels,
            vec![crate::privacy::MENTAL_HEALTH.to_owned()]
        );
        assert!(!Scope::default().allows_label(crate::privacy::MENTAL_HEALTH));
        // A sender's code is read as the label it stands for; "normal" never restricts,
        // and a code nobody mapped keeps the item from a proxy.
        assert!(scope.allows_label("PSY"));
        assert!(!Scope::default().allows_label("PSY"));
        assert!(!scope.allows_label("HIV"));
        assert!(Scope::default().allows_label("N"));
        assert!(!Scope::all_sections().allows_label("XYZ-LOCAL"));
    }
}
