//! Property tests: over random records, random rule sets and random clocks, nothing of a
//! result that is not yet available reaches any page's data. Every result carries a
//! unique marker in its value, conclusion and report text; the projections of every
//! record page (results list, result history, letters, appointments) are serialised as
//! they would cross to the browser, and a withheld result's marker must not occur
//! anywhere in them. Available results' markers must occur, so the test can fail.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![cfg(feature = "ssr")]

use chrono::{DateTime, Duration, TimeZone, Utc};
use proptest::prelude::*;

use app::domain::OdsCode;
use app::records::view::ResultEntry;
use app::records::{Coding, ItemDetails, ObservedValue, RecordKind, ReleaseDirective};
use app::release::{
    Availability, ReleasePolicy, ReleaseRule, RuleSet, decide, decide_group, validate_rules,
};
use app::server::record_view::{facts_of, letter_entries, result_entries, result_history};
use app::server::storage::{OrganisationId, PatientId, RecordItem};

const SOURCES: [&str; 3] = ["RXX", "Y09001", "RYX99"];
const CATEGORIES: [&str; 7] = ["LAB", "laboratory", "RAD", "NMR", "SP", "GE", "imaging"];
const CODES: [&str; 4] = ["718-7", "7917-8", "399208008", "4548-4"];

fn base() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 1, 9, 0, 0).unwrap()
}

fn directive() -> impl Strategy<Value = ReleaseDirective> {
    prop_oneof![
        6 => Just(ReleaseDirective::None),
        1 => Just(ReleaseDirective::ReleaseNow),
        1 => Just(ReleaseDirective::Hold),
        1 => Just(ReleaseDirective::Retract),
    ]
}

fn policy() -> impl Strategy<Value = ReleasePolicy> {
    prop_oneof![
        Just(ReleasePolicy::Immediately),
        Just(ReleasePolicy::ClinicianRelease),
        (0u32..60).prop_map(|days| ReleasePolicy::AfterDays { days }),
    ]
}

fn rule() -> impl Strategy<Value = ReleaseRule> {
    (
        proptest::option::of(proptest::sample::select(&SOURCES[..])),
        proptest::option::of(proptest::sample::select(
            &["LAB", "RAD", "NMR", "SP", "GE", "IMG"][..],
        )),
        proptest::option::of(proptest::sample::select(&CODES[..])),
        proptest::option::of(any::<bool>()),
        policy(),
    )
        .prop_map(|(source, category, code, abnormal, policy)| ReleaseRule {
            name: String::new(),
            description: "in words".to_owned(),
            source: source.map(str::to_owned),
            category: category.map(str::to_owned),
            code: code.map(str::to_owned),
            abnormal,
            policy,
        })
}

/// A valid rule table: random rules, duplicates of keys dropped, names given.
fn rule_set() -> impl Strategy<Value = RuleSet> {
    proptest::collection::vec(rule(), 0..12).prop_map(|candidates| {
        let mut rules: Vec<ReleaseRule> = Vec::new();
        for (i, mut rule) in candidates.into_iter().enumerate() {
            rule.name = format!("rule-{i}");
            let mut trial = rules.clone();
            trial.push(rule.clone());
            if validate_rules(&trial).is_ok() {
                rules = trial;
            }
        }
        RuleSet { version: 1, rules }
    })
}

#[derive(Debug, Clone)]
struct ItemSpec {
    kind: RecordKind,
    source: usize,
    category: usize,
    code: usize,
    abnormal: Option<bool>,
    issued_offset_days: Option<i64>,
    directive: ReleaseDirective,
    /// For an observation: the index of an earlier report to belong to.
    parent: Option<usize>,
}

fn item_spec() -> impl Strategy<Value = ItemSpec> {
    (
        prop_oneof![
            3 => Just(RecordKind::DiagnosticReport),
            5 => Just(RecordKind::Observation),
            1 => Just(RecordKind::Document),
            1 => Just(RecordKind::Appointment),
        ],
        0..SOURCES.len(),
        0..CATEGORIES.len(),
        0..CODES.len(),
        proptest::option::of(any::<bool>()),
        proptest::option::of(-40i64..10),
        directive(),
        proptest::option::of(0usize..20),
    )
        .prop_map(
            |(kind, source, category, code, abnormal, issued_offset_days, directive, parent)| {
                ItemSpec {
                    kind,
                    source,
                    category,
                    code,
                    abnormal,
                    issued_offset_days,
                    directive,
                    parent,
                }
            },
        )
}

fn marker(i: usize) -> String {
    format!("SECRET-{i:04}-X")
}

fn build(specs: &[ItemSpec]) -> Vec<RecordItem> {
    let mut items: Vec<RecordItem> = Vec::new();
    for (i, spec) in specs.iter().enumerate() {
        let secret = marker(i);
        let issued = spec.issued_offset_days.map(|d| base() + Duration::days(d));
        let parent_public_id = match (spec.kind, spec.parent) {
            (RecordKind::Observation, Some(p)) => items
                .iter()
                .take(i)
                .filter(|it| it.kind == RecordKind::DiagnosticReport)
                .nth(p % 4)
                .map(|it| it.public_id.clone()),
            _ => None,
        };
        let code = Coding {
            system: Some("http://loinc.org".to_owned()),
            code: Some(CODES[spec.code].to_owned()),
            display: Some(format!("Test {}", spec.code)),
        };
        let details = match spec.kind {
            RecordKind::DiagnosticReport => ItemDetails::DiagnosticReport {
                status: "final".to_owned(),
                category: Some(CATEGORIES[spec.category].to_owned()),
                code: code.clone(),
                effective: None,
                issued: None,
                conclusion: Some(format!("conclusion {secret}")),
                text: Some(format!("report text {secret}")),
            },
            RecordKind::Observation => ItemDetails::Observation {
                status: "final".to_owned(),
                code: code.clone(),
                effective: None,
                value: Some(ObservedValue::Quantity {
                    value: format!("{}", 100 + i),
                    comparator: None,
                    unit: Some(secret.clone()),
                }),
                reference_range: None,
                interpretation: None,
                note: Some(format!("note {secret}")),
            },
            RecordKind::Document => ItemDetails::Document {
                status: "current".to_owned(),
                document_type: None,
                date: None,
                description: Some(format!("letter {secret}")),
                sections: Vec::new(),
                attachments: Vec::new(),
            },
            _ => ItemDetails::Appointment {
                status: "booked".to_owned(),
                start: None,
                end: None,
                description: Some(format!("appointment {secret}")),
                specialty: None,
                appointment_type: None,
                place: None,
                channel: None,
                instructions: None,
                cancellation_reason: None,
            },
        };
        let source = SOURCES[spec.source];
        items.push(RecordItem {
            public_id: format!("item-{i}"),
            patient_id: PatientId(1),
            kind: spec.kind,
            parent_public_id,
            source: OrganisationId(spec.source as i64 + 1),
            source_name: format!("Organisation {source}"),
            source_ods_code: OdsCode::parse(source).unwrap(),
            version: 1,
            status: "final".to_owned(),
            title: format!("Test {}", spec.code),
            occurred_at: issued.or(Some(base())),
            occurred_text: None,
            details,
            category: Some(CATEGORIES[spec.category].to_owned()),
            code_system: Some("http://loinc.org".to_owned()),
            code: Some(CODES[spec.code].to_owned()),
            abnormal: spec.abnormal,
            issued_at: issued,
            effective_at: None,
            release_directive: spec.directive,
            labels: Vec::new(),
            first_received_at: base(),
            last_received_at: base(),
        });
    }
    items
}

/// Everything the record pages would send to the browser, as one string.
fn everything_shown(items: &[RecordItem], rules: &RuleSet, now: DateTime<Utc>) -> String {
    let results = result_entries(items, rules, now);
    let histories: Vec<_> = CODES
        .iter()
        .filter_map(|code| result_history(&results, code))
        .collect();
    let letters = letter_entries(items, rules, now);
    serde_json::to_string(&(results, histories, letters)).unwrap()
}

/// An independent statement of the rule: a result is shown only when its own decision
/// and every one of its group's decisions (report and observations) say visible.
fn may_be_shown(
    item: &RecordItem,
    items: &[RecordItem],
    rules: &RuleSet,
    now: DateTime<Utc>,
) -> bool {
    let head = match (item.kind, &item.parent_public_id) {
        (RecordKind::Observation, Some(parent)) => {
            match items.iter().find(|i| &i.public_id == parent) {
                Some(report) => report,
                None => return false,
            }
        }
        _ => item,
    };
    let group: Vec<&RecordItem> = items
        .iter()
        .filter(|i| {
            i.public_id == head.public_id || i.parent_public_id.as_deref() == Some(&head.public_id)
        })
        .collect();
    let own = decide(&facts_of(item), rules, now).availability;
    own == Availability::Visible
        && group.iter().all(|member| {
            matches!(
                decide(&facts_of(member), rules, now).availability,
                Availability::Visible | Availability::Withdrawn
            ) && !(member.public_id == head.public_id
                && decide(&facts_of(member), rules, now).availability == Availability::Withdrawn)
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn no_content_of_a_result_that_is_not_available_is_ever_shown(
        specs in proptest::collection::vec(item_spec(), 1..24),
        rules in rule_set(),
        now_offset_hours in -24i64 * 60..24 * 90,
    ) {
        let items = build(&specs);
        let now = base() + Duration::hours(now_offset_hours);
        let shown = everything_shown(&items, &rules, now);
        for (i, item) in items.iter().enumerate() {
            let is_result = matches!(item.kind, RecordKind::DiagnosticReport | RecordKind::Observation);
            if !is_result {
                continue;
            }
            let visible = may_be_shown(item, &items, &rules, now);
            let appears = shown.contains(&marker(i));
            prop_assert_eq!(
                appears, visible,
                "item {} ({:?}, directive {:?}) appears={} but may be shown={}",
                i, item.kind, item.release_directive, appears, visible
            );
        }
    }

    #[test]
    fn release_happens_by_the_passage_of_time_and_is_never_undone(
        specs in proptest::collection::vec(item_spec(), 1..12),
        rules in rule_set(),
        start in -24i64 * 60..24 * 60,
        step in 0i64..24 * 60,
    ) {
        let items = build(&specs);
        let earlier = base() + Duration::hours(start);
        let later = earlier + Duration::hours(step);
        for item in &items {
            let before = decide(&facts_of(item), &rules, earlier).availability;
            let after = decide(&facts_of(item), &rules, later).availability;
            if before == Availability::Visible {
                prop_assert_eq!(after, Availability::Visible);
            }
            if let Availability::WithheldUntil { opens_at } = before {
                prop_assert!(opens_at > earlier, "a withheld result opens in the future");
                let at_opening = decide(&facts_of(item), &rules, opens_at).availability;
                prop_assert_eq!(at_opening, Availability::Visible);
                let just_before = decide(&facts_of(item), &rules, opens_at - Duration::seconds(1)).availability;
                prop_assert_eq!(just_before, before);
            }
        }
    }

    #[test]
    fn a_group_is_never_more_open_than_its_most_restricted_member(
        specs in proptest::collection::vec(item_spec(), 2..10),
        rules in rule_set(),
        now_offset_hours in -24i64 * 60..24 * 90,
    ) {
        let items = build(&specs);
        let now = base() + Duration::hours(now_offset_hours);
        let facts: Vec<_> = items.iter().map(facts_of).collect();
        let group = decide_group(&facts[0], &facts[1..], &rules, now);
        if group.availability == Availability::Visible {
            for member in &facts {
                let a = decide(member, &rules, now).availability;
                prop_assert!(matches!(a, Availability::Visible | Availability::Withdrawn));
            }
        }
    }
}

/// The withheld entry of a result carries nothing but its name, source and date: a
/// fixed example, so a change to what `Withheld` holds is seen at once.
#[test]
fn a_withheld_result_is_only_its_name_its_source_and_when_it_opens() {
    let specs = [ItemSpec {
        kind: RecordKind::DiagnosticReport,
        source: 0,
        category: 2, // RAD
        code: 2,
        abnormal: None,
        issued_offset_days: Some(0),
        directive: ReleaseDirective::None,
        parent: None,
    }];
    let rules = RuleSet {
        version: 1,
        rules: vec![ReleaseRule {
            name: "radiology".to_owned(),
            description: "28 days".to_owned(),
            source: None,
            category: Some("RAD".to_owned()),
            code: None,
            abnormal: None,
            policy: ReleasePolicy::AfterDays { days: 28 },
        }],
    };
    let items = build(&specs);
    let results = result_entries(&items, &rules, base() + Duration::days(27));
    let json = serde_json::to_value(&results).unwrap();
    assert_eq!(
        json,
        serde_json::json!([{
            "availability": "withheld",
            "public_id": "item-0",
            "title": "Test 2",
            "opens_at": "2026-11-29T09:00:00Z",
            "provenance": {
                "source_name": "Organisation RXX",
                "source_ods_code": "RXX",
                "received_at": "2026-11-01T09:00:00Z"
            }
        }])
    );
    let opened = result_entries(&items, &rules, base() + Duration::days(28));
    assert!(matches!(opened.as_slice(), [ResultEntry::Available { .. }]));
}
