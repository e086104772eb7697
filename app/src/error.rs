//! The errors server functions and pages return. Each variant is stable and safe to show:
//! internals never cross this boundary, only an opaque reference that matches the one
//! line the server logs about the cause.

use leptos::prelude::{FromServerFnError, ServerFnErrorErr};
use leptos::server_fn::codec::JsonEncoding;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
pub enum AppError {
    #[error("You need to sign in to see this page.")]
    NotSignedIn,
    #[error("The page you are looking for could not be found.")]
    NotFound,
    /// Signed in, but not with a verified identity (P9) linked to a record: nothing
    /// clinical may be shown.
    #[error("You need to prove who you are before you can see your record.")]
    IdentityNotVerified,
    /// Acting for someone whose grant is no longer in force (suspended, revoked, ended,
    /// lapsed), or a page the grant does not open.
    #[error("You no longer have access to this person's record.")]
    ProxyAccessEnded,
    /// The patient left the portal (`crate::choices`): their own record stays closed
    /// to them here until they come back.
    #[error("You have left your health record in this portal. You can come back at any time.")]
    LeftPortal,
    /// A form whose answers need correcting; each field's problem is shown beside it.
    #[error("There is a problem with your answers.")]
    Invalid { problems: Vec<FieldProblem> },
    #[error("Sorry, there is a problem with the service. Reference: {reference}")]
    Internal { reference: String },
    /// The database cannot be reached or cannot take writes just now (restarting, its
    /// disk full): nothing was done, and the same request will work once it is back.
    #[error("Sorry, the service is unavailable. Try again later. Reference: {reference}")]
    Unavailable { reference: String },
    /// The request itself could not be made or read (network, bad arguments).
    #[error("Sorry, the request could not be completed. Try again.")]
    Request,
}

/// One form field's problem, worded for the person filling it in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldProblem {
    /// The field's `name` (and the id of its input), for the error summary's link.
    pub field: String,
    pub message: String,
}

impl FieldProblem {
    pub fn new(field: &str, message: &str) -> Self {
        Self {
            field: field.to_owned(),
            message: message.to_owned(),
        }
    }
}

impl FromServerFnError for AppError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(_: ServerFnErrorErr) -> Self {
        // The details of a transport failure are of no use to a patient and may carry
        // internals; the server logs its side.
        AppError::Request
    }
}

impl AppError {
    /// The HTTP status a page showing this error is served with.
    pub fn status(&self) -> http::StatusCode {
        match self {
            AppError::NotSignedIn => http::StatusCode::UNAUTHORIZED,
            AppError::NotFound => http::StatusCode::NOT_FOUND,
            AppError::IdentityNotVerified => http::StatusCode::FORBIDDEN,
            AppError::ProxyAccessEnded => http::StatusCode::FORBIDDEN,
            AppError::LeftPortal => http::StatusCode::FORBIDDEN,
            AppError::Invalid { .. } => http::StatusCode::UNPROCESSABLE_ENTITY,
            AppError::Internal { .. } => http::StatusCode::INTERNAL_SERVER_ERROR,
            AppError::Unavailable { .. } => http::StatusCode::SERVICE_UNAVAILABLE,
            AppError::Request => http::StatusCode::BAD_REQUEST,
        }
    }
}

#[cfg(feature = "ssr")]
impl AppError {
    /// Logs the cause once, with a fresh reference, and returns the opaque error that
    /// carries only that reference.
    pub fn internal(cause: &dyn std::fmt::Display) -> Self {
        let reference = uuid::Uuid::new_v4().simple().to_string()[..12].to_uppercase();
        tracing::error!(%reference, %cause, "internal error");
        AppError::Internal { reference }
    }
}

#[cfg(feature = "ssr")]
impl From<crate::server::storage::StorageError> for AppError {
    fn from(error: crate::server::storage::StorageError) -> Self {
        if error.is_unavailable() {
            let reference = uuid::Uuid::new_v4().simple().to_string()[..12].to_uppercase();
            tracing::warn!(%reference, %error, "database unavailable");
            return AppError::Unavailable { reference };
        }
        AppError::internal(&error)
    }
}
