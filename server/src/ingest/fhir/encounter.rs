//! Encounters: admissions, emergency attendances and outpatient visits.

use super::*;

pub(super) fn map_encounter(
    p: &Parsed<'_>,
    patients: &PatientIndex,
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
