//! FHIR `OperationOutcome`: how the feed says what went wrong. Every non-2xx answer carries
//! one, with a severity, an R4 issue type, diagnostics in plain words and, where there
//! is one, an `expression` naming the offending element (`shared/docs/fhir-feed.md`,
//! "Errors"). Diagnostics never contain internals or patient data.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

pub const FHIR_JSON: &str = "application/fhir+json";

/// When a sender should try again after a 503: a database restart takes seconds.
const RETRY_AFTER_SECONDS: &str = "5";

/// One problem, ready to answer with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub status: StatusCode,
    /// R4 issue type: structure, required, value, invalid, security, forbidden, too-long,
    /// not-found, conflict, multiple-matches, business-rule, exception, …
    pub code: &'static str,
    pub diagnostics: String,
    pub expression: Option<String>,
}

impl Problem {
    pub fn new(status: StatusCode, code: &'static str, diagnostics: impl Into<String>) -> Self {
        Self {
            status,
            code,
            diagnostics: diagnostics.into(),
            expression: None,
        }
    }

    pub fn at(mut self, expression: impl Into<String>) -> Self {
        self.expression = Some(expression.into());
        self
    }

    pub fn unauthorised() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "security",
            "A valid feed credential is required (Authorization: Bearer ...).",
        )
    }

    pub fn forbidden(diagnostics: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", diagnostics)
    }

    /// Our own fault: an opaque reference, the cause logged once by the caller.
    pub fn internal(reference: &str) -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "exception",
            format!("The server could not process the request. Reference: {reference}"),
        )
    }

    /// The database is away (restarting, its disk full): nothing was stored, and the
    /// same request will work later. 503 with `Retry-After`; the cause logged once by
    /// the caller under the reference.
    pub fn unavailable(reference: &str) -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "transient",
            format!(
                "The server cannot store deliveries just now; nothing of this one was \
                 stored. Send it again later. Reference: {reference}"
            ),
        )
    }

    /// The `OperationOutcome` resource.
    pub fn to_resource(&self) -> Value {
        let mut issue = json!({
            "severity": "error",
            "code": self.code,
            "diagnostics": self.diagnostics,
        });
        if let Some(expression) = &self.expression {
            issue["expression"] = json!([expression]);
        }
        json!({ "resourceType": "OperationOutcome", "issue": [issue] })
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let mut response = (self.status, fhir_json(&self.to_resource())).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            response.headers_mut().insert(
                header::RETRY_AFTER,
                HeaderValue::from_static(RETRY_AFTER_SECONDS),
            );
        }
        response
    }
}

/// A FHIR JSON body with its content type.
pub fn fhir_json(value: &Value) -> Response {
    (
        [(header::CONTENT_TYPE, HeaderValue::from_static(FHIR_JSON))],
        value.to_string(),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_outcome_names_the_offending_element() {
        let problem = Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "required",
            "the patient is missing",
        )
        .at("Bundle.entry[2].resource.subject");
        let resource = problem.to_resource();
        assert_eq!(resource["resourceType"], "OperationOutcome");
        assert_eq!(resource["issue"][0]["severity"], "error");
        assert_eq!(resource["issue"][0]["code"], "required");
        assert_eq!(
            resource["issue"][0]["expression"][0],
            "Bundle.entry[2].resource.subject"
        );
    }
}
