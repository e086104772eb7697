//! How a resource is linked to its relatives, read from the references FHIR gives and
//! stored with the item, so that the access decision can group a report with its results
//! however and in whatever order they were delivered (`app::access::relatives`).
//!
//! Every key is sender-scoped text: `Observation/abc` for the sender's resource id and
//! `Observation|system|value` for each business identifier. A reference is turned into
//! the same text: `Observation/abc` (relative or absolute URL, any `_history` dropped),
//! a logical reference by identifier, or a bundle-local `urn:uuid:` resolved to the key
//! of the entry it names. A `urn:uuid:` that names nothing in the bundle is kept as sent,
//! so it never matches and the result it came from is treated as waiting for its report.

use std::collections::HashMap;

use serde_json::Value;

use app::records::Relations;

/// Bundle-local addresses (`fullUrl`) and the key of the resource each names.
pub type Aliases = HashMap<String, String>;

/// Every key by which other resources may name this one.
pub fn known_as(resource_type: &str, resource: &Value) -> Vec<String> {
    let mut keys = Vec::new();
    if let Some(id) = resource.get("id").and_then(Value::as_str) {
        keys.push(format!("{resource_type}/{id}"));
    }
    let identifiers = resource
        .get("identifier")
        .map(|i| match i {
            Value::Array(many) => many.iter().collect::<Vec<_>>(),
            one => vec![one],
        })
        .unwrap_or_default()
        .into_iter()
        .chain(resource.get("masterIdentifier"));
    for identifier in identifiers {
        if let Some(key) = identifier_key(resource_type, identifier) {
            keys.push(key);
        }
    }
    keys.dedup();
    keys
}

/// The key one resource is best known by inside its bundle: its first identifier, else
/// its id.
pub fn bundle_key(resource_type: &str, resource: &Value) -> Option<String> {
    let keys = known_as(resource_type, resource);
    keys.iter()
        .find(|k| k.contains('|'))
        .or_else(|| keys.first())
        .cloned()
}

fn identifier_key(resource_type: &str, identifier: &Value) -> Option<String> {
    let system = identifier.get("system").and_then(Value::as_str)?;
    let value = identifier.get("value").and_then(Value::as_str)?;
    (!system.is_empty() && !value.is_empty()).then(|| format!("{resource_type}|{system}|{value}"))
}

/// The key a FHIR Reference names, if it names anything that could be stored.
/// `default_type` is the type the element can only point at (a report's `result` is
/// always an Observation), for logical references that do not say.
pub fn reference_key(
    reference: &Value,
    default_type: Option<&str>,
    aliases: &Aliases,
) -> Option<String> {
    if let Some(text) = reference.get("reference").and_then(Value::as_str) {
        if let Some(key) = aliases.get(text) {
            return Some(key.clone());
        }
        if text.starts_with('#') {
            return None;
        }
        if text.starts_with("urn:") {
            return Some(text.to_owned());
        }
        // A conditional reference (legal in transactions): `Observation?identifier=s|v`.
        if let Some((resource_type, query)) = text.split_once('?') {
            let resource_type = resource_type.rsplit('/').next().unwrap_or(resource_type);
            let identifier = query
                .split('&')
                .find_map(|pair| pair.strip_prefix("identifier="))?;
            let (system, value) = identifier.split_once('|')?;
            return (!resource_type.is_empty() && !system.is_empty() && !value.is_empty())
                .then(|| format!("{resource_type}|{system}|{value}"));
        }
        let path = match text.find("/_history/") {
            Some(at) => &text[..at],
            None => text,
        };
        let mut segments = path.rsplit('/');
        let id = segments.next().filter(|s| !s.is_empty())?;
        let resource_type = segments.next().filter(|s| !s.is_empty())?;
        return Some(format!("{resource_type}/{id}"));
    }
    let identifier = reference.get("identifier")?;
    let resource_type = reference
        .get("type")
        .and_then(Value::as_str)
        .or(default_type)?;
    identifier_key(resource_type, identifier)
}

fn references<'v>(resource: &'v Value, field: &str) -> Vec<&'v Value> {
    match resource.get(field) {
        Some(Value::Array(many)) => many.iter().collect(),
        Some(one @ Value::Object(_)) => vec![one],
        _ => Vec::new(),
    }
}

/// The links of one resource to its relatives.
pub fn relations_of(resource_type: &str, resource: &Value, aliases: &Aliases) -> Relations {
    let keys = |fields: &[(&str, Option<&str>)]| -> Vec<String> {
        let mut keys: Vec<String> = fields
            .iter()
            .flat_map(|(field, default_type)| {
                references(resource, field)
                    .into_iter()
                    .filter_map(|r| reference_key(r, *default_type, aliases))
                    .collect::<Vec<_>>()
            })
            .collect();
        keys.sort();
        keys.dedup();
        keys
    };
    let (members, belongs_to) = match resource_type {
        "DiagnosticReport" => (
            keys(&[("result", Some("Observation"))]),
            keys(&[("basedOn", Some("ServiceRequest"))]),
        ),
        "Observation" => (
            keys(&[("hasMember", Some("Observation"))]),
            keys(&[
                ("partOf", None),
                ("basedOn", Some("ServiceRequest")),
                ("derivedFrom", None),
            ]),
        ),
        "DocumentReference" => {
            let context = resource.get("context").unwrap_or(&Value::Null);
            let mut related: Vec<String> = references(context, "related")
                .into_iter()
                .filter_map(|r| reference_key(r, Some("DiagnosticReport"), aliases))
                .collect();
            related.sort();
            related.dedup();
            (Vec::new(), related)
        }
        // A document bundle's Composition carries what its sections' entries name (a
        // pathology report and its results): the narrative tells what they say.
        "Composition" => {
            let mut entries = Vec::new();
            let mut sections: Vec<&Value> = references(resource, "section");
            while let Some(section) = sections.pop() {
                entries.extend(
                    references(section, "entry")
                        .into_iter()
                        .filter_map(|r| reference_key(r, None, aliases)),
                );
                sections.extend(references(section, "section"));
            }
            entries.sort();
            entries.dedup();
            (entries, Vec::new())
        }
        _ => (Vec::new(), Vec::new()),
    };
    Relations {
        known_as: known_as(resource_type, resource),
        members,
        belongs_to,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    #[test]
    fn references_of_every_shape_become_the_same_key() {
        let none = Aliases::new();
        for reference in [
            json!({ "reference": "Observation/abc" }),
            json!({ "reference": "https://lab.example.org/fhir/Observation/abc" }),
            json!({ "reference": "Observation/abc/_history/3" }),
        ] {
            assert_eq!(
                reference_key(&reference, None, &none).as_deref(),
                Some("Observation/abc"),
                "{reference}"
            );
        }
        let logical = json!({ "identifier": { "system": "https://lab", "value": "42" } });
        assert_eq!(
            reference_key(&logical, Some("Observation"), &none).as_deref(),
            Some("Observation|https://lab|42")
        );
        let mut aliases = Aliases::new();
        aliases.insert("urn:uuid:1".into(), "Observation|https://lab|42".into());
        assert_eq!(
            reference_key(&json!({ "reference": "urn:uuid:1" }), None, &aliases).as_deref(),
            Some("Observation|https://lab|42")
        );
        assert_eq!(
            reference_key(&json!({ "reference": "urn:uuid:2" }), None, &aliases).as_deref(),
            Some("urn:uuid:2"),
            "an unresolved bundle address is kept, so it matches nothing"
        );
        assert_eq!(
            reference_key(&json!({ "reference": "#contained" }), None, &none),
            None
        );
        assert_eq!(
            reference_key(
                &json!({ "reference": "Observation?identifier=https://lab|42" }),
                None,
                &none
            )
            .as_deref(),
            Some("Observation|https://lab|42"),
            "a conditional reference names the same resource as a logical one"
        );
    }

    #[test]
    fn a_composition_contains_what_its_sections_name_and_a_document_its_report() {
        let composition = json!({
            "resourceType": "Composition",
            "section": [{ "entry": [{ "reference": "DiagnosticReport/r1" }],
                          "section": [{ "entry": [{ "reference": "Observation/o1" }] }] }]
        });
        let relations = relations_of("Composition", &composition, &Aliases::new());
        assert_eq!(relations.members, ["DiagnosticReport/r1", "Observation/o1"]);
        let pdf = json!({
            "resourceType": "DocumentReference",
            "context": { "related": [{ "identifier": { "system": "https://lab", "value": "R1" } }] }
        });
        let relations = relations_of("DocumentReference", &pdf, &Aliases::new());
        assert_eq!(relations.belongs_to, ["DiagnosticReport|https://lab|R1"]);
    }

    #[test]
    fn a_report_names_its_results_and_a_result_what_it_was_made_for() {
        let report = json!({
            "resourceType": "DiagnosticReport", "id": "r1",
            "identifier": [{ "system": "https://lab", "value": "R1" }],
            "result": [{ "reference": "Observation/o1" }],
            "basedOn": [{ "reference": "ServiceRequest/s1" }]
        });
        let relations = relations_of("DiagnosticReport", &report, &Aliases::new());
        assert_eq!(
            relations.known_as,
            ["DiagnosticReport/r1", "DiagnosticReport|https://lab|R1"]
        );
        assert_eq!(relations.members, ["Observation/o1"]);
        assert_eq!(relations.belongs_to, ["ServiceRequest/s1"]);
        let result = json!({
            "resourceType": "Observation", "id": "o1",
            "basedOn": [{ "reference": "ServiceRequest/s1" }],
            "hasMember": [{ "reference": "Observation/o2" }]
        });
        let relations = relations_of("Observation", &result, &Aliases::new());
        assert_eq!(relations.members, ["Observation/o2"]);
        assert_eq!(relations.belongs_to, ["ServiceRequest/s1"]);
    }
}
