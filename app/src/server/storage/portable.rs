//! The SQL both backends share. SQLite and PostgreSQL agree on everything used here
//! (`$n` placeholders, `RETURNING`, `ON CONFLICT … DO UPDATE`, `excluded.`), so the
//! whole [`Storage`](super::Storage) implementation is written once, in
//! [`impl_portable_storage!`], and expanded for each backend's pool type. Rows are read
//! into the private `*Row` structs below and converted to the public types, rejecting
//! anything the database should never contain.

use chrono::{DateTime, Utc};

use super::StorageError;
use super::types::*;
use crate::audit::{ActorKind, AuditOutcome};
use crate::domain::{NhsNumber, OdsCode};
use crate::records::{ItemDetails, OrganisationKind, RecordKind, ReleaseDirective};
use crate::release::{ReleasePolicy, ReleaseRule};

#[derive(sqlx::FromRow)]
pub(super) struct OrganisationRow {
    id: i64,
    ods_code: String,
    name: String,
    kind: String,
    has_credential: bool,
    credential_issued_at: Option<i64>,
    last_received_at: Option<i64>,
}

impl TryFrom<OrganisationRow> for Organisation {
    type Error = StorageError;
    fn try_from(row: OrganisationRow) -> Result<Self, StorageError> {
        Ok(Organisation {
            id: OrganisationId(row.id),
            ods_code: OdsCode::parse(&row.ods_code)
                .map_err(|_| StorageError::Corrupt("organisations.ods_code"))?,
            name: row.name,
            kind: OrganisationKind::from_code(&row.kind)
                .ok_or(StorageError::Corrupt("organisations.kind"))?,
            has_credential: row.has_credential,
            credential_issued_at: row.credential_issued_at.map(from_millis).transpose()?,
            last_received_at: row.last_received_at.map(from_millis).transpose()?,
        })
    }
}

/// The organisation columns, as a macro so that queries stay `&'static str` (sqlx only
/// runs static SQL unless told otherwise, a guard against injection).
macro_rules! organisation_columns {
    () => {
        "id, ods_code, name, kind, (credential_hash IS NOT NULL) AS has_credential, \
         credential_issued_at, last_received_at"
    };
}
pub(super) use organisation_columns;

#[derive(sqlx::FromRow)]
pub(super) struct PatientRow {
    id: i64,
    nhs_number: String,
    family_name: Option<String>,
    given_name: Option<String>,
    birth_date: Option<String>,
    gender: Option<String>,
}

impl TryFrom<PatientRow> for Patient {
    type Error = StorageError;
    fn try_from(row: PatientRow) -> Result<Self, StorageError> {
        Ok(Patient {
            id: PatientId(row.id),
            nhs_number: NhsNumber::parse(&row.nhs_number)
                .map_err(|_| StorageError::Corrupt("patients.nhs_number"))?,
            family_name: row.family_name,
            given_name: row.given_name,
            birth_date: row.birth_date,
            gender: row.gender,
        })
    }
}

/// A stored item as read, by column (`get_record_item`) or as one object of the JSON
/// array a patient's items come back in (`select_record_items`).
#[derive(sqlx::FromRow, serde::Deserialize)]
pub(super) struct ItemRow {
    public_id: String,
    patient_id: i64,
    kind: String,
    parent_public_id: Option<String>,
    source_org_id: i64,
    source_name: String,
    source_ods_code: String,
    current_version: i64,
    status: String,
    #[serde(deserialize_with = "flag_from_json")]
    entered_in_error: Option<bool>,
    title: String,
    occurred_at: Option<i64>,
    occurred_text: Option<String>,
    details: String,
    category: Option<String>,
    code_system: Option<String>,
    code: Option<String>,
    #[serde(deserialize_with = "flag_from_json")]
    abnormal: Option<bool>,
    issued_at: Option<i64>,
    effective_at: Option<i64>,
    release_directive: String,
    first_received_at: i64,
    last_received_at: i64,
    /// The item's links to its relatives, as JSON text.
    relations: String,
    /// Only in the JSON form; the column form reads labels separately.
    #[sqlx(skip)]
    #[serde(default)]
    pub(super) labels: Vec<String>,
}

/// A boolean column in JSON: `true`/`false` from PostgreSQL, `1`/`0` from SQLite
/// (which stores booleans as integers), or `null`.
fn flag_from_json<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<bool>, D::Error> {
    use serde::Deserialize;
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Flag {
        Bool(bool),
        Int(i64),
    }
    Ok(
        Option::<Flag>::deserialize(deserializer)?.map(|flag| match flag {
            Flag::Bool(value) => value,
            Flag::Int(value) => value != 0,
        }),
    )
}

macro_rules! item_columns {
    () => {
        "i.id, i.public_id, i.patient_id, i.kind, p.public_id AS parent_public_id, \
         i.source_org_id, o.name AS source_name, o.ods_code AS source_ods_code, \
         i.current_version, i.status, i.entered_in_error, i.title, i.occurred_at, i.occurred_text, i.details, \
         i.category, i.code_system, i.code, i.abnormal, i.issued_at, i.effective_at, \
         i.release_directive, i.first_received_at, i.last_received_at, i.relations"
    };
}
pub(super) use item_columns;

macro_rules! item_tables {
    () => {
        "FROM record_items i \
         JOIN organisations o ON o.id = i.source_org_id \
         LEFT JOIN record_items p ON p.id = i.parent_item_id"
    };
}
pub(super) use item_tables;

impl ItemRow {
    pub(super) fn into_item(self, labels: Vec<String>) -> Result<RecordItem, StorageError> {
        Ok(RecordItem {
            public_id: self.public_id,
            patient_id: PatientId(self.patient_id),
            kind: RecordKind::from_code(&self.kind)
                .ok_or(StorageError::Corrupt("record_items.kind"))?,
            parent_public_id: self.parent_public_id,
            source: OrganisationId(self.source_org_id),
            source_name: self.source_name,
            source_ods_code: OdsCode::parse(&self.source_ods_code)
                .map_err(|_| StorageError::Corrupt("organisations.ods_code"))?,
            version: self.current_version,
            status: self.status,
            entered_in_error: self.entered_in_error.unwrap_or(false),
            title: self.title,
            occurred_at: self.occurred_at.map(from_millis).transpose()?,
            occurred_text: self.occurred_text,
            details: serde_json::from_str::<ItemDetails>(&self.details)
                .map_err(|_| StorageError::Corrupt("record_items.details"))?,
            category: self.category,
            code_system: self.code_system,
            code: self.code,
            abnormal: self.abnormal,
            issued_at: self.issued_at.map(from_millis).transpose()?,
            effective_at: self.effective_at.map(from_millis).transpose()?,
            release_directive: ReleaseDirective::from_code(&self.release_directive)
                .ok_or(StorageError::Corrupt("record_items.release_directive"))?,
            labels,
            relations: serde_json::from_str(&self.relations)
                .map_err(|_| StorageError::Corrupt("record_items.relations"))?,
            first_received_at: from_millis(self.first_received_at)?,
            last_received_at: from_millis(self.last_received_at)?,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct ItemVersionRow {
    version: i64,
    received_at: i64,
    content_sha256: String,
    raw_resource: String,
}

impl TryFrom<ItemVersionRow> for ItemVersion {
    type Error = StorageError;
    fn try_from(row: ItemVersionRow) -> Result<Self, StorageError> {
        Ok(ItemVersion {
            version: row.version,
            received_at: from_millis(row.received_at)?,
            content_sha256: row.content_sha256,
            raw_resource: row.raw_resource,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct AccountRow {
    id: i64,
    issuer: String,
    subject: String,
    role: String,
    identity_level: Option<String>,
    patient_id: Option<i64>,
    created_at: i64,
    last_sign_in_at: Option<i64>,
    previous_sign_in_at: Option<i64>,
}

impl TryFrom<AccountRow> for Account {
    type Error = StorageError;
    fn try_from(row: AccountRow) -> Result<Self, StorageError> {
        Ok(Account {
            id: AccountId(row.id),
            issuer: row.issuer,
            subject: row.subject,
            role: AccountRole::from_code(&row.role)
                .ok_or(StorageError::Corrupt("accounts.role"))?,
            identity_level: row.identity_level,
            patient_id: row.patient_id.map(PatientId),
            created_at: from_millis(row.created_at)?,
            last_sign_in_at: row.last_sign_in_at.map(from_millis).transpose()?,
            previous_sign_in_at: row.previous_sign_in_at.map(from_millis).transpose()?,
        })
    }
}

macro_rules! account_columns {
    () => {
        "id, issuer, subject, role, identity_level, patient_id, created_at, last_sign_in_at, \
         previous_sign_in_at"
    };
}
pub(super) use account_columns;

#[derive(sqlx::FromRow)]
pub(super) struct SessionRow {
    id_hash: String,
    account_id: i64,
    audience: String,
    csrf_token: String,
    created_at: i64,
    last_seen_at: i64,
    absolute_expires_at: i64,
}

impl TryFrom<SessionRow> for Session {
    type Error = StorageError;
    fn try_from(row: SessionRow) -> Result<Self, StorageError> {
        Ok(Session {
            id_hash: row.id_hash,
            account_id: AccountId(row.account_id),
            audience: SessionAudience::from_code(&row.audience)
                .ok_or(StorageError::Corrupt("sessions.audience"))?,
            csrf_token: row.csrf_token,
            created_at: from_millis(row.created_at)?,
            last_seen_at: from_millis(row.last_seen_at)?,
            absolute_expires_at: from_millis(row.absolute_expires_at)?,
        })
    }
}

/// A session and its account, read together (the account's columns renamed where they
/// would clash with the session's).
#[derive(sqlx::FromRow)]
pub(super) struct SessionAccountRow {
    #[sqlx(flatten)]
    session: SessionRow,
    issuer: String,
    subject: String,
    role: String,
    identity_level: Option<String>,
    patient_id: Option<i64>,
    account_created_at: i64,
    last_sign_in_at: Option<i64>,
    previous_sign_in_at: Option<i64>,
}

pub(super) const SESSION_ACCOUNT_SELECT: &str = "SELECT s.id_hash, s.account_id, s.audience, \
    s.csrf_token, s.created_at, s.last_seen_at, s.absolute_expires_at, a.issuer, a.subject, \
    a.role, a.identity_level, a.patient_id, a.created_at AS account_created_at, \
    a.last_sign_in_at, a.previous_sign_in_at \
    FROM sessions s JOIN accounts a ON a.id = s.account_id WHERE s.id_hash = $1";

impl TryFrom<SessionAccountRow> for (Session, Account) {
    type Error = StorageError;
    fn try_from(row: SessionAccountRow) -> Result<Self, StorageError> {
        let account = Account::try_from(AccountRow {
            id: row.session.account_id,
            issuer: row.issuer,
            subject: row.subject,
            role: row.role,
            identity_level: row.identity_level,
            patient_id: row.patient_id,
            created_at: row.account_created_at,
            last_sign_in_at: row.last_sign_in_at,
            previous_sign_in_at: row.previous_sign_in_at,
        })?;
        Ok((Session::try_from(row.session)?, account))
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct LoginAttemptRow {
    state_hash: String,
    audience: String,
    nonce: String,
    pkce_verifier: Option<String>,
    requested_vectors: String,
    created_at: i64,
}

impl TryFrom<LoginAttemptRow> for LoginAttempt {
    type Error = StorageError;
    fn try_from(row: LoginAttemptRow) -> Result<Self, StorageError> {
        Ok(LoginAttempt {
            state_hash: row.state_hash,
            audience: SessionAudience::from_code(&row.audience)
                .ok_or(StorageError::Corrupt("login_attempts.audience"))?,
            nonce: row.nonce,
            pkce_verifier: row.pkce_verifier,
            requested_vectors: serde_json::from_str(&row.requested_vectors)
                .map_err(|_| StorageError::Corrupt("login_attempts.requested_vectors"))?,
            created_at: from_millis(row.created_at)?,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct AuditRow {
    id: i64,
    occurred_at: i64,
    actor_kind: String,
    actor_account_id: Option<i64>,
    actor_org_id: Option<i64>,
    patient_id: Option<i64>,
    action: String,
    target: Option<String>,
    outcome: String,
    reason: Option<String>,
    request_id: Option<String>,
}

impl TryFrom<AuditRow> for AuditEvent {
    type Error = StorageError;
    fn try_from(row: AuditRow) -> Result<Self, StorageError> {
        Ok(AuditEvent {
            id: row.id,
            at: from_millis(row.occurred_at)?,
            actor_kind: ActorKind::from_code(&row.actor_kind)
                .ok_or(StorageError::Corrupt("audit_events.actor_kind"))?,
            actor_account: row.actor_account_id.map(AccountId),
            actor_org: row.actor_org_id.map(OrganisationId),
            patient: row.patient_id.map(PatientId),
            action: row.action,
            target: row.target,
            outcome: AuditOutcome::from_code(&row.outcome)
                .ok_or(StorageError::Corrupt("audit_events.outcome"))?,
            reason: row.reason,
            request_id: row.request_id,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct ReleaseRuleRow {
    #[allow(dead_code)]
    rule_set_version: i64,
    name: String,
    description: String,
    source_ods_code: Option<String>,
    category: Option<String>,
    code: Option<String>,
    abnormal: Option<bool>,
    policy: String,
    delay_days: Option<i32>,
}

impl TryFrom<ReleaseRuleRow> for ReleaseRule {
    type Error = StorageError;
    fn try_from(row: ReleaseRuleRow) -> Result<Self, StorageError> {
        let policy = match (row.policy.as_str(), row.delay_days) {
            ("immediately", None) => ReleasePolicy::Immediately,
            ("clinician_release", None) => ReleasePolicy::ClinicianRelease,
            ("after_days", Some(days)) => ReleasePolicy::AfterDays {
                days: u32::try_from(days)
                    .map_err(|_| StorageError::Corrupt("release_rules.delay_days"))?,
            },
            _ => return Err(StorageError::Corrupt("release_rules.policy")),
        };
        Ok(ReleaseRule {
            name: row.name,
            description: row.description,
            source: row.source_ods_code,
            category: row.category,
            code: row.code,
            abnormal: row.abnormal,
            policy,
        })
    }
}

/// The policy as its two columns: a name and, for delays, the number of days.
pub(super) fn policy_columns(policy: ReleasePolicy) -> (&'static str, Option<i32>) {
    match policy {
        ReleasePolicy::Immediately => ("immediately", None),
        ReleasePolicy::ClinicianRelease => ("clinician_release", None),
        ReleasePolicy::AfterDays { days } => {
            ("after_days", Some(i32::try_from(days).unwrap_or(i32::MAX)))
        }
    }
}

/// The start of an insert of audit rows; the rows' values follow.
pub(super) const INSERT_AUDIT_COLUMNS: &str = "INSERT INTO audit_events (occurred_at, \
    actor_kind, actor_account_id, actor_org_id, patient_id, action, target, outcome, reason, \
    request_id) ";

/// Keys asked for in one lookup of stored items (4 parameters each).
pub(super) const KEYS_PER_LOOKUP: usize = 200;
/// Rows in one multi-row insert: well inside both databases' parameter limits (SQLite
/// 32,766, PostgreSQL 65,535) at 24, 6 and 3 parameters a row.
pub(super) const ITEMS_PER_INSERT: usize = 200;
pub(super) const VERSIONS_PER_INSERT: usize = 500;
pub(super) const LABELS_PER_INSERT: usize = 1_000;

pub(super) fn millis_opt(at: Option<DateTime<Utc>>) -> Option<i64> {
    at.map(to_millis)
}

pub(super) fn details_json(details: &ItemDetails) -> Result<String, StorageError> {
    serde_json::to_string(details).map_err(|_| StorageError::Corrupt("details"))
}

pub(super) fn relations_json(
    relations: &crate::records::Relations,
) -> Result<String, StorageError> {
    serde_json::to_string(relations).map_err(|_| StorageError::Corrupt("relations"))
}

pub(super) fn new_public_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// The rule set last read, kept by version. A saved version never changes (a new table
/// is a new version), so a read asks the database only for the newest version number
/// and reuses the rules it already holds for that number.
#[derive(Default)]
pub(super) struct RuleSetCache(std::sync::Mutex<Option<crate::release::RuleSet>>);

impl RuleSetCache {
    pub(super) fn get(&self, version: i64) -> Option<crate::release::RuleSet> {
        let known = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        known.as_ref().filter(|set| set.version == version).cloned()
    }

    pub(super) fn remember(&self, set: &crate::release::RuleSet) {
        *self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(set.clone());
    }
}

/// Expands to `impl Storage for $store`, where `$store` has `writer()` and `reader()`
/// returning `&sqlx::Pool<$db>`, a `rule_sets: RuleSetCache`, and the backend's own
/// `begin_audited_read`, `finish_audited_read` and `apply_delivery_now`. SQLite gets a
/// single-connection writer pool (one writer at a time is SQLite's own rule, and
/// queueing in the pool beats retrying on "busy"); PostgreSQL returns the same pool from
/// both.
macro_rules! impl_portable_storage {
    ($store:ty, $db:ty, $backend:expr) => {
        #[async_trait::async_trait]
        impl $crate::server::storage::Storage for $store {
            fn backend(&self) -> $crate::server::storage::Backend {
                $backend
            }

            async fn ping(&self) -> Result<(), StorageError> {
                sqlx::query("SELECT 1").execute(self.reader()).await?;
                Ok(())
            }

            async fn create_organisation(
                &self,
                new: NewOrganisation,
            ) -> Result<Organisation, StorageError> {
                let mut tx = self.writer().begin().await?;
                let at = to_millis(new.at);
                let row: OrganisationRow = sqlx::query_as(concat!(
                    "INSERT INTO organisations (ods_code, name, kind, credential_hash, \
                     credential_issued_at, created_at) VALUES ($1, $2, $3, $4, $5, $5) \
                     RETURNING ", organisation_columns!(), ""
                ))
                .bind(new.ods_code.as_str())
                .bind(&new.name)
                .bind(new.kind.code())
                .bind(&new.credential_hash)
                .bind(at)
                .fetch_one(&mut *tx)
                .await
                .map_err(|e| unique_violation_as(e, "organisation already exists"))?;
                let organisation = Organisation::try_from(row)?;
                insert_audit!(tx, NewAuditEvent {
                    actor_org: Some(organisation.id),
                    target: Some(organisation.ods_code.to_string()),
                    ..NewAuditEvent::new(new.at, ActorKind::System, action::ORGANISATION_CREATED)
                });
                tx.commit().await?;
                Ok(organisation)
            }

            async fn find_organisation_by_ods_code(
                &self,
                ods_code: &OdsCode,
            ) -> Result<Option<Organisation>, StorageError> {
                sqlx::query_as::<_, OrganisationRow>(concat!(
                    "SELECT ", organisation_columns!(), " FROM organisations WHERE ods_code = $1"))
                .bind(ods_code.as_str())
                .fetch_optional(self.reader())
                .await?
                .map(Organisation::try_from)
                .transpose()
            }

            async fn find_organisation_by_credential_hash(
                &self,
                credential_hash: &str,
            ) -> Result<Option<Organisation>, StorageError> {
                sqlx::query_as::<_, OrganisationRow>(concat!(
                    "SELECT ", organisation_columns!(), " FROM organisations WHERE credential_hash = $1"))
                .bind(credential_hash)
                .fetch_optional(self.reader())
                .await?
                .map(Organisation::try_from)
                .transpose()
            }

            async fn set_organisation_credential(
                &self,
                change: CredentialChange,
            ) -> Result<Organisation, StorageError> {
                let mut tx = self.writer().begin().await?;
                let row: Option<OrganisationRow> = sqlx::query_as(concat!(
                    "UPDATE organisations SET credential_hash = $2, credential_issued_at = $3 \
                     WHERE ods_code = $1 RETURNING ", organisation_columns!(), ""))
                .bind(change.ods_code.as_str())
                .bind(change.credential_hash.as_deref())
                .bind(change.credential_hash.as_ref().map(|_| to_millis(change.at)))
                .fetch_optional(&mut *tx)
                .await?;
                let organisation = Organisation::try_from(row.ok_or(StorageError::NotFound)?)?;
                let what = if change.credential_hash.is_some() {
                    action::CREDENTIAL_ROTATED
                } else {
                    action::CREDENTIAL_REVOKED
                };
                insert_audit!(tx, NewAuditEvent {
                    actor_org: Some(organisation.id),
                    target: Some(organisation.ods_code.to_string()),
                    ..NewAuditEvent::new(change.at, ActorKind::System, what)
                });
                tx.commit().await?;
                Ok(organisation)
            }

            async fn list_organisations(&self) -> Result<Vec<Organisation>, StorageError> {
                let mut conn = self.reader().acquire().await?;
                select_organisations(&mut *conn).await
            }

            async fn find_patient_by_nhs_number(
                &self,
                nhs_number: &NhsNumber,
            ) -> Result<Option<Patient>, StorageError> {
                sqlx::query_as::<_, PatientRow>(
                    "SELECT id, nhs_number, family_name, given_name, birth_date, gender \
                     FROM patients WHERE nhs_number = $1",
                )
                .bind(nhs_number.as_str())
                .fetch_optional(self.reader())
                .await?
                .map(Patient::try_from)
                .transpose()
            }

            async fn find_patient(&self, id: PatientId) -> Result<Option<Patient>, StorageError> {
                sqlx::query_as::<_, PatientRow>(
                    "SELECT id, nhs_number, family_name, given_name, birth_date, gender \
                     FROM patients WHERE id = $1",
                )
                .bind(id.0)
                .fetch_optional(self.reader())
                .await?
                .map(Patient::try_from)
                .transpose()
            }

            async fn find_or_create_patient(
                &self,
                nhs_number: &NhsNumber,
                at: DateTime<Utc>,
            ) -> Result<Patient, StorageError> {
                let row: PatientRow = sqlx::query_as(
                    "INSERT INTO patients (nhs_number, created_at, updated_at) VALUES ($1, $2, $2) \
                     ON CONFLICT (nhs_number) DO UPDATE SET nhs_number = excluded.nhs_number \
                     RETURNING id, nhs_number, family_name, given_name, birth_date, gender",
                )
                .bind(nhs_number.as_str())
                .bind(to_millis(at))
                .fetch_one(self.writer())
                .await?;
                Patient::try_from(row)
            }

            async fn apply_delivery(
                &self,
                delivery: Delivery,
            ) -> Result<Vec<ItemOutcome>, StorageError> {
                self.apply_delivery_now(delivery).await
            }

            async fn get_attachment(&self, sha256: &str) -> Result<Option<Attachment>, StorageError> {
                let row: Option<(String, String, Vec<u8>)> = sqlx::query_as(
                    "SELECT sha256, content_type, content FROM attachments WHERE sha256 = $1",
                )
                .bind(sha256)
                .fetch_optional(self.reader())
                .await?;
                Ok(row.map(|(sha256, content_type, content)| Attachment { sha256, content_type, content }))
            }

            async fn count_labelled_items_by_sender(
                &self,
                labels: &[String],
            ) -> Result<Vec<(OrganisationId, u64)>, StorageError> {
                if labels.is_empty() {
                    return Ok(Vec::new());
                }
                let mut sql = sqlx::QueryBuilder::<$db>::new(
                    "SELECT i.source_org_id, COUNT(DISTINCT i.id) FROM record_items i \
                     JOIN record_item_labels l ON l.item_id = i.id WHERE l.label IN (",
                );
                let mut list = sql.separated(", ");
                for label in labels {
                    list.push_bind(label.clone());
                }
                sql.push(") GROUP BY i.source_org_id ORDER BY i.source_org_id");
                let rows: Vec<(i64, i64)> = sql.build_query_as().fetch_all(self.reader()).await?;
                Ok(rows
                    .into_iter()
                    .map(|(org, count)| (OrganisationId(org), u64::try_from(count).unwrap_or(0)))
                    .collect())
            }

            async fn list_held_resources(&self, limit: u32) -> Result<Vec<HeldResource>, StorageError> {
                let rows: Vec<(i64, i64, i64, String, String, String, String)> = sqlx::query_as(
                    "SELECT id, sender_org_id, received_at, resource_type, expression, reason, \
                     raw_resource FROM held_resources WHERE resolved_at IS NULL \
                     ORDER BY received_at, id LIMIT $1",
                )
                .bind(i64::from(limit))
                .fetch_all(self.reader())
                .await?;
                rows.into_iter()
                    .map(|(id, sender, received_at, resource_type, expression, reason, raw_resource)| {
                        Ok(HeldResource {
                            id,
                            sender: OrganisationId(sender),
                            received_at: from_millis(received_at)?,
                            resource_type,
                            expression,
                            reason,
                            raw_resource,
                        })
                    })
                    .collect()
            }

            async fn read_record(
                &self,
                query: RecordQuery,
                audit: NewAuditEvent,
            ) -> Result<RecordRead, StorageError> {
                let mut tx = self.begin_audited_read().await?;
                let items = select_record_items(&mut *tx, &query).await?;
                let rules = select_release_rules(&mut *tx, &self.rule_sets).await?;
                let organisations = select_organisations(&mut *tx).await?;
                self.finish_audited_read(tx, audit).await?;
                Ok(RecordRead {
                    items,
                    rules,
                    organisations,
                })
            }

            async fn find_item_by_key(
                &self,
                sender: OrganisationId,
                key: &ItemKey,
            ) -> Result<Option<String>, StorageError> {
                Ok(sqlx::query_scalar(
                    "SELECT public_id FROM record_items WHERE source_org_id = $1 AND \
                     resource_type = $2 AND identifier_system = $3 AND identifier_value = $4",
                )
                .bind(sender.0)
                .bind(&key.resource_type)
                .bind(&key.identifier_system)
                .bind(&key.identifier_value)
                .fetch_optional(self.reader())
                .await?)
            }

            async fn list_item_versions(
                &self,
                sender: OrganisationId,
                public_id: &str,
            ) -> Result<Vec<ItemVersion>, StorageError> {
                sqlx::query_as::<_, ItemVersionRow>(
                    "SELECT v.version, v.received_at, v.content_sha256, v.raw_resource \
                     FROM record_item_versions v JOIN record_items i ON i.id = v.item_id \
                     WHERE i.public_id = $1 AND i.source_org_id = $2 ORDER BY v.version",
                )
                .bind(public_id)
                .bind(sender.0)
                .fetch_all(self.reader())
                .await?
                .into_iter()
                .map(ItemVersion::try_from)
                .collect()
            }

            async fn record_sign_in(&self, sign_in: NewSignIn) -> Result<Account, StorageError> {
                let at = to_millis(sign_in.at);
                let mut tx = self.writer().begin().await?;
                let row: AccountRow = sqlx::query_as(concat!(
                    "INSERT INTO accounts (issuer, subject, role, identity_level, patient_id, \
                     created_at, last_sign_in_at) VALUES ($1, $2, $3, $4, $5, $6, $6) \
                     ON CONFLICT (issuer, subject) DO UPDATE SET \
                     identity_level = excluded.identity_level, \
                     patient_id = COALESCE(excluded.patient_id, accounts.patient_id), \
                     previous_sign_in_at = accounts.last_sign_in_at, \
                     last_sign_in_at = excluded.last_sign_in_at \
                     RETURNING ", account_columns!(), ""
                ))
                .bind(&sign_in.issuer)
                .bind(&sign_in.subject)
                .bind(sign_in.role.code())
                .bind(sign_in.identity_level.as_deref())
                .bind(sign_in.patient_id.map(|p| p.0))
                .bind(at)
                .fetch_one(&mut *tx)
                .await?;
                let account = Account::try_from(row)?;
                if account.role != sign_in.role {
                    // One identity, one role: a staff subject never becomes a patient
                    // account or the other way round.
                    return Err(StorageError::Conflict("account has another role"));
                }
                let actor_kind = match account.role {
                    AccountRole::Patient => ActorKind::Patient,
                    AccountRole::ServiceDesk => ActorKind::Staff,
                };
                insert_audit!(tx, NewAuditEvent {
                    actor_account: Some(account.id),
                    patient: account.patient_id,
                    request_id: sign_in.request_id.clone(),
                    ..NewAuditEvent::new(sign_in.at, actor_kind, action::SIGNED_IN)
                });
                tx.commit().await?;
                Ok(account)
            }

            async fn create_session(&self, session: NewSession) -> Result<(), StorageError> {
                sqlx::query(
                    "INSERT INTO sessions (id_hash, account_id, audience, csrf_token, created_at, \
                     last_seen_at, absolute_expires_at) VALUES ($1, $2, $3, $4, $5, $5, $6)",
                )
                .bind(&session.id_hash)
                .bind(session.account_id.0)
                .bind(session.audience.code())
                .bind(&session.csrf_token)
                .bind(to_millis(session.created_at))
                .bind(to_millis(session.absolute_expires_at))
                .execute(self.writer())
                .await
                .map_err(|e| unique_violation_as(e, "session id already in use"))?;
                Ok(())
            }

            async fn find_session(
                &self,
                id_hash: &str,
            ) -> Result<Option<(Session, Account)>, StorageError> {
                sqlx::query_as::<_, SessionAccountRow>(SESSION_ACCOUNT_SELECT)
                    .bind(id_hash)
                    .fetch_optional(self.reader())
                    .await?
                    .map(<(Session, Account)>::try_from)
                    .transpose()
            }

            async fn touch_session(
                &self,
                id_hash: &str,
                at: DateTime<Utc>,
            ) -> Result<(), StorageError> {
                let done = sqlx::query("UPDATE sessions SET last_seen_at = $2 WHERE id_hash = $1")
                    .bind(id_hash)
                    .bind(to_millis(at))
                    .execute(self.writer())
                    .await?;
                if done.rows_affected() == 0 {
                    return Err(StorageError::NotFound);
                }
                Ok(())
            }

            async fn delete_session(
                &self,
                id_hash: &str,
                audit: Option<NewAuditEvent>,
            ) -> Result<(), StorageError> {
                let mut tx = self.writer().begin().await?;
                sqlx::query("DELETE FROM sessions WHERE id_hash = $1")
                    .bind(id_hash)
                    .execute(&mut *tx)
                    .await?;
                if let Some(audit) = audit {
                    insert_audit!(tx, audit);
                }
                tx.commit().await?;
                Ok(())
            }

            async fn delete_expired_sessions(
                &self,
                now: DateTime<Utc>,
                idle_before: DateTime<Utc>,
            ) -> Result<u64, StorageError> {
                let done = sqlx::query(
                    "DELETE FROM sessions WHERE absolute_expires_at <= $1 OR last_seen_at < $2",
                )
                .bind(to_millis(now))
                .bind(to_millis(idle_before))
                .execute(self.writer())
                .await?;
                Ok(done.rows_affected())
            }

            async fn create_login_attempt(&self, attempt: NewLoginAttempt) -> Result<(), StorageError> {
                let vectors = serde_json::to_string(&attempt.requested_vectors)
                    .map_err(|_| StorageError::Corrupt("requested_vectors"))?;
                sqlx::query(
                    "INSERT INTO login_attempts (state_hash, audience, nonce, pkce_verifier, \
                     requested_vectors, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(&attempt.state_hash)
                .bind(attempt.audience.code())
                .bind(&attempt.nonce)
                .bind(attempt.pkce_verifier.as_deref())
                .bind(vectors)
                .bind(to_millis(attempt.created_at))
                .execute(self.writer())
                .await
                .map_err(|e| unique_violation_as(e, "state already in use"))?;
                Ok(())
            }

            async fn take_login_attempt(
                &self,
                state_hash: &str,
                not_before: DateTime<Utc>,
            ) -> Result<Option<LoginAttempt>, StorageError> {
                let mut tx = self.writer().begin().await?;
                // Abandoned sign-ins are cleared as a side effect, so the table stays small.
                sqlx::query("DELETE FROM login_attempts WHERE created_at < $1")
                    .bind(to_millis(not_before))
                    .execute(&mut *tx)
                    .await?;
                let row: Option<LoginAttemptRow> = sqlx::query_as(
                    "DELETE FROM login_attempts WHERE state_hash = $1 RETURNING state_hash, \
                     audience, nonce, pkce_verifier, requested_vectors, created_at",
                )
                .bind(state_hash)
                .fetch_optional(&mut *tx)
                .await?;
                tx.commit().await?;
                row.map(LoginAttempt::try_from).transpose()
            }

            async fn current_release_rules(&self) -> Result<Option<RuleSet>, StorageError> {
                let mut conn = self.reader().acquire().await?;
                select_release_rules(&mut *conn, &self.rule_sets).await
            }

            async fn save_release_rules(
                &self,
                rules: &[ReleaseRule],
                changed_by: &str,
                audit: NewAuditEvent,
            ) -> Result<i64, StorageError> {
                let mut tx = self.writer().begin().await?;
                let version: i64 = sqlx::query_scalar(
                    "INSERT INTO release_rule_sets (version, created_at, changed_by) \
                     SELECT COALESCE(MAX(version), 0) + 1, $1, $2 FROM release_rule_sets \
                     RETURNING version",
                )
                .bind(to_millis(audit.at))
                .bind(changed_by)
                .fetch_one(&mut *tx)
                .await?;
                for (position, rule) in rules.iter().enumerate() {
                    let (policy, days) = policy_columns(rule.policy);
                    sqlx::query(
                        "INSERT INTO release_rules (rule_set_version, position, name, \
                         description, source_ods_code, category, code, abnormal, policy, \
                         delay_days) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                    )
                    .bind(version)
                    .bind(i32::try_from(position).map_err(|_| StorageError::Corrupt("rule count"))?)
                    .bind(&rule.name)
                    .bind(&rule.description)
                    .bind(rule.source.as_deref())
                    .bind(rule.category.as_deref())
                    .bind(rule.code.as_deref())
                    .bind(rule.abnormal)
                    .bind(policy)
                    .bind(days)
                    .execute(&mut *tx)
                    .await?;
                }
                insert_audit!(tx, NewAuditEvent {
                    target: Some(format!("release-rules:v{version}")),
                    ..audit
                });
                tx.commit().await?;
                Ok(version)
            }

            async fn applied_setting(&self, name: &str) -> Result<Option<String>, StorageError> {
                Ok(sqlx::query_scalar("SELECT fingerprint FROM applied_settings WHERE name = $1")
                    .bind(name)
                    .fetch_optional(self.reader())
                    .await?)
            }

            async fn relabel_items(
                &self,
                code_list: &crate::privacy::CodeList,
                setting: &str,
                fingerprint: &str,
                audit: NewAuditEvent,
            ) -> Result<u64, StorageError> {
                use std::collections::BTreeSet;
                let mut tx = self.writer().begin().await?;
                let mut changed: u64 = 0;
                let mut after: i64 = 0;
                loop {
                    // A page at a time, by id, so a large store is never held in memory.
                    let page: Vec<(i64, String, Option<String>)> = sqlx::query_as(
                        "SELECT i.id, v.raw_resource, \
                         (SELECT STRING_AGG(l.label, ',') FROM record_item_labels l \
                          WHERE l.item_id = i.id AND l.origin = 'code_list') \
                         FROM record_items i JOIN record_item_versions v \
                         ON v.item_id = i.id AND v.version = i.current_version \
                         WHERE i.id > $1 ORDER BY i.id LIMIT 500",
                    )
                    .bind(after)
                    .fetch_all(&mut *tx)
                    .await?;
                    let Some(last) = page.last() else { break };
                    after = last.0;
                    for (item_id, raw, stored) in page {
                        let stored: BTreeSet<String> = stored
                            .unwrap_or_default()
                            .split(',')
                            .filter(|l| !l.is_empty())
                            .map(str::to_owned)
                            .collect();
                        let wanted: BTreeSet<String> = match serde_json::from_str(&raw) {
                            Ok(resource) => code_list.labels_for_resource(&resource).into_iter().collect(),
                            // A raw resource is stored only after it parsed; keep what it has.
                            Err(_) => stored.clone(),
                        };
                        if wanted == stored {
                            continue;
                        }
                        changed += 1;
                        sqlx::query("DELETE FROM record_item_labels WHERE item_id = $1 AND origin = 'code_list'")
                            .bind(item_id)
                            .execute(&mut *tx)
                            .await?;
                        for label in &wanted {
                            sqlx::query(
                                "INSERT INTO record_item_labels (item_id, label, origin) \
                                 VALUES ($1, $2, 'code_list') ON CONFLICT (item_id, label) DO NOTHING",
                            )
                            .bind(item_id)
                            .bind(label)
                            .execute(&mut *tx)
                            .await?;
                        }
                    }
                }
                sqlx::query(
                    "INSERT INTO applied_settings (name, fingerprint, applied_at) VALUES ($1, $2, $3) \
                     ON CONFLICT (name) DO UPDATE SET fingerprint = excluded.fingerprint, \
                     applied_at = excluded.applied_at",
                )
                .bind(setting)
                .bind(fingerprint)
                .bind(to_millis(audit.at))
                .execute(&mut *tx)
                .await?;
                insert_audit!(tx, NewAuditEvent {
                    target: Some(format!("{setting}:{fingerprint}:{changed} items relabelled")),
                    ..audit
                });
                tx.commit().await?;
                Ok(changed)
            }

            async fn append_audit(&self, event: NewAuditEvent) -> Result<(), StorageError> {
                let mut tx = self.writer().begin().await?;
                insert_audit!(tx, event);
                tx.commit().await?;
                Ok(())
            }

            async fn list_recent_audit_events(&self, limit: u32) -> Result<Vec<AuditEvent>, StorageError> {
                sqlx::query_as::<_, AuditRow>(
                    "SELECT id, occurred_at, actor_kind, actor_account_id, actor_org_id, \
                     patient_id, action, target, outcome, reason, request_id \
                     FROM audit_events ORDER BY occurred_at DESC, id DESC LIMIT $1",
                )
                .bind(i64::from(limit))
                .fetch_all(self.reader())
                .await?
                .into_iter()
                .map(AuditEvent::try_from)
                .collect()
            }

            async fn list_audit_events(
                &self,
                patient_id: PatientId,
                limit: u32,
            ) -> Result<Vec<AuditEvent>, StorageError> {
                sqlx::query_as::<_, AuditRow>(
                    "SELECT id, occurred_at, actor_kind, actor_account_id, actor_org_id, \
                     patient_id, action, target, outcome, reason, request_id \
                     FROM audit_events WHERE patient_id = $1 \
                     ORDER BY occurred_at DESC, id DESC LIMIT $2",
                )
                .bind(patient_id.0)
                .bind(i64::from(limit))
                .fetch_all(self.reader())
                .await?
                .into_iter()
                .map(AuditEvent::try_from)
                .collect()
            }
        }

        impl $store {
            /// One delivery's writes, inside a transaction the caller opened and commits
            /// (PostgreSQL: one per delivery; SQLite: a savepoint of a group commit).
            pub(super) async fn apply_delivery_within(
                tx: &mut <$db as sqlx::Database>::Connection,
                delivery: &Delivery,
            ) -> Result<Vec<ItemOutcome>, StorageError> {
                let received_at = to_millis(delivery.received_at);
                let mut patient_ids = std::collections::HashMap::<String, i64>::new();

                for patient in &delivery.patients {
                    let id: i64 = sqlx::query_scalar(
                        "INSERT INTO patients (nhs_number, family_name, given_name, birth_date, \
                         gender, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $6) \
                         ON CONFLICT (nhs_number) DO UPDATE SET \
                         family_name = COALESCE(excluded.family_name, patients.family_name), \
                         given_name = COALESCE(excluded.given_name, patients.given_name), \
                         birth_date = COALESCE(excluded.birth_date, patients.birth_date), \
                         gender = COALESCE(excluded.gender, patients.gender), \
                         updated_at = excluded.updated_at \
                         RETURNING id",
                    )
                    .bind(patient.nhs_number.as_str())
                    .bind(patient.family_name.as_deref())
                    .bind(patient.given_name.as_deref())
                    .bind(patient.birth_date.as_deref())
                    .bind(patient.gender.as_deref())
                    .bind(received_at)
                    .fetch_one(&mut *tx)
                    .await?;
                    patient_ids.insert(patient.nhs_number.as_str().to_owned(), id);
                }

                // Patients the items name who came without a Patient resource: a valid
                // NHS number the portal has not seen yet starts a record here, and
                // demographics follow with the Patient resource.
                for item in &delivery.items {
                    if patient_ids.contains_key(item.patient.as_str()) {
                        continue;
                    }
                    let id: i64 = sqlx::query_scalar(
                        "INSERT INTO patients (nhs_number, created_at, updated_at) \
                         VALUES ($1, $2, $2) ON CONFLICT (nhs_number) DO UPDATE \
                         SET nhs_number = excluded.nhs_number RETURNING id",
                    )
                    .bind(item.patient.as_str())
                    .bind(received_at)
                    .fetch_one(&mut *tx)
                    .await?;
                    patient_ids.insert(item.patient.as_str().to_owned(), id);
                }

                // Items are written a run at a time, a few statements per run rather than
                // several per item. A key sent twice in one delivery starts a new run, so
                // the second sees the first, exactly as if they had come one by one.
                let mut outcomes = Vec::with_capacity(delivery.items.len());
                let mut run_start = 0;
                let mut keys_in_run = std::collections::HashSet::<&ItemKey>::new();
                for (index, item) in delivery.items.iter().enumerate() {
                    if !keys_in_run.insert(&item.key) {
                        let run = &delivery.items[run_start..index];
                        outcomes.extend(Self::apply_item_run(tx, delivery, run, &patient_ids).await?);
                        run_start = index;
                        keys_in_run.clear();
                        keys_in_run.insert(&item.key);
                    }
                }
                let run = &delivery.items[run_start..];
                outcomes.extend(Self::apply_item_run(tx, delivery, run, &patient_ids).await?);

                for held in &delivery.held {
                    sqlx::query(
                        "INSERT INTO held_resources (sender_org_id, received_at, resource_type, \
                         expression, reason, raw_resource, request_id) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7)",
                    )
                    .bind(delivery.sender.0)
                    .bind(received_at)
                    .bind(&held.resource_type)
                    .bind(&held.expression)
                    .bind(&held.reason)
                    .bind(&held.raw_resource)
                    .bind(delivery.request_id.as_deref())
                    .execute(&mut *tx)
                    .await?;
                }

                sqlx::query("UPDATE organisations SET last_received_at = $2 WHERE id = $1")
                    .bind(delivery.sender.0)
                    .bind(received_at)
                    .execute(&mut *tx)
                    .await?;
                insert_audit!(tx, NewAuditEvent {
                    actor_org: Some(delivery.sender),
                    target: Some(format!("{} items", delivery.items.len())),
                    request_id: delivery.request_id.clone(),
                    ..NewAuditEvent::new(delivery.received_at, ActorKind::Sender, action::FEED_RECEIVED)
                });
                Ok(outcomes)
            }

            /// Writes a run of items whose keys are all different: one lookup of what is
            /// stored (the items and the reports they belong to), multi-row inserts for
            /// new items (reports before their results, so a result finds its report's
            /// id), one update per changed item, then the versions and labels of every
            /// new or changed item in multi-row inserts. Unchanged items write nothing.
            async fn apply_item_run(
                tx: &mut <$db as sqlx::Database>::Connection,
                delivery: &Delivery,
                run: &[NewRecordItem],
                patient_ids: &std::collections::HashMap<String, i64>,
            ) -> Result<Vec<ItemOutcome>, StorageError> {
                use std::collections::{HashMap, HashSet};

                let sender = delivery.sender.0;
                let received_at = to_millis(delivery.received_at);
                let patient_of = |item: &NewRecordItem| {
                    patient_ids
                        .get(item.patient.as_str())
                        .copied()
                        .ok_or(StorageError::Corrupt("an item's patient was not written"))
                };

                // What is stored under the run's keys and its reports' keys.
                let mut wanted: Vec<&ItemKey> = run.iter().map(|item| &item.key).collect();
                let run_keys: HashSet<&ItemKey> = wanted.iter().copied().collect();
                for parent in run.iter().filter_map(|item| item.parent.as_ref()) {
                    if !run_keys.contains(parent) && !wanted.contains(&parent) {
                        wanted.push(parent);
                    }
                }
                // (id, public id, current version, content hash)
                let mut stored = HashMap::<ItemKey, (i64, String, i64, String)>::new();
                for keys in wanted.chunks(KEYS_PER_LOOKUP) {
                    // One branch per key, each naming the whole unique key, so both
                    // databases answer every branch from the key's index (an OR of keys
                    // may be planned as a scan of everything the sender has sent).
                    let mut sql = sqlx::QueryBuilder::<$db>::new("");
                    for (n, key) in keys.iter().enumerate() {
                        if n > 0 {
                            sql.push(" UNION ALL ");
                        }
                        sql.push(
                            "SELECT i.id, i.public_id, i.current_version, v.content_sha256, \
                             i.resource_type, i.identifier_system, i.identifier_value \
                             FROM record_items i JOIN record_item_versions v \
                             ON v.item_id = i.id AND v.version = i.current_version \
                             WHERE i.source_org_id = ",
                        );
                        sql.push_bind(sender);
                        sql.push(" AND i.resource_type = ").push_bind(&key.resource_type);
                        sql.push(" AND i.identifier_system = ").push_bind(&key.identifier_system);
                        sql.push(" AND i.identifier_value = ").push_bind(&key.identifier_value);
                    }
                    let rows: Vec<(i64, String, i64, String, String, String, String)> =
                        sql.build_query_as().fetch_all(&mut *tx).await?;
                    for (id, public_id, version, hash, resource_type, system, value) in rows {
                        let key = ItemKey {
                            resource_type,
                            identifier_system: system,
                            identifier_value: value,
                        };
                        stored.insert(key, (id, public_id, version, hash));
                    }
                }
                let mut ids: HashMap<&ItemKey, i64> = HashMap::new();
                for key in &wanted {
                    if let Some((id, ..)) = stored.get(*key) {
                        ids.insert(*key, *id);
                    }
                }

                let mut outcomes: Vec<Option<ItemOutcome>> = vec![None; run.len()];
                // (index in the run, item id, version) of every new or changed item.
                let mut written: Vec<(usize, i64, i64)> = Vec::new();
                let mut details = Vec::with_capacity(run.len());
                let mut relations = Vec::with_capacity(run.len());
                for item in run {
                    details.push(details_json(&item.details)?);
                    relations.push(relations_json(&item.relations)?);
                }

                // New items, in rounds: an item goes in once the report it belongs to is
                // stored, or when that report is not coming in this run at all.
                let mut waiting: Vec<usize> = (0..run.len())
                    .filter(|&index| !stored.contains_key(&run[index].key))
                    .collect();
                while !waiting.is_empty() {
                    let coming: HashSet<&ItemKey> =
                        waiting.iter().map(|&index| &run[index].key).collect();
                    let (mut ready, later): (Vec<usize>, Vec<usize>) =
                        waiting.iter().partition(|&&index| match &run[index].parent {
                            Some(parent) => ids.contains_key(parent) || !coming.contains(parent),
                            None => true,
                        });
                    if ready.is_empty() {
                        // Items that name each other: none can wait for the other.
                        ready = later.clone();
                    }
                    waiting = if ready.len() == waiting.len() { Vec::new() } else { later };
                    for chunk in ready.chunks(ITEMS_PER_INSERT) {
                        let mut rows = Vec::with_capacity(chunk.len());
                        for &index in chunk {
                            let item = &run[index];
                            let parent_id = item.parent.as_ref().and_then(|p| ids.get(p).copied());
                            rows.push((index, new_public_id(), patient_of(item)?, parent_id));
                        }
                        let mut sql = sqlx::QueryBuilder::<$db>::new(
                            "INSERT INTO record_items (public_id, patient_id, source_org_id, \
                             resource_type, identifier_system, identifier_value, kind, \
                             parent_item_id, current_version, status, entered_in_error, title, \
                             occurred_at, occurred_text, details, category, code_system, code, \
                             abnormal, issued_at, effective_at, release_directive, \
                             first_received_at, last_received_at, relations) ",
                        );
                        sql.push_values(&rows, |mut row, (index, public_id, patient_id, parent_id)| {
                            let item = &run[*index];
                            row.push_bind(public_id.clone())
                                .push_bind(*patient_id)
                                .push_bind(sender)
                                .push_bind(&item.key.resource_type)
                                .push_bind(&item.key.identifier_system)
                                .push_bind(&item.key.identifier_value)
                                .push_bind(item.kind.code())
                                .push_bind(*parent_id)
                                .push_bind(1_i64)
                                .push_bind(&item.status)
                                .push_bind(item.entered_in_error)
                                .push_bind(&item.title)
                                .push_bind(millis_opt(item.occurred_at))
                                .push_bind(item.occurred_text.as_deref())
                                .push_bind(&details[*index])
                                .push_bind(item.category.as_deref())
                                .push_bind(item.code_system.as_deref())
                                .push_bind(item.code.as_deref())
                                .push_bind(item.abnormal)
                                .push_bind(millis_opt(item.issued_at))
                                .push_bind(millis_opt(item.effective_at))
                                .push_bind(item.release_directive.code())
                                .push_bind(received_at)
                                .push_bind(received_at)
                                .push_bind(&relations[*index]);
                        });
                        sql.push(" RETURNING id, public_id");
                        let returned: Vec<(i64, String)> =
                            sql.build_query_as().fetch_all(&mut *tx).await?;
                        // RETURNING promises no order: match the rows up by public id.
                        let id_of: HashMap<String, i64> =
                            returned.into_iter().map(|(id, public_id)| (public_id, id)).collect();
                        for (index, public_id, ..) in rows {
                            let id = *id_of
                                .get(&public_id)
                                .ok_or(StorageError::Corrupt("an inserted item was not returned"))?;
                            ids.insert(&run[index].key, id);
                            written.push((index, id, 1));
                            outcomes[index] = Some(ItemOutcome {
                                public_id,
                                version: 1,
                                change: ItemChange::Created,
                            });
                        }
                    }
                }

                // Stored items: identical ones are left alone, changed ones updated.
                for (index, item) in run.iter().enumerate() {
                    let Some((item_id, public_id, version, hash)) = stored.get(&item.key) else {
                        continue;
                    };
                    if *hash == item.content_sha256 {
                        outcomes[index] = Some(ItemOutcome {
                            public_id: public_id.clone(),
                            version: *version,
                            change: ItemChange::Unchanged,
                        });
                        continue;
                    }
                    let parent_id = item.parent.as_ref().and_then(|p| ids.get(p).copied());
                    sqlx::query(
                        "UPDATE record_items SET patient_id = $2, kind = $3, \
                         parent_item_id = $4, current_version = $5, status = $6, \
                         entered_in_error = $7, title = $8, occurred_at = $9, \
                         occurred_text = $10, details = $11, category = $12, \
                         code_system = $13, code = $14, abnormal = $15, issued_at = $16, \
                         effective_at = $17, release_directive = $18, \
                         last_received_at = $19, relations = $20 WHERE id = $1",
                    )
                    .bind(*item_id)
                    .bind(patient_of(item)?)
                    .bind(item.kind.code())
                    .bind(parent_id)
                    .bind(version + 1)
                    .bind(&item.status)
                    .bind(item.entered_in_error)
                    .bind(&item.title)
                    .bind(millis_opt(item.occurred_at))
                    .bind(item.occurred_text.as_deref())
                    .bind(&details[index])
                    .bind(item.category.as_deref())
                    .bind(item.code_system.as_deref())
                    .bind(item.code.as_deref())
                    .bind(item.abnormal)
                    .bind(millis_opt(item.issued_at))
                    .bind(millis_opt(item.effective_at))
                    .bind(item.release_directive.code())
                    .bind(received_at)
                    .bind(&relations[index])
                    .execute(&mut *tx)
                    .await?;
                    // The code list's labels are worked out again from the new version; a
                    // sender's own label stays: a later version sent without it must not
                    // make a sensitive item reappear.
                    sqlx::query(
                        "DELETE FROM record_item_labels WHERE item_id = $1 AND origin = 'code_list'",
                    )
                        .bind(*item_id)
                        .execute(&mut *tx)
                        .await?;
                    written.push((index, *item_id, version + 1));
                    outcomes[index] = Some(ItemOutcome {
                        public_id: public_id.clone(),
                        version: version + 1,
                        change: ItemChange::Updated,
                    });
                }

                // The raw resource of every new version, their attachments and labels.
                written.sort_unstable();
                for chunk in written.chunks(VERSIONS_PER_INSERT) {
                    let mut sql = sqlx::QueryBuilder::<$db>::new(
                        "INSERT INTO record_item_versions (item_id, version, received_at, \
                         sender_org_id, content_sha256, raw_resource) ",
                    );
                    sql.push_values(chunk, |mut row, (index, item_id, version)| {
                        let item = &run[*index];
                        row.push_bind(*item_id)
                            .push_bind(*version)
                            .push_bind(received_at)
                            .push_bind(sender)
                            .push_bind(&item.content_sha256)
                            .push_bind(&item.raw_resource);
                    });
                    sql.build().execute(&mut *tx).await?;
                }
                for (index, ..) in &written {
                    for attachment in &run[*index].attachments {
                        // Content-addressed: the same bytes are stored once.
                        sqlx::query(
                            "INSERT INTO attachments (sha256, content_type, size, content, first_received_at) \
                             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (sha256) DO NOTHING",
                        )
                        .bind(&attachment.sha256)
                        .bind(&attachment.content_type)
                        .bind(i64::try_from(attachment.content.len()).unwrap_or(i64::MAX))
                        .bind(&attachment.content)
                        .bind(received_at)
                        .execute(&mut *tx)
                        .await?;
                    }
                }
                let labels: Vec<(i64, &String, &'static str)> = written
                    .iter()
                    .flat_map(|(index, item_id, _)| {
                        run[*index]
                            .labels
                            .iter()
                            .map(move |(label, origin)| (*item_id, label, origin.code()))
                    })
                    .collect();
                for chunk in labels.chunks(LABELS_PER_INSERT) {
                    let mut sql = sqlx::QueryBuilder::<$db>::new(
                        "INSERT INTO record_item_labels (item_id, label, origin) ",
                    );
                    sql.push_values(chunk, |mut row, (item_id, label, origin)| {
                        row.push_bind(*item_id).push_bind(*label).push_bind(*origin);
                    });
                    sql.push(" ON CONFLICT (item_id, label) DO NOTHING");
                    sql.build().execute(&mut *tx).await?;
                }

                outcomes
                    .into_iter()
                    .map(|outcome| outcome.ok_or(StorageError::Corrupt("an item was not written")))
                    .collect()
            }
        }

        /// A patient's visible items, newest first, with their labels. They come back
        /// as one JSON array in one row (built by the backend's `ITEMS_AS_JSON`), not
        /// as a row per item: sqlx hands SQLite rows over from the connection's own
        /// thread one at a time, and those hand-overs, not the query, were most of a
        /// record page's cost.
        async fn select_record_items(
            conn: &mut <$db as sqlx::Database>::Connection,
            query: &RecordQuery,
        ) -> Result<Vec<RecordItem>, StorageError> {
            let patient_id = query.patient_id.ok_or(StorageError::NotFound)?;
            let mut sql = sqlx::QueryBuilder::<$db>::new(ITEMS_AS_JSON.0);
            sql.push(concat!("SELECT ", item_columns!(), ", "))
                .push(ITEM_LABELS_AS_JSON)
                .push(concat!(" AS labels ", item_tables!()));
            sql.push(" WHERE i.patient_id = ").push_bind(patient_id.0);
            // Items entered in error and items with excluded labels come back too: the
            // access decision hides them, and needs them to decide their relatives.
            if !query.kinds.is_empty() {
                sql.push(" AND i.kind IN (");
                let mut kinds = sql.separated(", ");
                for kind in &query.kinds {
                    kinds.push_bind(kind.code());
                }
                sql.push(")");
            }
            if let Some(source) = query.source {
                sql.push(" AND i.source_org_id = ").push_bind(source.0);
            }
            if let Some(from) = query.occurred_from {
                sql.push(" AND i.occurred_at >= ").push_bind(to_millis(from));
            }
            if let Some(before) = query.occurred_before {
                sql.push(" AND i.occurred_at < ").push_bind(to_millis(before));
            }
            sql.push(" ORDER BY i.occurred_at DESC, i.id DESC LIMIT ")
                .push_bind(i64::from(query.limit));
            sql.push(ITEMS_AS_JSON.1);
            let json: Option<String> = sql.build_query_scalar().fetch_one(&mut *conn).await?;
            let rows: Vec<ItemRow> = match json {
                Some(json) => serde_json::from_str(&json)
                    .map_err(|_| StorageError::Corrupt("record items as JSON"))?,
                None => Vec::new(),
            };
            rows.into_iter()
                .map(|mut row| {
                    let mut labels = std::mem::take(&mut row.labels);
                    labels.sort();
                    row.into_item(labels)
                })
                .collect()
        }

        /// The newest saved rule set. Saved versions never change, so only the version
        /// number is asked for when the cache already holds that version.
        async fn select_release_rules(
            conn: &mut <$db as sqlx::Database>::Connection,
            cache: &RuleSetCache,
        ) -> Result<Option<RuleSet>, StorageError> {
            let version: Option<i64> =
                sqlx::query_scalar("SELECT MAX(version) FROM release_rule_sets")
                    .fetch_one(&mut *conn)
                    .await?;
            let Some(version) = version else {
                return Ok(None);
            };
            if let Some(known) = cache.get(version) {
                return Ok(Some(known));
            }
            let rows: Vec<ReleaseRuleRow> = sqlx::query_as(
                "SELECT rule_set_version, name, description, source_ods_code, category, \
                 code, abnormal, policy, delay_days FROM release_rules \
                 WHERE rule_set_version = $1 ORDER BY position",
            )
            .bind(version)
            .fetch_all(&mut *conn)
            .await?;
            let rules = rows
                .into_iter()
                .map(ReleaseRule::try_from)
                .collect::<Result<Vec<_>, _>>()?;
            let set = RuleSet { version, rules };
            cache.remember(&set);
            Ok(Some(set))
        }

        async fn select_organisations(
            conn: &mut <$db as sqlx::Database>::Connection,
        ) -> Result<Vec<Organisation>, StorageError> {
            sqlx::query_as::<_, OrganisationRow>(concat!(
                "SELECT ", organisation_columns!(), " FROM organisations ORDER BY ods_code"))
            .fetch_all(&mut *conn)
            .await?
            .into_iter()
            .map(Organisation::try_from)
            .collect()
        }

        /// The insert of these audit rows, one statement however many there are.
        fn insert_audit_rows(events: &[NewAuditEvent]) -> sqlx::QueryBuilder<$db> {
            let mut sql = sqlx::QueryBuilder::<$db>::new(INSERT_AUDIT_COLUMNS);
            sql.push_values(events, |mut row, event| {
                row.push_bind(to_millis(event.at))
                    .push_bind(event.actor_kind.code())
                    .push_bind(event.actor_account.map(|a| a.0))
                    .push_bind(event.actor_org.map(|o| o.0))
                    .push_bind(event.patient.map(|p| p.0))
                    .push_bind(event.action)
                    .push_bind(event.target.as_deref())
                    .push_bind(event.outcome.code())
                    .push_bind(event.reason.as_deref())
                    .push_bind(event.request_id.as_deref());
            });
            sql
        }
    };
}

/// Writes one audit row inside the caller's transaction.
macro_rules! insert_audit {
    ($tx:ident, $event:expr) => {{
        let event: NewAuditEvent = $event;
        insert_audit_rows(std::slice::from_ref(&event))
            .build()
            .execute(&mut *$tx)
            .await?;
    }};
}

pub(super) use impl_portable_storage;
pub(super) use insert_audit;

/// Turns a unique-constraint violation into a [`StorageError::Conflict`], leaving other
/// errors as they are.
pub(super) fn unique_violation_as(error: sqlx::Error, what: &'static str) -> StorageError {
    match &error {
        sqlx::Error::Database(db) if db.is_unique_violation() => StorageError::Conflict(what),
        _ => StorageError::Database(error),
    }
}
