//! Sign-in rules: who may see what after signing in with NHS login, and when a session
//! ends. Pure functions of the identity provider's claims and the clock
//! (`shared/docs/nhs-login.md`, `shared/docs/domain.md` "Sessions").

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::NhsNumber;

/// NHS login's identity proofing levels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum IdentityLevel {
    /// Email and phone verified only.
    P0,
    /// Claimed identity matched to demographics: no records.
    P5,
    /// Photo ID verified: the only level that may see records.
    P9,
}

impl IdentityLevel {
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "P0" => Some(IdentityLevel::P0),
            "P5" => Some(IdentityLevel::P5),
            "P9" => Some(IdentityLevel::P9),
            _ => None,
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            IdentityLevel::P0 => "P0",
            IdentityLevel::P5 => "P5",
            IdentityLevel::P9 => "P9",
        }
    }

    /// The level a vector of trust asserts: "P9.Cp.Cd" is P9.
    pub fn of_vector(vector: &str) -> Option<Self> {
        Self::parse(vector.split('.').next().unwrap_or_default())
    }
}

/// The vectors of trust asked for by default: P9 with any of NHS login's credential
/// strengths.
pub const DEFAULT_VECTORS: [&str; 3] = ["P9.Cp.Cd", "P9.Cp.Ck", "P9.Cm"];

/// The vectors of trust for a step-up to P9 (the same set: P9 is what we need).
pub fn step_up_vectors() -> Vec<String> {
    DEFAULT_VECTORS.iter().map(|v| (*v).to_owned()).collect()
}

/// The youngest age at which the service may be used on one's own behalf.
pub const MINIMUM_AGE: u32 = 13;

/// What the identity provider told us about a person, after the token was verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedIdentity {
    pub subject: String,
    /// The vector of trust achieved (`vot`).
    pub vector: String,
    /// The highest level the person has (`identity_proofing_level`).
    pub proofing_level: Option<String>,
    pub nhs_number: Option<String>,
    pub birthdate: Option<String>,
    /// The names NHS login verified (`given_name`, `family_name`).
    pub given_name: Option<String>,
    pub family_name: Option<String>,
}

/// Why a sign-in was refused. Codes are stable: they go to the audit trail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RefusalReason {
    /// `vot` is not one of the vectors we asked for.
    VectorNotRequested,
    /// Under 13 on the day of sign-in.
    UnderMinimumAge,
    /// No date of birth, or one that is not a date: the age rule cannot be met.
    AgeUnknown,
    /// P9, but the NHS number is missing or fails its check digit.
    InvalidNhsNumber,
}

impl RefusalReason {
    pub fn code(self) -> &'static str {
        match self {
            RefusalReason::VectorNotRequested => "vot_not_requested",
            RefusalReason::UnderMinimumAge => "under_minimum_age",
            RefusalReason::AgeUnknown => "age_unknown",
            RefusalReason::InvalidNhsNumber => "invalid_nhs_number",
        }
    }
}

/// The outcome of a verified sign-in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignInDecision {
    /// P9 with a valid NHS number: link the account to that record.
    LinkRecord {
        level: IdentityLevel,
        nhs_number: NhsNumber,
    },
    /// Signed in, but sees nothing clinical until they prove their identity (P5, P0).
    WithoutRecords {
        level: IdentityLevel,
    },
    Refuse(RefusalReason),
}

/// Decides what a verified identity may do (NHS login interface: `vot` must be one of
/// the requested vectors; P9 is required for records; the service is for people aged 13
/// and over, computed from `birthdate`; the NHS number is checked with modulus 11).
pub fn decide_sign_in(
    identity: &VerifiedIdentity,
    requested: &[String],
    today: NaiveDate,
) -> SignInDecision {
    if !requested.iter().any(|v| v == &identity.vector) {
        return SignInDecision::Refuse(RefusalReason::VectorNotRequested);
    }
    // The service is for people aged 13 and over: an age that cannot be worked out
    // refuses rather than admits.
    let Some(birthdate) = identity
        .birthdate
        .as_deref()
        .and_then(|b| NaiveDate::parse_from_str(b, "%Y-%m-%d").ok())
    else {
        return SignInDecision::Refuse(RefusalReason::AgeUnknown);
    };
    if age_on(birthdate, today) < MINIMUM_AGE {
        return SignInDecision::Refuse(RefusalReason::UnderMinimumAge);
    }
    // The achieved vector says what this sign-in proved; never more than that.
    let level = IdentityLevel::of_vector(&identity.vector).unwrap_or(IdentityLevel::P0);
    if level < IdentityLevel::P9 {
        return SignInDecision::WithoutRecords { level };
    }
    match identity.nhs_number.as_deref().map(NhsNumber::parse) {
        Some(Ok(nhs_number)) => SignInDecision::LinkRecord { level, nhs_number },
        _ => SignInDecision::Refuse(RefusalReason::InvalidNhsNumber),
    }
}

/// Whole years between a birth date and a day.
pub fn age_on(birthdate: NaiveDate, today: NaiveDate) -> u32 {
    let mut years = today.year() - birthdate.year();
    if (today.month(), today.day()) < (birthdate.month(), birthdate.day()) {
        years -= 1;
    }
    u32::try_from(years).unwrap_or(0)
}

/// Re-authentication after 30 minutes idle (domain rules, "Sessions").
pub const IDLE_TIMEOUT_MINUTES: i64 = 30;
/// And after 12 hours in total.
pub const ABSOLUTE_TIMEOUT_HOURS: i64 = 12;

pub fn idle_timeout() -> Duration {
    Duration::minutes(IDLE_TIMEOUT_MINUTES)
}

pub fn absolute_timeout() -> Duration {
    Duration::hours(ABSOLUTE_TIMEOUT_HOURS)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionCheck {
    Active,
    ExpiredIdle,
    ExpiredAbsolute,
}

/// Whether a session is still good at `now`.
pub fn check_session(
    last_seen: DateTime<Utc>,
    absolute_expires_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> SessionCheck {
    if now >= absolute_expires_at {
        SessionCheck::ExpiredAbsolute
    } else if now - last_seen >= idle_timeout() {
        SessionCheck::ExpiredIdle
    } else {
        SessionCheck::Active
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn identity(vector: &str, nhs: Option<&str>, birthdate: Option<&str>) -> VerifiedIdentity {
        VerifiedIdentity {
            given_name: None,
            family_name: None,
            subject: "s".into(),
            vector: vector.into(),
            proofing_level: Some("P9".into()),
            nhs_number: nhs.map(str::to_owned),
            // An adult unless a test says otherwise.
            birthdate: Some(birthdate.unwrap_or("1984-06-12").to_owned()),
        }
    }

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 22).unwrap()
    }

    #[test]
    fn a_p9_adult_with_a_valid_nhs_number_is_linked_to_their_record() {
        let decision = decide_sign_in(
            &identity("P9.Cp.Cd", Some("9990000018"), Some("1984-06-12")),
            &step_up_vectors(),
            today(),
        );
        assert_eq!(
            decision,
            SignInDecision::LinkRecord {
                level: IdentityLevel::P9,
                nhs_number: NhsNumber::parse("9990000018").unwrap()
            }
        );
    }

    #[test]
    fn a_vector_we_did_not_ask_for_is_refused() {
        let decision = decide_sign_in(
            &identity("P9.Cp.Cd", Some("9990000018"), None),
            &["P9.Cm".to_owned()],
            today(),
        );
        assert_eq!(
            decision,
            SignInDecision::Refuse(RefusalReason::VectorNotRequested)
        );
    }

    #[test]
    fn p5_and_p0_sign_in_without_records() {
        let requested = vec!["P5.Cp.Cd".to_owned(), "P0.Cp.Cd".to_owned()];
        assert_eq!(
            decide_sign_in(
                &identity("P5.Cp.Cd", Some("9990000018"), None),
                &requested,
                today()
            ),
            SignInDecision::WithoutRecords {
                level: IdentityLevel::P5
            }
        );
        assert_eq!(
            decide_sign_in(&identity("P0.Cp.Cd", None, None), &requested, today()),
            SignInDecision::WithoutRecords {
                level: IdentityLevel::P0
            }
        );
    }

    #[test]
    fn under_thirteens_are_refused_and_thirteen_today_is_allowed() {
        let refused = decide_sign_in(
            &identity("P9.Cp.Cd", Some("9990000018"), Some("2013-11-23")),
            &step_up_vectors(),
            today(),
        );
        assert_eq!(
            refused,
            SignInDecision::Refuse(RefusalReason::UnderMinimumAge)
        );
        let allowed = decide_sign_in(
            &identity("P9.Cp.Cd", Some("9990000018"), Some("2013-11-22")),
            &step_up_vectors(),
            today(),
        );
        assert!(matches!(allowed, SignInDecision::LinkRecord { .. }));
    }

    #[test]
    fn a_missing_or_unreadable_date_of_birth_refuses_rather_than_admits() {
        for birthdate in [None, Some("12/06/1984"), Some("1984-13-01"), Some("")] {
            let mut who = identity("P9.Cp.Cd", Some("9990000018"), None);
            who.birthdate = birthdate.map(str::to_owned);
            assert_eq!(
                decide_sign_in(&who, &step_up_vectors(), today()),
                SignInDecision::Refuse(RefusalReason::AgeUnknown),
                "{birthdate:?}"
            );
        }
    }

    #[test]
    fn a_p9_identity_with_a_bad_nhs_number_is_refused_not_guessed() {
        for nhs in [None, Some("9434765911"), Some("12345")] {
            let decision = decide_sign_in(
                &identity("P9.Cp.Cd", nhs, None),
                &step_up_vectors(),
                today(),
            );
            assert_eq!(
                decision,
                SignInDecision::Refuse(RefusalReason::InvalidNhsNumber)
            );
        }
    }

    #[test]
    fn sessions_end_after_30_idle_minutes_or_12_hours() {
        let start = Utc.with_ymd_and_hms(2026, 11, 22, 8, 0, 0).unwrap();
        let expires = start + absolute_timeout();
        assert_eq!(
            check_session(start, expires, start + Duration::minutes(29)),
            SessionCheck::Active
        );
        assert_eq!(
            check_session(start, expires, start + Duration::minutes(30)),
            SessionCheck::ExpiredIdle
        );
        let busy = expires - Duration::minutes(1);
        assert_eq!(
            check_session(busy, expires, expires - Duration::seconds(1)),
            SessionCheck::Active
        );
        assert_eq!(
            check_session(busy, expires, expires),
            SessionCheck::ExpiredAbsolute
        );
    }
}
