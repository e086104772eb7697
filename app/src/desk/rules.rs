//! The service desk's rules: why an agent may look a patient up (a reason from a fixed
//! list, audited with the look-up), how long a look-up lasts, how lists are paged, and
//! what of a held feed item the desk may see: its identifiers only, never its clinical
//! content (the desk helps without reading results, letters or appointment details).
//!
//! Pure: no I/O, no clock reads.

use chrono::{DateTime, Duration, Utc};
use serde_json::Value;

/// Why an agent looks a patient up: the code kept in the audit trail, and the words the
/// agent picks from (and the patient later reads in "who viewed my record").
pub const LOOKUP_REASONS: [(&str, &str); 6] = [
    (
        "patient_contact",
        "The patient contacted us (phone, email or in person)",
    ),
    ("letter", "A letter or form from the patient"),
    ("choice", "Recording a choice for the patient"),
    ("proxy", "Checking proxy access"),
    (
        "held_item",
        "Matching a feed item that could not be matched",
    ),
    ("account", "A sign-in or account problem"),
];

/// The words for a reason code.
pub fn lookup_reason(code: &str) -> Option<&'static str> {
    LOOKUP_REASONS
        .iter()
        .find(|(c, _)| *c == code)
        .map(|(_, words)| *words)
}

/// How long a look-up opens the patient's page to the agent who made it: long enough
/// for a call, short enough that an open tab does not stay a window on the record.
pub const LOOKUP_LIFETIME_MINUTES: i64 = 60;

/// Whether a look-up made at `created_at` still opens the patient's page at `now`.
pub fn lookup_open(expires_at: DateTime<Utc>, now: DateTime<Utc>) -> bool {
    now < expires_at
}

pub fn lookup_expiry(created_at: DateTime<Utc>) -> DateTime<Utc> {
    created_at + Duration::minutes(LOOKUP_LIFETIME_MINUTES)
}

/// Rows on one page of a desk list.
pub const PAGE_SIZE: u32 = 20;

/// Page `n` (1-based) of a list of `total`: the offset to read from and the number of
/// pages, with out-of-range page numbers brought back to the nearest page.
pub fn page_window(requested: u32, total: u64) -> (u32, u32, u32) {
    let pages = u32::try_from(total.div_ceil(u64::from(PAGE_SIZE)))
        .unwrap_or(u32::MAX)
        .max(1);
    let page = requested.clamp(1, pages);
    ((page - 1) * PAGE_SIZE, page, pages)
}

/// One identifier of a held resource, as the desk sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldIdentifier {
    /// Where it came from: "Identifier", "Patient reference", "Patient identifier".
    pub what: &'static str,
    pub system: Option<String>,
    pub value: String,
}

/// The identifiers of a held resource, and nothing else of it: its own business
/// identifiers and the patient reference as sent (a reference string, or an identifier
/// such as an NHS number that failed its check digit). Names, codes, values, text and
/// dates are never read, so no clinical content reaches the desk.
pub fn held_identifiers(raw: &str) -> Vec<HeldIdentifier> {
    let Ok(resource) = serde_json::from_str::<Value>(raw) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let is_patient = resource.get("resourceType").and_then(Value::as_str) == Some("Patient");
    let own = if is_patient {
        "Patient identifier"
    } else {
        "Identifier"
    };
    for identifier in array(&resource, "identifier") {
        push_identifier(&mut out, own, identifier);
    }
    let mut patient_refs: Vec<&Value> = ["subject", "patient"]
        .iter()
        .filter_map(|field| resource.get(*field))
        .collect();
    // An appointment names its patient among its participants.
    for participant in array(&resource, "participant") {
        if let Some(actor) = participant.get("actor") {
            let is_patient_actor = actor
                .get("reference")
                .and_then(Value::as_str)
                .is_some_and(|r| r.contains("Patient"))
                || actor.get("type").and_then(Value::as_str) == Some("Patient")
                || actor
                    .get("identifier")
                    .and_then(|i| i.get("system"))
                    .and_then(Value::as_str)
                    .is_some_and(|s| s.contains("nhs-number"));
            if is_patient_actor {
                patient_refs.push(actor);
            }
        }
    }
    for reference in patient_refs {
        if let Some(text) = reference.get("reference").and_then(Value::as_str) {
            out.push(HeldIdentifier {
                what: "Patient reference",
                system: None,
                value: text.to_owned(),
            });
        }
        if let Some(identifier) = reference.get("identifier") {
            push_identifier(&mut out, "Patient identifier", identifier);
        }
    }
    out
}

/// Whether a resource points at other resources of its delivery by a bundle-local
/// address (`urn:uuid:…`, `urn:oid:…`, or a contained `#…`), which it would lose if it
/// were taken in on its own: a report's results, a result's report, a document's
/// report. Its patient and the people who performed it are left out: the patient is
/// what the desk supplies, and performers are not part of the record.
pub fn refers_within_its_delivery(raw: &str) -> bool {
    const NOT_RECORD_LINKS: [&str; 4] = ["subject", "patient", "participant", "performer"];
    fn walk(value: &Value) -> bool {
        match value {
            Value::Object(map) => map.iter().any(|(key, v)| {
                (key == "reference"
                    && v.as_str()
                        .is_some_and(|r| r.starts_with("urn:") || r.starts_with('#')))
                    || walk(v)
            }),
            Value::Array(items) => items.iter().any(walk),
            _ => false,
        }
    }
    let Ok(Value::Object(resource)) = serde_json::from_str::<Value>(raw) else {
        return false;
    };
    resource
        .iter()
        .filter(|(key, _)| !NOT_RECORD_LINKS.contains(&key.as_str()))
        .any(|(_, value)| walk(value))
}

fn push_identifier(out: &mut Vec<HeldIdentifier>, what: &'static str, identifier: &Value) {
    if let Some(value) = identifier.get("value").and_then(Value::as_str) {
        out.push(HeldIdentifier {
            what,
            system: identifier
                .get("system")
                .and_then(Value::as_str)
                .map(str::to_owned),
            value: value.to_owned(),
        });
    }
}

fn array<'v>(value: &'v Value, field: &str) -> &'v [Value] {
    value
        .get(field)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;
    use chrono::TimeZone;

    #[test]
    fn every_reason_code_has_words() {
        for (code, words) in LOOKUP_REASONS {
            assert_eq!(lookup_reason(code), Some(words));
        }
        assert_eq!(lookup_reason("curiosity"), None);
    }

    #[test]
    fn a_lookup_lasts_an_hour() {
        let made = Utc.with_ymd_and_hms(2026, 12, 4, 9, 0, 0).unwrap();
        let expires = lookup_expiry(made);
        assert!(lookup_open(expires, made + Duration::minutes(59)));
        assert!(!lookup_open(expires, made + Duration::minutes(60)));
    }

    #[test]
    fn pages_are_counted_and_out_of_range_pages_come_back_in() {
        assert_eq!(page_window(1, 0), (0, 1, 1));
        assert_eq!(page_window(2, 45), (20, 2, 3));
        assert_eq!(page_window(9, 45), (40, 3, 3));
        assert_eq!(page_window(0, 45), (0, 1, 3));
    }

    #[test]
    fn a_held_result_shows_its_identifiers_and_never_its_content() {
        let raw = r#"{"resourceType":"Observation","id":"o1",
            "identifier":[{"system":"https://lab.example/id","value":"LAB-1"}],
            "code":{"text":"HIV antibody"},"valueQuantity":{"value":5.1},
            "subject":{"identifier":{"system":"https://fhir.nhs.uk/Id/nhs-number","value":"9990001235"},
                       "display":"Jane Example"}}"#;
        let ids = held_identifiers(raw);
        assert_eq!(ids.len(), 2);
        assert_eq!(ids[0].value, "LAB-1");
        assert_eq!(ids[1].what, "Patient identifier");
        assert_eq!(ids[1].value, "9990001235");
        let shown: String = ids.iter().map(|i| format!("{i:?}")).collect();
        for secret in ["HIV", "5.1", "Jane"] {
            assert!(!shown.contains(secret), "{secret} reached the desk");
        }
    }

    #[test]
    fn an_appointment_names_its_patient_among_its_participants() {
        let raw = r#"{"resourceType":"Appointment","participant":[
            {"actor":{"reference":"Patient/p9","display":"J"}},
            {"actor":{"reference":"Practitioner/x"}}]}"#;
        let ids = held_identifiers(raw);
        assert_eq!(ids.len(), 1);
        assert_eq!(ids[0].value, "Patient/p9");
    }

    #[test]
    fn a_resource_pointing_at_others_of_its_delivery_is_recognised() {
        assert!(refers_within_its_delivery(
            r#"{"resourceType":"DiagnosticReport","result":[{"reference":"urn:uuid:1"}]}"#
        ));
        assert!(refers_within_its_delivery(
            r##"{"resourceType":"Observation","hasMember":[{"reference":"#m1"}]}"##
        ));
        assert!(!refers_within_its_delivery(
            r#"{"resourceType":"Observation","subject":{"reference":"Patient/p9"},"partOf":[{"reference":"Procedure/x"}]}"#
        ));
        // Its patient by bundle address is what the desk supplies.
        assert!(!refers_within_its_delivery(
            r#"{"resourceType":"Observation","subject":{"reference":"urn:uuid:p"},"performer":[{"reference":"urn:uuid:o"}]}"#
        ));
    }

    #[test]
    fn unreadable_content_shows_no_identifiers() {
        assert!(held_identifiers("not json").is_empty());
    }
}
