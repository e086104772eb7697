//! The feed's writes and what a sender may ask of them: each delivery applied all or
//! nothing, every version kept raw as received, attachments by content address, and
//! resources whose patient could not be identified held for the service desk.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::StorageError;
use super::patients::NewPatient;
use crate::domain::{NhsNumber, OrganisationId};
use crate::records::{ItemDetails, RecordKind, ReleaseDirective};

/// The key a sender's resource is known by: (sender, resource type, business identifier).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ItemKey {
    pub resource_type: String,
    pub identifier_system: String,
    pub identifier_value: String,
}

/// Where a privacy label came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LabelOrigin {
    /// Matched by the portal's configured code list.
    CodeList,
    /// Sent by the source in `meta.security`.
    Sender,
}

impl LabelOrigin {
    pub fn code(self) -> &'static str {
        match self {
            LabelOrigin::CodeList => "code_list",
            LabelOrigin::Sender => "sender",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct NewRecordItem {
    pub patient: NhsNumber,
    pub key: ItemKey,
    pub kind: RecordKind,
    /// The item this one belongs to (an observation's report), sent earlier in the same
    /// delivery or stored already.
    pub parent: Option<ItemKey>,
    pub status: String,
    pub entered_in_error: bool,
    pub title: String,
    pub occurred_at: Option<DateTime<Utc>>,
    pub occurred_text: Option<String>,
    pub details: ItemDetails,
    pub category: Option<String>,
    pub code_system: Option<String>,
    pub code: Option<String>,
    pub abnormal: Option<bool>,
    pub issued_at: Option<DateTime<Utc>>,
    pub effective_at: Option<DateTime<Utc>>,
    pub release_directive: ReleaseDirective,
    pub labels: Vec<(String, LabelOrigin)>,
    /// How the item is linked to its relatives (see [`crate::records::Relations`]).
    pub relations: crate::records::Relations,
    /// The resource exactly as received.
    pub raw_resource: String,
    /// The bytes of its attachments, stored by content address.
    pub attachments: Vec<NewAttachment>,
    /// SHA-256 (hex) of the canonical content, which decides "identical re-delivery".
    pub content_sha256: String,
}

/// An attachment's bytes, checked at ingest (type allowed, size and hash as declared).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAttachment {
    /// SHA-256 (hex) of `content`: the content address.
    pub sha256: String,
    pub content_type: String,
    pub content: Vec<u8>,
}

/// One delivery from one source, applied all or nothing.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub sender: OrganisationId,
    pub received_at: DateTime<Utc>,
    pub patients: Vec<NewPatient>,
    pub items: Vec<NewRecordItem>,
    /// Resources held because their patient could not be identified.
    pub held: Vec<NewHeldResource>,
    pub request_id: Option<String>,
}

/// A resource held for the service desk: its patient could not be identified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewHeldResource {
    pub resource_type: String,
    /// The element that could not be resolved.
    pub expression: String,
    pub reason: String,
    /// Exactly as received.
    pub raw_resource: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldResource {
    pub id: i64,
    /// A random id, for the service desk console's addresses.
    pub public_id: String,
    pub sender: OrganisationId,
    pub received_at: DateTime<Utc>,
    pub resource_type: String,
    pub expression: String,
    pub reason: String,
    pub raw_resource: String,
    /// `matched` or `returned`, once the desk resolved it.
    pub resolution: Option<String>,
    pub resolved_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ItemChange {
    Created,
    Updated,
    Unchanged,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemOutcome {
    pub public_id: String,
    pub version: i64,
    pub change: ItemChange,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemVersion {
    pub version: i64,
    pub received_at: DateTime<Utc>,
    pub content_sha256: String,
    pub raw_resource: String,
}

#[async_trait]
pub trait FeedStore: Send + Sync {
    /// Applies one delivery from a source, all or nothing: patients are created or
    /// updated, each item is created, given a new version, or left unchanged when its
    /// content is identical to the current version, and the source's "last received"
    /// time moves on. Returns one outcome per item, in order.
    async fn apply_delivery(&self, delivery: Delivery) -> Result<Vec<ItemOutcome>, StorageError>;

    /// The public id of a sender's item with this key, if it has sent one.
    async fn find_item_by_key(
        &self,
        sender: OrganisationId,
        key: &ItemKey,
    ) -> Result<Option<String>, StorageError>;

    /// Every stored version of a sender's item, oldest first, raw as received.
    async fn list_item_versions(
        &self,
        sender: OrganisationId,
        public_id: &str,
    ) -> Result<Vec<ItemVersion>, StorageError>;

    /// How many of each sender's current items carry any of these labels (the items the
    /// portal never shows): for the sender's own reconciliation, never for patients.
    async fn count_labelled_items_by_sender(
        &self,
        labels: &[String],
    ) -> Result<Vec<(OrganisationId, u64)>, StorageError>;

    /// Held resources not yet resolved, oldest first (the service desk's queue).
    async fn list_held_resources(&self, limit: u32) -> Result<Vec<HeldResource>, StorageError>;
}
