//! Property tests of the one access decision: over random records (reports, results,
//! documents and appointments, linked to their relatives in every way FHIR allows and
//! delivered in any order), random privacy labels, statuses, rule sets and clocks,
//! nothing of an item that may not be shown reaches any page's data, and nothing at all
//! of a hidden item (not its title, not its source).
//!
//! Every item carries a unique content marker (value, conclusion, report text, letter
//! text) and a unique title marker. The projections of every record page (results list,
//! result history, letters, appointments, sources) are serialised as they would cross to
//! the browser. The expected outcome of each item is worked out here independently, from
//! how the record was generated, and compared both ways: content appears exactly when
//! the item may be shown, so the test can fail.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![cfg(feature = "ssr")]

use std::collections::HashMap;

use chrono::{DateTime, Duration, TimeZone, Utc};
use proptest::prelude::*;

use app::access::{Basis, Reader, ReaderKind, decide_record, release_facts};
use app::choices::rules::PatientChoices;
use app::domain::{AccountId, OdsCode, Organisation, OrganisationId, PatientId};
use app::records::view::ResultEntry;
use app::records::{
    Coding, ItemDetails, ObservedValue, OrganisationKind, RecordKind, Relations, ReleaseDirective,
};
use app::release::{Availability, ReleasePolicy, ReleaseRule, RuleSet, decide, validate_rules};
use app::server::record_view::{
    appointment_entries, letter_entries, result_entries, result_history, sources_of,
};
use app::server::storage::RecordItem;

const SOURCES: [&str; 3] = ["RXX", "Y09001", "RYX99"];
const CATEGORIES: [Option<&str>; 7] = [
    Some("LAB"),
    Some("RAD"),
    Some("NMR"),
    Some("SP"),
    Some("GE"),
    Some("IMG"),
    None,
];
const CODES: [&str; 4] = ["718-7", "7917-8", "399208008", "4548-4"];
const STATUSES: [&str; 6] = [
    "final",
    "amended",
    "preliminary",
    "partial",
    "cancelled",
    "entered-in-error",
];
const LABELS: [Option<&str>; 4] = [None, Some("hiv"), Some("sexual-health"), Some("PSY")];
const PATIENT: PatientId = PatientId(1);

fn base() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 1, 9, 0, 0).unwrap()
}

fn patient() -> Reader {
    Reader {
        account: AccountId(7),
        kind: ReaderKind::Patient,
        identity_level: Some("P9".to_owned()),
        own_record: Some(PATIENT),
    }
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

/// How a result or document names the report it belongs to: every shape a sender may
/// use, as it ends up stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Link {
    /// Both came in one delivery: storage linked them.
    StoredParent,
    /// The report's `result` names the observation (a batch, or separate updates).
    ReportNamesResult,
    /// Both name the same order (`basedOn`).
    SameOrder,
    /// The item names the report it is part of.
    NamesReport,
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
    status: usize,
    label: usize,
    /// An earlier report to belong to (results and documents), and how it is named.
    parent: Option<(usize, Link)>,
    /// A result that names an order no report of this record has.
    names_missing_order: bool,
}

fn item_spec() -> impl Strategy<Value = ItemSpec> {
    (
        (
            prop_oneof![
                3 => Just(RecordKind::DiagnosticReport),
                5 => Just(RecordKind::Observation),
                2 => Just(RecordKind::Document),
                1 => Just(RecordKind::Appointment),
            ],
            0..SOURCES.len(),
            0..CATEGORIES.len(),
            0..CODES.len(),
            proptest::option::of(any::<bool>()),
            proptest::option::of(-40i64..10),
        ),
        (
            directive(),
            prop_oneof![8 => Just(0usize), 1 => Just(1), 1 => Just(2), 1 => Just(3), 1 => Just(4), 1 => Just(5)],
            prop_oneof![8 => Just(0usize), 1 => Just(1), 1 => Just(2), 1 => Just(3)],
            proptest::option::of((
                0usize..20,
                prop_oneof![
                    Just(Link::StoredParent),
                    Just(Link::ReportNamesResult),
                    Just(Link::SameOrder),
                    Just(Link::NamesReport),
                ],
            )),
            proptest::bool::weighted(0.1),
        ),
    )
        .prop_map(
            |(
                (kind, source, category, code, abnormal, issued_offset_days),
                (directive, status, label, parent, names_missing_order),
            )| ItemSpec {
                kind,
                source,
                category,
                code,
                abnormal,
                issued_offset_days,
                directive,
                status,
                label,
                parent,
                names_missing_order,
            },
        )
}

fn content_marker(i: usize) -> String {
    format!("SECRET-{i:04}-X")
}

fn title_marker(i: usize) -> String {
    format!("TITLE-{i:04}-Y")
}

/// The record the specs describe, with each result or document's report (by index)
/// where it has one, resolved the way the generator meant it.
fn build(specs: &[ItemSpec]) -> (Vec<RecordItem>, Vec<Option<usize>>) {
    let mut items: Vec<RecordItem> = Vec::new();
    let mut report_of: Vec<Option<usize>> = Vec::new();
    for (i, spec) in specs.iter().enumerate() {
        let secret = content_marker(i);
        let issued = spec.issued_offset_days.map(|d| base() + Duration::days(d));
        // The report it belongs to: the n-th earlier report of the same sender.
        let parent = match (spec.kind, spec.parent) {
            (RecordKind::Observation | RecordKind::Document, Some((n, link))) => {
                let reports: Vec<usize> = (0..i)
                    .filter(|&j| {
                        specs[j].kind == RecordKind::DiagnosticReport
                            && specs[j].source == spec.source
                    })
                    .collect();
                (!reports.is_empty()).then(|| (reports[n % reports.len()], link))
            }
            _ => None,
        };
        // A document can only name its report itself (context.related).
        let parent = parent.map(|(report, link)| match spec.kind {
            RecordKind::Document => (report, Link::NamesReport),
            _ => (report, link),
        });
        report_of.push(parent.map(|(report, _)| report));
        let mut relations = Relations {
            known_as: vec![format!("{:?}/item-{i}", spec.kind)],
            ..Relations::default()
        };
        if spec.kind == RecordKind::DiagnosticReport {
            relations
                .belongs_to
                .push(format!("ServiceRequest/order-{i}"));
        }
        let mut parent_public_id = None;
        match parent {
            Some((report, Link::StoredParent)) => parent_public_id = Some(format!("item-{report}")),
            Some((report, Link::ReportNamesResult)) => items[report]
                .relations
                .members
                .push(relations.known_as[0].clone()),
            Some((report, Link::SameOrder)) => relations
                .belongs_to
                .push(format!("ServiceRequest/order-{report}")),
            Some((report, Link::NamesReport)) => relations
                .belongs_to
                .push(items[report].relations.known_as[0].clone()),
            None => {}
        }
        if spec.kind == RecordKind::Observation && spec.names_missing_order {
            relations
                .belongs_to
                .push(format!("ServiceRequest/missing-{i}"));
        }
        let code = Coding {
            system: Some("http://loinc.org".to_owned()),
            code: Some(CODES[spec.code].to_owned()),
            display: Some(title_marker(i)),
        };
        let status = STATUSES[spec.status].to_owned();
        let details = match spec.kind {
            RecordKind::DiagnosticReport => ItemDetails::DiagnosticReport {
                status: status.clone(),
                category: CATEGORIES[spec.category].map(str::to_owned),
                code: code.clone(),
                effective: None,
                issued: None,
                conclusion: Some(format!("conclusion {secret}")),
                text: Some(format!("report text {secret}")),
            },
            RecordKind::Observation => ItemDetails::Observation {
                status: status.clone(),
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
                status: status.clone(),
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
            patient_id: PATIENT,
            kind: spec.kind,
            parent_public_id,
            source: OrganisationId(spec.source as i64 + 1),
            source_name: format!("Organisation {source}"),
            source_ods_code: OdsCode::parse(source).unwrap(),
            version: 1,
            status: if spec.kind == RecordKind::Appointment {
                "booked".to_owned()
            } else {
                status.clone()
            },
            entered_in_error: spec.kind != RecordKind::Appointment && status == "entered-in-error",
            title: title_marker(i),
            occurred_at: issued.or(Some(base())),
            occurred_text: None,
            details,
            category: CATEGORIES[spec.category].map(str::to_owned),
            code_system: Some("http://loinc.org".to_owned()),
            code: Some(CODES[spec.code].to_owned()),
            abnormal: spec.abnormal,
            issued_at: issued,
            effective_at: None,
            release_directive: spec.directive,
            labels: LABELS[spec.label]
                .map(|l| vec![l.to_owned()])
                .unwrap_or_default(),
            relations,
            first_received_at: base(),
            last_received_at: base(),
        });
    }
    (items, report_of)
}

fn organisations() -> Vec<Organisation> {
    SOURCES
        .iter()
        .enumerate()
        .map(|(n, ods)| Organisation {
            id: OrganisationId(n as i64 + 1),
            ods_code: OdsCode::parse(ods).unwrap(),
            name: format!("Organisation {ods}"),
            kind: OrganisationKind::HospitalTrust,
            has_credential: true,
            credential_issued_at: None,
            last_received_at: Some(base()),
        })
        .collect()
}

/// Everything the record pages would send to the browser, as one string.
fn everything_shown(items: Vec<RecordItem>, rules: &RuleSet, now: DateTime<Utc>) -> String {
    let record = decide_record(
        &patient(),
        PATIENT,
        &Basis::OwnRecord,
        &PatientChoices::none(),
        items,
        rules,
        now,
    );
    let results = result_entries(&record);
    let histories: Vec<_> = CODES
        .iter()
        .filter_map(|code| result_history(&results, code))
        .collect();
    let letters = letter_entries(&record);
    let appointments = appointment_entries(&record, now);
    let sources = sources_of(&record, &organisations());
    serde_json::to_string(&(results, histories, letters, appointments, sources)).unwrap()
}

/// What the reader may see of an item, restated from the domain rules independently of
/// the implementation: 0 shown, 1 withheld, 2 held, 3 hidden (the order of restriction).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Expected {
    Shown,
    Withheld(DateTime<Utc>),
    Held,
    Hidden,
}

/// The item's own outcome, and whether it binds its group.
fn own_expectation(
    item: &RecordItem,
    awaiting: bool,
    rules: &RuleSet,
    now: DateTime<Utc>,
) -> (Expected, bool) {
    let is_report = item.kind == RecordKind::DiagnosticReport;
    if item
        .labels
        .iter()
        .any(|l| l == "hiv" || l == "sexual-health")
    {
        return (Expected::Hidden, true);
    }
    let results_rules_apply = item.kind != RecordKind::Appointment;
    if results_rules_apply && (item.entered_in_error || item.status == "cancelled") {
        return (Expected::Hidden, is_report);
    }
    let release = decide(&release_facts(item), rules, now).availability;
    if release == Availability::Withdrawn {
        return (Expected::Hidden, is_report);
    }
    if results_rules_apply && !matches!(item.status.as_str(), "final" | "amended") {
        return (Expected::Held, true);
    }
    if awaiting {
        return (Expected::Held, true);
    }
    let expected = match release {
        Availability::Visible => Expected::Shown,
        Availability::WithheldUntil { opens_at } => Expected::Withheld(opens_at),
        _ => Expected::Held,
    };
    (expected, true)
}

/// Every item's expected outcome: its own, or its group's strictest binding one.
fn expectations(
    items: &[RecordItem],
    specs: &[ItemSpec],
    report_of: &[Option<usize>],
    rules: &RuleSet,
    now: DateTime<Utc>,
) -> Vec<Expected> {
    // Groups as generated: an item and the report it was linked to.
    let group_of: Vec<usize> = (0..items.len())
        .map(|i| report_of[i].unwrap_or(i))
        .collect();
    let has_report: HashMap<usize, bool> = group_of
        .iter()
        .map(|&g| (g, items[g].kind == RecordKind::DiagnosticReport))
        .collect();
    let own: Vec<(Expected, bool)> = items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let awaiting = item.kind == RecordKind::Observation
                && specs[i].names_missing_order
                && !has_report[&group_of[i]];
            own_expectation(item, awaiting, rules, now)
        })
        .collect();
    let mut strictest: HashMap<usize, Expected> = HashMap::new();
    for (i, (expected, binds)) in own.iter().enumerate() {
        if *binds && items[i].kind != RecordKind::Appointment {
            let slot = strictest.entry(group_of[i]).or_insert(Expected::Shown);
            *slot = (*slot).max(*expected);
        }
    }
    own.iter()
        .enumerate()
        .map(|(i, (expected, _))| match expected {
            Expected::Hidden => Expected::Hidden,
            _ if items[i].kind == RecordKind::Appointment => *expected,
            _ => (*expected).max(
                strictest
                    .get(&group_of[i])
                    .copied()
                    .unwrap_or(Expected::Shown),
            ),
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn nothing_of_an_item_that_may_not_be_shown_reaches_a_page_and_nothing_at_all_of_a_hidden_one(
        specs in proptest::collection::vec(item_spec(), 1..24),
        rules in rule_set(),
        now_offset_hours in -24i64 * 60..24 * 90,
        delivery_order in any::<u64>(),
    ) {
        let (items, report_of) = build(&specs);
        let now = base() + Duration::hours(now_offset_hours);
        let expected = expectations(&items, &specs, &report_of, &rules, now);
        // Storage may hand items over in any order (deliveries arrive in any order).
        let mut shuffled = items.clone();
        let mut state = delivery_order;
        for i in (1..shuffled.len()).rev() {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            shuffled.swap(i, (state >> 33) as usize % (i + 1));
        }
        let shown = everything_shown(shuffled, &rules, now);
        for (i, item) in items.iter().enumerate() {
            let appears = shown.contains(&content_marker(i));
            prop_assert_eq!(
                appears, expected[i] == Expected::Shown,
                "item {} ({:?}, status {}, labels {:?}, directive {:?}) content appears={} but expected {:?}",
                i, item.kind, item.status, item.labels, item.release_directive, appears, expected[i]
            );
            if expected[i] == Expected::Hidden {
                prop_assert!(
                    !shown.contains(&title_marker(i)),
                    "item {} is hidden but its title appears", i
                );
            }
        }
        // A source whose every item is hidden is never named.
        for (n, ods) in SOURCES.iter().enumerate() {
            let all_hidden = items
                .iter()
                .enumerate()
                .filter(|(_, item)| item.source == OrganisationId(n as i64 + 1))
                .all(|(i, _)| expected[i] == Expected::Hidden);
            if all_hidden {
                let name = format!("Organisation {ods}");
                prop_assert!(!shown.contains(&name), "{} is named", name);
            }
        }
    }

    #[test]
    fn release_happens_by_the_passage_of_time_and_is_never_undone(
        specs in proptest::collection::vec(item_spec(), 1..12),
        rules in rule_set(),
        start in -24i64 * 60..24 * 60,
        step in 0i64..24 * 60,
    ) {
        let (items, _) = build(&specs);
        let earlier = base() + Duration::hours(start);
        let later = earlier + Duration::hours(step);
        for item in &items {
            let before = decide(&release_facts(item), &rules, earlier).availability;
            let after = decide(&release_facts(item), &rules, later).availability;
            if before == Availability::Visible {
                prop_assert_eq!(after, Availability::Visible);
            }
            if let Availability::WithheldUntil { opens_at } = before {
                prop_assert!(opens_at > earlier, "a withheld result opens in the future");
                let at_opening = decide(&release_facts(item), &rules, opens_at).availability;
                prop_assert_eq!(at_opening, Availability::Visible);
                let just_before = decide(&release_facts(item), &rules, opens_at - Duration::seconds(1)).availability;
                prop_assert_eq!(just_before, before);
            }
        }
    }
}

fn radiology_28_days() -> RuleSet {
    RuleSet {
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
    }
}

fn one(kind: RecordKind, category: usize) -> ItemSpec {
    ItemSpec {
        kind,
        source: 0,
        category,
        code: 2,
        abnormal: None,
        issued_offset_days: Some(0),
        directive: ReleaseDirective::None,
        status: 0,
        label: 0,
        parent: None,
        names_missing_order: false,
    }
}

/// The withheld entry of a result carries nothing but its name, source and date: a
/// fixed example, so a change to what `Withheld` holds is seen at once.
#[test]
fn a_withheld_result_is_only_its_name_its_source_and_when_it_opens() {
    let (items, _) = build(&[one(RecordKind::DiagnosticReport, 1)]);
    let rules = radiology_28_days();
    let decided = |at| {
        decide_record(
            &patient(),
            PATIENT,
            &Basis::OwnRecord,
            &PatientChoices::none(),
            items.clone(),
            &rules,
            at,
        )
    };
    let results = result_entries(&decided(base() + Duration::days(27)));
    let json = serde_json::to_value(&results).unwrap();
    assert_eq!(
        json,
        serde_json::json!([{
            "availability": "withheld",
            "public_id": "item-0",
            "title": "TITLE-0000-Y",
            "opens_at": "2026-11-29T09:00:00Z",
            "provenance": {
                "source_name": "Organisation RXX",
                "source_ods_code": "RXX",
                "received_at": "2026-11-01T09:00:00Z"
            }
        }])
    );
    let opened = result_entries(&decided(base() + Duration::days(28)));
    assert!(matches!(opened.as_slice(), [ResultEntry::Available { .. }]));
}

/// A radiology report sent as a document (a PDF of a scan report) waits exactly like the
/// report, and its text and attachments are not in the letter entry.
#[test]
fn a_radiology_document_is_withheld_like_the_report_it_is() {
    let (items, _) = build(&[one(RecordKind::Document, 1)]);
    let record = decide_record(
        &patient(),
        PATIENT,
        &Basis::OwnRecord,
        &PatientChoices::none(),
        items,
        &radiology_28_days(),
        base() + Duration::days(1),
    );
    let letters = letter_entries(&record);
    assert_eq!(letters.len(), 1);
    assert!(letters[0].details().is_none());
    assert!(
        !serde_json::to_string(&letters)
            .unwrap()
            .contains(&content_marker(0))
    );
}

/// Another patient's reader, or an unverified one, gets nothing at all.
#[test]
fn a_reader_without_a_basis_gets_an_empty_record() {
    let (items, _) = build(&[one(RecordKind::Appointment, 6)]);
    let rules = radiology_28_days();
    let mut someone_else = patient();
    someone_else.own_record = Some(PatientId(2));
    let mut unverified = patient();
    unverified.identity_level = Some("P5".to_owned());
    for reader in [someone_else, unverified] {
        let record = decide_record(
            &reader,
            PATIENT,
            &Basis::OwnRecord,
            &PatientChoices::none(),
            items.clone(),
            &rules,
            base(),
        );
        assert!(record.items().is_empty(), "{reader:?}");
    }
}
