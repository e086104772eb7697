//! A letter's attached document (usually a PDF), viewed in the browser or downloaded.
//! The bytes are stored once by content address, so the address alone proves nothing:
//! the request names the letter too, and the document is served only when the letter
//! is the signed-in patient's, the access decision shows it to them (not withheld, held
//! or hidden), and it lists that attachment. Every refusal looks the same as "not
//! found". The read is audited with the letter.

use app::records::{ItemDetails, RecordKind};
use app::server::export::{Download, ExportFormat};
use app::server::record_reader::{ReadRecord, RecordReader};
use app::server::record_view::letter_entry;
use app::server::{AppState, Viewer};
use axum::Extension;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
pub struct AttachmentQuery {
    /// `1` to download instead of viewing in the browser.
    #[serde(default)]
    download: Option<String>,
}

pub async fn letter_attachment(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Path((letter_id, sha256)): Path<(String, String)>,
    Query(query): Query<AttachmentQuery>,
    headers: HeaderMap,
) -> Response {
    let request_id = headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let reader = match RecordReader::for_signed_in(state.clone(), viewer.patient, request_id) {
        Ok(reader) => reader,
        Err(error) => return refusal(error.status(), &error.to_string()),
    };
    let not_found = || refusal(StatusCode::NOT_FOUND, "Page not found.");
    let record = match reader.read(format!("letter:{letter_id}:attachment")).await {
        Ok(ReadRecord { record, .. }) => record,
        Err(error) => return refusal(error.status(), &error.to_string()),
    };
    let Some(letter) = record
        .item(&letter_id)
        .filter(|d| d.item.kind == RecordKind::Document)
        .map(letter_entry)
    else {
        return not_found();
    };
    // Only a letter whose content may be shown has attachments to give.
    let Some(ItemDetails::Document { attachments, .. }) = letter.details() else {
        return not_found();
    };
    let Some(listed) = attachments
        .iter()
        .find(|a| a.sha256.as_deref() == Some(sha256.as_str()))
    else {
        return not_found();
    };
    let attachment = match state.storage.get_attachment(&sha256).await {
        Ok(Some(attachment)) => attachment,
        Ok(None) => return not_found(),
        Err(error) => {
            let error = app::error::AppError::from(error);
            return refusal(error.status(), &error.to_string());
        }
    };
    let extension = match attachment.content_type.as_str() {
        "application/pdf" => "pdf",
        "text/plain" => "txt",
        "image/png" => "png",
        "image/jpeg" => "jpg",
        _ => "bin",
    };
    let file_name = file_name(listed.title.as_deref().unwrap_or(&letter.title), extension);
    let disposition = if query.download.as_deref() == Some("1") {
        "attachment"
    } else {
        "inline"
    };
    let mut response = attachment.content.into_response();
    let response_headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&attachment.content_type) {
        response_headers.insert(header::CONTENT_TYPE, value);
    }
    if let Ok(value) = HeaderValue::from_str(&format!("{disposition}; filename=\"{file_name}\"")) {
        response_headers.insert(header::CONTENT_DISPOSITION, value);
    }
    // The document may come from anywhere: it runs no script and loads nothing.
    response_headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("sandbox; default-src 'none'; style-src 'unsafe-inline'"),
    );
    response
}

/// The format a download's file name asks for: `record.json`, `record.html`,
/// `record.pdf` (or `answer.*` for a request's answer).
fn format_of(file: &str, stem: &str) -> Option<ExportFormat> {
    let (name, extension) = file.rsplit_once('.')?;
    (name == stem)
        .then(|| ExportFormat::from_extension(extension))
        .flatten()
}

/// "Download my record": everything the signed-in reader can see now, as a FHIR
/// bundle, a web page or a PDF (`app::server::export`). Audited as a download.
pub async fn record_download(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Path(file): Path<String>,
    headers: HeaderMap,
) -> Response {
    let Some(format) = format_of(&file, "record") else {
        return refusal(StatusCode::NOT_FOUND, "Page not found.");
    };
    let request_id = headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    match app::server::export::download_record(state, viewer.patient, request_id, format).await {
        Ok(download) => send(download),
        Err(error) => refusal(error.status(), &error.to_string()),
    }
}

/// A subject access request's answer, for its requester while it is available.
pub async fn answer_download(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Path((id, file)): Path<(String, String)>,
) -> Response {
    let Some(format) = format_of(&file, "answer") else {
        return refusal(StatusCode::NOT_FOUND, "Page not found.");
    };
    match app::server::sar::download_answer(&state, viewer.patient.as_ref(), &id, format).await {
        Ok(download) => send(download),
        Err(error) => refusal(error.status(), &error.to_string()),
    }
}

/// A copy as a download: always saved, never shown in the portal's own pages; the web
/// page copy runs no script and loads nothing.
fn send(download: Download) -> Response {
    let mut response = download.content.into_response();
    let response_headers = response.headers_mut();
    response_headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(download.format.content_type()),
    );
    if let Ok(value) =
        HeaderValue::from_str(&format!("attachment; filename=\"{}\"", download.file_name))
    {
        response_headers.insert(header::CONTENT_DISPOSITION, value);
    }
    response_headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("sandbox; default-src 'none'; style-src 'unsafe-inline'"),
    );
    response_headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// A safe file name: letters, digits, spaces and dashes only.
fn file_name(title: &str, extension: &str) -> String {
    let stem: String = title
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == ' ' {
                c
            } else {
                ' '
            }
        })
        .collect::<String>()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join("-");
    let stem = if stem.is_empty() {
        "document".to_owned()
    } else {
        stem
    };
    format!("{stem}.{extension}")
}

fn refusal(status: StatusCode, message: &str) -> Response {
    (status, message.to_owned()).into_response()
}

#[cfg(test)]
mod tests {
    use super::file_name;

    #[test]
    fn file_names_keep_only_safe_characters() {
        assert_eq!(
            file_name("Discharge summary: \"ward 7\"/..", "pdf"),
            "Discharge-summary-ward-7.pdf"
        );
        assert_eq!(file_name("???", "pdf"), "document.pdf");
    }
}
