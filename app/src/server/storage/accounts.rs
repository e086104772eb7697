//! Accounts, sessions and sign-ins in progress: who has signed in through NHS login (or
//! the staff identity provider), and the server-side sessions their cookies name.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::StorageError;
use crate::audit::NewAuditEvent;
use crate::domain::{Account, AccountId, AccountRole, PatientId};
use crate::proxy::rules::GrantId;

#[derive(Debug, Clone)]
pub struct NewSignIn {
    pub issuer: String,
    pub subject: String,
    pub role: AccountRole,
    pub identity_level: Option<String>,
    /// The patient record the identity is linked to (P9 with a valid NHS number only).
    pub patient_id: Option<PatientId>,
    /// What the identity provider proved about the person (NHS login's `given_name`,
    /// `family_name` and `birthdate`), kept from the latest sign-in.
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub birth_date: Option<String>,
    pub at: DateTime<Utc>,
    pub request_id: Option<String>,
}

/// Which side of the portal a session belongs to; the two never mix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionAudience {
    Patient,
    Staff,
}

impl SessionAudience {
    pub fn code(self) -> &'static str {
        match self {
            SessionAudience::Patient => "patient",
            SessionAudience::Staff => "staff",
        }
    }

    pub fn from_code(code: &str) -> Option<Self> {
        match code {
            "patient" => Some(SessionAudience::Patient),
            "staff" => Some(SessionAudience::Staff),
            _ => None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct NewSession {
    pub id_hash: String,
    pub account_id: AccountId,
    pub audience: SessionAudience,
    pub csrf_token: String,
    pub created_at: DateTime<Utc>,
    pub absolute_expires_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub id_hash: String,
    pub account_id: AccountId,
    pub audience: SessionAudience,
    pub csrf_token: String,
    pub created_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
    pub absolute_expires_at: DateTime<Utc>,
    /// The grant under which the person is acting for someone, if they chose one.
    pub acting_for: Option<GrantId>,
}

/// A sign-in in progress (authorization request sent, callback not yet received).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewLoginAttempt {
    /// SHA-256 of the `state` parameter.
    pub state_hash: String,
    pub audience: SessionAudience,
    pub nonce: String,
    pub pkce_verifier: Option<String>,
    /// The vectors of trust asked for, which `vot` must be one of.
    pub requested_vectors: Vec<String>,
    pub created_at: DateTime<Utc>,
}

pub type LoginAttempt = NewLoginAttempt;

#[async_trait]
pub trait AccountStore: Send + Sync {
    /// Finds the account for an identity provider subject, creating it if new, and
    /// records the sign-in (and its audit row).
    async fn record_sign_in(&self, sign_in: NewSignIn) -> Result<Account, StorageError>;

    /// The account for an identity provider subject, created without a sign-in if new
    /// (demo data: a proxy who holds a grant before they first sign in). Writes no
    /// audit row: nobody signed in.
    async fn ensure_account(&self, account: NewSignIn) -> Result<Account, StorageError>;

    async fn create_session(&self, session: NewSession) -> Result<(), StorageError>;

    /// The session with this id hash and the account it belongs to, if it exists
    /// (expiry is the caller's decision). One query: every page request asks this.
    async fn find_session(&self, id_hash: &str)
    -> Result<Option<(Session, Account)>, StorageError>;

    /// Sets whose record the session's person is reading: their own (`None`) or the
    /// patient of one of their grants (the caller checks that it is theirs), with the
    /// audit row of opening someone's record in the same transaction.
    async fn set_acting_for(
        &self,
        id_hash: &str,
        grant: Option<GrantId>,
        audit: Option<NewAuditEvent>,
    ) -> Result<(), StorageError>;

    async fn touch_session(&self, id_hash: &str, at: DateTime<Utc>) -> Result<(), StorageError>;

    /// Ends a session, writing the given audit row with it.
    async fn delete_session(
        &self,
        id_hash: &str,
        audit: Option<NewAuditEvent>,
    ) -> Result<(), StorageError>;

    /// Removes sessions past their absolute expiry or idle since before `idle_before`.
    async fn delete_expired_sessions(
        &self,
        now: DateTime<Utc>,
        idle_before: DateTime<Utc>,
    ) -> Result<u64, StorageError>;

    /// Remembers a sign-in in progress until its callback.
    async fn create_login_attempt(&self, attempt: NewLoginAttempt) -> Result<(), StorageError>;

    /// Removes sign-ins in progress started before `not_before` (abandoned: their
    /// callback would be refused anyway); answers how many.
    async fn delete_expired_login_attempts(
        &self,
        not_before: DateTime<Utc>,
    ) -> Result<u64, StorageError>;

    /// Takes (reads and deletes) the sign-in in progress with this state hash. Each one
    /// can be taken once; attempts created before `not_before` are deleted unread.
    async fn take_login_attempt(
        &self,
        state_hash: &str,
        not_before: DateTime<Utc>,
    ) -> Result<Option<LoginAttempt>, StorageError>;
}
