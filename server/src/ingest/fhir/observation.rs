//! Observations: values kept exactly as the laboratory wrote them, reference ranges,
//! interpretation flags and notes.

use super::*;

/// The decimals of an observation exactly as written, read from the raw text (a parsed
/// number would turn "11.20" into 11.2).
#[derive(Deserialize)]
pub(super) struct ObservationDecimals<'a> {
    #[serde(rename = "valueQuantity", borrow)]
    value_quantity: Option<QuantityDecimal<'a>>,
    #[serde(rename = "referenceRange", borrow, default)]
    reference_range: Vec<RangeDecimals<'a>>,
}

#[derive(Deserialize)]
pub(super) struct QuantityDecimal<'a> {
    #[serde(borrow)]
    value: Option<&'a RawValue>,
}

#[derive(Deserialize)]
pub(super) struct RangeDecimals<'a> {
    #[serde(borrow)]
    low: Option<QuantityDecimal<'a>>,
    #[serde(borrow)]
    high: Option<QuantityDecimal<'a>>,
}

pub(super) fn decimal_text(q: Option<&QuantityDecimal<'_>>) -> Option<String> {
    q.and_then(|q| q.value)
        .map(|v| v.get().trim_matches('"').to_owned())
}

pub(super) fn map_observation(
    p: &Parsed<'_>,
    patients: &PatientIndex,
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
