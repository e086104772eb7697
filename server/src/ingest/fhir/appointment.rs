//! Appointments: when, where, with whom and how (the delivery channel), and why one
//! was cancelled.

use super::*;

pub(super) fn map_appointment(
    p: &Parsed<'_>,
    patients: &PatientIndex,
) -> Result<NewRecordItem, MappingError> {
    let r = &p.resource;
    let participants = array(r, "participant");
    let patient_actor = participants.iter().map(|x| x.get("actor")).find(|actor| {
        actor
            .and_then(|a| a.get("reference").and_then(Value::as_str))
            .map(|s| s.starts_with("Patient/") || patients.by_reference.contains_key(s))
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
