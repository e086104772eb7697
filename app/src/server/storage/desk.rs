//! What the service desk console reads and changes: audited patient look-ups, the
//! accounts linked to a record, and the held feed items it resolves. The desk never
//! reads clinical content through this area: a held item is shown by its sender, type,
//! time and identifiers, and a matched one goes through the normal feed path.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{Delivery, HeldResource, StorageError};
use crate::audit::NewAuditEvent;
use crate::domain::{AccountId, OrganisationId, PatientId};

/// A desk agent's look-up of a patient, with the reason they chose.
#[derive(Debug, Clone)]
pub struct NewDeskLookup {
    pub agent: AccountId,
    pub patient: PatientId,
    pub reason: String,
    pub at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub audit: NewAuditEvent,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeskLookup {
    pub public_id: String,
    pub agent: AccountId,
    pub patient: PatientId,
    pub reason: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// Which held items to list: the open ones, optionally from one sender, a page at a
/// time, oldest first.
#[derive(Debug, Clone, Default)]
pub struct HeldQuery {
    pub sender: Option<OrganisationId>,
    pub offset: u32,
    pub limit: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldPage {
    pub items: Vec<HeldResource>,
    /// Every open item the query's filter selects, not just this page.
    pub total: u64,
}

/// How the desk resolved a held item.
#[derive(Debug, Clone)]
pub enum HeldResolution {
    /// Matched to a patient: the resource goes in as a delivery from its sender.
    Matched {
        patient: PatientId,
        delivery: Box<Delivery>,
    },
    /// Sent back to the sender as unmatched.
    Returned,
}

impl HeldResolution {
    pub fn code(&self) -> &'static str {
        match self {
            HeldResolution::Matched { .. } => "matched",
            HeldResolution::Returned => "returned",
        }
    }
}

#[derive(Debug, Clone)]
pub struct ResolveHeld {
    pub public_id: String,
    pub resolution: HeldResolution,
    pub by: AccountId,
    pub reason: String,
    pub at: DateTime<Utc>,
    pub audit: NewAuditEvent,
}

#[async_trait]
pub trait DeskStore: Send + Sync {
    /// Records a look-up and its audit row; returns the look-up's public id.
    async fn create_lookup(&self, lookup: NewDeskLookup) -> Result<String, StorageError>;

    /// A look-up by its public id, only if it is `agent`'s own.
    async fn find_lookup(
        &self,
        public_id: &str,
        agent: AccountId,
    ) -> Result<Option<DeskLookup>, StorageError>;

    /// The NHS login accounts linked to a record.
    async fn accounts_of_patient(
        &self,
        patient: PatientId,
    ) -> Result<Vec<crate::domain::Account>, StorageError>;

    /// Unlinks an account from a record and ends its sessions, keeping the agent's
    /// reason, with the audit row; a conflict if it was not linked to that record.
    async fn unlink_account(
        &self,
        account: AccountId,
        patient: PatientId,
        agent: AccountId,
        reason: &str,
        audit: NewAuditEvent,
    ) -> Result<(), StorageError>;

    /// Open held items, a page at a time, with their count.
    async fn held_resources(&self, query: HeldQuery) -> Result<HeldPage, StorageError>;

    /// One held item (open or resolved) by its public id.
    async fn find_held_resource(
        &self,
        public_id: &str,
    ) -> Result<Option<HeldResource>, StorageError>;

    /// Resolves an open held item: matched (its delivery applied) or returned, with the
    /// audit row, in one transaction; a conflict if it was resolved meanwhile.
    async fn resolve_held_resource(&self, resolve: ResolveHeld) -> Result<(), StorageError>;
}
