//! A mixed set of feed deliveries for the ingest benchmark, beside the laboratory-only
//! one: what a trust's integration engine sends in a day is mostly laboratory results,
//! but also radiology reports (text, released after their delay), clinic letters with a
//! PDF attached (some labelled sensitive), and now and then results whose patient cannot
//! be identified, which the feed holds for the service desk.
//!
//! In every 10 bundles: 6 laboratory reports with 5 results (7 resources), 1 radiology
//! report (2), 2 letters with a PDF of about 16 KiB, different in every letter (2; one
//! letter in 5 carries `meta.security` `SEX`, so it is labelled `sexual-health`), and 1
//! laboratory report whose subject names only a hospital number, so that its 6 resources
//! are held (`202 Accepted`).

use super::lab_bundles::{RESOURCES_PER_BUNDLE as LAB_RESOURCES, SENDER_ODS, lab_bundle};

const NHS_NUMBER_SYSTEM: &str = "https://fhir.nhs.uk/Id/nhs-number";
const ODS_SYSTEM: &str = "https://fhir.nhs.uk/Id/ods-organization-code";
const SNOMED: &str = "http://snomed.info/sct";
const DOCUMENT_ID_SYSTEM: &str = "https://fhir.rxx.example/Id/document";
const IMAGING_ID_SYSTEM: &str = "https://fhir.rxx.example/Id/imaging-report";
const LOCAL_NUMBER_SYSTEM: &str = "https://fhir.rxx.example/Id/hospital-number";

/// What kind of delivery a bundle is, which says how the feed must answer it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryKind {
    Laboratory,
    Radiology,
    Letter,
    /// Results for a patient the feed cannot identify: held for the desk.
    Held,
}

impl DeliveryKind {
    /// The kind of bundle `index` in the mixed set.
    pub fn of_mixed(index: usize) -> Self {
        match index % 10 {
            0..=5 => DeliveryKind::Laboratory,
            6 => DeliveryKind::Radiology,
            7 | 8 => DeliveryKind::Letter,
            _ => DeliveryKind::Held,
        }
    }

    /// How many resources (entries) a bundle of this kind carries.
    pub fn resources(self) -> usize {
        match self {
            DeliveryKind::Laboratory => LAB_RESOURCES,
            DeliveryKind::Radiology | DeliveryKind::Letter => 2,
            DeliveryKind::Held => LAB_RESOURCES - 1,
        }
    }

    /// The status each entry must answer with, on first delivery or re-delivery: the
    /// Patient is `200 OK` (conditional update of demographics), items are created once
    /// and unchanged after, and held resources are accepted for the desk each time.
    pub fn expected_status(self, entry: usize, redelivery: bool) -> &'static str {
        match self {
            DeliveryKind::Held => "202 Accepted",
            _ if entry == 0 => "200 OK",
            _ if redelivery => "200 OK",
            _ => "201 Created",
        }
    }

    /// Whether the entry's answer carries the item's version as an ETag.
    pub fn has_version(self, entry: usize) -> bool {
        self != DeliveryKind::Held && entry > 0
    }
}

/// Bundle `index` of the mixed set for the patient with NHS number `nhs`.
pub fn mixed_bundle(index: usize, nhs: &str) -> (DeliveryKind, String) {
    let kind = DeliveryKind::of_mixed(index);
    let body = match kind {
        DeliveryKind::Laboratory => lab_bundle(index, nhs),
        DeliveryKind::Radiology => radiology_bundle(index, nhs),
        DeliveryKind::Letter => letter_bundle(index, nhs),
        DeliveryKind::Held => held_bundle(index),
    };
    (kind, body)
}

/// The Patient entry every identified delivery starts with.
fn patient_entry(index: usize, nhs: &str) -> (String, String) {
    let url = format!("urn:uuid:00000000-0000-4000-8000-{index:012}");
    let entry = format!(
        r#"{{"fullUrl":"{url}","resource":{{"resourceType":"Patient","identifier":[{{"system":"{NHS_NUMBER_SYSTEM}","value":"{nhs}"}}],"name":[{{"use":"official","family":"Mixed","given":["Patient{index}"]}}],"gender":"unknown","birthDate":"1970-01-01"}},"request":{{"method":"PUT","url":"Patient?identifier={NHS_NUMBER_SYSTEM}|{nhs}"}}}}"#
    );
    (url, entry)
}

fn transaction(entries: &[String]) -> String {
    format!(
        r#"{{"resourceType":"Bundle","type":"transaction","entry":[{}]}}"#,
        entries.join(",")
    )
}

fn base64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// A chest X-ray report: text only, with its conclusion (released after the radiology
/// delay, which the benchmark does not wait for).
fn radiology_bundle(index: usize, nhs: &str) -> String {
    let (patient_url, patient) = patient_entry(index, nhs);
    let id = format!("X{index:08}");
    let text = format!(
        "Chest X-ray, PA view. Report {id}. The lungs are clear. Heart size is normal. \
         No pleural effusion. No bony abnormality."
    );
    let report = format!(
        r#"{{"fullUrl":"urn:uuid:00000002-0000-4000-8000-{index:012}","resource":{{"resourceType":"DiagnosticReport","identifier":[{{"system":"{IMAGING_ID_SYSTEM}","value":"{id}"}}],"status":"final","category":[{{"coding":[{{"system":"http://terminology.hl7.org/CodeSystem/v2-0074","code":"RAD","display":"Radiology"}}]}}],"code":{{"coding":[{{"system":"{SNOMED}","code":"399208008","display":"Chest X-ray"}}],"text":"Chest X-ray"}},"subject":{{"reference":"{patient_url}"}},"effectiveDateTime":"2026-11-19T10:00:00+00:00","issued":"2026-11-20T16:00:00+00:00","performer":[{{"identifier":{{"system":"{ODS_SYSTEM}","value":"{SENDER_ODS}"}}}}],"conclusion":"No acute abnormality.","presentedForm":[{{"contentType":"text/plain","data":"{data}","title":"Chest X-ray"}}]}},"request":{{"method":"PUT","url":"DiagnosticReport?identifier={IMAGING_ID_SYSTEM}|{id}"}}}}"#,
        data = base64(text.as_bytes()),
    );
    transaction(&[patient, report])
}

/// A clinic letter with its PDF inline: about 16 KiB, different in every letter (a real
/// letter is; identical bytes would be stored once and cost less). One in 5 is labelled
/// sexual health by the sender.
fn letter_bundle(index: usize, nhs: &str) -> String {
    let (patient_url, patient) = patient_entry(index, nhs);
    let id = format!("D{index:08}");
    let lines: Vec<String> = (0..200)
        .map(|line| format!("Letter {id}, paragraph {line}: seen in clinic, plan reviewed."))
        .collect();
    let line_refs: Vec<&str> = lines.iter().map(String::as_str).collect();
    let pdf = server::demo::simple_pdf(&format!("Clinic letter {id}"), &line_refs);
    let security = if (index / 10).is_multiple_of(5) {
        r#""meta":{"security":[{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":"SEX"}]},"#
    } else {
        ""
    };
    let letter = format!(
        r#"{{"fullUrl":"urn:uuid:00000003-0000-4000-8000-{index:012}","resource":{{"resourceType":"DocumentReference",{security}"masterIdentifier":{{"system":"{DOCUMENT_ID_SYSTEM}","value":"{id}"}},"identifier":[{{"system":"{DOCUMENT_ID_SYSTEM}","value":"{id}"}}],"status":"current","docStatus":"final","type":{{"coding":[{{"system":"{SNOMED}","code":"371531000","display":"Report of clinical encounter"}}],"text":"Clinic letter"}},"subject":{{"reference":"{patient_url}"}},"date":"2026-11-20T12:00:00+00:00","author":[{{"identifier":{{"system":"{ODS_SYSTEM}","value":"{SENDER_ODS}"}}}}],"custodian":{{"identifier":{{"system":"{ODS_SYSTEM}","value":"{SENDER_ODS}"}}}},"description":"Clinic letter","content":[{{"attachment":{{"contentType":"application/pdf","title":"Clinic letter.pdf","size":{size},"data":"{data}"}}}}]}},"request":{{"method":"PUT","url":"DocumentReference?identifier={DOCUMENT_ID_SYSTEM}|{id}"}}}}"#,
        size = pdf.len(),
        data = base64(&pdf),
    );
    transaction(&[patient, letter])
}

/// A laboratory report and its results whose subject is a hospital number alone: the
/// feed cannot tell whose they are, so it holds them for the desk.
fn held_bundle(index: usize) -> String {
    // The laboratory bundle without its Patient entry, every subject rewritten to name
    // the patient by a local number only.
    let lab = lab_bundle(index, "9000000009");
    let mut bundle: serde_json::Value =
        serde_json::from_str(&lab).unwrap_or(serde_json::Value::Null);
    let subject = serde_json::json!({
        "identifier": { "system": LOCAL_NUMBER_SYSTEM, "value": format!("H{index:07}") }
    });
    if let Some(entries) = bundle["entry"].as_array_mut() {
        entries.remove(0);
        for entry in entries.iter_mut() {
            entry["resource"]["subject"] = subject.clone();
        }
    }
    bundle.to_string()
}
