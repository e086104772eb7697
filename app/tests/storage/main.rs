//! The storage story: every method of the `Storage` trait, one file per area, run
//! against SQLite always and
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
    ($($area:ident::$story:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $story() {
                    let db = super::TestDb::sqlite().await;
                    super::$area::$story(&db).await;
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
                    super::$area::$story(&db).await;
                    db.drop_database().await;
                }
            )*
        }
    };
}

mod access_requests;
mod accounts;
mod audit;
mod choices;
mod desk;
mod feed;
mod organisations;
mod privacy;
mod proxy;
mod records;
mod release_rules;

on_both_backends!(
    organisations::reports_its_backend_and_answers_pings,
    organisations::organisations_are_created_found_rotated_and_revoked,
    organisations::a_second_organisation_with_the_same_ods_code_is_refused,
    feed::a_delivery_creates_then_versions_then_leaves_identical_items_alone,
    feed::a_failed_delivery_leaves_nothing_behind,
    feed::deliveries_arriving_together_are_each_applied_or_refused_on_their_own,
    feed::results_find_their_report_and_a_resource_sent_twice_in_one_delivery_is_versioned,
    feed::resources_without_an_identifiable_patient_are_held_exactly_as_received,
    feed::attachments_are_stored_once_by_content_address,
    records::patients_are_created_from_deliveries_and_found_by_nhs_number,
    records::a_patient_sees_only_their_own_visible_items_and_every_read_is_audited,
    records::record_queries_filter_by_kind_source_and_date,
    records::a_page_read_brings_the_items_the_rules_in_force_and_every_source_with_one_audit_row,
    records::item_versions_are_kept_raw_and_only_for_their_sender,
    records::relations_and_the_entered_in_error_mark_are_kept_and_read_back,
    accounts::sign_in_creates_an_account_once_and_keeps_its_role,
    accounts::sessions_are_created_found_touched_and_ended,
    accounts::expired_and_idle_sessions_are_removed,
    accounts::a_login_attempt_can_be_taken_once_and_not_after_it_expires,
    audit::the_audit_trail_cannot_be_changed_or_deleted,
    audit::a_patients_log_is_filtered_named_and_paged,
    audit::sealed_rows_chain_and_tampering_breaks_the_chain,
    release_rules::release_rules_are_versioned_and_every_change_is_audited,
    privacy::a_changed_code_list_relabels_what_is_stored_once_and_audited,
    proxy::an_invitation_is_accepted_once_into_a_grant_with_its_history,
    proxy::a_pending_invitation_is_withdrawn_only_by_its_patient,
    proxy::a_session_remembers_whose_record_it_reads,
    choices::leaving_suspends_grants_in_one_transaction_and_coming_back_restores_those_chosen,
    choices::objections_are_recorded_by_the_desk_read_with_the_record_and_withdrawn,
    choices::two_changes_made_at_once_apply_once,
    access_requests::a_request_is_recorded_listed_and_changed_once,
    desk::a_lookup_opens_a_patient_to_its_own_agent_only,
    desk::an_unlinked_account_is_signed_out_and_relinked_by_its_next_sign_in,
    desk::held_items_are_counted_paged_filtered_and_resolved_once,
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
