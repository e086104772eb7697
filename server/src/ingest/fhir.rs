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
    let mut patients_by_reference = HashMap::<String, NhsNumber>::new();
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
                    patients_by_reference.insert(reference, patient.nhs_number.clone());
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

fn map_patient(p: &Parsed<'_>) -> Result<NewPatient, MappingError> {
    let nhs_number = array(&p.resource, "identifier")
        .iter()
        .find(|i| i.get("system").and_then(Value::as_str) == Some(NHS_NUMBER_SYSTEM))
        .and_then(|i| i.get("value").and_then(Value::as_str))
        .ok_or_else(|| {
            MappingError::unresolved(&p.path("identifier"), "the patient has no NHS number")
        })?;
    let nhs_number = NhsNumber::parse(nhs_number)
        .map_err(|e| MappingError::unresolved(&p.path("identifier"), &e.to_string()))?;
    let name = array(&p.resource, "name")
        .first()
        .cloned()
        .unwrap_or(Value::Null);
    Ok(NewPatient {
        nhs_number,
        family_name: text_at(&name, "family"),
        given_name: array(&name, "given")
            .first()
            .and_then(Value::as_str)
            .map(str::to_owned),
        birth_date: text_at(&p.resource, "birthDate"),
        gender: text_at(&p.resource, "gender"),
    })
}

/// Finds the patient a reference points at: a `Patient` in the bundle, or a logical
/// reference by NHS number.
fn resolve_patient(
    p: &Parsed<'_>,
    element: &str,
    reference: Option<&Value>,
    patients: &HashMap<String, NhsNumber>,
) -> Result<NhsNumber, MappingError> {
    let reference = reference
        .ok_or_else(|| MappingError::unresolved(&p.path(element), "the patient is missing"))?;
    if let Some(target) = reference.get("reference").and_then(Value::as_str) {
        return patients.get(target).cloned().ok_or_else(|| {
            MappingError::unresolved(
                &p.path(element),
                "the reference does not point at a Patient in this bundle",
            )
        });
    }
    let identifier = reference.get("identifier").unwrap_or(&Value::Null);
    if identifier.get("system").and_then(Value::as_str) != Some(NHS_NUMBER_SYSTEM) {
        return Err(MappingError::unresolved(
            &p.path(element),
            "the patient must be identified by NHS number or by a Patient in the bundle",
        ));
    }
    let value = identifier
        .get("value")
        .and_then(Value::as_str)
        .unwrap_or_default();
    NhsNumber::parse(value).map_err(|e| {
        MappingError::unresolved(
            &format!("{}.identifier.value", p.path(element)),
            &e.to_string(),
        )
    })
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

fn map_appointment(
    p: &Parsed<'_>,
    patients: &HashMap<String, NhsNumber>,
) -> Result<NewRecordItem, MappingError> {
    let r = &p.resource;
    let participants = array(r, "participant");
    let patient_actor = participants.iter().map(|x| x.get("actor")).find(|actor| {
        actor
            .and_then(|a| a.get("reference").and_then(Value::as_str))
            .map(|s| s.starts_with("Patient/") || patients.contains_key(s))
            .unwrap_or(false)
            || actor
                .and_then(|a| a.get("identifier"))
                .and_then(|i| i.get("system"))
                .and_then(Value::as_str)
                == Some(NHS_NUMBER_SYSTEM)
    });
    let patient = resolve_patient(p, "participant.actor", patient_actor.flatten(), patients)?;
    let place = participants
        .iter()
        .filter_map(|x| x.get("actor"))
        .find(|a| {
            a.get("reference")
                .and_then(Value::as_str)
                .is_some_and(|s| s.starts_with("Location/"))
                || a.get("type").and_then(Value::as_str) == Some("Location")
        })
        .and_then(|a| text_at(a, "display"));
    let channel = array(r, "extension")
        .iter()
        .find(|e| e.get("url").and_then(Value::as_str) == Some(DELIVERY_CHANNEL_URL))
        .and_then(|e| {
            e.get("valueCode")
                .and_then(Value::as_str)
                .map(str::to_owned)
                .or_else(|| e.get("valueCodeableConcept").and_then(concept_code))
        })
        .and_then(|code| match code.to_ascii_lowercase().as_str() {
            "in-person" | "inperson" => Some(DeliveryChannel::InPerson),
            "telephone" => Some(DeliveryChannel::Telephone),
            "video" => Some(DeliveryChannel::Video),
            _ => None,
        });
    let specialty = array(r, "specialty").first().and_then(concept_text);
    let appointment_type = r.get("appointmentType").and_then(concept_text);
    let description = text_at(r, "description");
    let start = text_at(r, "start");
    let title = description
        .clone()
        .or_else(|| appointment_type.clone())
        .or_else(|| specialty.clone().map(|s| format!("{s} appointment")))
        .unwrap_or_else(|| "Appointment".to_owned());
    let details = ItemDetails::Appointment {
        status: text_at(r, "status").unwrap_or_default(),
        start: start.clone(),
        end: text_at(r, "end"),
        description,
        specialty,
        appointment_type,
        place,
        channel,
        instructions: text_at(r, "patientInstruction"),
        cancellation_reason: r.get("cancelationReason").and_then(concept_text),
    };
    let mut item = base_item(p, RecordKind::Appointment, patient, title, details)?;
    item.occurred_at = start.as_deref().and_then(parse_fhir_instant);
    item.occurred_text = start;
    Ok(item)
}

fn map_document_reference(
    p: &Parsed<'_>,
    patients: &HashMap<String, NhsNumber>,
    binaries: &HashMap<String, Value>,
) -> Result<NewRecordItem, MappingError> {
    let r = &p.resource;
    let patient = resolve_patient(p, "subject", r.get("subject"), patients)?;
    let document_type = r.get("type").and_then(concept_text);
    let description = text_at(r, "description");
    let date = text_at(r, "date");
    let (attachments, stored): (Vec<AttachmentSummary>, Vec<Option<NewAttachment>>) =
        array(r, "content")
            .iter()
            .enumerate()
            .filter_map(|(i, c)| c.get("attachment").map(|a| (i, a)))
            .map(|(i, a)| read_attachment(p, i, a, binaries))
            .collect::<Result<Vec<_>, _>>()?
            .into_iter()
            .unzip();
    let title = text_at(r, "description")
        .or_else(|| document_type.clone())
        .or_else(|| attachments.first().and_then(|a| a.title.clone()))
        .unwrap_or_else(|| "Document".to_owned());
    let details = ItemDetails::Document {
        status: text_at(r, "status").unwrap_or_default(),
        document_type,
        date: date.clone(),
        description,
        sections: Vec::new(),
        attachments,
    };
    let mut item = base_item(p, RecordKind::Document, patient, title, details)?;
    // A document whose type names a kind of report (a pathology report as a PDF) is
    // released like that report.
    item.category = recognised_category(r.get("type").into_iter().chain(array(r, "category")));
    // A draft document is not final, whatever its record status says.
    if let Some(doc_status) = text_at(r, "docStatus")
        && matches!(doc_status.as_str(), "preliminary" | "entered-in-error")
    {
        item.entered_in_error |= doc_status == "entered-in-error";
        item.status = doc_status;
    }
    item.attachments = stored.into_iter().flatten().collect();
    item.occurred_at = date.as_deref().and_then(parse_fhir_instant);
    item.occurred_text = date;
    Ok(item)
}

/// Content types a sender may attach: documents people can open safely in a browser.
pub const ALLOWED_CONTENT_TYPES: [&str; 4] =
    ["application/pdf", "text/plain", "image/jpeg", "image/png"];

/// Reads one attachment: its bytes from inline `data` or from a `Binary` in the same
/// bundle (`url`), checked against its declared content type, `size` and `hash` (SHA-1,
/// base64, as FHIR R4 defines it). Remote URLs are not fetched.
fn read_attachment(
    p: &Parsed<'_>,
    index: usize,
    a: &Value,
    binaries: &HashMap<String, Value>,
) -> Result<(AttachmentSummary, Option<NewAttachment>), MappingError> {
    let at = |field: &str| p.path(&format!("content[{index}].attachment.{field}"));
    let binary = a.get("url").and_then(Value::as_str).map(|url| {
        binaries.get(url).ok_or_else(|| {
            MappingError::new(
                &at("url"),
                "the attachment URL must point at a Binary in this bundle",
            )
        })
    });
    let binary = binary.transpose()?;
    let content_type = text_at(a, "contentType")
        .or_else(|| binary.and_then(|b| text_at(b, "contentType")))
        .ok_or_else(|| {
            MappingError::new(&at("contentType"), "the attachment has no content type")
        })?;
    let base_type = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    if !ALLOWED_CONTENT_TYPES.contains(&base_type.as_str()) {
        return Err(MappingError::new(
            &at("contentType"),
            &format!(
                "attachments of type {base_type} are not accepted; send PDF, plain text, JPEG or PNG"
            ),
        ));
    }
    let data = a
        .get("data")
        .and_then(Value::as_str)
        .or_else(|| binary.and_then(|b| b.get("data")).and_then(Value::as_str));
    let Some(data) = data else {
        let summary = AttachmentSummary {
            title: text_at(a, "title"),
            content_type: base_type,
            size: a.get("size").and_then(Value::as_u64),
            sha256: None,
        };
        return Ok((summary, None));
    };
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(data)
        .map_err(|_| MappingError::new(&at("data"), "the attachment data is not valid base64"))?;
    if let Some(size) = a.get("size").and_then(Value::as_u64)
        && size != bytes.len() as u64
    {
        return Err(MappingError::new(
            &at("size"),
            "the attachment is not the size it says it is",
        ));
    }
    if let Some(hash) = a.get("hash").and_then(Value::as_str) {
        use sha1::Digest as _;
        let actual = base64::engine::general_purpose::STANDARD.encode(sha1::Sha1::digest(&bytes));
        if actual != hash {
            return Err(MappingError::new(
                &at("hash"),
                "the attachment's SHA-1 hash does not match its data",
            ));
        }
    }
    if base_type == "application/pdf" && !bytes.starts_with(b"%PDF-") {
        return Err(MappingError::new(
            &at("data"),
            "the attachment says it is a PDF but is not one",
        ));
    }
    let sha256 = hex::encode(Sha256::digest(&bytes));
    let summary = AttachmentSummary {
        title: text_at(a, "title"),
        content_type: base_type.clone(),
        size: Some(bytes.len() as u64),
        sha256: Some(sha256.clone()),
    };
    Ok((
        summary,
        Some(NewAttachment {
            sha256,
            content_type: base_type,
            content: bytes,
        }),
    ))
}

fn map_composition(
    p: &Parsed<'_>,
    _all: &[Parsed<'_>],
    patients: &HashMap<String, NhsNumber>,
) -> Result<NewRecordItem, MappingError> {
    let r = &p.resource;
    let patient = resolve_patient(p, "subject", r.get("subject"), patients)?;
    let document_type = r.get("type").and_then(concept_text);
    let date = text_at(r, "date");
    let sections = array(r, "section")
        .iter()
        .map(|s| DocumentSection {
            title: text_at(s, "title"),
            narrative_xhtml: s
                .get("text")
                .and_then(|t| t.get("div"))
                .and_then(Value::as_str)
                .map(sanitise_narrative)
                .unwrap_or_default(),
        })
        .collect();
    let title = text_at(r, "title")
        .or_else(|| document_type.clone())
        .unwrap_or_else(|| "Document".to_owned());
    let details = ItemDetails::Document {
        status: text_at(r, "status").unwrap_or_default(),
        document_type,
        date: date.clone(),
        description: None,
        sections,
        attachments: Vec::new(),
    };
    let mut item = base_item(p, RecordKind::Document, patient, title, details)?;
    let section_codes: Vec<&Value> = array(r, "section")
        .iter()
        .filter_map(|s| s.get("code"))
        .collect();
    item.category = recognised_category(
        r.get("type")
            .into_iter()
            .chain(array(r, "category"))
            .chain(section_codes),
    );
    item.occurred_at = date.as_deref().and_then(parse_fhir_instant);
    item.occurred_text = date;
    Ok(item)
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

/// Narrative XHTML from a sender is untrusted: only harmless formatting survives
/// (no scripts, styles, event handlers, forms or external resources).
pub fn sanitise_narrative(xhtml: &str) -> String {
    ammonia::Builder::default()
        .url_schemes(std::collections::HashSet::new())
        .link_rel(Some("noopener noreferrer"))
        .clean(xhtml)
        .to_string()
}

fn map_report(
    p: &Parsed<'_>,
    patients: &HashMap<String, NhsNumber>,
) -> Result<NewRecordItem, MappingError> {
    let r = &p.resource;
    let patient = resolve_patient(p, "subject", r.get("subject"), patients)?;
    let code = coding_of(r.get("code"));
    // The kind of report, whichever code system says it; the report's own code is a
    // second chance (a "Pathology study" code with no category).
    let category = recognised_category(array(r, "category").iter().chain(r.get("code")));
    let effective = effective_text(r);
    let issued = text_at(r, "issued");
    let text = array(r, "presentedForm").iter().find_map(|f| {
        let plain = text_at(f, "contentType")?.starts_with("text/plain");
        let data = f.get("data").and_then(Value::as_str)?;
        plain
            .then(|| base64::engine::general_purpose::STANDARD.decode(data).ok())
            .flatten()
            .and_then(|bytes| String::from_utf8(bytes).ok())
    });
    let title = code
        .display
        .clone()
        .unwrap_or_else(|| "Test result".to_owned());
    let details = ItemDetails::DiagnosticReport {
        status: text_at(r, "status").unwrap_or_default(),
        category: category.clone(),
        code: code.clone(),
        effective: effective.clone(),
        issued: issued.clone(),
        conclusion: text_at(r, "conclusion"),
        text,
    };
    let mut item = base_item(p, RecordKind::DiagnosticReport, patient, title, details)?;
    item.category = category;
    item.code_system = code.system;
    item.code = code.code;
    item.issued_at = issued.as_deref().and_then(parse_fhir_instant);
    item.effective_at = effective.as_deref().and_then(parse_fhir_instant);
    item.occurred_at = item.effective_at.or(item.issued_at);
    item.occurred_text = effective.or(issued);
    Ok(item)
}

/// The decimals of an observation exactly as written, read from the raw text (a parsed
/// number would turn "11.20" into 11.2).
#[derive(Deserialize)]
struct ObservationDecimals<'a> {
    #[serde(rename = "valueQuantity", borrow)]
    value_quantity: Option<QuantityDecimal<'a>>,
    #[serde(rename = "referenceRange", borrow, default)]
    reference_range: Vec<RangeDecimals<'a>>,
}

#[derive(Deserialize)]
struct QuantityDecimal<'a> {
    #[serde(borrow)]
    value: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct RangeDecimals<'a> {
    #[serde(borrow)]
    low: Option<QuantityDecimal<'a>>,
    #[serde(borrow)]
    high: Option<QuantityDecimal<'a>>,
}

fn decimal_text(q: Option<&QuantityDecimal<'_>>) -> Option<String> {
    q.and_then(|q| q.value)
        .map(|v| v.get().trim_matches('"').to_owned())
}

fn map_observation(
    p: &Parsed<'_>,
    patients: &HashMap<String, NhsNumber>,
    parent: Option<ItemKey>,
) -> Result<NewRecordItem, MappingError> {
    let r = &p.resource;
    let patient = resolve_patient(p, "subject", r.get("subject"), patients)?;
    let decimals: ObservationDecimals<'_> = serde_json::from_str(&p.entry.raw)
        .map_err(|_| MappingError::new(&p.path("valueQuantity"), "the quantities are not valid"))?;
    let code = coding_of(r.get("code"));
    let value = if let Some(q) = r.get("valueQuantity") {
        Some(ObservedValue::Quantity {
            value: decimal_text(decimals.value_quantity.as_ref()).ok_or_else(|| {
                MappingError::new(&p.path("valueQuantity.value"), "a quantity needs a value")
            })?,
            comparator: text_at(q, "comparator"),
            unit: text_at(q, "unit").or_else(|| text_at(q, "code")),
        })
    } else if let Some(s) = r.get("valueString").and_then(Value::as_str) {
        Some(ObservedValue::Text { text: s.to_owned() })
    } else if let Some(c) = r.get("valueCodeableConcept") {
        Some(ObservedValue::Coded {
            coding: coding_of(Some(c)),
        })
    } else {
        r.get("dataAbsentReason")
            .and_then(concept_text)
            .map(|reason| ObservedValue::Absent { reason })
    };
    let reference_range = array(r, "referenceRange").first().map(|range| {
        let exact = decimals.reference_range.first();
        ReferenceRange {
            low: decimal_text(exact.and_then(|e| e.low.as_ref())),
            high: decimal_text(exact.and_then(|e| e.high.as_ref())),
            unit: range
                .get("low")
                .or_else(|| range.get("high"))
                .and_then(|q| text_at(q, "unit")),
            text: text_at(range, "text"),
        }
    });
    let interpretation = array(r, "interpretation").iter().find_map(concept_code);
    let abnormal = interpretation.as_deref().map(|code| {
        matches!(
            code,
            "A" | "AA" | "H" | "HH" | "L" | "LL" | "HU" | "LU" | "POS"
        )
    });
    let effective = effective_text(r);
    let issued = text_at(r, "issued");
    let note = array(r, "note").first().and_then(|n| text_at(n, "text"));
    let category = recognised_category(array(r, "category").iter());
    let title = code
        .display
        .clone()
        .unwrap_or_else(|| "Test result".to_owned());
    let details = ItemDetails::Observation {
        status: text_at(r, "status").unwrap_or_default(),
        code: code.clone(),
        effective: effective.clone(),
        value,
        reference_range,
        interpretation,
        note,
    };
    let mut item = base_item(p, RecordKind::Observation, patient, title, details)?;
    item.parent = parent;
    item.category = category;
    item.code_system = code.system;
    item.code = code.code;
    item.abnormal = abnormal;
    item.issued_at = issued.as_deref().and_then(parse_fhir_instant);
    item.effective_at = effective.as_deref().and_then(parse_fhir_instant);
    item.occurred_at = item.effective_at.or(item.issued_at);
    item.occurred_text = effective.or(issued);
    Ok(item)
}

fn map_encounter(
    p: &Parsed<'_>,
    patients: &HashMap<String, NhsNumber>,
) -> Result<NewRecordItem, MappingError> {
    let r = &p.resource;
    let patient = resolve_patient(p, "subject", r.get("subject"), patients)?;
    let class = r
        .get("class")
        .and_then(|c| text_at(c, "display").or_else(|| text_at(c, "code")));
    let encounter_type = array(r, "type").first().and_then(concept_text);
    let period = r.get("period").unwrap_or(&Value::Null);
    let start = text_at(period, "start");
    let location = array(r, "location")
        .first()
        .and_then(|l| l.get("location"))
        .and_then(|l| text_at(l, "display"));
    let title = encounter_type
        .clone()
        .or_else(|| class.clone())
        .unwrap_or_else(|| "Hospital visit".to_owned());
    let details = ItemDetails::Encounter {
        status: text_at(r, "status").unwrap_or_default(),
        class,
        encounter_type,
        start: start.clone(),
        end: text_at(period, "end"),
        location,
    };
    let mut item = base_item(p, RecordKind::Encounter, patient, title, details)?;
    item.occurred_at = start.as_deref().and_then(parse_fhir_instant);
    item.occurred_text = start;
    Ok(item)
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
}
