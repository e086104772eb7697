//! Making and handing out copies of the record (`crate::export`): "Download my record"
//! for the signed-in patient or a proxy within their grant, and the rendering shared
//! with a subject access request's answer (`super::sar`). A copy is built only from a
//! record the access decision has been applied to, for the reader it is for; the
//! resources it carries are the versions that decision saw. Every download is audited
//! in the same transaction as the read it is made from.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use super::record_reader::RecordReader;
use super::{AppState, SignedIn};
use crate::access::{Basis, DecidedRecord};
use crate::audit::action;
use crate::domain::PatientId;
use crate::error::AppError;
use crate::export::{self, ExportPatient, ExportPurpose, ExportScope, PreparedFor, RecordExport};

/// The formats a copy comes in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    /// A FHIR R4 Bundle (JSON).
    Fhir,
    /// The readable copy as a web page.
    Html,
    /// The readable copy as a PDF.
    Pdf,
}

impl ExportFormat {
    /// From the file extension in the address: `json`, `html` or `pdf`.
    pub fn from_extension(extension: &str) -> Option<Self> {
        match extension {
            "json" => Some(ExportFormat::Fhir),
            "html" => Some(ExportFormat::Html),
            "pdf" => Some(ExportFormat::Pdf),
            _ => None,
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            ExportFormat::Fhir => "json",
            ExportFormat::Html => "html",
            ExportFormat::Pdf => "pdf",
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            ExportFormat::Fhir => "application/fhir+json",
            ExportFormat::Html => "text/html; charset=utf-8",
            ExportFormat::Pdf => "application/pdf",
        }
    }
}

/// A rendered copy, ready to send.
#[derive(Debug, Clone)]
pub struct Download {
    pub content: Vec<u8>,
    pub format: ExportFormat,
    pub file_name: String,
}

/// Renders a copy in one format.
pub fn render(copy: &RecordExport, format: ExportFormat, stem: &str) -> Result<Download, AppError> {
    let content = match format {
        ExportFormat::Fhir => serde_json::to_vec_pretty(&export::fhir::bundle(copy))
            .map_err(|e| AppError::internal(&e))?,
        ExportFormat::Html => {
            export::readable::html(&export::readable::document(copy)).into_bytes()
        }
        ExportFormat::Pdf => export::pdf::pdf(&export::readable::document(copy))
            .map_err(|e| AppError::internal(&e))?,
    };
    Ok(Download {
        content,
        format,
        file_name: format!(
            "{stem}-{}.{}",
            copy.generated_at.format("%Y-%m-%d"),
            format.extension()
        ),
    })
}

/// Builds a copy from a decided record: the items [`export::selected`] lets through,
/// each with its resource as received (the version decided on).
#[allow(clippy::too_many_arguments)]
pub async fn build(
    state: &AppState,
    patient_id: PatientId,
    record: &DecidedRecord,
    scope: ExportScope,
    purpose: ExportPurpose,
    prepared_for: PreparedFor,
    now: DateTime<Utc>,
) -> Result<RecordExport, AppError> {
    let chosen = export::selected(record, &scope);
    let wanted: Vec<(String, i64)> = chosen
        .iter()
        .map(|d| (d.item.public_id.clone(), d.item.version))
        .collect();
    let mut raw: HashMap<String, String> = state
        .storage
        .raw_resources(patient_id, &wanted)
        .await?
        .into_iter()
        .collect();
    let mut items = Vec::with_capacity(chosen.len());
    for decided in chosen {
        let item = &decided.item;
        // Every chosen item was decided on a stored version: one missing is a fault,
        // and a copy must not quietly leave it out.
        let text = raw
            .remove(&item.public_id)
            .ok_or_else(|| AppError::internal(&"an item's stored resource is missing"))?;
        // (The parser's message could quote the resource: it is not logged.)
        let resource: serde_json::Value = serde_json::from_str(&text)
            .map_err(|_| AppError::internal(&"an item's stored resource is not JSON"))?;
        let resource = export::resource_for_copy(resource);
        let attachments = attachments_apart(state, &item.details, &resource).await?;
        items.push(export::exported_item(decided, resource, attachments));
    }
    let patient = state
        .storage
        .find_patient(patient_id)
        .await?
        .ok_or(AppError::NotFound)?;
    Ok(RecordExport {
        id: uuid::Uuid::new_v4().to_string(),
        generated_at: now,
        patient: ExportPatient {
            nhs_number: patient.nhs_number.as_str().to_owned(),
            given_name: patient.given_name,
            family_name: patient.family_name,
            birth_date: patient.birth_date,
        },
        prepared_for,
        scope,
        purpose,
        items,
    })
}

/// A letter's attachments that its resource does not carry inline (sent as a separate
/// `Binary`): the ones the letter lists, which the attachment route would serve to
/// this reader, from storage.
async fn attachments_apart(
    state: &AppState,
    details: &crate::records::ItemDetails,
    resource: &serde_json::Value,
) -> Result<Vec<export::ExportedAttachment>, AppError> {
    use base64::Engine as _;
    let crate::records::ItemDetails::Document { attachments, .. } = details else {
        return Ok(Vec::new());
    };
    let inline = export::inline_attachments(resource);
    let mut apart = Vec::new();
    for sha256 in attachments.iter().filter_map(|a| a.sha256.as_deref()) {
        if inline.iter().any(|i| i == sha256) {
            continue;
        }
        if let Some(stored) = state.storage.get_attachment(sha256).await? {
            apart.push(export::ExportedAttachment {
                sha256: stored.sha256,
                content_type: stored.content_type,
                data: base64::engine::general_purpose::STANDARD.encode(&stored.content),
            });
        }
    }
    Ok(apart)
}

/// What a reader's basis lets a copy cover, and whom it is prepared for.
pub fn scope_and_reader(basis: &Basis) -> (ExportScope, PreparedFor) {
    match basis {
        Basis::OwnRecord => (ExportScope::everything(), PreparedFor::ThePatient),
        Basis::Proxy { grant, .. } => (
            ExportScope {
                sections: grant.scope.sections(),
                ..ExportScope::default()
            },
            PreparedFor::Proxy {
                relationship: grant.basis.label().to_owned(),
            },
        ),
    }
}

/// "Download my record": everything the signed-in reader can see now (their own
/// record, or the record they act for within their grant), audited as a download.
pub async fn download_record(
    state: AppState,
    signed_in: Option<SignedIn>,
    request_id: Option<String>,
    format: ExportFormat,
) -> Result<Download, AppError> {
    let reader = RecordReader::for_signed_in(state.clone(), signed_in, request_id)?;
    let read = reader
        .read_for(
            action::RECORD_DOWNLOADED,
            format!("download:{}", format.extension()),
        )
        .await?;
    let (scope, prepared_for) = scope_and_reader(&reader.basis);
    let copy = build(
        &state,
        reader.patient_id,
        &read.record,
        scope,
        ExportPurpose::Download,
        prepared_for,
        reader.now,
    )
    .await?;
    render(&copy, format, "health-record")
}
