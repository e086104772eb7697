//! A letter's attached document (usually a PDF), viewed in the browser or downloaded.
//! The bytes are stored once by content address, so the address alone proves nothing:
//! the request names the letter too, and the document is served only when the letter
//! is the signed-in patient's, the access decision shows it to them (not withheld, held
//! or hidden), and it lists that attachment. Every refusal looks the same as "not
//! found". The read is audited with the letter.

use app::records::{ItemDetails, RecordKind};
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
