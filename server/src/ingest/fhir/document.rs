//! Documents: letters as DocumentReferences with their attachments (checked and stored
//! by content address), and compositions sent as document bundles with their
//! narrative sanitised. A document whose type names a kind of report is released like
//! that report.

use super::*;

pub(super) fn map_document_reference(
    p: &Parsed<'_>,
    patients: &PatientIndex,
    binaries: &HashMap<String, Value>,
) -> Result<NewRecordItem, MappingError> {
    let r = &p.resource;
    let patient = resolve_patient(p, "subject", r.get("subject"), patients)?;
    let document_type = r.get("type").and_then(concept_text);
    let description = text_at(r, "description");
    let date = text_at(r, "date");
    let (attachments, stored): (Vec<AttachmentSummary>, Vec<Option<NewAttachment>>) =
        array(r, "content")
            .iter()
            .enumerate()
            .filter_map(|(i, c)| c.get("attachment").map(|a| (i, a)))
            .map(|(i, a)| read_attachment(p, i, a, binaries))
            .collect::<Result<Vec<_>, _>>()?
            .into_iter()
            .unzip();
    let title = text_at(r, "description")
        .or_else(|| document_type.clone())
        .or_else(|| attachments.first().and_then(|a| a.title.clone()))
        .unwrap_or_else(|| "Document".to_owned());
    let details = ItemDetails::Document {
        status: text_at(r, "status").unwrap_or_default(),
        document_type,
        date: date.clone(),
        description,
        sections: Vec::new(),
        attachments,
    };
    let mut item = base_item(p, RecordKind::Document, patient, title, details)?;
    // A document whose type names a kind of report (a pathology report as a PDF) is
    // released like that report.
    item.category = recognised_category(r.get("type").into_iter().chain(array(r, "category")));
    // A draft document is not final, whatever its record status says.
    if let Some(doc_status) = text_at(r, "docStatus")
        && matches!(doc_status.as_str(), "preliminary" | "entered-in-error")
    {
        item.entered_in_error |= doc_status == "entered-in-error";
        item.status = doc_status;
    }
    item.attachments = stored.into_iter().flatten().collect();
    item.occurred_at = date.as_deref().and_then(parse_fhir_instant);
    item.occurred_text = date;
    Ok(item)
}

/// Content types a sender may attach: documents people can open safely in a browser.
pub const ALLOWED_CONTENT_TYPES: [&str; 4] =
    ["application/pdf", "text/plain", "image/jpeg", "image/png"];

/// Reads one attachment: its bytes from inline `data` or from a `Binary` in the same
/// bundle (`url`), checked against its declared content type, `size` and `hash` (SHA-1,
/// base64, as FHIR R4 defines it). Remote URLs are not fetched.
pub(super) fn read_attachment(
    p: &Parsed<'_>,
    index: usize,
    a: &Value,
    binaries: &HashMap<String, Value>,
) -> Result<(AttachmentSummary, Option<NewAttachment>), MappingError> {
    let at = |field: &str| p.path(&format!("content[{index}].attachment.{field}"));
    let binary = a.get("url").and_then(Value::as_str).map(|url| {
        binaries.get(url).ok_or_else(|| {
            MappingError::new(
                &at("url"),
                "the attachment URL must point at a Binary in this bundle",
            )
        })
    });
    let binary = binary.transpose()?;
    let content_type = text_at(a, "contentType")
        .or_else(|| binary.and_then(|b| text_at(b, "contentType")))
        .ok_or_else(|| {
            MappingError::new(&at("contentType"), "the attachment has no content type")
        })?;
    let base_type = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    if !ALLOWED_CONTENT_TYPES.contains(&base_type.as_str()) {
        return Err(MappingError::new(
            &at("contentType"),
            &format!(
                "attachments of type {base_type} are not accepted; send PDF, plain text, JPEG or PNG"
            ),
        ));
    }
    let data = a
        .get("data")
        .and_then(Value::as_str)
        .or_else(|| binary.and_then(|b| b.get("data")).and_then(Value::as_str));
    let Some(data) = data else {
        let summary = AttachmentSummary {
            title: text_at(a, "title"),
            content_type: base_type,
            size: a.get("size").and_then(Value::as_u64),
            sha256: None,
        };
        return Ok((summary, None));
    };
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(data)
        .map_err(|_| MappingError::new(&at("data"), "the attachment data is not valid base64"))?;
    if let Some(size) = a.get("size").and_then(Value::as_u64)
        && size != bytes.len() as u64
    {
        return Err(MappingError::new(
            &at("size"),
            "the attachment is not the size it says it is",
        ));
    }
    if let Some(hash) = a.get("hash").and_then(Value::as_str) {
        use sha1::Digest as _;
        let actual = base64::engine::general_purpose::STANDARD.encode(sha1::Sha1::digest(&bytes));
        if actual != hash {
            return Err(MappingError::new(
                &at("hash"),
                "the attachment's SHA-1 hash does not match its data",
            ));
        }
    }
    if base_type == "application/pdf" && !bytes.starts_with(b"%PDF-") {
        return Err(MappingError::new(
            &at("data"),
            "the attachment says it is a PDF but is not one",
        ));
    }
    let sha256 = hex::encode(Sha256::digest(&bytes));
    let summary = AttachmentSummary {
        title: text_at(a, "title"),
        content_type: base_type.clone(),
        size: Some(bytes.len() as u64),
        sha256: Some(sha256.clone()),
    };
    Ok((
        summary,
        Some(NewAttachment {
            sha256,
            content_type: base_type,
            content: bytes,
        }),
    ))
}

pub(super) fn map_composition(
    p: &Parsed<'_>,
    _all: &[Parsed<'_>],
    patients: &PatientIndex,
) -> Result<NewRecordItem, MappingError> {
    let r = &p.resource;
    let patient = resolve_patient(p, "subject", r.get("subject"), patients)?;
    let document_type = r.get("type").and_then(concept_text);
    let date = text_at(r, "date");
    let sections = array(r, "section")
        .iter()
        .map(|s| DocumentSection {
            title: text_at(s, "title"),
            narrative_xhtml: s
                .get("text")
                .and_then(|t| t.get("div"))
                .and_then(Value::as_str)
                .map(sanitise_narrative)
                .unwrap_or_default(),
        })
        .collect();
    let title = text_at(r, "title")
        .or_else(|| document_type.clone())
        .unwrap_or_else(|| "Document".to_owned());
    let details = ItemDetails::Document {
        status: text_at(r, "status").unwrap_or_default(),
        document_type,
        date: date.clone(),
        description: None,
        sections,
        attachments: Vec::new(),
    };
    let mut item = base_item(p, RecordKind::Document, patient, title, details)?;
    let section_codes: Vec<&Value> = array(r, "section")
        .iter()
        .filter_map(|s| s.get("code"))
        .collect();
    item.category = recognised_category(
        r.get("type")
            .into_iter()
            .chain(array(r, "category"))
            .chain(section_codes),
    );
    item.occurred_at = date.as_deref().and_then(parse_fhir_instant);
    item.occurred_text = date;
    Ok(item)
}

/// Narrative XHTML from a sender is untrusted: only harmless formatting survives (no
/// scripts, styles, event handlers or forms). Nothing in it loads from anywhere when a
/// patient opens the letter: images are dropped, and so is every address that is not
/// an `https` link (relative and protocol-relative ones, `//host/p.gif`, included).
/// Links that remain are marked as external (`app-external-link`, which the style
/// sheet labels) and open without giving the other site a handle on the portal's page.
pub fn sanitise_narrative(xhtml: &str) -> String {
    ammonia::Builder::default()
        .rm_tags(["img"])
        .url_schemes(std::collections::HashSet::from(["https"]))
        .url_relative(ammonia::UrlRelative::Deny)
        .link_rel(Some("noopener noreferrer nofollow"))
        .set_tag_attribute_value("a", "class", "app-external-link")
        .clean(xhtml)
        .to_string()
}
