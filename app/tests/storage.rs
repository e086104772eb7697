//! The storage story: every method of the `Storage` trait, run against SQLite always and
//! against PostgreSQL (each test makes and drops its own database there). The PostgreSQL
//! stories are marked ignored, so a run without a database reports them as skipped rather
//! than passed; `.ci/test` runs them with `--include-ignored` when `TEST_DATABASE_URL` is
//! set, and then a missing database fails them instead of skipping.
// Test helpers may panic: in a test, a panic is a clear failure.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![cfg(feature = "ssr")]

use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};

use app::audit::{ActorKind, AuditOutcome, action};
use app::domain::{NhsNumber, OdsCode};
use app::records::{
    ItemDetails, ObservedValue, OrganisationKind, RecordKind, Relations, ReleaseDirective,
};
use app::release::{ReleasePolicy, ReleaseRule};
use app::server::storage::*;

// --- Harness ---------------------------------------------------------------------

/// A database made for one test, removed when the test is done.
struct TestDb {
    storage: Arc<dyn Storage>,
    url: String,
    _dir: Option<tempfile::TempDir>,
    postgres: Option<(String, String)>,
}

impl TestDb {
    async fn sqlite() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/portal.db", dir.path().display());
        let storage = connect(&url).await.unwrap();
        Self {
            storage,
            url,
            _dir: Some(dir),
            postgres: None,
        }
    }

    /// `None` when no PostgreSQL is configured for tests.
    async fn postgres() -> Option<Self> {
        let admin_url = std::env::var("TEST_DATABASE_URL").ok()?;
        let name = format!("portal_test_{}", uuid::Uuid::new_v4().simple());
        let mut admin = <sqlx::PgConnection as sqlx::Connection>::connect(&admin_url)
            .await
            .unwrap();
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut admin)
            .await
            .unwrap();
        let url = database_url_with_name(&admin_url, &name);
        let storage = connect(&url).await.unwrap();
        Some(Self {
            storage,
            url,
            _dir: None,
            postgres: Some((admin_url, name)),
        })
    }

    async fn drop_database(self) {
        let TestDb {
            storage, postgres, ..
        } = self;
        drop(storage);
        if let Some((admin_url, name)) = postgres {
            let mut admin = <sqlx::PgConnection as sqlx::Connection>::connect(&admin_url)
                .await
                .unwrap();
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
            )))
            .execute(&mut admin)
            .await
            .unwrap();
        }
    }
}

/// The same server URL with another database name.
fn database_url_with_name(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, format!("?{query}")),
        None => (url, String::new()),
    };
    let server = base
        .rsplit_once('/')
        .map(|(server, _)| server)
        .unwrap_or(base);
    format!("{server}/{name}{query}")
}

/// A patient's items as a record page reads them (every item, including those the
/// access decision will hide).
async fn read_items(
    s: &dyn Storage,
    query: RecordQuery,
    audit: NewAuditEvent,
) -> Result<Vec<RecordItem>, StorageError> {
    Ok(s.read_record(query, audit).await?.items)
}

/// Runs one story on SQLite, and on PostgreSQL when it is configured.
macro_rules! on_both_backends {
    ($($story:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $story() {
                    let db = super::TestDb::sqlite().await;
                    super::$story(&db).await;
                    db.drop_database().await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                #[ignore = "needs PostgreSQL: set TEST_DATABASE_URL and run with --include-ignored"]
                async fn $story() {
                    let Some(db) = super::TestDb::postgres().await else {
                        panic!("TEST_DATABASE_URL is not set: this PostgreSQL story cannot run");
                    };
                    super::$story(&db).await;
                    db.drop_database().await;
                }
            )*
        }
    };
}

on_both_backends!(
    reports_its_backend_and_answers_pings,
    organisations_are_created_found_rotated_and_revoked,
    a_second_organisation_with_the_same_ods_code_is_refused,
    a_delivery_creates_then_versions_then_leaves_identical_items_alone,
    a_failed_delivery_leaves_nothing_behind,
    deliveries_arriving_together_are_each_applied_or_refused_on_their_own,
    results_find_their_report_and_a_resource_sent_twice_in_one_delivery_is_versioned,
    patients_are_created_from_deliveries_and_found_by_nhs_number,
    a_patient_sees_only_their_own_visible_items_and_every_read_is_audited,
    record_queries_filter_by_kind_source_and_date,
    a_page_read_brings_the_items_the_rules_in_force_and_every_source_with_one_audit_row,
    item_versions_are_kept_raw_and_only_for_their_sender,
    relations_and_the_entered_in_error_mark_are_kept_and_read_back,
    a_changed_code_list_relabels_what_is_stored_once_and_audited,
    sign_in_creates_an_account_once_and_keeps_its_role,
    sessions_are_created_found_touched_and_ended,
    expired_and_idle_sessions_are_removed,
    the_audit_trail_cannot_be_changed_or_deleted,
    a_login_attempt_can_be_taken_once_and_not_after_it_expires,
    resources_without_an_identifiable_patient_are_held_exactly_as_received,
    attachments_are_stored_once_by_content_address,
    release_rules_are_versioned_and_every_change_is_audited,
);

// --- Fixtures --------------------------------------------------------------------

fn release_rule(name: &str, category: Option<&str>, policy: ReleasePolicy) -> ReleaseRule {
    ReleaseRule {
        name: name.to_owned(),
        description: format!("{name}, in plain words"),
        source: None,
        category: category.map(str::to_owned),
        code: None,
        abnormal: None,
        policy,
    }
}

fn at(day: u32, hour: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, day, hour, 0, 0).unwrap()
}

fn nhs(n: &str) -> NhsNumber {
    NhsNumber::parse(n).unwrap()
}

const PATIENT_A: &str = "9990000018";
const PATIENT_B: &str = "9990001383";

async fn organisation(s: &dyn Storage, ods: &str, hash: &str) -> Organisation {
    s.create_organisation(NewOrganisation {
        ods_code: OdsCode::parse(ods).unwrap(),
        name: format!("Organisation {ods}"),
        kind: OrganisationKind::HospitalTrust,
        credential_hash: hash.to_owned(),
        at: at(1, 9),
    })
    .await
    .unwrap()
}

fn observation(patient: &str, id: &str, value: &str, occurred: DateTime<Utc>) -> NewRecordItem {
    NewRecordItem {
        patient: nhs(patient),
        key: ItemKey {
            resource_type: "Observation".into(),
            identifier_system: "https://lab.example/id".into(),
            identifier_value: id.into(),
        },
        kind: RecordKind::Observation,
        parent: None,
        status: "final".into(),
        entered_in_error: false,
        title: "Haemoglobin".into(),
        occurred_at: Some(occurred),
        occurred_text: Some(occurred.to_rfc3339()),
        details: ItemDetails::Observation {
            status: "final".into(),
            code: Default::default(),
            effective: None,
            value: Some(ObservedValue::Quantity {
                value: value.into(),
                comparator: None,
                unit: Some("g/L".into()),
            }),
            reference_range: None,
            interpretation: None,
            note: None,
        },
        category: Some("laboratory".into()),
        code_system: Some("http://loinc.org".into()),
        code: Some("718-7".into()),
        abnormal: Some(false),
        issued_at: Some(occurred),
        effective_at: Some(occurred),
        release_directive: ReleaseDirective::None,
        labels: Vec::new(),
        relations: Relations {
            known_as: vec![format!("Observation|https://lab.example/id|{id}")],
            ..Relations::default()
        },
        raw_resource: format!(
            r#"{{"resourceType":"Observation","valueQuantity":{{"value":{value}}}}}"#
        ),
        attachments: Vec::new(),
        content_sha256: format!("hash-of-{id}-{value}"),
    }
}

fn appointment(patient: &str, id: &str, occurred: DateTime<Utc>) -> NewRecordItem {
    NewRecordItem {
        key: ItemKey {
            resource_type: "Appointment".into(),
            identifier_system: "https://pas.example/id".into(),
            identifier_value: id.into(),
        },
        kind: RecordKind::Appointment,
        title: "Clinic".into(),
        details: ItemDetails::Appointment {
            status: "booked".into(),
            start: None,
            end: None,
            description: None,
            specialty: None,
            appointment_type: None,
            place: None,
            channel: None,
            instructions: None,
            cancellation_reason: None,
        },
        category: None,
        code_system: None,
        code: None,
        abnormal: None,
        ..observation(patient, id, "0", occurred)
    }
}

fn delivery(
    sender: &Organisation,
    received_at: DateTime<Utc>,
    items: Vec<NewRecordItem>,
) -> Delivery {
    Delivery {
        sender: sender.id,
        received_at,
        patients: Vec::new(),
        items,
        held: Vec::new(),
        request_id: Some("req-1".into()),
    }
}

fn held(reason: &str) -> NewHeldResource {
    NewHeldResource {
        resource_type: "Observation".into(),
        expression: "Bundle.entry[1].resource.subject".into(),
        reason: reason.into(),
        raw_resource: r#"{"resourceType":"Observation","valueQuantity":{"value":4.50}}"#.into(),
    }
}

fn patient_view(patient: PatientId, now: DateTime<Utc>) -> NewAuditEvent {
    NewAuditEvent {
        patient: Some(patient),
        target: Some("results".into()),
        ..NewAuditEvent::new(now, ActorKind::Patient, action::RECORD_VIEWED)
    }
}

async fn patient_id(s: &dyn Storage, number: &str) -> PatientId {
    s.find_patient_by_nhs_number(&nhs(number))
        .await
        .unwrap()
        .unwrap()
        .id
}

// --- Stories -----------------------------------------------------------------------

async fn reports_its_backend_and_answers_pings(db: &TestDb) {
    let expected = if db.url.starts_with("sqlite") {
        Backend::Sqlite
    } else {
        Backend::Postgres
    };
    assert_eq!(db.storage.backend(), expected);
    db.storage.ping().await.unwrap();
}

async fn organisations_are_created_found_rotated_and_revoked(db: &TestDb) {
    let s = db.storage.as_ref();
    let created = organisation(s, "RXX", "hash-1").await;
    assert!(created.has_credential);
    assert_eq!(created.last_received_at, None);
    assert_eq!(created.credential_issued_at, Some(at(1, 9)));

    let by_code = s
        .find_organisation_by_ods_code(&OdsCode::parse("rxx").unwrap())
        .await
        .unwrap();
    assert_eq!(by_code.as_ref(), Some(&created));
    assert_eq!(
        s.find_organisation_by_credential_hash("hash-1")
            .await
            .unwrap(),
        Some(created.clone())
    );
    assert_eq!(
        s.find_organisation_by_credential_hash("hash-2")
            .await
            .unwrap(),
        None
    );

    let rotated = s
        .set_organisation_credential(CredentialChange {
            ods_code: created.ods_code.clone(),
            credential_hash: Some("hash-2".into()),
            at: at(2, 9),
        })
        .await
        .unwrap();
    assert_eq!(rotated.credential_issued_at, Some(at(2, 9)));
    assert_eq!(
        s.find_organisation_by_credential_hash("hash-1")
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        s.find_organisation_by_credential_hash("hash-2")
            .await
            .unwrap()
            .map(|o| o.id),
        Some(created.id)
    );

    let revoked = s
        .set_organisation_credential(CredentialChange {
            ods_code: created.ods_code.clone(),
            credential_hash: None,
            at: at(3, 9),
        })
        .await
        .unwrap();
    assert!(!revoked.has_credential);
    assert_eq!(
        s.find_organisation_by_credential_hash("hash-2")
            .await
            .unwrap(),
        None
    );

    let missing = s
        .set_organisation_credential(CredentialChange {
            ods_code: OdsCode::parse("ZZZ").unwrap(),
            credential_hash: None,
            at: at(3, 9),
        })
        .await;
    assert!(matches!(missing, Err(StorageError::NotFound)));

    organisation(s, "Y09001", "hash-3").await;
    let codes: Vec<String> = s
        .list_organisations()
        .await
        .unwrap()
        .into_iter()
        .map(|o| o.ods_code.to_string())
        .collect();
    assert_eq!(codes, ["RXX", "Y09001"]);
}

async fn a_second_organisation_with_the_same_ods_code_is_refused(db: &TestDb) {
    let s = db.storage.as_ref();
    organisation(s, "RXX", "hash-1").await;
    let again = s
        .create_organisation(NewOrganisation {
            ods_code: OdsCode::parse("RXX").unwrap(),
            name: "Impostor".into(),
            kind: OrganisationKind::GpPractice,
            credential_hash: "hash-9".into(),
            at: at(1, 10),
        })
        .await;
    assert!(matches!(again, Err(StorageError::Conflict(_))), "{again:?}");
    assert_eq!(s.list_organisations().await.unwrap().len(), 1);
}

async fn a_delivery_creates_then_versions_then_leaves_identical_items_alone(db: &TestDb) {
    let s = db.storage.as_ref();
    let lab = organisation(s, "RXX", "h").await;
    let first = s
        .apply_delivery(delivery(
            &lab,
            at(5, 9),
            vec![observation(PATIENT_A, "obs-1", "11.20", at(4, 9))],
        ))
        .await
        .unwrap();
    assert_eq!(first.len(), 1);
    assert_eq!(
        (first[0].version, &first[0].change),
        (1, &ItemChange::Created)
    );

    let same = s
        .apply_delivery(delivery(
            &lab,
            at(5, 10),
            vec![observation(PATIENT_A, "obs-1", "11.20", at(4, 9))],
        ))
        .await
        .unwrap();
    assert_eq!(
        same[0],
        ItemOutcome {
            public_id: first[0].public_id.clone(),
            version: 1,
            change: ItemChange::Unchanged
        }
    );

    let changed = s
        .apply_delivery(delivery(
            &lab,
            at(5, 11),
            vec![observation(PATIENT_A, "obs-1", "11.30", at(4, 9))],
        ))
        .await
        .unwrap();
    assert_eq!(
        changed[0],
        ItemOutcome {
            public_id: first[0].public_id.clone(),
            version: 2,
            change: ItemChange::Updated
        }
    );

    let patient = patient_id(s, PATIENT_A).await;
    let items = read_items(
        s,
        RecordQuery::for_patient(patient),
        patient_view(patient, at(6, 9)),
    )
    .await
    .unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0].version, 2);
    assert_eq!(items[0].first_received_at, at(5, 9));
    assert_eq!(items[0].last_received_at, at(5, 11));
    match &items[0].details {
        ItemDetails::Observation {
            value: Some(ObservedValue::Quantity { value, .. }),
            ..
        } => assert_eq!(value, "11.30"),
        other => panic!("unexpected details {other:?}"),
    }

    // Entered in error: kept and marked (the access decision hides it).
    let mut withdrawn = observation(PATIENT_A, "obs-1", "11.30", at(4, 9));
    withdrawn.entered_in_error = true;
    withdrawn.status = "entered-in-error".into();
    withdrawn.content_sha256 = "hash-withdrawn".into();
    s.apply_delivery(delivery(&lab, at(5, 12), vec![withdrawn]))
        .await
        .unwrap();
    let marked = read_items(
        s,
        RecordQuery::for_patient(patient),
        patient_view(patient, at(6, 9)),
    )
    .await
    .unwrap();
    assert_eq!(marked.len(), 1);
    assert!(marked[0].entered_in_error);
    assert_eq!(
        s.list_item_versions(lab.id, &first[0].public_id)
            .await
            .unwrap()
            .len(),
        3
    );
}

async fn a_failed_delivery_leaves_nothing_behind(db: &TestDb) {
    let s = db.storage.as_ref();
    let lab = organisation(s, "RXX", "h").await;
    let mut bad = delivery(
        &lab,
        at(5, 9),
        vec![
            observation(PATIENT_A, "obs-1", "1", at(4, 9)),
            observation(PATIENT_B, "obs-2", "2", at(4, 9)),
        ],
    );
    bad.patients.push(NewPatient {
        nhs_number: nhs(PATIENT_A),
        family_name: Some("Hart".into()),
        given_name: None,
        birth_date: None,
        gender: None,
    });
    // An unknown sender breaks a foreign key half way through.
    bad.sender = OrganisationId(lab.id.0 + 1000);
    assert!(s.apply_delivery(bad).await.is_err());
    assert_eq!(
        s.find_patient_by_nhs_number(&nhs(PATIENT_A)).await.unwrap(),
        None
    );
    assert_eq!(
        s.find_patient_by_nhs_number(&nhs(PATIENT_B)).await.unwrap(),
        None
    );
    assert_eq!(
        s.find_organisation_by_ods_code(&lab.ods_code)
            .await
            .unwrap()
            .unwrap()
            .last_received_at,
        None
    );
}

/// Deliveries sent at the same moment (which SQLite commits as a group) each get their
/// own answer: one that fails leaves nothing behind and takes nothing of the others
/// with it.
async fn deliveries_arriving_together_are_each_applied_or_refused_on_their_own(db: &TestDb) {
    let lab = organisation(db.storage.as_ref(), "RXX", "h").await;
    let mut sends = Vec::new();
    for n in 0..12 {
        let mut one = delivery(
            &lab,
            at(5, 9),
            vec![observation(
                PATIENT_A,
                &format!("together-{n}"),
                "1",
                at(4, 9),
            )],
        );
        if n == 5 {
            // An unknown sender breaks a foreign key: this one alone must fail.
            one.sender = OrganisationId(lab.id.0 + 1000);
        }
        let storage = db.storage.clone();
        sends.push(tokio::spawn(
            async move { storage.apply_delivery(one).await },
        ));
    }
    let mut answers = Vec::new();
    for send in sends {
        answers.push(send.await.unwrap());
    }
    for (n, answer) in answers.iter().enumerate() {
        if n == 5 {
            assert!(answer.is_err(), "delivery {n} had an unknown sender");
        } else {
            let outcomes = answer.as_ref().unwrap();
            assert_eq!(outcomes.len(), 1);
            assert_eq!(outcomes[0].change, ItemChange::Created, "delivery {n}");
            assert_eq!(outcomes[0].version, 1);
        }
    }
    let key = |n: usize| ItemKey {
        resource_type: "Observation".into(),
        identifier_system: "https://lab.example/id".into(),
        identifier_value: format!("together-{n}"),
    };
    for n in 0..12 {
        let found = db.storage.find_item_by_key(lab.id, &key(n)).await.unwrap();
        assert_eq!(found.is_some(), n != 5, "item {n}");
    }
}

fn report(patient: &str, id: &str, occurred: DateTime<Utc>) -> NewRecordItem {
    NewRecordItem {
        key: ItemKey {
            resource_type: "DiagnosticReport".into(),
            identifier_system: "https://lab.example/id".into(),
            identifier_value: id.into(),
        },
        kind: RecordKind::DiagnosticReport,
        title: "Full blood count".into(),
        category: Some("LAB".into()),
        raw_resource: format!(r#"{{"resourceType":"DiagnosticReport","id":"{id}"}}"#),
        content_sha256: format!("hash-of-report-{id}"),
        ..observation(patient, id, "0", occurred)
    }
}

fn result_of(report: &NewRecordItem, item: NewRecordItem) -> NewRecordItem {
    NewRecordItem {
        parent: Some(report.key.clone()),
        ..item
    }
}

/// A result names its report by key: sent in the same delivery (before or after it) or
/// stored earlier, it is linked; a report never sent leaves it unlinked. A resource sent
/// twice in one delivery is applied in order: the second copy is a new version.
async fn results_find_their_report_and_a_resource_sent_twice_in_one_delivery_is_versioned(
    db: &TestDb,
) {
    let s = db.storage.as_ref();
    let lab = organisation(s, "RXX", "h").await;
    let earlier = report(PATIENT_A, "rep-earlier", at(3, 9));
    let earlier_id = s
        .apply_delivery(delivery(&lab, at(3, 10), vec![earlier.clone()]))
        .await
        .unwrap()[0]
        .public_id
        .clone();

    let same = report(PATIENT_A, "rep-same", at(4, 9));
    let late = report(PATIENT_A, "rep-late", at(4, 9));
    let never = report(PATIENT_A, "rep-never", at(4, 9));
    let first_copy = observation(PATIENT_A, "obs-twice", "130", at(4, 9));
    let second_copy = observation(PATIENT_A, "obs-twice", "131", at(4, 9));
    let outcomes = s
        .apply_delivery(delivery(
            &lab,
            at(4, 10),
            vec![
                same.clone(),
                result_of(&same, observation(PATIENT_A, "obs-same", "1", at(4, 9))),
                result_of(
                    &earlier,
                    observation(PATIENT_A, "obs-earlier", "2", at(4, 9)),
                ),
                result_of(&late, observation(PATIENT_A, "obs-late", "3", at(4, 9))),
                late.clone(),
                result_of(&never, observation(PATIENT_A, "obs-never", "4", at(4, 9))),
                first_copy,
                second_copy,
            ],
        ))
        .await
        .unwrap();
    let changes: Vec<(ItemChange, i64)> = outcomes
        .iter()
        .map(|o| (o.change.clone(), o.version))
        .collect();
    assert_eq!(
        changes,
        vec![
            (ItemChange::Created, 1),
            (ItemChange::Created, 1),
            (ItemChange::Created, 1),
            (ItemChange::Created, 1),
            (ItemChange::Created, 1),
            (ItemChange::Created, 1),
            (ItemChange::Created, 1),
            (ItemChange::Updated, 2),
        ]
    );
    assert_eq!(outcomes[6].public_id, outcomes[7].public_id);

    let items = read_items(
        s,
        RecordQuery::for_patient(patient_id(s, PATIENT_A).await),
        patient_view(patient_id(s, PATIENT_A).await, at(5, 9)),
    )
    .await
    .unwrap();
    let stored = |outcome: &ItemOutcome| {
        items
            .iter()
            .find(|i| i.public_id == outcome.public_id)
            .expect("every item is stored")
            .clone()
    };
    let parent_of = |n: usize| stored(&outcomes[n]).parent_public_id;
    assert_eq!(
        parent_of(1),
        Some(outcomes[0].public_id.clone()),
        "same delivery"
    );
    assert_eq!(parent_of(2), Some(earlier_id), "stored earlier");
    assert_eq!(
        parent_of(3),
        Some(outcomes[4].public_id.clone()),
        "sent after it"
    );
    assert_eq!(parent_of(5), None, "never sent");
    assert_eq!(stored(&outcomes[7]).version, 2);
    assert_eq!(
        s.list_item_versions(lab.id, &outcomes[7].public_id)
            .await
            .unwrap()
            .len(),
        2
    );
}

async fn patients_are_created_from_deliveries_and_found_by_nhs_number(db: &TestDb) {
    let s = db.storage.as_ref();
    let gp = organisation(s, "Y09001", "h").await;
    let mut d = delivery(
        &gp,
        at(5, 9),
        vec![appointment(PATIENT_B, "apt-1", at(9, 9))],
    );
    d.patients.push(NewPatient {
        nhs_number: nhs(PATIENT_A),
        family_name: Some("Hart".into()),
        given_name: Some("Amelia".into()),
        birth_date: Some("1984-06-12".into()),
        gender: Some("female".into()),
    });
    s.apply_delivery(d).await.unwrap();

    let amelia = s
        .find_patient_by_nhs_number(&nhs(PATIENT_A))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(amelia.family_name.as_deref(), Some("Hart"));
    assert_eq!(
        s.find_patient(amelia.id).await.unwrap(),
        Some(amelia.clone())
    );
    // Known only from an item's subject: the record starts without demographics.
    let b = s
        .find_patient_by_nhs_number(&nhs(PATIENT_B))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(b.family_name, None);
    assert_eq!(
        s.find_patient(PatientId(b.id.0 + amelia.id.0 + 100))
            .await
            .unwrap(),
        None
    );

    // A later delivery without a name does not erase the one we have.
    let mut update = delivery(&gp, at(6, 9), Vec::new());
    update.patients.push(NewPatient {
        nhs_number: nhs(PATIENT_A),
        family_name: None,
        given_name: None,
        birth_date: None,
        gender: Some("female".into()),
    });
    s.apply_delivery(update).await.unwrap();
    assert_eq!(
        s.find_patient(amelia.id)
            .await
            .unwrap()
            .unwrap()
            .family_name
            .as_deref(),
        Some("Hart")
    );
}

async fn a_patient_sees_only_their_own_visible_items_and_every_read_is_audited(db: &TestDb) {
    let s = db.storage.as_ref();
    let lab = organisation(s, "RXX", "h").await;
    let mut sensitive = observation(PATIENT_A, "obs-hiv", "1", at(4, 9));
    sensitive.labels = vec![("HIV".into(), LabelOrigin::Sender)];
    s.apply_delivery(delivery(
        &lab,
        at(5, 9),
        vec![
            observation(PATIENT_A, "obs-a", "1", at(4, 9)),
            observation(PATIENT_B, "obs-b", "2", at(4, 9)),
            sensitive,
        ],
    ))
    .await
    .unwrap();
    let a = patient_id(s, PATIENT_A).await;
    let b = patient_id(s, PATIENT_B).await;
    let excluded = vec!["HIV".to_owned(), "SEX".to_owned()];

    // Every item of A's comes back, labels and all (the access decision hides the
    // labelled one); nothing of B's.
    let a_items = read_items(s, RecordQuery::for_patient(a), patient_view(a, at(6, 9)))
        .await
        .unwrap();
    assert_eq!(a_items.len(), 2);
    assert!(a_items.iter().all(|i| i.patient_id == a));
    assert!(a_items.iter().any(|i| i.labels == ["HIV"]));
    let b_items = read_items(s, RecordQuery::for_patient(b), patient_view(b, at(6, 9)))
        .await
        .unwrap();
    assert_eq!(b_items.len(), 1);
    assert_eq!(b_items[0].patient_id, b);

    let trail = s.list_audit_events(a, 10).await.unwrap();
    assert_eq!(trail.len(), 1, "{trail:#?}");
    assert_eq!(trail[0].at, at(6, 9));
    assert_eq!(trail[0].outcome, AuditOutcome::Allowed);
    assert!(
        trail
            .iter()
            .all(|e| e.action == action::RECORD_VIEWED && e.patient == Some(a))
    );
    assert_eq!(s.list_audit_events(b, 10).await.unwrap().len(), 1);

    // The sender can be told how many of its items are never shown; nobody else sees them.
    let counts = s.count_labelled_items_by_sender(&excluded).await.unwrap();
    assert_eq!(counts, [(lab.id, 1)]);
    assert!(
        s.count_labelled_items_by_sender(&[])
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        s.count_labelled_items_by_sender(&["SEX".to_owned()])
            .await
            .unwrap()
            .is_empty()
    );
}

async fn record_queries_filter_by_kind_source_and_date(db: &TestDb) {
    let s = db.storage.as_ref();
    let hospital = organisation(s, "RXX", "h1").await;
    let gp = organisation(s, "Y09001", "h2").await;
    s.apply_delivery(delivery(
        &hospital,
        at(5, 9),
        vec![
            observation(PATIENT_A, "obs-1", "1", at(2, 9)),
            appointment(PATIENT_A, "apt-1", at(20, 9)),
        ],
    ))
    .await
    .unwrap();
    s.apply_delivery(delivery(
        &gp,
        at(5, 9),
        vec![appointment(PATIENT_A, "apt-2", at(10, 9))],
    ))
    .await
    .unwrap();
    let a = patient_id(s, PATIENT_A).await;
    let view = || patient_view(a, at(6, 9));

    let all = read_items(s, RecordQuery::for_patient(a), view())
        .await
        .unwrap();
    let order: Vec<_> = all.iter().map(|i| i.occurred_at).collect();
    assert_eq!(
        order,
        [Some(at(20, 9)), Some(at(10, 9)), Some(at(2, 9))],
        "newest first"
    );

    let appointments = read_items(
        s,
        RecordQuery {
            kinds: vec![RecordKind::Appointment],
            ..RecordQuery::for_patient(a)
        },
        view(),
    )
    .await
    .unwrap();
    assert_eq!(appointments.len(), 2);
    let from_gp = read_items(
        s,
        RecordQuery {
            source: Some(gp.id),
            ..RecordQuery::for_patient(a)
        },
        view(),
    )
    .await
    .unwrap();
    assert_eq!(from_gp.len(), 1);
    assert_eq!(from_gp[0].source_name, "Organisation Y09001");
    let window = read_items(
        s,
        RecordQuery {
            occurred_from: Some(at(3, 0)),
            occurred_before: Some(at(15, 0)),
            ..RecordQuery::for_patient(a)
        },
        view(),
    )
    .await
    .unwrap();
    assert_eq!(window.len(), 1);
    let limited = read_items(
        s,
        RecordQuery {
            limit: 1,
            ..RecordQuery::for_patient(a)
        },
        view(),
    )
    .await
    .unwrap();
    assert_eq!(limited.len(), 1);
    let nobody = read_items(s, RecordQuery::default(), view()).await;
    assert!(
        matches!(nobody, Err(StorageError::NotFound)),
        "a query must name a patient"
    );
}

async fn a_page_read_brings_the_items_the_rules_in_force_and_every_source_with_one_audit_row(
    db: &TestDb,
) {
    let s = db.storage.as_ref();
    let lab = organisation(s, "RXX", "h").await;
    let gp = organisation(s, "A81001", "g").await;
    let mut sensitive = observation(PATIENT_A, "obs-hiv", "1", at(4, 9));
    sensitive.labels = vec![("HIV".into(), LabelOrigin::Sender)];
    s.apply_delivery(delivery(
        &lab,
        at(5, 9),
        vec![
            observation(PATIENT_A, "obs-a", "1", at(4, 9)),
            appointment(PATIENT_A, "appt-a", at(7, 9)),
            observation(PATIENT_B, "obs-b", "2", at(4, 9)),
            sensitive,
        ],
    ))
    .await
    .unwrap();
    let a = patient_id(s, PATIENT_A).await;
    let query = RecordQuery {
        kinds: vec![RecordKind::Observation],
        ..RecordQuery::for_patient(a)
    };

    // Before any rule set is saved the read says so (the caller then holds every result).
    let read = s
        .read_record(query.clone(), patient_view(a, at(6, 9)))
        .await
        .unwrap();
    assert_eq!(read.rules, None);
    // A's own observations, the labelled one too (the access decision hides it), not
    // B's, not the appointment.
    assert_eq!(read.items.len(), 2);
    assert!(
        read.items
            .iter()
            .all(|i| i.patient_id == a && i.kind == RecordKind::Observation)
    );
    let mut codes: Vec<_> = read
        .organisations
        .iter()
        .map(|o| o.ods_code.as_str().to_owned())
        .collect();
    codes.sort();
    assert_eq!(codes, ["A81001", "RXX"], "every source, with its freshness");
    assert!(read.organisations.iter().any(|o| o.id == gp.id));
    let lab_now = read.organisations.iter().find(|o| o.id == lab.id).unwrap();
    assert_eq!(lab_now.last_received_at, Some(at(5, 9)));

    let rules = vec![release_rule("lab", Some("LAB"), ReleasePolicy::Immediately)];
    let change = NewAuditEvent::new(at(6, 8), ActorKind::System, action::RELEASE_RULES_CHANGED);
    let version = s
        .save_release_rules(&rules, "configuration", change)
        .await
        .unwrap();
    let read = s
        .read_record(query, patient_view(a, at(6, 10)))
        .await
        .unwrap();
    let in_force = read.rules.unwrap();
    assert_eq!((in_force.version, in_force.rules), (version, rules));

    // Each read wrote its own audit row.
    let trail = s.list_audit_events(a, 10).await.unwrap();
    assert_eq!(trail.len(), 2, "{trail:#?}");
    assert!(
        trail
            .iter()
            .all(|e| e.action == action::RECORD_VIEWED && e.patient == Some(a))
    );
    assert_eq!(trail[0].at, at(6, 10));
}

async fn item_versions_are_kept_raw_and_only_for_their_sender(db: &TestDb) {
    let s = db.storage.as_ref();
    let lab = organisation(s, "RXX", "h1").await;
    let other = organisation(s, "Y09001", "h2").await;
    let created = s
        .apply_delivery(delivery(
            &lab,
            at(5, 9),
            vec![observation(PATIENT_A, "obs-1", "4.50", at(4, 9))],
        ))
        .await
        .unwrap();
    s.apply_delivery(delivery(
        &lab,
        at(5, 10),
        vec![observation(PATIENT_A, "obs-1", "4.60", at(4, 9))],
    ))
    .await
    .unwrap();
    let versions = s
        .list_item_versions(lab.id, &created[0].public_id)
        .await
        .unwrap();
    assert_eq!(
        versions.iter().map(|v| v.version).collect::<Vec<_>>(),
        [1, 2]
    );
    assert!(
        versions[0].raw_resource.contains("4.50"),
        "decimals stay as written"
    );
    assert_eq!(versions[1].received_at, at(5, 10));
    assert!(
        s.list_item_versions(other.id, &created[0].public_id)
            .await
            .unwrap()
            .is_empty()
    );

    let key = observation(PATIENT_A, "obs-1", "4.60", at(4, 9)).key;
    assert_eq!(
        s.find_item_by_key(lab.id, &key).await.unwrap(),
        Some(created[0].public_id.clone())
    );
    assert_eq!(
        s.find_item_by_key(other.id, &key).await.unwrap(),
        None,
        "only the sender's own"
    );
}

async fn sign_in_creates_an_account_once_and_keeps_its_role(db: &TestDb) {
    let s = db.storage.as_ref();
    let lab = organisation(s, "RXX", "h").await;
    s.apply_delivery(delivery(
        &lab,
        at(5, 9),
        vec![observation(PATIENT_A, "obs-1", "1", at(4, 9))],
    ))
    .await
    .unwrap();
    let a = patient_id(s, PATIENT_A).await;
    let sign_in = NewSignIn {
        issuer: "https://auth.login.nhs.uk".into(),
        subject: "sub-123".into(),
        role: AccountRole::Patient,
        identity_level: Some("P5".into()),
        patient_id: None,
        at: at(6, 9),
        request_id: None,
    };
    let first = s.record_sign_in(sign_in.clone()).await.unwrap();
    assert_eq!(first.patient_id, None);
    let uplifted = s
        .record_sign_in(NewSignIn {
            identity_level: Some("P9".into()),
            patient_id: Some(a),
            at: at(7, 9),
            ..sign_in.clone()
        })
        .await
        .unwrap();
    assert_eq!(uplifted.id, first.id);
    assert_eq!(uplifted.patient_id, Some(a));
    assert_eq!(uplifted.identity_level.as_deref(), Some("P9"));
    assert_eq!(uplifted.created_at, at(6, 9));
    assert_eq!(uplifted.last_sign_in_at, Some(at(7, 9)));
    assert_eq!(
        uplifted.previous_sign_in_at,
        Some(at(6, 9)),
        "the visit before this one, for \"new since your last visit\""
    );

    let as_staff = s
        .record_sign_in(NewSignIn {
            role: AccountRole::ServiceDesk,
            ..sign_in
        })
        .await;
    assert!(matches!(as_staff, Err(StorageError::Conflict(_))));
    let trail = s.list_audit_events(a, 10).await.unwrap();
    assert_eq!(
        trail
            .iter()
            .filter(|e| e.action == action::SIGNED_IN)
            .count(),
        1,
        "the P9 sign-in is on the patient's trail"
    );
}

async fn sessions_are_created_found_touched_and_ended(db: &TestDb) {
    let s = db.storage.as_ref();
    let account = s
        .record_sign_in(NewSignIn {
            issuer: "https://staff-idp.example".into(),
            subject: "agent-1".into(),
            role: AccountRole::ServiceDesk,
            identity_level: None,
            patient_id: None,
            at: at(6, 9),
            request_id: None,
        })
        .await
        .unwrap();
    let new = NewSession {
        id_hash: "session-hash".into(),
        account_id: account.id,
        audience: SessionAudience::Staff,
        csrf_token: "csrf".into(),
        created_at: at(6, 9),
        absolute_expires_at: at(6, 21),
    };
    s.create_session(new.clone()).await.unwrap();
    assert!(matches!(
        s.create_session(new).await,
        Err(StorageError::Conflict(_))
    ));
    let (found, owner) = s.find_session("session-hash").await.unwrap().unwrap();
    assert_eq!(
        (
            found.audience,
            found.last_seen_at,
            found.absolute_expires_at
        ),
        (SessionAudience::Staff, at(6, 9), at(6, 21))
    );
    // The session comes with its account, as the account itself reads.
    assert_eq!(owner, account);
    s.touch_session("session-hash", at(6, 10)).await.unwrap();
    assert_eq!(
        s.find_session("session-hash")
            .await
            .unwrap()
            .unwrap()
            .0
            .last_seen_at,
        at(6, 10)
    );
    assert!(matches!(
        s.touch_session("no-such", at(6, 10)).await,
        Err(StorageError::NotFound)
    ));

    let sign_out = NewAuditEvent {
        actor_account: Some(account.id),
        ..NewAuditEvent::new(at(6, 11), ActorKind::Staff, action::SIGNED_OUT)
    };
    s.delete_session("session-hash", Some(sign_out))
        .await
        .unwrap();
    assert_eq!(s.find_session("session-hash").await.unwrap(), None);
}

async fn expired_and_idle_sessions_are_removed(db: &TestDb) {
    let s = db.storage.as_ref();
    let account = s
        .record_sign_in(NewSignIn {
            issuer: "https://auth.login.nhs.uk".into(),
            subject: "sub-1".into(),
            role: AccountRole::Patient,
            identity_level: Some("P9".into()),
            patient_id: None,
            at: at(6, 9),
            request_id: None,
        })
        .await
        .unwrap();
    let session = |hash: &str, created: DateTime<Utc>| NewSession {
        id_hash: hash.into(),
        account_id: account.id,
        audience: SessionAudience::Patient,
        csrf_token: "c".into(),
        created_at: created,
        absolute_expires_at: created + Duration::hours(12),
    };
    s.create_session(session("fresh", at(6, 9))).await.unwrap();
    s.create_session(session("idle", at(6, 8))).await.unwrap();
    s.create_session(session("old", at(5, 9))).await.unwrap();
    s.touch_session("fresh", at(6, 10)).await.unwrap();
    s.touch_session("old", at(6, 10)).await.unwrap();
    let now = at(6, 10) + Duration::minutes(10);
    let removed = s
        .delete_expired_sessions(now, now - Duration::minutes(30))
        .await
        .unwrap();
    assert_eq!(removed, 2);
    assert!(s.find_session("fresh").await.unwrap().is_some());
    assert!(s.find_session("idle").await.unwrap().is_none());
    assert!(s.find_session("old").await.unwrap().is_none());
}

async fn the_audit_trail_cannot_be_changed_or_deleted(db: &TestDb) {
    let s = db.storage.as_ref();
    let lab = organisation(s, "RXX", "h").await;
    s.apply_delivery(delivery(
        &lab,
        at(5, 9),
        vec![observation(PATIENT_A, "obs-1", "1", at(4, 9))],
    ))
    .await
    .unwrap();
    let a = patient_id(s, PATIENT_A).await;
    s.append_audit(NewAuditEvent {
        patient: Some(a),
        target: Some("letters".into()),
        outcome: AuditOutcome::Refused,
        reason: Some("not_linked".into()),
        request_id: Some("req-9".into()),
        ..NewAuditEvent::new(at(6, 9), ActorKind::Proxy, action::RECORD_VIEWED)
    })
    .await
    .unwrap();
    let trail = s.list_audit_events(a, 10).await.unwrap();
    assert_eq!(trail.len(), 1);
    assert_eq!(
        (
            trail[0].actor_kind,
            trail[0].reason.as_deref(),
            trail[0].request_id.as_deref()
        ),
        (ActorKind::Proxy, Some("not_linked"), Some("req-9"))
    );

    // Straight to the database, around the trait: the schema itself refuses.
    let attempts = [
        "UPDATE audit_events SET outcome = 'allowed'",
        "DELETE FROM audit_events",
    ];
    for sql in attempts {
        let result = if db.url.starts_with("sqlite") {
            let mut c = <sqlx::SqliteConnection as sqlx::Connection>::connect(&db.url)
                .await
                .unwrap();
            sqlx::query(sql).execute(&mut c).await.map(|_| ())
        } else {
            let mut c = <sqlx::PgConnection as sqlx::Connection>::connect(&db.url)
                .await
                .unwrap();
            sqlx::query(sql).execute(&mut c).await.map(|_| ())
        };
        let error = result.expect_err(sql).to_string();
        assert!(error.contains("append-only"), "{sql}: {error}");
    }
    assert_eq!(s.list_audit_events(a, 10).await.unwrap().len(), 1);

    // The whole trail, newest first: the organisation, the delivery, the view.
    let recent = s.list_recent_audit_events(10).await.unwrap();
    let actions: Vec<&str> = recent.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(
        actions,
        [
            action::RECORD_VIEWED,
            action::FEED_RECEIVED,
            action::ORGANISATION_CREATED
        ]
    );
    assert_eq!(s.list_recent_audit_events(1).await.unwrap().len(), 1);
}

async fn a_login_attempt_can_be_taken_once_and_not_after_it_expires(db: &TestDb) {
    let s = db.storage.as_ref();
    let attempt = |hash: &str, created: DateTime<Utc>| NewLoginAttempt {
        state_hash: hash.into(),
        audience: SessionAudience::Patient,
        nonce: format!("nonce-{hash}"),
        pkce_verifier: Some("verifier".into()),
        requested_vectors: vec!["P9.Cp.Cd".into(), "P9.Cm".into()],
        created_at: created,
    };
    s.create_login_attempt(attempt("fresh", at(6, 9)))
        .await
        .unwrap();
    s.create_login_attempt(attempt("stale", at(6, 8)))
        .await
        .unwrap();
    assert!(matches!(
        s.create_login_attempt(attempt("fresh", at(6, 9))).await,
        Err(StorageError::Conflict(_))
    ));

    let not_before = at(6, 9) - Duration::minutes(10);
    let taken = s.take_login_attempt("fresh", not_before).await.unwrap();
    assert_eq!(taken, Some(attempt("fresh", at(6, 9))));
    assert_eq!(
        s.take_login_attempt("fresh", not_before).await.unwrap(),
        None,
        "a replay finds nothing"
    );
    assert_eq!(
        s.take_login_attempt("stale", not_before).await.unwrap(),
        None,
        "too old to use"
    );
    assert_eq!(
        s.take_login_attempt("never-made", not_before)
            .await
            .unwrap(),
        None
    );
}

async fn resources_without_an_identifiable_patient_are_held_exactly_as_received(db: &TestDb) {
    let s = db.storage.as_ref();
    let lab = organisation(s, "RXX", "h").await;
    let mut d = delivery(
        &lab,
        at(5, 9),
        vec![observation(PATIENT_A, "obs-1", "1", at(4, 9))],
    );
    d.held = vec![
        held("the NHS number's check digit is wrong"),
        held("the patient is missing"),
    ];
    let outcomes = s.apply_delivery(d).await.unwrap();
    assert_eq!(outcomes.len(), 1, "held resources are not items");
    let queue = s.list_held_resources(10).await.unwrap();
    assert_eq!(queue.len(), 2);
    assert_eq!(queue[0].reason, "the NHS number's check digit is wrong");
    assert_eq!(queue[0].sender, lab.id);
    assert_eq!(queue[0].received_at, at(5, 9));
    assert!(
        queue[0].raw_resource.contains("4.50"),
        "kept exactly as received"
    );
    assert_eq!(s.list_held_resources(1).await.unwrap().len(), 1);

    // A delivery that fails holds nothing either.
    let mut failing = delivery(
        &lab,
        at(6, 9),
        vec![observation(PATIENT_A, "obs-2", "1", at(4, 9))],
    );
    failing.held = vec![held("later")];
    failing.sender = OrganisationId(lab.id.0 + 1000);
    assert!(s.apply_delivery(failing).await.is_err());
    assert_eq!(s.list_held_resources(10).await.unwrap().len(), 2);
}

async fn attachments_are_stored_once_by_content_address(db: &TestDb) {
    let s = db.storage.as_ref();
    let lab = organisation(s, "RXX", "h").await;
    let pdf = NewAttachment {
        sha256: "ab".repeat(32),
        content_type: "application/pdf".into(),
        content: b"%PDF-1.4 letter".to_vec(),
    };
    let mut letter = appointment(PATIENT_A, "doc-1", at(4, 9));
    letter.attachments = vec![pdf.clone()];
    let mut copy = appointment(PATIENT_A, "doc-2", at(4, 9));
    copy.attachments = vec![pdf.clone()];
    s.apply_delivery(delivery(&lab, at(5, 9), vec![letter, copy]))
        .await
        .unwrap();
    let stored = s.get_attachment(&pdf.sha256).await.unwrap().unwrap();
    assert_eq!(
        (stored.content_type.as_str(), stored.content.as_slice()),
        ("application/pdf", pdf.content.as_slice())
    );
    assert_eq!(s.get_attachment(&"cd".repeat(32)).await.unwrap(), None);
}

/// Both migration folders must hold the same versions, so the backends never drift.
#[test]
fn both_backends_have_the_same_migration_versions() {
    let versions = |folder: &str| {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../migrations")
            .join(folder);
        let mut versions: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|name| name.ends_with(".sql"))
            .map(|name| name.split('_').next().unwrap().to_owned())
            .collect();
        versions.sort();
        versions
    };
    let sqlite = versions("sqlite");
    assert!(!sqlite.is_empty());
    assert_eq!(sqlite, versions("postgres"));
}

async fn release_rules_are_versioned_and_every_change_is_audited(db: &TestDb) {
    let s = db.storage.as_ref();
    assert_eq!(s.current_release_rules().await.unwrap(), None);
    let first = vec![
        release_rule("lab", Some("LAB"), ReleasePolicy::Immediately),
        ReleaseRule {
            source: Some("RXX".to_owned()),
            code: Some("399208008".to_owned()),
            abnormal: Some(true),
            ..release_rule(
                "rxx-chest-xray",
                Some("RAD"),
                ReleasePolicy::AfterDays { days: 28 },
            )
        },
        release_rule(
            "histopathology",
            Some("SP"),
            ReleasePolicy::ClinicianRelease,
        ),
    ];
    let change =
        |day| NewAuditEvent::new(at(day, 9), ActorKind::System, action::RELEASE_RULES_CHANGED);
    let v1 = s
        .save_release_rules(&first, "configuration", change(1))
        .await
        .unwrap();
    let current = s.current_release_rules().await.unwrap().unwrap();
    assert_eq!(current.version, v1);
    assert_eq!(
        current.rules, first,
        "every key and policy survives the round trip"
    );

    let second = vec![release_rule("anything", None, ReleasePolicy::Immediately)];
    let v2 = s
        .save_release_rules(&second, "configuration", change(2))
        .await
        .unwrap();
    assert_eq!(v2, v1 + 1);
    let current = s.current_release_rules().await.unwrap().unwrap();
    assert_eq!((current.version, current.rules), (v2, second));

    let changes: Vec<_> = s
        .list_recent_audit_events(10)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.action == action::RELEASE_RULES_CHANGED)
        .map(|e| e.target.unwrap_or_default())
        .collect();
    assert_eq!(
        changes,
        [
            format!("release-rules:v{v2}"),
            format!("release-rules:v{v1}")
        ]
    );

    // Old versions are kept as they were: rules cannot be edited in place.
    let edit = sqlx::query("UPDATE release_rules SET delay_days = 1");
    let refused = match s.backend() {
        Backend::Sqlite => {
            let pool = sqlx::SqlitePool::connect(&db.url).await.unwrap();
            edit.execute(&pool).await.is_err()
        }
        Backend::Postgres => {
            let pool = sqlx::PgPool::connect(&db.url).await.unwrap();
            sqlx::query("UPDATE release_rules SET delay_days = 1")
                .execute(&pool)
                .await
                .is_err()
        }
    };
    assert!(refused, "release rules are append-only");
}

/// How an item is linked to its relatives and whether it was entered in error come back
/// exactly as written, through every version.
async fn relations_and_the_entered_in_error_mark_are_kept_and_read_back(db: &TestDb) {
    let s = db.storage.as_ref();
    let lab = organisation(s, "RXX", "h").await;
    let mut result = observation(PATIENT_A, "obs-r", "1", at(4, 9));
    result.relations.belongs_to = vec!["ServiceRequest/sr-1".to_owned()];
    let mut report = report(PATIENT_A, "rep-r", at(4, 9));
    report.relations = Relations {
        known_as: vec!["DiagnosticReport/rep-r".to_owned()],
        members: vec!["Observation|https://lab.example/id|obs-r".to_owned()],
        belongs_to: vec!["ServiceRequest/sr-1".to_owned()],
    };
    s.apply_delivery(delivery(
        &lab,
        at(5, 9),
        vec![result.clone(), report.clone()],
    ))
    .await
    .unwrap();
    let a = patient_id(s, PATIENT_A).await;
    let items = read_items(s, RecordQuery::for_patient(a), patient_view(a, at(6, 9)))
        .await
        .unwrap();
    let stored = |kind| items.iter().find(|i| i.kind == kind).unwrap().clone();
    assert_eq!(stored(RecordKind::Observation).relations, result.relations);
    assert_eq!(
        stored(RecordKind::DiagnosticReport).relations,
        report.relations
    );
    assert!(!stored(RecordKind::Observation).entered_in_error);

    // A new version replaces the links (the sender's latest word on them).
    let mut amended = result.clone();
    amended.relations.belongs_to.clear();
    amended.entered_in_error = true;
    amended.content_sha256 = "hash-amended".into();
    s.apply_delivery(delivery(&lab, at(5, 10), vec![amended.clone()]))
        .await
        .unwrap();
    let items = read_items(s, RecordQuery::for_patient(a), patient_view(a, at(6, 10)))
        .await
        .unwrap();
    let again = items
        .iter()
        .find(|i| i.kind == RecordKind::Observation)
        .unwrap();
    assert_eq!(again.relations, amended.relations);
    assert!(again.entered_in_error);
}

/// A code added to the privacy list labels items already stored (from their current
/// version), a code removed unlabels them, the sender's own labels stay, and each change
/// is applied once with its audit row.
async fn a_changed_code_list_relabels_what_is_stored_once_and_audited(db: &TestDb) {
    use app::privacy::{CodeList, CodeListEntry};
    let s = db.storage.as_ref();
    let lab = organisation(s, "RXX", "h").await;
    let mut plain = observation(PATIENT_A, "obs-plain", "1", at(4, 9));
    plain.raw_resource = r#"{"resourceType":"Observation","code":{"coding":[{"system":"http://loinc.org","code":"718-7"}]}}"#.to_owned();
    let mut flagged = observation(PATIENT_A, "obs-flagged", "1", at(4, 9));
    flagged.raw_resource = r#"{"resourceType":"Observation","code":{"coding":[{"system":"http://loinc.org","code":"43304-5"}]}}"#.to_owned();
    flagged.labels = vec![("SEX".to_owned(), LabelOrigin::Sender)];
    s.apply_delivery(delivery(&lab, at(5, 9), vec![plain, flagged]))
        .await
        .unwrap();
    assert_eq!(s.applied_setting("privacy_code_list").await.unwrap(), None);

    let list = CodeList {
        entries: vec![CodeListEntry {
            system: "http://loinc.org".into(),
            code: "718-7".into(),
            label: "made-up-label".into(),
        }],
    };
    let audit = || {
        NewAuditEvent::new(
            at(6, 9),
            ActorKind::System,
            action::PRIVACY_LABELS_REAPPLIED,
        )
    };
    let changed = s
        .relabel_items(&list, "privacy_code_list", "v1", audit())
        .await
        .unwrap();
    assert_eq!(changed, 1, "only the haemoglobin result gets the new label");
    assert_eq!(
        s.applied_setting("privacy_code_list")
            .await
            .unwrap()
            .as_deref(),
        Some("v1")
    );
    let a = patient_id(s, PATIENT_A).await;
    let labels = |items: &[RecordItem], id: &str| {
        items
            .iter()
            .find(|i| {
                i.relations
                    .known_as
                    .contains(&format!("Observation|https://lab.example/id|{id}"))
            })
            .unwrap()
            .labels
            .clone()
    };
    let items = read_items(s, RecordQuery::for_patient(a), patient_view(a, at(6, 10)))
        .await
        .unwrap();
    assert_eq!(labels(&items, "obs-plain"), ["made-up-label"]);
    assert_eq!(
        labels(&items, "obs-flagged"),
        ["SEX"],
        "the sender's label stays"
    );

    // The same list again changes nothing; a list without the code takes the label off.
    assert_eq!(
        s.relabel_items(&list, "privacy_code_list", "v1", audit())
            .await
            .unwrap(),
        0
    );
    let changed = s
        .relabel_items(&CodeList::default(), "privacy_code_list", "v2", audit())
        .await
        .unwrap();
    assert_eq!(changed, 1);
    let items = read_items(s, RecordQuery::for_patient(a), patient_view(a, at(6, 11)))
        .await
        .unwrap();
    assert!(labels(&items, "obs-plain").is_empty());
    let relabels: Vec<_> = s
        .list_recent_audit_events(20)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.action == action::PRIVACY_LABELS_REAPPLIED)
        .collect();
    assert_eq!(relabels.len(), 3, "each application is audited");
}
