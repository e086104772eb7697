//! Privacy labels (domain rules, "Sensitive information"): shared records leave out
//! sexual health, HIV status, termination of pregnancy, fertility treatment, gender
//! reassignment, domestic abuse, safeguarding and criminal records. Every incoming item
//! is labelled at ingest from a configurable code list, and from the security labels its
//! sender supplies; items carrying an excluded label are stored but never shown, with no
//! marker that anything was left out.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The labels the portal itself assigns.
pub const SEXUAL_HEALTH: &str = "sexual-health";
pub const HIV: &str = "hiv";
pub const TERMINATION: &str = "termination";
pub const FERTILITY: &str = "fertility";
pub const GENDER_IDENTITY: &str = "gender-identity";
pub const SAFEGUARDING: &str = "safeguarding";
pub const DOMESTIC_ABUSE: &str = "domestic-abuse";
pub const CRIMINAL: &str = "criminal";

/// Labels a patient sees but a proxy sees only when their grant includes them
/// (`crate::proxy::rules::GRANTABLE_LABELS`).
pub const MENTAL_HEALTH: &str = "mental-health";
pub const SUBSTANCE_MISUSE: &str = "substance-misuse";
/// The sender marked the item restricted or very restricted (`R`, `V`).
pub const RESTRICTED: &str = "restricted";

/// The HL7 v3 confidentiality codes a sender uses to say an item is not sensitive
/// (normal, low, unrestricted): kept as labels, they never keep an item from anyone.
pub const NOT_SENSITIVE: [&str; 3] = ["N", "L", "U"];

/// Labels whose items the portal never shows.
pub const EXCLUDED: [&str; 8] = [
    SEXUAL_HEALTH,
    HIV,
    TERMINATION,
    FERTILITY,
    GENDER_IDENTITY,
    SAFEGUARDING,
    DOMESTIC_ABUSE,
    CRIMINAL,
];

/// The excluded labels as owned strings, for storage queries.
pub fn excluded_labels() -> Vec<String> {
    EXCLUDED.iter().map(|l| (*l).to_owned()).collect()
}

/// One line of the code list: a code (in a system) that puts a label on an item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeListEntry {
    pub system: String,
    pub code: String,
    pub label: String,
}

/// The configurable code list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct CodeList {
    pub entries: Vec<CodeListEntry>,
}

pub const SNOMED: &str = "http://snomed.info/sct";
pub const LOINC: &str = "http://loinc.org";
/// HL7 v3 ActCode: the sensitivity codes senders put in `meta.security`.
pub const ACT_CODE: &str = "http://terminology.hl7.org/CodeSystem/v3-ActCode";

impl CodeList {
    /// A starting list of well-known codes. Trusts extend it with their own local codes
    /// (`PORTAL_PRIVACY_CODES`, a TOML file of `[[entries]]`).
    pub fn default_list() -> Self {
        let entry = |system: &str, code: &str, label: &str| CodeListEntry {
            system: system.into(),
            code: code.into(),
            label: label.into(),
        };
        Self {
            entries: vec![
                // HIV: the infection and the antibody, antigen/antibody, screening and
                // viral load tests (every HIV test the release rules name).
                entry(SNOMED, "86406008", HIV),
                entry(SNOMED, "165816005", HIV),
                entry(LOINC, "7917-8", HIV),
                entry(LOINC, "31201-7", HIV),
                entry(LOINC, "56888-1", HIV),
                entry(LOINC, "75622-1", HIV),
                entry(LOINC, "25836-8", HIV),
                // Sexually transmitted infections and their tests: syphilis, chlamydia
                // and gonorrhoea (every STI test the release rules name).
                entry(SNOMED, "8098009", SEXUAL_HEALTH),
                entry(SNOMED, "76272004", SEXUAL_HEALTH),
                entry(SNOMED, "105629000", SEXUAL_HEALTH),
                entry(SNOMED, "15628003", SEXUAL_HEALTH),
                entry(LOINC, "21613-5", SEXUAL_HEALTH),
                entry(LOINC, "24111-7", SEXUAL_HEALTH),
                entry(LOINC, "20507-0", SEXUAL_HEALTH),
                entry(LOINC, "43304-5", SEXUAL_HEALTH),
                entry(LOINC, "43305-2", SEXUAL_HEALTH),
                // Termination of pregnancy.
                entry(SNOMED, "386639001", TERMINATION),
                // Fertility treatment (in vitro fertilisation).
                entry(SNOMED, "52637005", FERTILITY),
                // Gender reassignment.
                entry(SNOMED, "407374003", GENDER_IDENTITY),
            ],
        }
    }

    /// The labels the code list gives a FHIR resource, from every coded element that can
    /// say what it is about (see [`sensitive_codings`]).
    pub fn labels_for_resource(&self, resource: &Value) -> Vec<String> {
        self.labels_for(sensitive_codings(resource))
    }

    /// A short fingerprint of the list, so that a change to it can be noticed and
    /// applied to what is already stored. Entries are sorted first: order means nothing.
    pub fn fingerprint(&self) -> String {
        let mut lines: Vec<String> = self
            .entries
            .iter()
            .map(|e| format!("{}|{}|{}", e.system, e.code, e.label))
            .collect();
        lines.sort();
        lines.dedup();
        // FNV-1a, 64 bits: a change detector, not a security measure.
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        for byte in lines.join("\n").bytes() {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
        format!("{hash:016x}-{}", lines.len())
    }

    /// The labels the code list gives an item with these codings.
    pub fn labels_for<'a>(
        &self,
        codings: impl IntoIterator<Item = (Option<&'a str>, &'a str)>,
    ) -> Vec<String> {
        let mut labels: Vec<String> = codings
            .into_iter()
            .flat_map(|(system, code)| {
                self.entries
                    .iter()
                    .filter(move |e| {
                        e.code == code.trim() && system.is_none_or(|s| same_system(s, &e.system))
                    })
                    .map(|e| e.label.clone())
            })
            .collect();
        labels.sort();
        labels.dedup();
        labels
    }
}

/// Whether a coding's system is the list entry's, under any of the names senders use for
/// it: SNOMED CT and LOINC by their URIs or OIDs, with or without a trailing slash.
fn same_system(sent: &str, listed: &str) -> bool {
    fn canonical(system: &str) -> &str {
        match system.trim().trim_end_matches('/') {
            "urn:oid:2.16.840.1.113883.6.96" | "http://snomed.info/sct" => SNOMED,
            "urn:oid:2.16.840.1.113883.6.1" | "http://loinc.org" => LOINC,
            other => other,
        }
    }
    canonical(sent) == canonical(listed)
}

/// The portal label a sender's `meta.security` code stands for, where there is one
/// (HL7 v3 ActCode sensitivity codes).
pub fn label_for_security_code(code: &str) -> Option<&'static str> {
    match code {
        "HIV" => Some(HIV),
        "SEX" | "STD" => Some(SEXUAL_HEALTH),
        // Sexual assault, abuse or domestic violence information.
        "SDV" => Some(DOMESTIC_ABUSE),
        // Psychiatry and psychotherapy notes.
        "PSY" | "PSYTHPN" => Some(MENTAL_HEALTH),
        // Substance use information.
        "ETH" | "SUD" => Some(SUBSTANCE_MISUSE),
        // Confidentiality: restricted and very restricted.
        "R" | "V" => Some(RESTRICTED),
        _ => None,
    }
}

/// Every coding of a FHIR resource that can say it is sensitive: what it is (`code`,
/// `type`, `class`, `category`), what it concluded or found (`conclusionCode`,
/// `valueCodeableConcept`, components), why it happened (`reasonCode`), where and by
/// which service (`specialty`, `serviceType`, `appointmentType`), the document's
/// `securityLabel`, `confidentiality` and section codes, and `meta.security`.
pub fn sensitive_codings(resource: &Value) -> Vec<(Option<&str>, &str)> {
    let mut concepts: Vec<&Value> = Vec::new();
    for field in [
        "code",
        "type",
        "class",
        "valueCodeableConcept",
        "appointmentType",
        // An array in most resources, one concept in an R4 Encounter: both are read.
        "category",
        "conclusionCode",
        "reasonCode",
        "specialty",
        "serviceType",
        "serviceCategory",
        "securityLabel",
    ] {
        match resource.get(field) {
            Some(Value::Array(many)) => concepts.extend(many),
            Some(one) => concepts.push(one),
            None => {}
        }
    }
    if let Some(context) = resource.get("context") {
        // A document's clinical context: what happened, where, in which practice.
        concepts.extend(array(context, "event"));
        concepts.extend(context.get("practiceSetting"));
        concepts.extend(context.get("facilityType"));
    }
    for component in array(resource, "component") {
        concepts.extend(component.get("code"));
        concepts.extend(component.get("valueCodeableConcept"));
    }
    let mut sections: Vec<&Value> = array(resource, "section").iter().collect();
    while let Some(section) = sections.pop() {
        concepts.extend(section.get("code"));
        sections.extend(array(section, "section"));
    }
    let mut codings: Vec<(Option<&str>, &str)> = concepts
        .into_iter()
        .flat_map(|concept| {
            // A CodeableConcept holds codings; a `class` or `securityLabel` may be a
            // bare Coding.
            let inner = array(concept, "coding");
            if inner.is_empty() {
                std::slice::from_ref(concept)
            } else {
                inner
            }
        })
        .filter_map(coding)
        .collect();
    if let Some(meta) = resource.get("meta") {
        codings.extend(array(meta, "security").iter().filter_map(coding));
    }
    if let Some(code) = resource.get("confidentiality").and_then(Value::as_str) {
        codings.push((None, code));
    }
    codings
}

fn array<'v>(value: &'v Value, field: &str) -> &'v [Value] {
    value
        .get(field)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
}

fn coding(value: &Value) -> Option<(Option<&str>, &str)> {
    Some((
        value.get("system").and_then(Value::as_str),
        value.get("code").and_then(Value::as_str)?,
    ))
}

/// Whether an item with these labels may be shown in the portal at all.
pub fn is_shown<'a>(labels: impl IntoIterator<Item = &'a str>) -> bool {
    !labels.into_iter().any(|l| EXCLUDED.contains(&l))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_on_the_list_label_an_item_and_others_do_not() {
        let list = CodeList::default_list();
        assert_eq!(list.labels_for([(Some(LOINC), "7917-8")]), [HIV]);
        assert_eq!(
            list.labels_for([(Some(SNOMED), "7917-8")]),
            Vec::<String>::new(),
            "the system must match"
        );
        assert_eq!(
            list.labels_for([(None, "386639001")]),
            [TERMINATION],
            "no system: the code alone"
        );
        assert!(
            list.labels_for([(Some(LOINC), "718-7")]).is_empty(),
            "haemoglobin is not sensitive"
        );
        assert_eq!(
            list.labels_for([
                (Some(LOINC), "7917-8"),
                (Some(SNOMED), "86406008"),
                (Some(LOINC), "21613-5")
            ]),
            [HIV, SEXUAL_HEALTH]
        );
    }

    #[test]
    fn every_coded_element_that_can_carry_sensitivity_is_read() {
        let list = CodeList::default_list();
        let chlamydia = serde_json::json!({
            "resourceType": "Observation",
            "code": { "coding": [{ "system": LOINC, "code": "43304-5" }] }
        });
        assert_eq!(list.labels_for_resource(&chlamydia), [SEXUAL_HEALTH]);
        let in_the_value = serde_json::json!({
            "resourceType": "Observation",
            "code": { "coding": [{ "system": LOINC, "code": "1234-5" }] },
            "valueCodeableConcept": { "coding": [{ "system": SNOMED, "code": "86406008" }] }
        });
        assert_eq!(list.labels_for_resource(&in_the_value), [HIV]);
        let clinic = serde_json::json!({
            "resourceType": "Appointment",
            "serviceType": [{ "coding": [{ "system": SNOMED, "code": "76272004" }] }]
        });
        assert_eq!(list.labels_for_resource(&clinic), [SEXUAL_HEALTH]);
        let nested_section = serde_json::json!({
            "resourceType": "Composition",
            "section": [{ "section": [{ "code": { "coding": [{ "system": SNOMED, "code": "386639001" }] } }] }]
        });
        assert_eq!(list.labels_for_resource(&nested_section), [TERMINATION]);
        let document_class = serde_json::json!({
            "resourceType": "DocumentReference",
            "category": [{ "coding": [{ "system": SNOMED, "code": "52637005" }] }]
        });
        assert_eq!(list.labels_for_resource(&document_class), [FERTILITY]);
        let by_oid = serde_json::json!({
            "resourceType": "Observation",
            "code": { "coding": [{ "system": "urn:oid:2.16.840.1.113883.6.1", "code": " 43304-5 " }] }
        });
        assert_eq!(list.labels_for_resource(&by_oid), [SEXUAL_HEALTH]);
        let trailing_slash = serde_json::json!({
            "resourceType": "Encounter",
            "serviceType": { "coding": [{ "system": "http://snomed.info/sct/", "code": "76272004" }] }
        });
        assert_eq!(list.labels_for_resource(&trailing_slash), [SEXUAL_HEALTH]);
        let document_context = serde_json::json!({
            "resourceType": "DocumentReference",
            "context": { "event": [{ "coding": [{ "system": SNOMED, "code": "386639001" }] }] }
        });
        assert_eq!(list.labels_for_resource(&document_context), [TERMINATION]);
    }

    #[test]
    fn every_hiv_and_sti_test_the_release_rules_name_is_on_the_list() {
        let list = CodeList::default_list();
        for code in ["7917-8", "56888-1", "75622-1"] {
            assert_eq!(list.labels_for([(Some(LOINC), code)]), [HIV], "{code}");
        }
        for code in ["20507-0", "43304-5", "43305-2"] {
            assert_eq!(
                list.labels_for([(Some(LOINC), code)]),
                [SEXUAL_HEALTH],
                "{code}"
            );
        }
    }

    #[test]
    fn the_fingerprint_changes_with_the_list_and_not_with_its_order() {
        let list = CodeList::default_list();
        let mut reversed = list.clone();
        reversed.entries.reverse();
        assert_eq!(list.fingerprint(), reversed.fingerprint());
        let mut longer = list.clone();
        longer.entries.push(CodeListEntry {
            system: SNOMED.into(),
            code: "1".into(),
            label: HIV.into(),
        });
        assert_ne!(list.fingerprint(), longer.fingerprint());
    }

    #[test]
    fn excluded_labels_hide_an_item_and_other_labels_do_not() {
        assert!(is_shown([]));
        assert!(is_shown(["PSY"]));
        assert!(!is_shown([HIV]));
        assert_eq!(label_for_security_code("HIV"), Some(HIV));
        assert_eq!(label_for_security_code("N"), None);
        // Labels a patient sees, and a proxy only when the grant includes them.
        assert_eq!(label_for_security_code("R"), Some(RESTRICTED));
        assert_eq!(label_for_security_code("PSY"), Some(MENTAL_HEALTH));
        assert!(is_shown([RESTRICTED, MENTAL_HEALTH]));
    }
}
