//! Finding the patient: a `Patient` in the bundle, or a logical reference by NHS number
//! (which must pass modulus 11). Nothing is ever attached to a guessed patient.

use super::*;

pub(super) fn map_patient(p: &Parsed<'_>) -> Result<NewPatient, MappingError> {
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

/// The patients a bundle's references can resolve to.
#[derive(Default)]
pub struct PatientIndex {
    /// Every reference a Patient entry of the bundle is known by.
    pub(super) by_reference: HashMap<String, NhsNumber>,
    /// Set only when the service desk matches a held resource to a patient.
    pub(super) matched_by_desk: Option<NhsNumber>,
}

/// Finds the patient a reference points at: a `Patient` in the bundle, or a logical
/// reference by NHS number.
pub(super) fn resolve_patient(
    p: &Parsed<'_>,
    element: &str,
    reference: Option<&Value>,
    patients: &PatientIndex,
) -> Result<NhsNumber, MappingError> {
    // The service desk matched this resource to a patient after checking its
    // identifiers: that is who it is about, whatever the reference says.
    if let Some(matched) = &patients.matched_by_desk {
        return Ok(matched.clone());
    }
    let reference = reference
        .ok_or_else(|| MappingError::unresolved(&p.path(element), "the patient is missing"))?;
    if let Some(target) = reference.get("reference").and_then(Value::as_str) {
        return patients.by_reference.get(target).cloned().ok_or_else(|| {
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
