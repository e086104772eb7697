//! A copy holds exactly what the access decision shows its reader, within its scope:
//! checked over random records, readers and clocks (nothing withheld, held, hidden or
//! out of scope ever reaches the FHIR bundle or the readable copy), and the readable
//! copy's PDF says what its HTML says.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use chrono::{DateTime, Duration, TimeZone, Utc};
use proptest::prelude::*;

use super::*;
use crate::access::{Basis, Reader, ReaderKind, decide_record};
use crate::choices::rules::PatientChoices;
use crate::domain::{AccountId, OdsCode, OrganisationId, PatientId};
use crate::proxy::rules::{AgeRules, Grant, GrantId, GrantState, ProxyBasisKind, Scope};
use crate::records::{Coding, ItemDetails, RecordItem, Relations, ReleaseDirective};
use crate::release::{ReleasePolicy, ReleaseRule, RuleSet};

const ME: PatientId = PatientId(1);
const CARER: AccountId = AccountId(7);

fn base() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 22, 9, 0, 0).unwrap()
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

/// A marker only this item's content carries, and its title.
fn secret(id: &str) -> String {
    format!("SECRET[{id}]")
}

fn title(id: &str) -> String {
    format!("TITLE[{id}]")
}

#[derive(Debug, Clone)]
struct Spec {
    kind: usize,
    category: usize,
    status: usize,
    label: usize,
    source: usize,
    issued_days_ago: i64,
    occurred_days_ago: i64,
    /// Report and result: this item is a member of the previous one.
    member_of_previous: bool,
}

fn spec() -> impl Strategy<Value = Spec> {
    (
        0usize..5,
        0usize..4,
        0usize..4,
        0usize..5,
        0usize..2,
        0i64..60,
        0i64..400,
        any::<bool>(),
    )
        .prop_map(
            |(kind, category, status, label, source, issued, occurred, member)| Spec {
                kind,
                category,
                status,
                label,
                source,
                issued_days_ago: issued,
                occurred_days_ago: occurred,
                member_of_previous: member,
            },
        )
}

fn items(specs: &[Spec], now: DateTime<Utc>) -> Vec<RecordItem> {
    let mut items: Vec<RecordItem> = Vec::new();
    for (n, spec) in specs.iter().enumerate() {
        let id = format!("i{n}");
        let kind = RecordKind::ALL[spec.kind];
        let (source, name, ods) = [
            (OrganisationId(1), "Riverside Lab", "RXX"),
            (OrganisationId(2), "Hillside Surgery", "A81001"),
        ][spec.source];
        let status = ["final", "preliminary", "entered-in-error", "amended"][spec.status];
        let mut item = RecordItem {
            public_id: id.clone(),
            patient_id: ME,
            kind,
            parent_public_id: None,
            source,
            source_name: name.to_owned(),
            source_ods_code: OdsCode::parse(ods).unwrap(),
            version: 1,
            status: status.to_owned(),
            entered_in_error: status == "entered-in-error",
            title: title(&id),
            occurred_at: Some(now - Duration::days(spec.occurred_days_ago)),
            occurred_text: None,
            details: ItemDetails::Observation {
                status: status.to_owned(),
                code: Coding::default(),
                effective: None,
                value: None,
                reference_range: None,
                interpretation: None,
                note: Some(secret(&id)),
            },
            category: [None, Some("LAB"), Some("RAD"), Some("SP")][spec.category]
                .map(str::to_owned),
            code_system: None,
            code: None,
            abnormal: None,
            issued_at: Some(now - Duration::days(spec.issued_days_ago)),
            effective_at: None,
            release_directive: ReleaseDirective::None,
            labels: [
                None,
                Some(crate::privacy::MENTAL_HEALTH),
                Some(crate::privacy::HIV),
                Some(crate::privacy::RESTRICTED),
                None,
            ][spec.label]
                .map(|l| vec![l.to_owned()])
                .unwrap_or_default(),
            relations: Relations {
                known_as: vec![format!("{kind:?}/{id}")],
                ..Relations::default()
            },
            first_received_at: now - Duration::days(spec.issued_days_ago),
            last_received_at: now - Duration::days(spec.issued_days_ago),
        };
        if spec.member_of_previous
            && let Some(previous) = items.last_mut()
        {
            previous.relations.members.push(format!("{kind:?}/{id}"));
            item.relations
                .belongs_to
                .push(format!("{:?}/{}", previous.kind, previous.public_id));
        }
        items.push(item);
    }
    items
}

/// The resource as a sender might send it: its own content (the secret), a contained
/// resource and a reference whose display names something else, neither of which the
/// access decision can weigh.
fn received(id: &str) -> serde_json::Value {
    serde_json::json!({
        "resourceType": "Observation",
        "id": id,
        "status": "final",
        "code": { "text": "test" },
        "note": [{ "text": secret(id) }],
        "contained": [{ "resourceType": "Observation", "id": "c", "status": "final",
            "code": { "text": format!("CONTAINED[{id}]") } }],
        "hasMember": [{ "reference": "Observation/other", "display": format!("DISPLAY[{id}]") }],
    })
}

/// What a copy holds of it.
fn resource(id: &str) -> serde_json::Value {
    serde_json::json!({
        "resourceType": "Observation",
        "id": id,
        "status": "final",
        "code": { "text": "test" },
        "note": [{ "text": secret(id) }],
        "hasMember": [{ "reference": "Observation/other" }],
    })
}

/// The copy a reader gets, built as the server builds it (less the storage read).
fn copy_for(
    record: &crate::access::DecidedRecord,
    scope: ExportScope,
    now: DateTime<Utc>,
) -> RecordExport {
    let items = selected(record, &scope)
        .into_iter()
        .map(|d| exported_item(d, received(&d.item.public_id), Vec::new()))
        .collect();
    RecordExport {
        id: "0b6f6bb8-2f6f-4c5e-9a4e-6b8c1f0d2a11".to_owned(),
        generated_at: now,
        patient: ExportPatient {
            nhs_number: "9000000009".to_owned(),
            given_name: Some("Amelia".to_owned()),
            family_name: Some("Jones".to_owned()),
            birth_date: Some("1990-01-01".to_owned()),
        },
        prepared_for: PreparedFor::ThePatient,
        scope,
        purpose: ExportPurpose::Download,
        items,
    }
}

proptest! {
    /// Whatever the record, the reader, the clock and the scope, the FHIR bundle and
    /// the readable copy hold an item's content and title exactly when the access
    /// decision shows it to that reader and it is within the copy's scope; nothing
    /// withheld, held, hidden, withheld after review or out of scope is ever in it.
    #[test]
    fn a_copy_holds_exactly_what_the_decision_shows_in_scope(
        specs in proptest::collection::vec(spec(), 1..14),
        proxy in any::<bool>(),
        letters in any::<bool>(), results in any::<bool>(), appointments in any::<bool>(),
        mental_health in any::<bool>(),
        objected in any::<bool>(),
        days_later in 0i64..45,
        from_days_ago in proptest::option::of(0i64..400),
        withhold in proptest::collection::vec(0usize..14, 0..3),
        sections in proptest::collection::vec(0usize..3, 1..4),
    ) {
        let now = base() + Duration::days(days_later);
        let items = items(&specs, base());
        let choices = PatientChoices {
            objections: if objected { vec![OrganisationId(2)] } else { Vec::new() },
            ..PatientChoices::none()
        };
        let (reader, basis) = if proxy {
            let scope = Scope {
                appointments, letters, results,
                labels: if mental_health { vec![crate::privacy::MENTAL_HEALTH.to_owned()] } else { Vec::new() },
            };
            (
                Reader { account: CARER, kind: ReaderKind::Patient, identity_level: Some("P9".to_owned()), own_record: None },
                Basis::Proxy {
                    grant: Box::new(Grant {
                        id: GrantId(1), public_id: "g".to_owned(), patient: ME, proxy: CARER,
                        basis: ProxyBasisKind::ParentalResponsibility, scope, state: GrantState::Active,
                        starts_at: base() - Duration::days(400), ends_at: None, last_used_at: None,
                        patient_birth_date: None,
                    }),
                    age_rules: AgeRules::default(),
                },
            )
        } else {
            (Reader::requester_of_answer(AccountId(1), Some(ME)), Basis::OwnRecord)
        };
        let record = decide_record(&reader, ME, &basis, &choices, items.clone(), &rules(), now);
        let mut chosen_sections: Vec<Section> = sections.iter().map(|s| Section::ALL[*s]).collect();
        chosen_sections.dedup();
        let withheld: Vec<String> = withhold.iter().map(|n| format!("i{n}")).collect();
        let scope = ExportScope {
            sections: chosen_sections.clone(),
            from: from_days_ago.map(|d| (base() - Duration::days(d)).date_naive()),
            to: None,
            withheld: withheld.clone(),
        };
        let from = scope.from;
        // Withholding an item withholds the relatives it was decided with.
        let withheld_groups: Vec<usize> = record
            .items()
            .iter()
            .filter(|d| withheld.contains(&d.item.public_id))
            .map(|d| d.group)
            .collect();
        let copy = copy_for(&record, scope, now);
        let bundle = fhir::bundle(&copy).to_string();
        let readable = readable::document(&copy).text();
        let html = readable::html(&readable::document(&copy));
        for item in &items {
            let id = &item.public_id;
            let shown = record.item(id).is_some_and(|d| d.is_shown());
            let in_scope = chosen_sections.contains(&Section::of(item.kind))
                && from.is_none_or(|f| crate::components::format::uk_local(item.occurred_at.unwrap()).date() >= f)
                && !record.item(id).is_some_and(|d| withheld_groups.contains(&d.group));
            let expected = shown && in_scope;
            prop_assert_eq!(bundle.contains(&secret(id)), expected, "bundle and {}", id);
            prop_assert_eq!(readable.contains(&title(id)), expected, "readable copy and {}", id);
            prop_assert_eq!(html.contains(&title(id)), expected, "HTML and {}", id);
            prop_assert!(!bundle.contains(&format!("CONTAINED[{id}]")), "contained content of {}", id);
            prop_assert!(!bundle.contains(&format!("DISPLAY[{id}]")), "a reference's display in {}", id);
            if expected {
                prop_assert!(readable.contains(&secret(id)));
            }
        }
        // Only the sources of what is in the copy are named.
        for (name, ods) in [("Riverside Lab", "RXX"), ("Hillside Surgery", "A81001")] {
            let any = copy.items.iter().any(|i| i.source_ods_code == ods);
            prop_assert_eq!(bundle.contains(name), any);
            prop_assert_eq!(readable.contains(&format!("{name} (ODS code {ods})")), any);
        }
    }
}

#[test]
fn the_bundle_is_an_r4_collection_with_patient_sources_and_provenance() {
    let now = base();
    let items = items(
        &[Spec {
            kind: 4,
            category: 1,
            status: 0,
            label: 0,
            source: 0,
            issued_days_ago: 2,
            occurred_days_ago: 2,
            member_of_previous: false,
        }],
        now,
    );
    let record = decide_record(
        &Reader::requester_of_answer(AccountId(1), Some(ME)),
        ME,
        &Basis::OwnRecord,
        &PatientChoices::none(),
        items,
        &rules(),
        now,
    );
    let copy = copy_for(&record, ExportScope::everything(), now);
    assert_eq!(copy.items.len(), 1, "{:?}", record.items());
    let bundle = fhir::bundle(&copy);
    assert_eq!(bundle["resourceType"], "Bundle");
    assert_eq!(bundle["type"], "collection");
    let entries = bundle["entry"].as_array().unwrap();
    let types: Vec<&str> = entries
        .iter()
        .map(|e| e["resource"]["resourceType"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        ["Patient", "Organization", "Observation", "Provenance"]
    );
    assert_eq!(entries[1]["resource"]["identifier"][0]["value"], "RXX");
    // The resource is exactly as received.
    assert_eq!(entries[2]["resource"], resource("i0"));
    // Each fullUrl is unique, and the provenance names the item and its source.
    let urls: std::collections::HashSet<&str> = entries
        .iter()
        .map(|e| e["fullUrl"].as_str().unwrap())
        .collect();
    assert_eq!(urls.len(), entries.len());
    assert_eq!(
        entries[3]["resource"]["target"][0]["reference"],
        entries[2]["fullUrl"]
    );
    assert_eq!(
        entries[3]["resource"]["agent"][0]["who"]["reference"],
        entries[1]["fullUrl"]
    );
}

#[test]
fn the_readable_copy_escapes_what_senders_wrote_and_loads_nothing() {
    let now = base();
    let mut items = items(
        &[Spec {
            kind: 4,
            category: 1,
            status: 0,
            label: 0,
            source: 0,
            issued_days_ago: 2,
            occurred_days_ago: 2,
            member_of_previous: false,
        }],
        now,
    );
    items[0].title = "<script>alert(1)</script><img src=\"//evil.example/p.gif\">".to_owned();
    let record = decide_record(
        &Reader::requester_of_answer(AccountId(1), Some(ME)),
        ME,
        &Basis::OwnRecord,
        &PatientChoices::none(),
        items,
        &rules(),
        now,
    );
    let html = readable::html(&readable::document(&copy_for(
        &record,
        ExportScope::everything(),
        now,
    )));
    assert!(!html.contains("<script"));
    assert!(!html.contains("<img"));
    assert!(html.contains("&lt;script&gt;"));
    assert!(html.contains("Riverside Lab (ODS code RXX)"));
    assert!(html.contains("controller of its own data"));
    assert_eq!(
        readable::narrative_text(
            "<div><p>Seen in clinic &amp; well.</p><ul><li>One</li><li>Two</li></ul></div>"
        ),
        "Seen in clinic & well.\nOne\nTwo"
    );
}

#[test]
fn the_pdf_says_what_the_readable_copy_says_over_several_pages() {
    let now = base();
    let specs: Vec<Spec> = (0..40)
        .map(|n| Spec {
            kind: 4,
            category: 1,
            status: 0,
            label: 0,
            source: n % 2,
            issued_days_ago: 2,
            occurred_days_ago: n as i64,
            member_of_previous: false,
        })
        .collect();
    let record = decide_record(
        &Reader::requester_of_answer(AccountId(1), Some(ME)),
        ME,
        &Basis::OwnRecord,
        &PatientChoices::none(),
        items(&specs, now),
        &rules(),
        now,
    );
    let copy = copy_for(&record, ExportScope::everything(), now);
    let bytes = pdf::pdf(&readable::document(&copy)).unwrap();
    assert!(bytes.starts_with(b"%PDF-"));
    let document = lopdf::Document::load_mem(&bytes).unwrap();
    let pages: Vec<u32> = document.get_pages().keys().copied().collect();
    assert!(pages.len() > 1, "40 items fill more than one page");
    let text = document.extract_text(&pages).unwrap();
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(flat.contains("A copy of your health record"));
    assert!(flat.contains("Amelia Jones"));
    assert!(flat.contains("9000000009"));
    for n in 0..40 {
        assert!(
            flat.contains(&title(&format!("i{n}"))),
            "item {n} in the PDF"
        );
    }
    assert!(flat.contains("Riverside Lab (ODS code RXX)"));
    assert!(flat.contains("Hillside Surgery (ODS code A81001)"));
    assert!(flat.contains("Information Commissioner"));
}

#[test]
fn a_copy_knows_which_attachments_a_resource_carries_inline() {
    use sha2::{Digest, Sha256};
    let resource = serde_json::json!({
        "resourceType": "DocumentReference",
        "content": [
            { "attachment": { "contentType": "application/pdf", "data": "JVBERi0xLjQK" } },
            { "attachment": { "contentType": "application/pdf", "url": "Binary/apart" } }
        ]
    });
    assert_eq!(
        inline_attachments(&resource),
        vec![hex::encode(Sha256::digest(b"%PDF-1.4\n"))]
    );
    // What the decision cannot weigh is left out; everything else is as received.
    let copied = resource_for_copy(serde_json::json!({
        "resourceType": "DiagnosticReport",
        "contained": [{ "resourceType": "Observation" }],
        "result": [{ "reference": "Observation/1", "display": "HIV antibody" }],
        "performer": [{ "display": "Dr A" }],
        "code": { "coding": [{ "code": "x", "display": "Full blood count" }] }
    }));
    assert_eq!(
        copied,
        serde_json::json!({
            "resourceType": "DiagnosticReport",
            "result": [{ "reference": "Observation/1" }],
            "performer": [{ "display": "Dr A" }],
            "code": { "coding": [{ "code": "x", "display": "Full blood count" }] }
        })
    );
}
