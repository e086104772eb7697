//! Ingest: turning a source's FHIR R4 bundle into one [`Delivery`] for storage.
//!
//! The mapping reads only the fields the portal uses (`fhir.rs`) and keeps every resource
//! exactly as received, so nothing the sender wrote is lost: decimals keep their written
//! precision, partial dates keep their text, unknown fields stay in the raw resource.
//! Everything that loads records — the feed API and the demo data alike — goes through
//! [`ingest_bundle`].

mod fhir;
mod relations;

use chrono::{DateTime, Utc};
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};

use app::privacy::CodeList;

use app::domain::NhsNumber;
use app::server::storage::{
    Delivery, HeldResource, ItemOutcome, NewHeldResource, OrganisationId, Storage, StorageError,
};

pub use fhir::{MappingError, RELEASE_DIRECTIVE_SYSTEM};

/// Why a bundle could not be ingested. Messages name the offending element and never
/// repeat patient data.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("the body is not a FHIR JSON bundle: {0}")]
    Unparseable(String),
    #[error("{0}")]
    Mapping(#[from] MappingError),
    #[error("storage: {0}")]
    Storage(#[from] StorageError),
}

/// One bundle entry as received: its `fullUrl` and its resource's exact text.
#[derive(serde::Deserialize)]
struct RawEntry<'a> {
    #[serde(rename = "fullUrl")]
    full_url: Option<String>,
    #[serde(borrow)]
    resource: Option<&'a RawValue>,
}

#[derive(serde::Deserialize)]
struct RawBundle<'a> {
    #[serde(rename = "resourceType")]
    resource_type: String,
    #[serde(rename = "type")]
    bundle_type: Option<String>,
    #[serde(borrow, default)]
    entry: Vec<RawEntry<'a>>,
}

/// Who sent a bundle and when it arrived.
#[derive(Debug, Clone)]
pub struct Sender {
    pub organisation: OrganisationId,
    pub received_at: DateTime<Utc>,
    pub request_id: Option<String>,
}

/// A bundle mapped for storage: the delivery, and for each of its items the index of the
/// bundle entry it came from (so answers can be given entry by entry).
#[derive(Debug, Clone)]
pub struct MappedBundle {
    pub bundle_type: Option<String>,
    pub entry_count: usize,
    pub delivery: Delivery,
    pub item_entries: Vec<usize>,
    /// For each held resource: its entry, the element and the reason.
    pub held_entries: Vec<(usize, String, String)>,
}

/// What happened to one entry of a bundle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryOutcome {
    /// It became (or updated, or matched) a record item.
    Item(ItemOutcome),
    /// Its patient could not be identified: held for the service desk.
    Held { expression: String, reason: String },
    /// Taken in without becoming an item of its own (a Patient, an Organization).
    Accepted,
}

/// Outcomes in entry order.
pub type EntryOutcomes = Vec<EntryOutcome>;

/// Maps a transaction, batch, collection or document bundle to a delivery and applies it
/// to storage in one transaction.
pub async fn ingest_bundle(
    storage: &dyn Storage,
    sender: &Sender,
    code_list: &CodeList,
    body: &str,
) -> Result<Vec<ItemOutcome>, IngestError> {
    let mapped = map_bundle(sender, code_list, body)?;
    Ok(storage.apply_delivery(mapped.delivery).await?)
}

/// Applies a mapped bundle and lines the outcomes up with the bundle's entries.
pub async fn apply_mapped(
    storage: &dyn Storage,
    mapped: MappedBundle,
) -> Result<EntryOutcomes, IngestError> {
    let mut by_entry: EntryOutcomes = vec![EntryOutcome::Accepted; mapped.entry_count];
    let outcomes = storage.apply_delivery(mapped.delivery).await?;
    for (entry, outcome) in mapped.item_entries.into_iter().zip(outcomes) {
        if let Some(slot) = by_entry.get_mut(entry) {
            *slot = EntryOutcome::Item(outcome);
        }
    }
    for (entry, expression, reason) in mapped.held_entries {
        if let Some(slot) = by_entry.get_mut(entry) {
            *slot = EntryOutcome::Held { expression, reason };
        }
    }
    Ok(by_entry)
}

/// The pure half of [`ingest_bundle`]: bundle text in, delivery out.
pub fn map_bundle(
    sender: &Sender,
    code_list: &CodeList,
    body: &str,
) -> Result<MappedBundle, IngestError> {
    let bundle: RawBundle<'_> =
        serde_json::from_str(body).map_err(|e| IngestError::Unparseable(e.to_string()))?;
    if bundle.resource_type != "Bundle" {
        return Err(IngestError::Mapping(MappingError::new(
            "Bundle.resourceType",
            "the resource must be a Bundle",
        )));
    }
    let entries = bundle
        .entry
        .iter()
        .enumerate()
        .map(|(index, entry)| {
            let resource = entry.resource.ok_or_else(|| {
                MappingError::new(
                    &format!("Bundle.entry[{index}].resource"),
                    "every entry must carry a resource",
                )
            })?;
            Ok(fhir::Entry {
                index,
                full_url: entry.full_url.clone(),
                raw: resource.get().to_owned(),
            })
        })
        .collect::<Result<Vec<_>, MappingError>>()?;
    let mapped = fhir::map_entries(&entries, code_list)?;
    let (item_entries, items) = mapped.items.into_iter().unzip();
    let held_entries = mapped
        .held
        .iter()
        .map(|h| (h.entry, h.expression.clone(), h.reason.clone()))
        .collect();
    let held = mapped
        .held
        .into_iter()
        .map(|h| NewHeldResource {
            resource_type: h.resource_type,
            expression: h.expression,
            reason: h.reason,
            raw_resource: h.raw_resource,
        })
        .collect();
    Ok(MappedBundle {
        bundle_type: bundle.bundle_type.clone(),
        entry_count: entries.len(),
        delivery: Delivery {
            sender: sender.organisation,
            received_at: sender.received_at,
            patients: mapped.patients,
            items,
            held,
            request_id: sender.request_id.clone(),
        },
        item_entries,
        held_entries,
    })
}

/// A held resource as a delivery from its sender for the patient the service desk
/// matched it to, received when it first arrived. Its own content decides everything
/// else (release, labels, relatives), exactly as if the sender had named the patient.
/// A held `Patient` resource becomes an empty delivery: the record already exists.
pub fn map_held(
    held: &HeldResource,
    patient: &NhsNumber,
    code_list: &CodeList,
) -> Result<Delivery, IngestError> {
    let entries = [fhir::Entry {
        index: 0,
        full_url: None,
        raw: held.raw_resource.clone(),
    }];
    let mapped = fhir::map_entries_for(&entries, code_list, Some(patient.clone()))?;
    Ok(Delivery {
        sender: held.sender,
        received_at: held.received_at,
        patients: Vec::new(),
        items: mapped.items.into_iter().map(|(_, item)| item).collect(),
        held: Vec::new(),
        request_id: None,
    })
}

/// SHA-256 (hex) of a resource's content, ignoring `meta.versionId` and
/// `meta.lastUpdated`, which a sender may change when it re-sends the same thing.
pub(crate) fn content_hash(resource: &serde_json::Value) -> String {
    let mut canonical = resource.clone();
    if let Some(meta) = canonical.get_mut("meta").and_then(|m| m.as_object_mut()) {
        meta.remove("versionId");
        meta.remove("lastUpdated");
    }
    let text = canonical.to_string();
    hex::encode(Sha256::digest(text.as_bytes()))
}
