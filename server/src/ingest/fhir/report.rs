//! Diagnostic reports: the report's kind (recognised whichever code system says it), its
//! code, dates, conclusion and plain-text body.

use super::*;

pub(super) fn map_report(
    p: &Parsed<'_>,
    patients: &PatientIndex,
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
