//! The SQL of accounts, sessions and sign-ins in progress.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::audit::insert_audit;
use super::{Pools, Query, SqlStorage, from_millis, to_millis, unique_violation_as};
use crate::audit::{ActorKind, NewAuditEvent, action};
use crate::domain::{Account, AccountId, AccountRole, PatientId};
use crate::proxy::rules::GrantId;
use crate::server::storage::{
    AccountStore, LoginAttempt, NewLoginAttempt, NewSession, NewSignIn, Session, SessionAudience,
    StorageError,
};

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
    given_name: Option<String>,
    family_name: Option<String>,
    birth_date: Option<String>,
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
            given_name: row.given_name,
            family_name: row.family_name,
            birth_date: row.birth_date,
        })
    }
}

#[derive(sqlx::FromRow)]
struct SessionRow {
    id_hash: String,
    account_id: i64,
    audience: String,
    csrf_token: String,
    created_at: i64,
    last_seen_at: i64,
    absolute_expires_at: i64,
    acting_for_grant_id: Option<i64>,
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
            acting_for: row.acting_for_grant_id.map(GrantId),
        })
    }
}

/// A session and its account, read together (the account's columns renamed where they
/// would clash with the session's).
#[derive(sqlx::FromRow)]
struct SessionAccountRow {
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
    given_name: Option<String>,
    family_name: Option<String>,
    birth_date: Option<String>,
}

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
            given_name: row.given_name,
            family_name: row.family_name,
            birth_date: row.birth_date,
        })?;
        Ok((Session::try_from(row.session)?, account))
    }
}

/// A session and its account, by the session id's hash.
const FIND_SESSION: &str = "SELECT s.id_hash, s.account_id, s.audience, s.csrf_token, s.created_at, \
     s.last_seen_at, s.absolute_expires_at, s.acting_for_grant_id, a.issuer, \
     a.subject, a.role, a.identity_level, a.patient_id, \
     a.created_at AS account_created_at, a.last_sign_in_at, a.previous_sign_in_at, \
     a.given_name, a.family_name, a.birth_date \
     FROM sessions s JOIN accounts a ON a.id = s.account_id WHERE s.id_hash = $1";

impl SessionAccountRow {
    /// The row of [`FIND_SESSION`] as SQLite's direct connections read it.
    fn from_direct(row: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            session: SessionRow {
                id_hash: row.get("id_hash")?,
                account_id: row.get("account_id")?,
                audience: row.get("audience")?,
                csrf_token: row.get("csrf_token")?,
                created_at: row.get("created_at")?,
                last_seen_at: row.get("last_seen_at")?,
                absolute_expires_at: row.get("absolute_expires_at")?,
                acting_for_grant_id: row.get("acting_for_grant_id")?,
            },
            issuer: row.get("issuer")?,
            subject: row.get("subject")?,
            role: row.get("role")?,
            identity_level: row.get("identity_level")?,
            patient_id: row.get("patient_id")?,
            account_created_at: row.get("account_created_at")?,
            last_sign_in_at: row.get("last_sign_in_at")?,
            previous_sign_in_at: row.get("previous_sign_in_at")?,
            given_name: row.get("given_name")?,
            family_name: row.get("family_name")?,
            birth_date: row.get("birth_date")?,
        })
    }
}

#[derive(sqlx::FromRow)]
struct LoginAttemptRow {
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

#[async_trait]
impl AccountStore for SqlStorage {
    async fn record_sign_in(&self, sign_in: NewSignIn) -> Result<Account, StorageError> {
        let at = to_millis(sign_in.at);
        let mut tx = self.write().await?;
        let row: AccountRow = Query::new(
            "INSERT INTO accounts (issuer, subject, role, identity_level, patient_id, \
             created_at, last_sign_in_at, given_name, family_name, birth_date) \
             VALUES ($1, $2, $3, $4, $5, $6, $6, $7, $8, $9) \
             ON CONFLICT (issuer, subject) DO UPDATE SET \
             identity_level = excluded.identity_level, \
             patient_id = COALESCE(excluded.patient_id, accounts.patient_id), \
             previous_sign_in_at = accounts.last_sign_in_at, \
             last_sign_in_at = excluded.last_sign_in_at, \
             given_name = excluded.given_name, family_name = excluded.family_name, \
             birth_date = excluded.birth_date \
             RETURNING id, issuer, subject, role, identity_level, patient_id, created_at, \
             last_sign_in_at, previous_sign_in_at, given_name, family_name, birth_date",
        )
        .bind(&sign_in.issuer)
        .bind(&sign_in.subject)
        .bind(sign_in.role.code())
        .bind(sign_in.identity_level.as_deref())
        .bind(sign_in.patient_id.map(|p| p.0))
        .bind(at)
        .bind(sign_in.given_name.as_deref())
        .bind(sign_in.family_name.as_deref())
        .bind(sign_in.birth_date.as_deref())
        .fetch_one(&mut tx)
        .await?;
        let account = Account::try_from(row)?;
        if account.role != sign_in.role {
            // One identity, one role: a staff subject never becomes a patient account or
            // the other way round.
            return Err(StorageError::Conflict("account has another role"));
        }
        let actor_kind = match account.role {
            AccountRole::Patient => ActorKind::Patient,
            AccountRole::ServiceDesk => ActorKind::Staff,
        };
        insert_audit(
            &mut tx,
            NewAuditEvent {
                actor_account: Some(account.id),
                patient: account.patient_id,
                request_id: sign_in.request_id.clone(),
                ..NewAuditEvent::new(sign_in.at, actor_kind, action::SIGNED_IN)
            },
        )
        .await?;
        tx.commit().await?;
        Ok(account)
    }

    async fn ensure_account(&self, account: NewSignIn) -> Result<Account, StorageError> {
        let mut conn = self.write_one().await?;
        // DO UPDATE (of nothing that changes) rather than DO NOTHING, so RETURNING gives
        // the row either way.
        let row: AccountRow = Query::new(
            "INSERT INTO accounts (issuer, subject, role, identity_level, patient_id, \
             created_at, given_name, family_name, birth_date) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
             ON CONFLICT (issuer, subject) DO UPDATE SET issuer = excluded.issuer \
             RETURNING id, issuer, subject, role, identity_level, patient_id, created_at, \
             last_sign_in_at, previous_sign_in_at, given_name, family_name, birth_date",
        )
        .bind(&account.issuer)
        .bind(&account.subject)
        .bind(account.role.code())
        .bind(account.identity_level.as_deref())
        .bind(account.patient_id.map(|p| p.0))
        .bind(to_millis(account.at))
        .bind(account.given_name.as_deref())
        .bind(account.family_name.as_deref())
        .bind(account.birth_date.as_deref())
        .fetch_one(&mut conn)
        .await?;
        Account::try_from(row)
    }

    async fn create_session(&self, session: NewSession) -> Result<(), StorageError> {
        let mut conn = self.write_one().await?;
        Query::new(
            "INSERT INTO sessions (id_hash, account_id, audience, csrf_token, created_at, \
             last_seen_at, absolute_expires_at) VALUES ($1, $2, $3, $4, $5, $5, $6)",
        )
        .bind(&session.id_hash)
        .bind(session.account_id.0)
        .bind(session.audience.code())
        .bind(&session.csrf_token)
        .bind(to_millis(session.created_at))
        .bind(to_millis(session.absolute_expires_at))
        .execute(&mut conn)
        .await
        .map_err(|e| unique_violation_as(e, "session id already in use"))?;
        Ok(())
    }

    async fn find_session(
        &self,
        id_hash: &str,
    ) -> Result<Option<(Session, Account)>, StorageError> {
        let query = Query::new(FIND_SESSION).bind(id_hash);
        let row = match &self.database {
            // Every request asks this, so on SQLite it is one of the reads run on the
            // calling thread (`../sqlite_direct.rs`).
            Pools::Sqlite(pools) => pools.direct.read(|connection| {
                let mut statement = query.prepare_directly(connection)?;
                let mut rows = statement.raw_query();
                Ok(rows
                    .next()?
                    .map(SessionAccountRow::from_direct)
                    .transpose()?)
            })?,
            Pools::Postgres(_) => {
                query
                    .fetch_optional::<SessionAccountRow>(&mut self.read().await?)
                    .await?
            }
        };
        row.map(<(Session, Account)>::try_from).transpose()
    }

    async fn set_acting_for(
        &self,
        id_hash: &str,
        grant: Option<GrantId>,
        audit: Option<NewAuditEvent>,
    ) -> Result<(), StorageError> {
        let mut tx = self.write().await?;
        let changed = Query::new("UPDATE sessions SET acting_for_grant_id = $2 WHERE id_hash = $1")
            .bind(id_hash)
            .bind(grant.map(|g| g.0))
            .execute(&mut tx)
            .await?;
        if changed == 0 {
            return Err(StorageError::NotFound);
        }
        if let Some(audit) = audit {
            insert_audit(&mut tx, audit).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn touch_session(&self, id_hash: &str, at: DateTime<Utc>) -> Result<(), StorageError> {
        let mut conn = self.write_one().await?;
        let touched = Query::new("UPDATE sessions SET last_seen_at = $2 WHERE id_hash = $1")
            .bind(id_hash)
            .bind(to_millis(at))
            .execute(&mut conn)
            .await?;
        if touched == 0 {
            return Err(StorageError::NotFound);
        }
        Ok(())
    }

    async fn delete_session(
        &self,
        id_hash: &str,
        audit: Option<NewAuditEvent>,
    ) -> Result<(), StorageError> {
        let mut tx = self.write().await?;
        Query::new("DELETE FROM sessions WHERE id_hash = $1")
            .bind(id_hash)
            .execute(&mut tx)
            .await?;
        if let Some(audit) = audit {
            insert_audit(&mut tx, audit).await?;
        }
        tx.commit().await
    }

    async fn delete_expired_sessions(
        &self,
        now: DateTime<Utc>,
        idle_before: DateTime<Utc>,
    ) -> Result<u64, StorageError> {
        let mut conn = self.write_one().await?;
        let deleted =
            Query::new("DELETE FROM sessions WHERE absolute_expires_at <= $1 OR last_seen_at < $2")
                .bind(to_millis(now))
                .bind(to_millis(idle_before))
                .execute(&mut conn)
                .await?;
        Ok(deleted)
    }

    async fn delete_expired_login_attempts(
        &self,
        not_before: DateTime<Utc>,
    ) -> Result<u64, StorageError> {
        let mut conn = self.write_one().await?;
        Ok(
            Query::new("DELETE FROM login_attempts WHERE created_at < $1")
                .bind(to_millis(not_before))
                .execute(&mut conn)
                .await?,
        )
    }

    async fn create_login_attempt(&self, attempt: NewLoginAttempt) -> Result<(), StorageError> {
        let vectors = serde_json::to_string(&attempt.requested_vectors)
            .map_err(|_| StorageError::Corrupt("requested_vectors"))?;
        let mut conn = self.write_one().await?;
        Query::new(
            "INSERT INTO login_attempts (state_hash, audience, nonce, pkce_verifier, \
             requested_vectors, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&attempt.state_hash)
        .bind(attempt.audience.code())
        .bind(&attempt.nonce)
        .bind(attempt.pkce_verifier.as_deref())
        .bind(vectors)
        .bind(to_millis(attempt.created_at))
        .execute(&mut conn)
        .await
        .map_err(|e| unique_violation_as(e, "state already in use"))?;
        Ok(())
    }

    async fn take_login_attempt(
        &self,
        state_hash: &str,
        not_before: DateTime<Utc>,
    ) -> Result<Option<LoginAttempt>, StorageError> {
        let mut tx = self.write().await?;
        // Abandoned sign-ins are cleared as a side effect, so the table stays small.
        Query::new("DELETE FROM login_attempts WHERE created_at < $1")
            .bind(to_millis(not_before))
            .execute(&mut tx)
            .await?;
        let row: Option<LoginAttemptRow> = Query::new(
            "DELETE FROM login_attempts WHERE state_hash = $1 RETURNING state_hash, \
             audience, nonce, pkce_verifier, requested_vectors, created_at",
        )
        .bind(state_hash)
        .fetch_optional(&mut tx)
        .await?;
        tx.commit().await?;
        row.map(LoginAttempt::try_from).transpose()
    }
}
