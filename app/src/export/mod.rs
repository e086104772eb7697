//! A copy of the record for its reader: what "Download my record" gives at any time and
//! what a subject access request's answer holds (UK GDPR article 15; domain rules,
//! "Subject access requests"). Pure: it starts from a [`DecidedRecord`], so a copy can
//! never hold more than the access decision lets that reader see. Only items *shown*
//! are copied: an item withheld until a date, held for the clinical team, in progress
//! or hidden is not in a copy at all, not even by its title, and neither is an item a
//! clinical reviewer withheld from a request's answer.
//!
//! One [`RecordExport`] is rendered three ways, so they always say the same:
//! - [`fhir::bundle`]: a FHIR R4 `collection` Bundle of each item's resource exactly as
//!   its sender sent it (the version the decision was made on), with the patient, each
//!   source organisation and a `Provenance` per source naming it as the custodian;
//! - [`readable::document`]: a readable copy (rendered as HTML by
//!   [`readable::html`], and as PDF by `pdf` on the server) with the information
//!   article 15 requires.

pub mod fhir;
#[cfg(feature = "ssr")]
pub mod pdf;
pub mod readable;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::access::{DecidedItem, DecidedRecord};
use crate::components::format;
use crate::proxy::rules::Section;
use crate::records::{ItemDetails, RecordKind};

/// What a copy covers: parts of the record, an optional date range (UK days, both
/// ends included) and, for a request's answer, the items a clinical reviewer withheld.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ExportScope {
    pub sections: Vec<Section>,
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    /// Public ids of items withheld from this copy after clinical review.
    #[serde(default)]
    pub withheld: Vec<String>,
}

impl ExportScope {
    /// The whole record, as far as the reader may see it.
    pub fn everything() -> Self {
        Self {
            sections: Section::ALL.to_vec(),
            ..Self::default()
        }
    }
}

/// The day an item is filed under for a date range: when it happened, or when it
/// reached the portal if its sender gave no date.
pub fn item_day(decided: &DecidedItem) -> NaiveDate {
    let item = &decided.item;
    format::uk_local(item.occurred_at.unwrap_or(item.first_received_at)).date()
}

/// The items a copy holds: those the access decision shows this reader, in the
/// copy's parts and date range, less those withheld after review, each with its
/// relatives (a report withheld takes its results and the letter of it with it, as
/// the access decision decides relatives together). Nothing else.
pub fn selected<'a>(record: &'a DecidedRecord, scope: &ExportScope) -> Vec<&'a DecidedItem> {
    let withheld_groups: Vec<usize> = record
        .items()
        .iter()
        .filter(|d| scope.withheld.contains(&d.item.public_id))
        .map(|d| d.group)
        .collect();
    record
        .items()
        .iter()
        .filter(|d| d.is_shown())
        .filter(|d| !withheld_groups.contains(&d.group))
        .filter(|d| scope.sections.contains(&Section::of(d.item.kind)))
        .filter(|d| {
            let day = item_day(d);
            scope.from.is_none_or(|from| day >= from) && scope.to.is_none_or(|to| day <= to)
        })
        .filter(|d| !scope.withheld.contains(&d.item.public_id))
        .collect()
}

/// The patient the copy is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportPatient {
    pub nhs_number: String,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    /// As stored: `YYYY-MM-DD`.
    pub birth_date: Option<String>,
}

impl ExportPatient {
    pub fn name(&self) -> String {
        let name = [self.given_name.as_deref(), self.family_name.as_deref()]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ");
        if name.is_empty() {
            "Name not recorded".to_owned()
        } else {
            name
        }
    }
}

/// One item of the copy: what the pages show of it, and the resource as received.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExportedItem {
    pub public_id: String,
    pub kind: RecordKind,
    pub title: String,
    pub occurred_at: Option<DateTime<Utc>>,
    pub source_name: String,
    pub source_ods_code: String,
    pub received_at: DateTime<Utc>,
    pub details: ItemDetails,
    /// The FHIR resource as the sender sent it (this version), see
    /// [`resource_for_copy`].
    pub resource: serde_json::Value,
    /// Attachments sent apart from the resource, copied as FHIR `Binary` resources.
    #[serde(default)]
    pub attachments: Vec<ExportedAttachment>,
}

/// A resource as received, for a copy: unchanged except that resources contained in it
/// and the display text of its references are left out. The access decision sees an
/// item through its own codes and labels; a contained resource (a result inside a
/// report) or a reference's display (naming another item, which may be withheld or
/// hidden) is content it cannot weigh, so a copy never carries it.
pub fn resource_for_copy(mut resource: serde_json::Value) -> serde_json::Value {
    fn strip(value: &mut serde_json::Value) {
        match value {
            serde_json::Value::Object(map) => {
                map.remove("contained");
                if map.contains_key("reference") {
                    map.remove("display");
                }
                map.values_mut().for_each(strip);
            }
            serde_json::Value::Array(items) => items.iter_mut().for_each(strip),
            _ => {}
        }
    }
    strip(&mut resource);
    resource
}

/// One chosen item of a copy, with its resource as received (see
/// [`resource_for_copy`]) and its attachments that are not inside it.
pub fn exported_item(
    decided: &DecidedItem,
    resource: serde_json::Value,
    attachments: Vec<ExportedAttachment>,
) -> ExportedItem {
    let item = &decided.item;
    ExportedItem {
        public_id: item.public_id.clone(),
        kind: item.kind,
        title: item.title.clone(),
        occurred_at: item.occurred_at,
        source_name: item.source_name.clone(),
        source_ods_code: item.source_ods_code.as_str().to_owned(),
        received_at: item.last_received_at,
        details: item.details.clone(),
        resource: resource_for_copy(resource),
        attachments,
    }
}

/// The content addresses (SHA-256, hex) of the attachments a resource carries inline
/// (`data`), so that only the others need adding to a copy.
pub fn inline_attachments(resource: &serde_json::Value) -> Vec<String> {
    use base64::Engine as _;
    use sha2::{Digest, Sha256};
    let mut found = Vec::new();
    fn walk(value: &serde_json::Value, found: &mut Vec<String>) {
        match value {
            serde_json::Value::Object(map) => {
                if let Some(serde_json::Value::String(data)) = map.get("data")
                    && map.contains_key("contentType")
                    && let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(data)
                {
                    found.push(hex::encode(Sha256::digest(&bytes)));
                }
                map.values().for_each(|v| walk(v, found));
            }
            serde_json::Value::Array(items) => items.iter().for_each(|v| walk(v, found)),
            _ => {}
        }
    }
    walk(resource, &mut found);
    found
}

/// An attachment of an item sent apart from it (a `Binary` its resource points at).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportedAttachment {
    pub sha256: String,
    pub content_type: String,
    /// The bytes, base64.
    pub data: String,
}

/// Why the copy was made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ExportPurpose {
    /// "Download my record": what the reader can see now.
    Download,
    /// The answer to a subject access request.
    SubjectAccess {
        reference: String,
        received_on: NaiveDate,
        /// The grounds on which a reviewer withheld something (no item is named).
        withheld_grounds: Vec<WithholdingGround>,
    },
}

/// The exemptions a clinical reviewer may apply (Data Protection Act 2018, Schedule 3
/// Part 2, and Schedule 2 Part 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum WithholdingGround {
    /// Likely to cause serious harm to the physical or mental health of the patient or
    /// someone else (the serious harm test).
    SeriousHarm,
    /// Identifies someone else who has not consented and whom it would not be
    /// reasonable to name (third-party information).
    ThirdParty,
}

impl WithholdingGround {
    pub const ALL: [WithholdingGround; 2] = [
        WithholdingGround::SeriousHarm,
        WithholdingGround::ThirdParty,
    ];

    pub fn code(self) -> &'static str {
        match self {
            WithholdingGround::SeriousHarm => "serious_harm",
            WithholdingGround::ThirdParty => "third_party",
        }
    }

    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|g| g.code() == code)
    }

    pub fn label(self) -> &'static str {
        match self {
            WithholdingGround::SeriousHarm => "Serious harm to physical or mental health",
            WithholdingGround::ThirdParty => "Information about another person",
        }
    }
}

/// Everything a copy is made from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordExport {
    /// Random, for the bundle's identifier.
    pub id: String,
    pub generated_at: DateTime<Utc>,
    pub patient: ExportPatient,
    /// Whom it was made for: "you" or the name of the person acting for the patient.
    pub prepared_for: PreparedFor,
    pub scope: ExportScope,
    pub purpose: ExportPurpose,
    pub items: Vec<ExportedItem>,
}

/// The reader a copy was made for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PreparedFor {
    ThePatient,
    /// Someone acting for the patient: a copy holds only what their access opens.
    Proxy {
        relationship: String,
    },
}

impl RecordExport {
    /// Each source organisation of the copy's items, by name and ODS code, once each,
    /// in the order first met.
    pub fn sources(&self) -> Vec<(String, String)> {
        let mut sources: Vec<(String, String)> = Vec::new();
        for item in &self.items {
            if !sources.iter().any(|(_, ods)| ods == &item.source_ods_code) {
                sources.push((item.source_name.clone(), item.source_ods_code.clone()));
            }
        }
        sources
    }

    /// Every item's public id, for checks.
    pub fn item_ids(&self) -> Vec<&str> {
        self.items.iter().map(|i| i.public_id.as_str()).collect()
    }
}

#[cfg(test)]
mod tests;
