//! The SQL of proxy access: grants (with the names pages show and when the proxy last
//! used them, from the audit trail), their history, and invitations.

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};

use super::audit::insert_audit;
use super::{Conn, Query, SqlStorage, from_millis, new_public_id, to_millis, unique_violation_as};
use crate::audit::{ActorKind, NewAuditEvent};
use crate::domain::{AccountId, PatientId};
use crate::proxy::rules::{
    Grant, GrantId, GrantState, Invitation, InvitationState, ProxyBasisKind, Scope,
};
use crate::server::storage::{
    ApplicationDecision, ApplicationState, GrantChange, GrantDecisionBy, GrantEvent, GrantRecord,
    NewApplication, NewGrant, NewInvitation, PersonName, ProxyApplicationStore, ProxyStore,
    StorageError, StoredApplication, StoredInvitation,
};

/// A grant with the names of both people and its last use: the proxy's latest audited
/// read of the patient's record (only reads: applying, accepting or choosing must never
/// make a lapsed grant look used).
const GRANT_COLUMNS: &str = "SELECT g.id, g.public_id, g.patient_id, g.proxy_account_id, \
     g.basis, g.relationship, g.scope, g.state, g.starts_at, g.ends_at, \
     g.evidence_reference, g.created_at, p.given_name AS patient_given_name, \
     p.family_name AS patient_family_name, p.birth_date AS patient_birth_date, \
     a.given_name AS proxy_given_name, a.family_name AS proxy_family_name, \
     (SELECT MAX(e.occurred_at) FROM audit_events e \
      WHERE e.actor_account_id = g.proxy_account_id AND e.patient_id = g.patient_id \
      AND e.actor_kind = 'proxy' AND e.action = 'record.viewed') AS last_used_at \
     FROM proxy_grants g JOIN patients p ON p.id = g.patient_id \
     JOIN accounts a ON a.id = g.proxy_account_id ";

#[derive(sqlx::FromRow)]
struct GrantRow {
    id: i64,
    public_id: String,
    patient_id: i64,
    proxy_account_id: i64,
    basis: String,
    relationship: String,
    scope: String,
    state: String,
    starts_at: i64,
    ends_at: Option<i64>,
    evidence_reference: Option<String>,
    created_at: i64,
    patient_given_name: Option<String>,
    patient_family_name: Option<String>,
    patient_birth_date: Option<String>,
    proxy_given_name: Option<String>,
    proxy_family_name: Option<String>,
    last_used_at: Option<i64>,
}

fn scope_from(text: &str) -> Result<Scope, StorageError> {
    serde_json::from_str(text).map_err(|_| StorageError::Corrupt("proxy scope"))
}

fn scope_text(scope: &Scope) -> Result<String, StorageError> {
    serde_json::to_string(scope).map_err(|_| StorageError::Corrupt("proxy scope"))
}

fn date_from(text: Option<&str>) -> Option<NaiveDate> {
    text.and_then(|t| NaiveDate::parse_from_str(t, "%Y-%m-%d").ok())
}

impl TryFrom<GrantRow> for GrantRecord {
    type Error = StorageError;
    fn try_from(row: GrantRow) -> Result<Self, StorageError> {
        Ok(GrantRecord {
            grant: Grant {
                id: GrantId(row.id),
                public_id: row.public_id,
                patient: PatientId(row.patient_id),
                proxy: AccountId(row.proxy_account_id),
                basis: ProxyBasisKind::from_code(&row.basis)
                    .ok_or(StorageError::Corrupt("proxy_grants.basis"))?,
                scope: scope_from(&row.scope)?,
                state: GrantState::from_code(&row.state)
                    .ok_or(StorageError::Corrupt("proxy_grants.state"))?,
                starts_at: from_millis(row.starts_at)?,
                ends_at: row.ends_at.map(from_millis).transpose()?,
                last_used_at: row.last_used_at.map(from_millis).transpose()?,
                patient_birth_date: date_from(row.patient_birth_date.as_deref()),
            },
            relationship: row.relationship,
            evidence_reference: row.evidence_reference,
            patient_name: PersonName {
                given: row.patient_given_name,
                family: row.patient_family_name,
            },
            proxy_name: PersonName {
                given: row.proxy_given_name,
                family: row.proxy_family_name,
            },
            created_at: from_millis(row.created_at)?,
        })
    }
}

const INVITATION_COLUMNS: &str = "SELECT i.public_id, i.patient_id, i.given_name, \
     i.family_name, i.birth_date, i.relationship, i.email, i.scope, i.ends_at, \
     i.created_at, i.expires_at, i.state, p.given_name AS patient_given_name, \
     p.family_name AS patient_family_name \
     FROM proxy_invitations i JOIN patients p ON p.id = i.patient_id ";

#[derive(sqlx::FromRow)]
struct InvitationRow {
    public_id: String,
    patient_id: i64,
    given_name: String,
    family_name: String,
    birth_date: String,
    relationship: String,
    email: Option<String>,
    scope: String,
    ends_at: Option<i64>,
    created_at: i64,
    expires_at: i64,
    state: String,
    patient_given_name: Option<String>,
    patient_family_name: Option<String>,
}

impl TryFrom<InvitationRow> for StoredInvitation {
    type Error = StorageError;
    fn try_from(row: InvitationRow) -> Result<Self, StorageError> {
        Ok(StoredInvitation {
            public_id: row.public_id,
            invitation: Invitation {
                patient: PatientId(row.patient_id),
                given_name: row.given_name,
                family_name: row.family_name,
                birth_date: date_from(Some(&row.birth_date))
                    .ok_or(StorageError::Corrupt("proxy_invitations.birth_date"))?,
                state: InvitationState::from_code(&row.state)
                    .ok_or(StorageError::Corrupt("proxy_invitations.state"))?,
                expires_at: from_millis(row.expires_at)?,
            },
            relationship: row.relationship,
            email: row.email,
            scope: scope_from(&row.scope)?,
            ends_at: row.ends_at.map(from_millis).transpose()?,
            created_at: from_millis(row.created_at)?,
            patient_name: PersonName {
                given: row.patient_given_name,
                family: row.patient_family_name,
            },
        })
    }
}

#[derive(sqlx::FromRow)]
struct GrantEventRow {
    occurred_at: i64,
    event: String,
    actor_kind: String,
    decision_maker: Option<String>,
    reason: Option<String>,
    terms: String,
}

/// A grant's terms as its history keeps them after each event.
#[derive(serde::Serialize, serde::Deserialize)]
struct Terms {
    state: GrantState,
    basis: ProxyBasisKind,
    scope: Scope,
    ends_at: Option<i64>,
}

impl TryFrom<GrantEventRow> for GrantEvent {
    type Error = StorageError;
    fn try_from(row: GrantEventRow) -> Result<Self, StorageError> {
        let terms: Terms = serde_json::from_str(&row.terms)
            .map_err(|_| StorageError::Corrupt("proxy_grant_events.terms"))?;
        Ok(GrantEvent {
            at: from_millis(row.occurred_at)?,
            event: row.event,
            actor_kind: ActorKind::from_code(&row.actor_kind)
                .ok_or(StorageError::Corrupt("proxy_grant_events.actor_kind"))?,
            decision_maker: row.decision_maker,
            reason: row.reason,
            state: terms.state,
            scope: terms.scope,
            ends_at: terms.ends_at.map(from_millis).transpose()?,
            basis: terms.basis,
        })
    }
}

/// Appends an entry to a grant's history.
#[allow(clippy::too_many_arguments)]
async fn insert_grant_event(
    conn: &mut Conn,
    grant: GrantId,
    at: DateTime<Utc>,
    event: &'static str,
    by: &GrantDecisionBy,
    state: GrantState,
    basis: ProxyBasisKind,
    scope: &Scope,
    ends_at: Option<DateTime<Utc>>,
) -> Result<(), StorageError> {
    let terms = serde_json::to_string(&Terms {
        state,
        basis,
        scope: scope.clone(),
        ends_at: ends_at.map(to_millis),
    })
    .map_err(|_| StorageError::Corrupt("proxy terms"))?;
    Query::new(
        "INSERT INTO proxy_grant_events (grant_id, occurred_at, event, actor_kind, \
         actor_account_id, decision_maker, reason, terms) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(grant.0)
    .bind(to_millis(at))
    .bind(event)
    .bind(by.actor_kind.code())
    .bind(by.actor_account.map(|a| a.0))
    .bind(by.decision_maker.as_deref())
    .bind(by.reason.as_deref())
    .bind(terms)
    .execute(conn)
    .await?;
    Ok(())
}

async fn grant_where_id(conn: &mut Conn, id: i64) -> Result<GrantRecord, StorageError> {
    let mut sql = Query::new(GRANT_COLUMNS);
    sql.push("WHERE g.id = ").push_bind(id);
    GrantRecord::try_from(sql.fetch_one::<GrantRow>(conn).await?)
}

/// Inserts a grant with its first history entry, within the caller's transaction.
async fn insert_grant(
    conn: &mut Conn,
    grant: &NewGrant,
    event: &'static str,
    by: &GrantDecisionBy,
    at: DateTime<Utc>,
) -> Result<i64, StorageError> {
    let id: i64 = Query::new(
        "INSERT INTO proxy_grants (public_id, patient_id, proxy_account_id, basis, \
         relationship, scope, state, starts_at, ends_at, evidence_reference, created_at, \
         updated_at) VALUES ($1, $2, $3, $4, $5, $6, 'active', $7, $8, $9, $10, $10) \
         RETURNING id",
    )
    .bind(new_public_id())
    .bind(grant.patient.0)
    .bind(grant.proxy.0)
    .bind(grant.basis.code())
    .bind(grant.relationship.as_str())
    .bind(scope_text(&grant.scope)?)
    .bind(to_millis(grant.starts_at))
    .bind(grant.ends_at.map(to_millis))
    .bind(grant.evidence_reference.as_deref())
    .bind(to_millis(at))
    .fetch_scalar(conn)
    .await
    .map_err(|e| unique_violation_as(e, "a live grant already exists"))?;
    insert_grant_event(
        conn,
        GrantId(id),
        at,
        event,
        by,
        GrantState::Active,
        grant.basis,
        &grant.scope,
        grant.ends_at,
    )
    .await?;
    Ok(id)
}

#[async_trait]
impl ProxyStore for SqlStorage {
    async fn create_invitation(
        &self,
        invitation: NewInvitation,
        audit: NewAuditEvent,
    ) -> Result<String, StorageError> {
        let public_id = new_public_id();
        let mut tx = self.write().await?;
        Query::new(
            "INSERT INTO proxy_invitations (public_id, patient_id, invited_by_account_id, \
             given_name, family_name, birth_date, relationship, email, code_hash, scope, \
             ends_at, created_at, expires_at, state) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, 'pending')",
        )
        .bind(public_id.as_str())
        .bind(invitation.patient.0)
        .bind(invitation.invited_by.0)
        .bind(invitation.given_name.as_str())
        .bind(invitation.family_name.as_str())
        .bind(invitation.birth_date.format("%Y-%m-%d").to_string())
        .bind(invitation.relationship.as_str())
        .bind(invitation.email.as_deref())
        .bind(invitation.code_hash.as_str())
        .bind(scope_text(&invitation.scope)?)
        .bind(invitation.ends_at.map(to_millis))
        .bind(to_millis(invitation.created_at))
        .bind(to_millis(invitation.expires_at))
        .execute(&mut tx)
        .await
        .map_err(|e| unique_violation_as(e, "invitation code already in use"))?;
        insert_audit(
            &mut tx,
            NewAuditEvent {
                target: Some(format!("invitation:{public_id}")),
                ..audit
            },
        )
        .await?;
        tx.commit().await?;
        Ok(public_id)
    }

    async fn list_invitations(
        &self,
        patient: PatientId,
    ) -> Result<Vec<StoredInvitation>, StorageError> {
        let mut sql = Query::new(INVITATION_COLUMNS);
        sql.push("WHERE i.patient_id = ")
            .push_bind(patient.0)
            .push(" ORDER BY i.created_at DESC, i.id DESC");
        sql.fetch_all::<InvitationRow>(&mut self.read().await?)
            .await?
            .into_iter()
            .map(StoredInvitation::try_from)
            .collect()
    }

    async fn find_invitation_by_code(
        &self,
        code_hash: &str,
    ) -> Result<Option<StoredInvitation>, StorageError> {
        let mut sql = Query::new(INVITATION_COLUMNS);
        sql.push("WHERE i.code_hash = ").push_bind(code_hash);
        sql.fetch_optional::<InvitationRow>(&mut self.read().await?)
            .await?
            .map(StoredInvitation::try_from)
            .transpose()
    }

    async fn withdraw_invitation(
        &self,
        patient: PatientId,
        public_id: &str,
        at: DateTime<Utc>,
        audit: NewAuditEvent,
    ) -> Result<(), StorageError> {
        let mut tx = self.write().await?;
        let changed = Query::new(
            "UPDATE proxy_invitations SET state = 'withdrawn', closed_at = $3 \
             WHERE public_id = $1 AND patient_id = $2 AND state = 'pending'",
        )
        .bind(public_id)
        .bind(patient.0)
        .bind(to_millis(at))
        .execute(&mut tx)
        .await?;
        if changed == 0 {
            return Err(StorageError::NotFound);
        }
        insert_audit(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn accept_invitation(
        &self,
        code_hash: &str,
        grant: NewGrant,
        by: GrantDecisionBy,
        at: DateTime<Utc>,
        audit: NewAuditEvent,
    ) -> Result<GrantRecord, StorageError> {
        let mut tx = self.write().await?;
        // Closing it first, on the condition that it is still pending and for this
        // patient, makes a second acceptance of the same code a conflict.
        let closed = Query::new(
            "UPDATE proxy_invitations SET state = 'accepted', closed_at = $3 \
             WHERE code_hash = $1 AND patient_id = $2 AND state = 'pending'",
        )
        .bind(code_hash)
        .bind(grant.patient.0)
        .bind(to_millis(at))
        .execute(&mut tx)
        .await?;
        if closed == 0 {
            return Err(StorageError::Conflict("invitation no longer pending"));
        }
        let id = insert_grant(&mut tx, &grant, "accepted", &by, at).await?;
        Query::new("UPDATE proxy_invitations SET grant_id = $2 WHERE code_hash = $1")
            .bind(code_hash)
            .bind(id)
            .execute(&mut tx)
            .await?;
        let record = grant_where_id(&mut tx, id).await?;
        insert_audit(
            &mut tx,
            NewAuditEvent {
                target: Some(format!("grant:{}", record.grant.public_id)),
                ..audit
            },
        )
        .await?;
        tx.commit().await?;
        Ok(record)
    }

    async fn create_grant(
        &self,
        grant: NewGrant,
        event: &'static str,
        by: GrantDecisionBy,
        at: DateTime<Utc>,
        audit: NewAuditEvent,
    ) -> Result<GrantRecord, StorageError> {
        let mut tx = self.write().await?;
        let id = insert_grant(&mut tx, &grant, event, &by, at).await?;
        let record = grant_where_id(&mut tx, id).await?;
        insert_audit(
            &mut tx,
            NewAuditEvent {
                target: Some(format!("grant:{}", record.grant.public_id)),
                ..audit
            },
        )
        .await?;
        tx.commit().await?;
        Ok(record)
    }

    async fn grants_for_patient(
        &self,
        patient: PatientId,
    ) -> Result<Vec<GrantRecord>, StorageError> {
        let mut sql = Query::new(GRANT_COLUMNS);
        sql.push("WHERE g.patient_id = ")
            .push_bind(patient.0)
            .push(" ORDER BY g.created_at DESC, g.id DESC");
        sql.fetch_all::<GrantRow>(&mut self.read().await?)
            .await?
            .into_iter()
            .map(GrantRecord::try_from)
            .collect()
    }

    async fn grants_for_proxy(&self, proxy: AccountId) -> Result<Vec<GrantRecord>, StorageError> {
        let mut sql = Query::new(GRANT_COLUMNS);
        sql.push("WHERE g.proxy_account_id = ")
            .push_bind(proxy.0)
            .push(" ORDER BY g.created_at DESC, g.id DESC");
        sql.fetch_all::<GrantRow>(&mut self.read().await?)
            .await?
            .into_iter()
            .map(GrantRecord::try_from)
            .collect()
    }

    async fn find_grant(&self, public_id: &str) -> Result<Option<GrantRecord>, StorageError> {
        let mut sql = Query::new(GRANT_COLUMNS);
        sql.push("WHERE g.public_id = ").push_bind(public_id);
        sql.fetch_optional::<GrantRow>(&mut self.read().await?)
            .await?
            .map(GrantRecord::try_from)
            .transpose()
    }

    async fn grants_not_revoked(&self) -> Result<Vec<(GrantRecord, String)>, StorageError> {
        let mut sql = Query::new(GRANT_COLUMNS);
        sql.push("WHERE g.state <> 'revoked' ORDER BY g.id");
        let grants = sql
            .fetch_all::<GrantRow>(&mut self.read().await?)
            .await?
            .into_iter()
            .map(GrantRecord::try_from)
            .collect::<Result<Vec<_>, _>>()?;
        let latest: Vec<(i64, String)> = Query::new(
            "SELECT e.grant_id, e.event FROM proxy_grant_events e \
             JOIN proxy_grants g ON g.id = e.grant_id \
             WHERE g.state <> 'revoked' AND e.id = \
             (SELECT MAX(l.id) FROM proxy_grant_events l WHERE l.grant_id = e.grant_id)",
        )
        .fetch_all(&mut self.read().await?)
        .await?;
        let latest: std::collections::HashMap<i64, String> = latest.into_iter().collect();
        Ok(grants
            .into_iter()
            .map(|g| {
                let event = latest.get(&g.grant.id.0).cloned().unwrap_or_default();
                (g, event)
            })
            .collect())
    }

    async fn find_grant_by_id(&self, id: GrantId) -> Result<Option<GrantRecord>, StorageError> {
        let mut sql = Query::new(GRANT_COLUMNS);
        sql.push("WHERE g.id = ").push_bind(id.0);
        sql.fetch_optional::<GrantRow>(&mut self.read().await?)
            .await?
            .map(GrantRecord::try_from)
            .transpose()
    }

    async fn grant_history(&self, id: GrantId) -> Result<Vec<GrantEvent>, StorageError> {
        Query::new(
            "SELECT occurred_at, event, actor_kind, decision_maker, reason, terms \
             FROM proxy_grant_events WHERE grant_id = $1 ORDER BY occurred_at, id",
        )
        .bind(id.0)
        .fetch_all::<GrantEventRow>(&mut self.read().await?)
        .await?
        .into_iter()
        .map(GrantEvent::try_from)
        .collect()
    }

    async fn change_grant(&self, change: GrantChange) -> Result<GrantRecord, StorageError> {
        let mut tx = self.write().await?;
        let record = change_grant_within(&mut tx, change).await?;
        tx.commit().await?;
        Ok(record)
    }
}

/// Applies a grant change with its history entry and audit row in the caller's
/// transaction (a choice that suspends every grant uses it too).
pub(in crate::server::storage) async fn change_grant_within(
    tx: &mut Conn,
    change: GrantChange,
) -> Result<GrantRecord, StorageError> {
    let changed = Query::new(
        "UPDATE proxy_grants SET state = $2, basis = $3, scope = $4, ends_at = $5, \
         updated_at = $6 WHERE id = $1 AND state = $7 AND state <> 'revoked'",
    )
    .bind(change.grant.0)
    .bind(change.state.code())
    .bind(change.basis.code())
    .bind(scope_text(&change.scope)?)
    .bind(change.ends_at.map(to_millis))
    .bind(to_millis(change.at))
    .bind(change.from_state.code())
    .execute(tx)
    .await?;
    if changed == 0 {
        return Err(StorageError::Conflict("grant revoked or changed meanwhile"));
    }
    insert_grant_event(
        tx,
        change.grant,
        change.at,
        change.event,
        &change.by,
        change.state,
        change.basis,
        &change.scope,
        change.ends_at,
    )
    .await?;
    let record = grant_where_id(tx, change.grant.0).await?;
    insert_audit(tx, change.audit).await?;
    Ok(record)
}

const APPLICATION_COLUMNS: &str = "SELECT ap.public_id, ap.applicant_account_id, \
     a.given_name AS applicant_given_name, a.family_name AS applicant_family_name, \
     ap.basis, ap.relationship, ap.patient_nhs_number, ap.patient_birth_date, \
     ap.evidence_reference, ap.created_at, ap.state, ap.decided_at, ap.decision_maker, \
     ap.reason, ap.refusal \
     FROM proxy_applications ap JOIN accounts a ON a.id = ap.applicant_account_id ";

#[derive(sqlx::FromRow)]
struct ApplicationRow {
    public_id: String,
    applicant_account_id: i64,
    applicant_given_name: Option<String>,
    applicant_family_name: Option<String>,
    basis: String,
    relationship: String,
    patient_nhs_number: String,
    patient_birth_date: String,
    evidence_reference: String,
    created_at: i64,
    state: String,
    decided_at: Option<i64>,
    decision_maker: Option<String>,
    reason: Option<String>,
    refusal: Option<String>,
}

impl TryFrom<ApplicationRow> for StoredApplication {
    type Error = StorageError;
    fn try_from(row: ApplicationRow) -> Result<Self, StorageError> {
        Ok(StoredApplication {
            public_id: row.public_id,
            applicant: AccountId(row.applicant_account_id),
            applicant_name: PersonName {
                given: row.applicant_given_name,
                family: row.applicant_family_name,
            },
            basis: ProxyBasisKind::from_code(&row.basis)
                .ok_or(StorageError::Corrupt("proxy_applications.basis"))?,
            relationship: row.relationship,
            patient_nhs_number: row.patient_nhs_number,
            patient_birth_date: date_from(Some(&row.patient_birth_date)).ok_or(
                StorageError::Corrupt("proxy_applications.patient_birth_date"),
            )?,
            evidence_reference: row.evidence_reference,
            created_at: from_millis(row.created_at)?,
            state: ApplicationState::from_code(&row.state)
                .ok_or(StorageError::Corrupt("proxy_applications.state"))?,
            decided_at: row.decided_at.map(from_millis).transpose()?,
            decision_maker: row.decision_maker,
            reason: row.reason,
            refusal: row.refusal,
        })
    }
}

#[async_trait]
impl ProxyApplicationStore for SqlStorage {
    async fn create_application(
        &self,
        application: NewApplication,
        audit: NewAuditEvent,
    ) -> Result<String, StorageError> {
        let public_id = new_public_id();
        let mut tx = self.write().await?;
        Query::new(
            "INSERT INTO proxy_applications (public_id, applicant_account_id, basis, \
             relationship, patient_nhs_number, patient_birth_date, evidence_reference, \
             created_at, state) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'pending')",
        )
        .bind(public_id.as_str())
        .bind(application.applicant.0)
        .bind(application.basis.code())
        .bind(application.relationship.as_str())
        .bind(application.patient_nhs_number.as_str())
        .bind(
            application
                .patient_birth_date
                .format("%Y-%m-%d")
                .to_string(),
        )
        .bind(application.evidence_reference.as_str())
        .bind(to_millis(application.at))
        .execute(&mut tx)
        .await?;
        insert_audit(
            &mut tx,
            NewAuditEvent {
                target: Some(format!("application:{public_id}")),
                ..audit
            },
        )
        .await?;
        tx.commit().await?;
        Ok(public_id)
    }

    async fn list_applications(
        &self,
        state: ApplicationState,
    ) -> Result<Vec<StoredApplication>, StorageError> {
        let mut sql = Query::new(APPLICATION_COLUMNS);
        sql.push("WHERE ap.state = ")
            .push_bind(state.code())
            .push(" ORDER BY ap.created_at, ap.id");
        sql.fetch_all::<ApplicationRow>(&mut self.read().await?)
            .await?
            .into_iter()
            .map(StoredApplication::try_from)
            .collect()
    }

    async fn applications_by(
        &self,
        applicant: AccountId,
    ) -> Result<Vec<StoredApplication>, StorageError> {
        let mut sql = Query::new(APPLICATION_COLUMNS);
        sql.push("WHERE ap.applicant_account_id = ")
            .push_bind(applicant.0)
            .push(" ORDER BY ap.created_at DESC, ap.id DESC");
        sql.fetch_all::<ApplicationRow>(&mut self.read().await?)
            .await?
            .into_iter()
            .map(StoredApplication::try_from)
            .collect()
    }

    async fn find_application(
        &self,
        public_id: &str,
    ) -> Result<Option<StoredApplication>, StorageError> {
        let mut sql = Query::new(APPLICATION_COLUMNS);
        sql.push("WHERE ap.public_id = ").push_bind(public_id);
        sql.fetch_optional::<ApplicationRow>(&mut self.read().await?)
            .await?
            .map(StoredApplication::try_from)
            .transpose()
    }

    async fn decide_application(
        &self,
        decision: ApplicationDecision,
    ) -> Result<Option<GrantRecord>, StorageError> {
        let mut tx = self.write().await?;
        let state = if decision.grant.is_some() {
            ApplicationState::Granted
        } else {
            ApplicationState::Refused
        };
        let decided = Query::new(
            "UPDATE proxy_applications SET state = $2, decided_at = $3, \
             decided_by_account_id = $4, decision_maker = $5, reason = $6, refusal = $7 \
             WHERE public_id = $1 AND state = 'pending'",
        )
        .bind(decision.public_id.as_str())
        .bind(state.code())
        .bind(to_millis(decision.at))
        .bind(decision.staff.0)
        .bind(decision.decision_maker.as_str())
        .bind(decision.reason.as_str())
        .bind(decision.refusal.as_deref())
        .execute(&mut tx)
        .await?;
        if decided == 0 {
            return Err(StorageError::Conflict("application already decided"));
        }
        let record = match &decision.grant {
            Some(grant) => {
                let by = GrantDecisionBy {
                    actor_kind: ActorKind::Staff,
                    actor_account: Some(decision.staff),
                    decision_maker: Some(decision.decision_maker.clone()),
                    reason: Some(decision.reason.clone()),
                };
                let id = insert_grant(&mut tx, grant, "granted", &by, decision.at).await?;
                Query::new("UPDATE proxy_applications SET grant_id = $2 WHERE public_id = $1")
                    .bind(decision.public_id.as_str())
                    .bind(id)
                    .execute(&mut tx)
                    .await?;
                Some(grant_where_id(&mut tx, id).await?)
            }
            None => None,
        };
        insert_audit(
            &mut tx,
            NewAuditEvent {
                target: Some(format!("application:{}", decision.public_id)),
                ..decision.audit
            },
        )
        .await?;
        tx.commit().await?;
        Ok(record)
    }
}
