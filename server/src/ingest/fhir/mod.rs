//! The FHIR R4 mapping: which fields of each resource the portal reads, and how they
//! become record items. Pure functions of the bundle's text; no storage, no clock.
//!
//! The contract is `shared/docs/fhir-feed.md`. Patients are found by NHS number, from a
//! `Patient` in the bundle or a logical reference (`subject.identifier`), and an NHS
//! number must pass modulus 11; nothing is ever attached to a guessed patient.

use std::collections::HashMap;

use base64::Engine;
use chrono::{DateTime, NaiveDate, Utc};
use serde::Deserialize;
use serde_json::Value;
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};

use app::domain::NhsNumber;
use app::privacy::CodeList;
use app::records::{
    AttachmentSummary, Coding, DeliveryChannel, DocumentSection, ItemDetails, ObservedValue,
    RecordKind, ReferenceRange, ReleaseDirective,
};
use app::server::storage::{ItemKey, LabelOrigin, NewAttachment, NewPatient, NewRecordItem};

mod appointment;
mod document;
mod encounter;
mod observation;
mod patient;
mod report;

use appointment::map_appointment;
use document::{map_composition, map_document_reference};
use encounter::map_encounter;
use observation::map_observation;
use patient::{PatientIndex, map_patient, resolve_patient};
use report::map_report;

pub const NHS_NUMBER_SYSTEM: &str = "https://fhir.nhs.uk/Id/nhs-number";

/// The `meta.tag` system by which a sender tells us how to release a result: codes
/// `release-now`, `hold` and `retract` (see docs/feed.md).
pub const RELEASE_DIRECTIVE_SYSTEM: &str = "urn:x-health-record-portal:release-directive";

const DELIVERY_CHANNEL_URL: &str =
    "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-DeliveryChannel";

/// A mapping failure, with a FHIRPath-style `expression` for the offending element.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{diagnostics} ({expression})")]
pub struct MappingError {
    pub expression: String,
    pub diagnostics: String,
    /// The resource is sound but its patient cannot be identified: it is held for the
    /// service desk rather than refused.
    pub patient_unresolved: bool,
}

impl MappingError {
    pub fn new(expression: &str, diagnostics: &str) -> Self {
        Self {
            expression: expression.to_owned(),
            diagnostics: diagnostics.to_owned(),
            patient_unresolved: false,
        }
    }

    fn unresolved(expression: &str, diagnostics: &str) -> Self {
        Self {
            patient_unresolved: true,
            ..Self::new(expression, diagnostics)
        }
    }
}

/// A resource whose patient could not be identified, held for the service desk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Held {
    pub entry: usize,
    pub resource_type: String,
    pub expression: String,
    pub reason: String,
    pub raw_resource: String,
}

pub struct Entry {
    pub index: usize,
    pub full_url: Option<String>,
    pub raw: String,
}

pub struct Mapped {
    pub patients: Vec<NewPatient>,
    /// Each item with the index of the bundle entry it came from.
    pub items: Vec<(usize, NewRecordItem)>,
    /// Resources held because their patient could not be identified.
    pub held: Vec<Held>,
}

struct Parsed<'a> {
    entry: &'a Entry,
    resource: Value,
    resource_type: String,
}

impl Parsed<'_> {
    fn path(&self, element: &str) -> String {
        format!("Bundle.entry[{}].resource.{element}", self.entry.index)
    }
}

/// Maps every entry of a bundle. Patients first, then items, with reports before their
/// observations so that each observation can be linked to its report.
pub fn map_entries(entries: &[Entry], code_list: &CodeList) -> Result<Mapped, MappingError> {
    map_entries_for(entries, code_list, None)
}

/// [`map_entries`], with every item's patient given by the service desk's match
/// (`matched_by_desk`) instead of resolved from its references.
pub fn map_entries_for(
    entries: &[Entry],
    code_list: &CodeList,
    matched_by_desk: Option<NhsNumber>,
) -> Result<Mapped, MappingError> {
    let parsed = entries
        .iter()
        .map(|entry| {
            let resource: Value = serde_json::from_str(&entry.raw).map_err(|_| {
                MappingError::new(
                    &format!("Bundle.entry[{}].resource", entry.index),
                    "the resource is not valid JSON",
                )
            })?;
            let resource_type = resource
                .get("resourceType")
                .and_then(Value::as_str)
                .ok_or_else(|| {
                    MappingError::new(
                        &format!("Bundle.entry[{}].resource.resourceType", entry.index),
                        "every resource must say its resourceType",
                    )
                })?
                .to_owned();
            Ok(Parsed {
                entry,
                resource,
                resource_type,
            })
        })
        .collect::<Result<Vec<_>, MappingError>>()?;

    // Every way an entry can be referred to inside the bundle.
    let mut patients_by_reference = PatientIndex {
        matched_by_desk,
        ..PatientIndex::default()
    };
    let mut patients = Vec::new();
    let mut held = Vec::new();
    let hold = |p: &Parsed<'_>, error: MappingError| Held {
        entry: p.entry.index,
        resource_type: p.resource_type.clone(),
        expression: error.expression,
        reason: error.diagnostics,
        raw_resource: p.entry.raw.clone(),
    };
    for p in parsed.iter().filter(|p| p.resource_type == "Patient") {
        match map_patient(p) {
            Ok(patient) => {
                for reference in references_to(p) {
                    patients_by_reference
                        .by_reference
                        .insert(reference, patient.nhs_number.clone());
                }
                patients.push(patient);
            }
            // A patient we cannot identify is held, and so is everything about them
            // (their references will not resolve).
            Err(error) if error.patient_unresolved => held.push(hold(p, error)),
            Err(error) => return Err(error),
        }
    }

    // Every bundle-local address, and the key of the resource it names: references by
    // `urn:uuid:` are stored as the key, so they still link after the bundle is gone.
    let aliases: super::relations::Aliases = parsed
        .iter()
        .filter_map(|p| {
            let url = p.entry.full_url.clone()?;
            let key = super::relations::bundle_key(&p.resource_type, &p.resource)?;
            Some((url, key))
        })
        .collect();

    // Observations listed in a report's `result` belong to that report.
    let mut report_of_observation = HashMap::<String, ItemKey>::new();
    for p in parsed
        .iter()
        .filter(|p| p.resource_type == "DiagnosticReport")
    {
        let key = item_key(p)?;
        for result in array(&p.resource, "result") {
            if let Some(reference) = result.get("reference").and_then(Value::as_str) {
                report_of_observation.insert(reference.to_owned(), key.clone());
            }
        }
    }

    // Binaries, by every reference an attachment's `url` may use.
    let binaries: HashMap<String, Value> = parsed
        .iter()
        .filter(|p| p.resource_type == "Binary")
        .flat_map(|p| {
            references_to(p)
                .into_iter()
                .map(|r| (r, p.resource.clone()))
        })
        .collect();

    let mut items = Vec::new();
    for p in &parsed {
        let mapped = match p.resource_type.as_str() {
            "Patient" | "Organization" | "Practitioner" | "Location" | "Binary" => continue,
            "Appointment" => map_appointment(p, &patients_by_reference),
            "DocumentReference" => map_document_reference(p, &patients_by_reference, &binaries),
            "Composition" => map_composition(p, &parsed, &patients_by_reference),
            "DiagnosticReport" => map_report(p, &patients_by_reference),
            "Observation" => {
                let parent = references_to(p)
                    .into_iter()
                    .find_map(|r| report_of_observation.get(&r).cloned());
                map_observation(p, &patients_by_reference, parent)
            }
            "Encounter" => map_encounter(p, &patients_by_reference),
            other => {
                return Err(MappingError::new(
                    &p.path("resourceType"),
                    &format!("resources of type {other} are not accepted by this feed"),
                ));
            }
        };
        match mapped {
            Ok(mut item) => {
                for label in code_list.labels_for_resource(&p.resource) {
                    if !item.labels.iter().any(|(l, _)| l == &label) {
                        item.labels.push((label, LabelOrigin::CodeList));
                    }
                }
                item.relations =
                    super::relations::relations_of(&p.resource_type, &p.resource, &aliases);
                items.push((p.entry.index, item))
            }
            Err(error) if error.patient_unresolved => held.push(hold(p, error)),
            Err(error) => return Err(error),
        }
    }
    // Reports before observations; otherwise the sender's order.
    items.sort_by_key(|(_, item)| match item.kind {
        RecordKind::DiagnosticReport => 0,
        RecordKind::Observation => 2,
        _ => 1,
    });
    Ok(Mapped {
        patients,
        items,
        held,
    })
}

/// The strings other resources in the bundle may use to point at this entry.
fn references_to(p: &Parsed<'_>) -> Vec<String> {
    let mut references = Vec::new();
    if let Some(url) = &p.entry.full_url {
        references.push(url.clone());
    }
    if let Some(id) = p.resource.get("id").and_then(Value::as_str) {
        references.push(format!("{}/{id}", p.resource_type));
    }
    references
}

fn item_key(p: &Parsed<'_>) -> Result<ItemKey, MappingError> {
    // Most resources have a list of identifiers; a Composition has just one.
    let identifier = array(&p.resource, "identifier")
        .first()
        .cloned()
        .or_else(|| {
            p.resource
                .get("identifier")
                .filter(|i| i.is_object())
                .cloned()
        })
        .or_else(|| p.resource.get("masterIdentifier").cloned())
        .ok_or_else(|| {
            MappingError::new(
                &p.path("identifier"),
                "a business identifier (system and value) is required",
            )
        })?;
    let system = text_at(&identifier, "system");
    let value = text_at(&identifier, "value");
    match (system, value) {
        (Some(system), Some(value)) if !system.is_empty() && !value.is_empty() => Ok(ItemKey {
            resource_type: p.resource_type.clone(),
            identifier_system: system,
            identifier_value: value,
        }),
        _ => Err(MappingError::new(
            &p.path("identifier"),
            "the identifier needs both a system and a value",
        )),
    }
}

/// The parts every item shares, filled from the resource; the kind-specific mapping
/// sets the rest.
fn base_item(
    p: &Parsed<'_>,
    kind: RecordKind,
    patient: NhsNumber,
    title: String,
    details: ItemDetails,
) -> Result<NewRecordItem, MappingError> {
    let status = text_at(&p.resource, "status").unwrap_or_else(|| "unknown".to_owned());
    let directive = array(p.resource.get("meta").unwrap_or(&Value::Null), "tag")
        .iter()
        .filter(|t| t.get("system").and_then(Value::as_str) == Some(RELEASE_DIRECTIVE_SYSTEM))
        .find_map(|t| match t.get("code").and_then(Value::as_str) {
            Some("release-now") => Some(ReleaseDirective::ReleaseNow),
            Some("hold") => Some(ReleaseDirective::Hold),
            Some("retract") => Some(ReleaseDirective::Retract),
            _ => None,
        })
        .unwrap_or_default();
    // The sender's own security labels are kept as sent, and also translated into the
    // portal's label where one corresponds ("HIV" -> "hiv").
    let mut labels: Vec<(String, LabelOrigin)> = Vec::new();
    let security_labels = array(p.resource.get("meta").unwrap_or(&Value::Null), "security")
        .iter()
        .chain(
            array(&p.resource, "securityLabel")
                .iter()
                .flat_map(|l| array(l, "coding")),
        );
    for code in security_labels.filter_map(|s| s.get("code").and_then(Value::as_str)) {
        for label in [Some(code), app::privacy::label_for_security_code(code)]
            .into_iter()
            .flatten()
        {
            if !labels.iter().any(|(l, _)| l == label) {
                labels.push((label.to_owned(), LabelOrigin::Sender));
            }
        }
    }
    Ok(NewRecordItem {
        patient,
        key: item_key(p)?,
        kind,
        parent: None,
        entered_in_error: status == "entered-in-error",
        status,
        title,
        occurred_at: None,
        occurred_text: None,
        details,
        category: None,
        code_system: None,
        code: None,
        abnormal: None,
        issued_at: None,
        effective_at: None,
        release_directive: directive,
        labels,
        relations: Default::default(),
        raw_resource: p.entry.raw.clone(),
        attachments: Vec::new(),
        content_sha256: super::content_hash(&p.resource),
    })
}

/// The v2 section (LAB, RAD, CT, SP…) the first recognised coding of these concepts
/// stands for, whichever code system it is in (`app::release::category`); `None` when
/// none is recognised, and the release engine then holds a result for the clinical team.
fn recognised_category<'v>(concepts: impl Iterator<Item = &'v Value>) -> Option<String> {
    let codings: Vec<(Option<&str>, &str)> = concepts
        .flat_map(|c| array(c, "coding"))
        .filter_map(|c| {
            Some((
                c.get("system").and_then(Value::as_str),
                c.get("code").and_then(Value::as_str)?,
            ))
        })
        .collect();
    app::release::category::recognise(codings).map(str::to_owned)
}

// --- Small readers -------------------------------------------------------------------

fn array<'v>(value: &'v Value, field: &str) -> &'v [Value] {
    value
        .get(field)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

fn text_at(value: &Value, field: &str) -> Option<String> {
    value.get(field).and_then(Value::as_str).map(str::to_owned)
}

/// The words to show for a CodeableConcept: its text, else its first coding's display.
fn concept_text(concept: &Value) -> Option<String> {
    text_at(concept, "text").or_else(|| {
        array(concept, "coding")
            .iter()
            .find_map(|c| text_at(c, "display"))
    })
}

fn concept_code(concept: &Value) -> Option<String> {
    array(concept, "coding")
        .iter()
        .find_map(|c| text_at(c, "code"))
}

fn coding_of(concept: Option<&Value>) -> Coding {
    let concept = concept.unwrap_or(&Value::Null);
    let first = array(concept, "coding")
        .first()
        .cloned()
        .unwrap_or(Value::Null);
    Coding {
        system: text_at(&first, "system"),
        code: text_at(&first, "code"),
        display: concept_text(concept),
    }
}

fn effective_text(resource: &Value) -> Option<String> {
    text_at(resource, "effectiveDateTime")
        .or_else(|| text_at(resource, "effectiveInstant"))
        .or_else(|| {
            resource
                .get("effectivePeriod")
                .and_then(|p| text_at(p, "start"))
        })
}

/// A FHIR date, dateTime or instant as a UTC instant. Partial dates ("2024",
/// "2024-04") become the start of the period they name; the caller keeps the text.
pub fn parse_fhir_instant(text: &str) -> Option<DateTime<Utc>> {
    if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        return Some(at.with_timezone(&Utc));
    }
    let date = match text.len() {
        4 => NaiveDate::parse_from_str(&format!("{text}-01-01"), "%Y-%m-%d").ok(),
        7 => NaiveDate::parse_from_str(&format!("{text}-01"), "%Y-%m-%d").ok(),
        10 => NaiveDate::parse_from_str(text, "%Y-%m-%d").ok(),
        _ => None,
    }?;
    Some(date.and_hms_opt(0, 0, 0)?.and_utc())
}

#[cfg(test)]
mod tests {
    use super::document::sanitise_narrative;
    use super::*;

    #[test]
    fn partial_dates_become_the_start_of_their_period() {
        assert_eq!(
            parse_fhir_instant("2024").map(|d| d.to_rfc3339()),
            Some("2024-01-01T00:00:00+00:00".into())
        );
        assert_eq!(
            parse_fhir_instant("2024-04").map(|d| d.to_rfc3339()),
            Some("2024-04-01T00:00:00+00:00".into())
        );
        assert_eq!(
            parse_fhir_instant("2024-04-05T10:30:00+01:00").map(|d| d.to_rfc3339()),
            Some("2024-04-05T09:30:00+00:00".into())
        );
        assert_eq!(parse_fhir_instant("April 2024"), None);
    }

    #[test]
    fn narrative_loses_scripts_handlers_and_links_out() {
        let dirty = r#"<div xmlns="http://www.w3.org/1999/xhtml"><p onclick="x()">Seen <b>today</b></p><script>alert(1)</script><a href="javascript:alert(1)">x</a><img src="https://tracker.example/p.gif"/></div>"#;
        let clean = sanitise_narrative(dirty);
        assert!(clean.contains("<b>today</b>"));
        for bad in ["script", "onclick", "javascript", "tracker.example"] {
            assert!(!clean.contains(bad), "{bad} survived in {clean}");
        }
    }

    #[test]
    fn narrative_loads_nothing_from_anywhere_and_marks_links_out() {
        let dirty = r#"<div><img src="//tracker.example/p.gif"/><p style="background:url(//x.example/a)">Hi</p><a href="//evil.example/x">rel</a><a href="/local">local</a><a href="http://plain.example">plain</a><a href="https://www.nhs.uk/conditions/">NHS website</a></div>"#;
        let clean = sanitise_narrative(dirty);
        for bad in [
            "img",
            "tracker.example",
            "evil.example",
            "x.example",
            "/local",
            "plain.example",
            "style",
        ] {
            assert!(!clean.contains(bad), "{bad} survived in {clean}");
        }
        assert!(
            clean.contains(r#"href="https://www.nhs.uk/conditions/""#),
            "{clean}"
        );
        assert!(clean.contains(r#"class="app-external-link""#), "{clean}");
        assert!(
            clean.contains(r#"rel="noopener noreferrer nofollow""#),
            "{clean}"
        );
    }
}
