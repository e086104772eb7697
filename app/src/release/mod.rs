//! When a result becomes visible to the patient (domain rules, "Release delays").
//!
//! `decide` is a pure function of the item's facts, the rule set and the time: no
//! clock is read here and nothing is stored, so every read path (pages, server
//! functions, counts, the home summary) can ask the same question and get the same
//! answer. The clock starts at `issued`, else the effective time, else the moment the
//! portal received the item. The most specific matching rule wins; a sender's
//! "retract", "hold" and "release now" come before any rule. A result that no rule
//! covers is held for a clinician: a missing rule must never open a result early.
//!
//! Documents are results too when their type names a kind of report (a histopathology
//! PDF is held like the histopathology report it is); `category` recognises the kind
//! whichever code system the sender used. The whole access decision, which also weighs
//! privacy labels, status and the item's relatives, is `crate::access`.

pub mod category;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::records::{RecordKind, ReleaseDirective};

/// What a rule does with the results it matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "policy", rename_all = "snake_case")]
pub enum ReleasePolicy {
    /// Visible as soon as it arrives.
    Immediately,
    /// Visible this many whole days after the clock starts.
    AfterDays { days: u32 },
    /// Withheld until a clinician releases it (the sender then sends "release now").
    ClinicianRelease,
}

/// One row of the rule table. Every key left empty matches anything.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ReleaseRule {
    /// A short stable name, shown to staff as the rule that decided ("radiology-28-days").
    pub name: String,
    /// In plain words, for patients: why this kind of result waits.
    pub description: String,
    /// The sending organisation's ODS code.
    #[serde(default)]
    pub source: Option<String>,
    /// The report category as a HL7 v2 diagnostic service section code (LAB, RAD, CT,
    /// NMR, SP, PAT, GE…); FHIR observation categories are mapped onto these.
    #[serde(default)]
    pub category: Option<String>,
    /// The test code (LOINC, SNOMED CT or the lab's own), compared exactly.
    #[serde(default)]
    pub code: Option<String>,
    /// Only results flagged abnormal (`true`) or normal (`false`).
    #[serde(default)]
    pub abnormal: Option<bool>,
    #[serde(flatten)]
    pub policy: ReleasePolicy,
}

impl ReleaseRule {
    /// How specific the rule is: more keys first, then source, code, category and
    /// abnormal flag in that order of weight. The highest wins.
    fn specificity(&self) -> (u8, u8) {
        let keys = [
            self.source.is_some(),
            self.code.is_some(),
            self.category.is_some(),
            self.abnormal.is_some(),
        ];
        let count = keys.iter().filter(|k| **k).count() as u8;
        let weight = keys
            .iter()
            .fold(0u8, |acc, present| (acc << 1) | u8::from(*present));
        (count, weight)
    }

    fn matches(&self, facts: &ItemFacts<'_>) -> bool {
        self.source.as_deref().is_none_or(|s| s == facts.source_ods)
            && self
                .category
                .as_deref()
                .is_none_or(|c| facts.category.is_some_and(|item| category_is(item, c)))
            && self.code.as_deref().is_none_or(|c| facts.code == Some(c))
            && self.abnormal.is_none_or(|a| facts.abnormal == Some(a))
    }

    /// The keys as one comparable value, to refuse two rules for the same thing.
    fn keys(&self) -> (Option<&str>, Option<&str>, Option<&str>, Option<bool>) {
        (
            self.source.as_deref(),
            self.category.as_deref(),
            self.code.as_deref(),
            self.abnormal,
        )
    }
}

/// A version of the whole rule table. Changes make a new version; old ones are kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleSet {
    pub version: i64,
    pub rules: Vec<ReleaseRule>,
}

/// Why a rule set cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RuleSetError {
    #[error("rule {0:?} appears twice")]
    DuplicateName(String),
    #[error("rules {0:?} and {1:?} have the same keys, so neither would be the most specific")]
    SameKeys(String, String),
    #[error("rule {0:?} has an empty name or description")]
    Unnamed(String),
    #[error("rule {0:?} names category {1:?}, which is not a diagnostic service section code")]
    UnknownCategory(String, String),
}

/// Checks that a list of rules is a usable table: unique names, no two rules with the
/// same keys (ties would make "the most specific" ambiguous), known categories.
pub fn validate_rules(rules: &[ReleaseRule]) -> Result<(), RuleSetError> {
    for (i, rule) in rules.iter().enumerate() {
        if rule.name.trim().is_empty() || rule.description.trim().is_empty() {
            return Err(RuleSetError::Unnamed(rule.name.clone()));
        }
        if let Some(category) = &rule.category
            && !category::is_section(category)
        {
            return Err(RuleSetError::UnknownCategory(
                rule.name.clone(),
                category.clone(),
            ));
        }
        for other in &rules[..i] {
            if other.name == rule.name {
                return Err(RuleSetError::DuplicateName(rule.name.clone()));
            }
            if other.keys() == rule.keys() {
                return Err(RuleSetError::SameKeys(
                    other.name.clone(),
                    rule.name.clone(),
                ));
            }
        }
    }
    Ok(())
}

/// The HL7 v2 section codes for imaging, which share radiology's delay by default.
pub const IMAGING_SECTIONS: [&str; 10] = [
    "RAD", "CT", "NMR", "RUS", "CUS", "OUS", "VUS", "NMS", "IMG", "XRC",
];

/// A category as rules name it: v2 section codes upper-cased, FHIR observation
/// categories mapped onto the nearest section.
pub fn normalise_category(category: &str) -> String {
    match category.trim().to_ascii_lowercase().as_str() {
        "laboratory" => "LAB".to_owned(),
        "imaging" => "IMG".to_owned(),
        other => other.to_ascii_uppercase(),
    }
}

/// Whether `category` normalises to `section` (`normalise_category(category) ==
/// section`) without making the normalised copy: every item is matched against every
/// rule at every read, and the two allocations were 1% of a results page.
fn category_is(category: &str, section: &str) -> bool {
    let category = category.trim();
    if category.eq_ignore_ascii_case("laboratory") {
        section == "LAB"
    } else if category.eq_ignore_ascii_case("imaging") {
        section == "IMG"
    } else {
        category.len() == section.len()
            && category
                .bytes()
                .zip(section.bytes())
                .all(|(from_item, from_rule)| from_item.to_ascii_uppercase() == from_rule)
    }
}

/// What `decide` needs to know about an item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ItemFacts<'a> {
    pub kind: RecordKind,
    pub source_ods: &'a str,
    pub category: Option<&'a str>,
    pub code: Option<&'a str>,
    pub abnormal: Option<bool>,
    pub issued_at: Option<DateTime<Utc>>,
    pub effective_at: Option<DateTime<Utc>>,
    pub received_at: DateTime<Utc>,
    pub directive: ReleaseDirective,
}

impl ItemFacts<'_> {
    /// When the release clock starts: issued, else effective, else received.
    pub fn clock_start(&self) -> DateTime<Utc> {
        self.issued_at
            .or(self.effective_at)
            .unwrap_or(self.received_at)
    }

    /// Whether the release rules apply: reports and observations always, documents when
    /// their type names a kind of report (a pathology PDF is a pathology result).
    pub fn is_result(&self) -> bool {
        match self.kind {
            RecordKind::DiagnosticReport | RecordKind::Observation => true,
            RecordKind::Document => self.category.is_some(),
            RecordKind::Appointment | RecordKind::Encounter => false,
        }
    }
}

/// Whether the patient may see an item now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Availability {
    Visible,
    /// Exists, opens on this date.
    WithheldUntil {
        opens_at: DateTime<Utc>,
    },
    /// Exists, will be released by the clinical team.
    HeldForClinician,
    /// Withdrawn by the sender: not shown at all.
    Withdrawn,
}

impl Availability {
    pub fn is_visible(self) -> bool {
        self == Availability::Visible
    }
}

/// What decided an item's availability, so it can be explained.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "by", rename_all = "snake_case")]
pub enum DecidedBy {
    /// Not a result: appointments, encounters and letters that are not reports are shown
    /// as they arrive.
    NotAResult,
    /// The sender's instruction.
    Sender { directive: ReleaseDirective },
    /// A rule of the table (its name and plain-words description).
    Rule {
        name: String,
        description: String,
        rule_set_version: i64,
    },
    /// No rule matched, so the result waits for a clinician.
    NoRule,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReleaseDecision {
    pub availability: Availability,
    pub decided_by: DecidedBy,
}

/// Decides whether the patient may see an item at `now`.
pub fn decide(facts: &ItemFacts<'_>, rules: &RuleSet, now: DateTime<Utc>) -> ReleaseDecision {
    let sender = |availability| ReleaseDecision {
        availability,
        decided_by: DecidedBy::Sender {
            directive: facts.directive,
        },
    };
    // The sender's instruction works on every kind of item: a held letter waits like a
    // held result.
    match facts.directive {
        ReleaseDirective::Retract => return sender(Availability::Withdrawn),
        ReleaseDirective::Hold => return sender(Availability::HeldForClinician),
        ReleaseDirective::ReleaseNow => return sender(Availability::Visible),
        ReleaseDirective::None => {}
    }
    if !facts.is_result() {
        return ReleaseDecision {
            availability: Availability::Visible,
            decided_by: DecidedBy::NotAResult,
        };
    }
    let Some(rule) = rules
        .rules
        .iter()
        .filter(|rule| rule.matches(facts))
        // max_by_key keeps the last of equals; validation forbids equal keys anyway.
        .max_by_key(|rule| rule.specificity())
    else {
        return ReleaseDecision {
            availability: Availability::HeldForClinician,
            decided_by: DecidedBy::NoRule,
        };
    };
    let availability = match rule.policy {
        ReleasePolicy::Immediately => Availability::Visible,
        ReleasePolicy::ClinicianRelease => Availability::HeldForClinician,
        ReleasePolicy::AfterDays { days } => {
            let opens_at = facts.clock_start() + Duration::days(i64::from(days));
            if now >= opens_at {
                Availability::Visible
            } else {
                Availability::WithheldUntil { opens_at }
            }
        }
    };
    ReleaseDecision {
        availability,
        decided_by: DecidedBy::Rule {
            name: rule.name.clone(),
            description: rule.description.clone(),
            rule_set_version: rules.version,
        },
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;
    use chrono::TimeZone;
    use proptest::prelude::*;

    proptest! {
        /// Matching a category to a rule's section without the normalised copy agrees
        /// with normalising it, for any text a sender might put there.
        #[test]
        fn matching_a_category_agrees_with_normalising_it(
            category in prop_oneof![
                "[ a-zA-Z]{0,12}".boxed(),
                Just(" Laboratory ".to_owned()).boxed(),
                Just("IMAGING".to_owned()).boxed(),
                Just("lab".to_owned()).boxed(),
                ".{0,8}".boxed(),
            ],
            section in prop_oneof![
                Just("LAB".to_owned()).boxed(),
                Just("IMG".to_owned()).boxed(),
                Just("RAD".to_owned()).boxed(),
                "[A-Z]{1,3}".boxed(),
                ".{0,4}".boxed(),
            ],
        ) {
            prop_assert_eq!(category_is(&category, &section), normalise_category(&category) == section);
        }
    }

    fn at(y: i32, m: u32, d: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, 9, 0, 0).unwrap()
    }

    fn rule(name: &str, category: Option<&str>, policy: ReleasePolicy) -> ReleaseRule {
        ReleaseRule {
            name: name.to_owned(),
            description: format!("{name} in words"),
            source: None,
            category: category.map(str::to_owned),
            code: None,
            abnormal: None,
            policy,
        }
    }

    fn defaults() -> RuleSet {
        let mut rules = vec![
            rule("any-other-result", None, ReleasePolicy::Immediately),
            rule("lab", Some("LAB"), ReleasePolicy::Immediately),
            rule(
                "histopathology",
                Some("SP"),
                ReleasePolicy::ClinicianRelease,
            ),
        ];
        for section in IMAGING_SECTIONS {
            rules.push(rule(
                &format!("imaging-{section}"),
                Some(section),
                ReleasePolicy::AfterDays { days: 28 },
            ));
        }
        validate_rules(&rules).unwrap();
        RuleSet { version: 1, rules }
    }

    fn report(category: &str) -> ItemFacts<'static> {
        ItemFacts {
            kind: RecordKind::DiagnosticReport,
            source_ods: "RXX",
            category: Some(Box::leak(category.to_owned().into_boxed_str())),
            code: Some("399208008"),
            abnormal: None,
            issued_at: Some(at(2026, 11, 1)),
            effective_at: Some(at(2026, 10, 30)),
            received_at: at(2026, 11, 2),
            directive: ReleaseDirective::None,
        }
    }

    #[test]
    fn radiology_opens_28_days_after_issue_and_not_a_moment_before() {
        let facts = report("RAD");
        let opens = at(2026, 11, 29);
        let before = decide(&facts, &defaults(), opens - Duration::seconds(1));
        assert_eq!(
            before.availability,
            Availability::WithheldUntil { opens_at: opens }
        );
        assert!(
            matches!(before.decided_by, DecidedBy::Rule { ref name, .. } if name == "imaging-RAD")
        );
        assert_eq!(
            decide(&facts, &defaults(), opens).availability,
            Availability::Visible
        );
    }

    #[test]
    fn the_clock_starts_at_issued_else_effective_else_received() {
        let mut facts = report("NMR");
        assert_eq!(facts.clock_start(), at(2026, 11, 1));
        facts.issued_at = None;
        assert_eq!(facts.clock_start(), at(2026, 10, 30));
        facts.effective_at = None;
        assert_eq!(facts.clock_start(), at(2026, 11, 2));
    }

    #[test]
    fn histopathology_waits_for_a_clinician_and_lab_opens_at_once() {
        let now = at(2027, 6, 1);
        assert_eq!(
            decide(&report("SP"), &defaults(), now).availability,
            Availability::HeldForClinician
        );
        assert_eq!(
            decide(&report("LAB"), &defaults(), at(2026, 11, 1)).availability,
            Availability::Visible
        );
        // FHIR's observation category "laboratory" is the LAB section.
        assert_eq!(
            decide(&report("laboratory"), &defaults(), at(2026, 11, 1)).availability,
            Availability::Visible
        );
    }

    #[test]
    fn sender_directives_come_before_rules() {
        let now = at(2026, 11, 2);
        let mut facts = report("RAD");
        facts.directive = ReleaseDirective::ReleaseNow;
        assert_eq!(
            decide(&facts, &defaults(), now).availability,
            Availability::Visible
        );
        facts.directive = ReleaseDirective::Hold;
        let mut lab = report("LAB");
        lab.directive = ReleaseDirective::Hold;
        assert_eq!(
            decide(&lab, &defaults(), now).availability,
            Availability::HeldForClinician
        );
        facts.directive = ReleaseDirective::Retract;
        assert_eq!(
            decide(&facts, &defaults(), now).availability,
            Availability::Withdrawn
        );
    }

    #[test]
    fn the_most_specific_rule_wins() {
        let mut set = defaults();
        set.rules.push(ReleaseRule {
            code: Some("399208008".to_owned()),
            ..rule(
                "chest-xray-at-once",
                Some("RAD"),
                ReleasePolicy::Immediately,
            )
        });
        set.rules.push(ReleaseRule {
            source: Some("RXX".to_owned()),
            code: Some("399208008".to_owned()),
            ..rule(
                "rxx-chest-xray-7-days",
                Some("RAD"),
                ReleasePolicy::AfterDays { days: 7 },
            )
        });
        validate_rules(&set.rules).unwrap();
        let decision = decide(&report("RAD"), &set, at(2026, 11, 2));
        assert_eq!(
            decision.availability,
            Availability::WithheldUntil {
                opens_at: at(2026, 11, 8)
            }
        );
        assert!(
            matches!(decision.decided_by, DecidedBy::Rule { ref name, .. } if name == "rxx-chest-xray-7-days")
        );
        let mut other_sender = report("RAD");
        other_sender.source_ods = "RYX99";
        let decision = decide(&other_sender, &set, at(2026, 11, 2));
        assert!(
            matches!(decision.decided_by, DecidedBy::Rule { ref name, .. } if name == "chest-xray-at-once")
        );
    }

    #[test]
    fn abnormal_flag_rules_match_only_flagged_results() {
        let mut set = defaults();
        set.rules.push(ReleaseRule {
            abnormal: Some(true),
            ..rule(
                "abnormal-lab-7-days",
                Some("LAB"),
                ReleasePolicy::AfterDays { days: 7 },
            )
        });
        let mut facts = report("LAB");
        facts.kind = RecordKind::Observation;
        assert!(
            decide(&facts, &set, at(2026, 11, 2))
                .availability
                .is_visible()
        );
        facts.abnormal = Some(true);
        assert!(
            !decide(&facts, &set, at(2026, 11, 2))
                .availability
                .is_visible()
        );
    }

    #[test]
    fn a_result_no_rule_covers_waits_for_a_clinician() {
        let set = RuleSet {
            version: 3,
            rules: vec![rule("lab", Some("LAB"), ReleasePolicy::Immediately)],
        };
        let decision = decide(&report("GE"), &set, at(2030, 1, 1));
        assert_eq!(decision.availability, Availability::HeldForClinician);
        assert_eq!(decision.decided_by, DecidedBy::NoRule);
    }

    #[test]
    fn appointments_and_letters_are_not_results() {
        let mut facts = report("RAD");
        facts.kind = RecordKind::Document;
        facts.category = None;
        let decision = decide(&facts, &defaults(), at(2026, 11, 2));
        assert_eq!(decision.availability, Availability::Visible);
        facts.directive = ReleaseDirective::Retract;
        assert_eq!(
            decide(&facts, &defaults(), at(2026, 11, 2)).availability,
            Availability::Withdrawn
        );
    }

    #[test]
    fn tables_with_ambiguous_or_unknown_rules_are_refused() {
        let twice = vec![
            rule("a", Some("LAB"), ReleasePolicy::Immediately),
            rule("b", Some("LAB"), ReleasePolicy::ClinicianRelease),
        ];
        assert!(matches!(
            validate_rules(&twice),
            Err(RuleSetError::SameKeys(..))
        ));
        let lower = vec![rule("a", Some("lab"), ReleasePolicy::Immediately)];
        assert!(matches!(
            validate_rules(&lower),
            Err(RuleSetError::UnknownCategory(..))
        ));
    }
}
