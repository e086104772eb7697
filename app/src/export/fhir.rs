//! A copy as a FHIR R4 `collection` Bundle: the patient, each source organisation (with
//! its ODS code), every item's resource as its sender sent it (less what the access
//! decision cannot weigh: `super::resource_for_copy`), its attachments sent apart as
//! `Binary` resources, and one `Provenance` per source naming that organisation as the
//! custodian of its items. References inside a resource are as the sender wrote them;
//! each entry's `fullUrl` is the portal's id for the item.

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::RecordExport;

const NHS_NUMBER_SYSTEM: &str = "https://fhir.nhs.uk/Id/nhs-number";
const ODS_SYSTEM: &str = "https://fhir.nhs.uk/Id/ods-organization-code";

/// A `urn:uuid:` for an entry: the item's own id when it is a UUID (as stored ids
/// are), otherwise one derived from the copy's id and `seed`, the same every time.
fn urn(export: &RecordExport, seed: &str) -> String {
    if let Ok(id) = uuid::Uuid::parse_str(seed) {
        return format!("urn:uuid:{id}");
    }
    let digest = Sha256::digest(format!("{}:{seed}", export.id).as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    format!(
        "urn:uuid:{}",
        uuid::Builder::from_random_bytes(bytes).into_uuid()
    )
}

fn instant(at: chrono::DateTime<chrono::Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// The bundle, as JSON.
pub fn bundle(export: &RecordExport) -> Value {
    let mut entries = Vec::new();
    let patient = &export.patient;
    let mut name = serde_json::Map::new();
    if let Some(family) = &patient.family_name {
        name.insert("family".into(), json!(family));
    }
    if let Some(given) = &patient.given_name {
        name.insert("given".into(), json!([given]));
    }
    let mut patient_resource = json!({
        "resourceType": "Patient",
        "identifier": [{ "system": NHS_NUMBER_SYSTEM, "value": patient.nhs_number }],
    });
    if !name.is_empty() {
        patient_resource["name"] = json!([Value::Object(name)]);
    }
    if let Some(birth_date) = &patient.birth_date {
        patient_resource["birthDate"] = json!(birth_date);
    }
    entries.push(json!({ "fullUrl": urn(export, "patient"), "resource": patient_resource }));

    let sources = export.sources();
    for (name, ods) in &sources {
        entries.push(json!({
            "fullUrl": urn(export, &format!("organisation:{ods}")),
            "resource": {
                "resourceType": "Organization",
                "identifier": [{ "system": ODS_SYSTEM, "value": ods }],
                "name": name,
            }
        }));
    }
    let mut binaries: Vec<&str> = Vec::new();
    for item in &export.items {
        entries.push(json!({
            "fullUrl": urn(export, &item.public_id),
            "resource": item.resource,
        }));
        for attachment in &item.attachments {
            if binaries.contains(&attachment.sha256.as_str()) {
                continue;
            }
            binaries.push(&attachment.sha256);
            entries.push(json!({
                "fullUrl": urn(export, &format!("binary:{}", attachment.sha256)),
                "resource": {
                    "resourceType": "Binary",
                    "contentType": attachment.content_type,
                    "data": attachment.data,
                }
            }));
        }
    }
    // Who each item came from: its source organisation, the controller of it.
    for (_, ods) in &sources {
        let items: Vec<_> = export
            .items
            .iter()
            .filter(|i| &i.source_ods_code == ods)
            .collect();
        let recorded = items
            .iter()
            .map(|i| i.received_at)
            .max()
            .unwrap_or(export.generated_at);
        let targets: Vec<Value> = items
            .iter()
            .map(|i| json!({ "reference": urn(export, &i.public_id) }))
            .collect();
        entries.push(json!({
            "fullUrl": urn(export, &format!("provenance:{ods}")),
            "resource": {
                "resourceType": "Provenance",
                "target": targets,
                "recorded": instant(recorded),
                "agent": [{
                    "type": { "coding": [{
                        "system": "http://terminology.hl7.org/CodeSystem/provenance-participant-type",
                        "code": "custodian",
                        "display": "Custodian"
                    }]},
                    "who": { "reference": urn(export, &format!("organisation:{ods}")) }
                }]
            }
        }));
    }
    json!({
        "resourceType": "Bundle",
        "meta": { "lastUpdated": instant(export.generated_at) },
        "identifier": { "system": "urn:ietf:rfc:3986", "value": urn(export, &export.id) },
        "type": "collection",
        "timestamp": instant(export.generated_at),
        "entry": entries,
    })
}
