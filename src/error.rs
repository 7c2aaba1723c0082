//! The one error type of the server and its one mapping to `tonic::Status`.
//!
//! Every error carries a stable `ErrorInfo.reason`; invalid arguments carry
//! `google.rpc.BadRequest` field violations, precondition failures carry
//! `google.rpc.PreconditionFailure`. Internal causes are logged here and
//! answered as an opaque `INTERNAL`.

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

/// The `ErrorInfo.domain` of every error.
pub const ERROR_DOMAIN: &str = "tipgrants";

/// One invalid field of a request: its path (e.g. `grant.period.end_date`) and the rule it breaks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldViolation {
    pub field: String,
    pub description: String,
}

impl FieldViolation {
    pub fn new(field: impl Into<String>, description: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            description: description.into(),
        }
    }
}

/// Everything that can go wrong in a call.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The request breaks one or more field rules.
    #[error("invalid request: {}", describe(.0))]
    InvalidArgument(Vec<FieldViolation>),
    /// The named record does not exist (or the caller may not know that it does).
    #[error("{resource} not found")]
    NotFound { resource: String },
    /// A record with the same unique key exists.
    #[error("{message}")]
    AlreadyExists { resource: String, message: String },
    /// The system is not in a state that allows the change.
    #[error("{description}")]
    FailedPrecondition {
        /// Stable machine-readable reason, e.g. `GRANT_NOT_ACTIVE`.
        reason: &'static str,
        /// The record whose state refuses the change.
        subject: String,
        description: String,
    },
    /// The caller's etag is stale, or a concurrent call won.
    #[error("{message}")]
    Aborted {
        reason: &'static str,
        message: String,
    },
    /// No valid token.
    #[error("missing, invalid, expired or revoked token")]
    Unauthenticated,
    /// The token's role may not call this method.
    #[error("the {role} role may not call {method}")]
    PermissionDenied { role: String, method: String },
    /// A dependency (the database) is not reachable now; retry later.
    #[error("service unavailable: {0}")]
    Unavailable(String),
    /// A bug or an unexpected failure; the cause is logged, never sent.
    #[error("internal error: {0}")]
    Internal(String),
}

fn describe(violations: &[FieldViolation]) -> String {
    violations
        .iter()
        .map(|violation| format!("{}: {}", violation.field, violation.description))
        .collect::<Vec<_>>()
        .join("; ")
}

impl From<FieldViolation> for Error {
    fn from(violation: FieldViolation) -> Self {
        Error::InvalidArgument(vec![violation])
    }
}

impl From<FieldViolation> for Status {
    fn from(violation: FieldViolation) -> Self {
        Error::from(violation).into()
    }
}

/// Shorthand for results of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// One invalid field.
    pub fn invalid(field: impl Into<String>, description: impl Into<String>) -> Self {
        Error::InvalidArgument(vec![FieldViolation::new(field, description)])
    }

    /// A stale etag.
    pub fn stale_etag(resource: &str) -> Self {
        Error::Aborted {
            reason: "ETAG_MISMATCH",
            message: format!(
                "{resource} changed since it was read (etag mismatch): read it again and retry"
            ),
        }
    }

    /// A state rule refuses the change.
    pub fn precondition(
        reason: &'static str,
        subject: impl Into<String>,
        description: impl Into<String>,
    ) -> Self {
        Error::FailedPrecondition {
            reason,
            subject: subject.into(),
            description: description.into(),
        }
    }

    /// The canonical code of this error.
    pub fn code(&self) -> Code {
        match self {
            Error::InvalidArgument(_) => Code::InvalidArgument,
            Error::NotFound { .. } => Code::NotFound,
            Error::AlreadyExists { .. } => Code::AlreadyExists,
            Error::FailedPrecondition { .. } => Code::FailedPrecondition,
            Error::Aborted { .. } => Code::Aborted,
            Error::Unauthenticated => Code::Unauthenticated,
            Error::PermissionDenied { .. } => Code::PermissionDenied,
            Error::Unavailable(_) => Code::Unavailable,
            Error::Internal(_) => Code::Internal,
        }
    }

    /// The stable `ErrorInfo.reason`.
    pub fn reason(&self) -> &'static str {
        match self {
            Error::InvalidArgument(_) => "INVALID_FIELD",
            Error::NotFound { .. } => "RESOURCE_NOT_FOUND",
            Error::AlreadyExists { .. } => "RESOURCE_ALREADY_EXISTS",
            Error::FailedPrecondition { reason, .. } => reason,
            Error::Aborted { reason, .. } => reason,
            Error::Unauthenticated => "UNAUTHENTICATED",
            Error::PermissionDenied { .. } => "PERMISSION_DENIED",
            Error::Unavailable(_) => "DATABASE_UNAVAILABLE",
            Error::Internal(_) => "INTERNAL",
        }
    }
}

/// Most characters of an answer's message: whatever a request carried, an error stays small.
const MAX_MESSAGE: usize = 2000;
/// Most characters of one detail (a field path, a rule, a resource name).
const MAX_FIELD: usize = 300;
/// Most field violations one answer lists.
const MAX_VIOLATIONS: usize = 50;

/// `text`, cut to `max` characters with a mark that it was cut.
fn bounded(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_string()
    } else {
        let head: String = text.chars().take(max).collect();
        format!("{head}... (cut)")
    }
}

impl From<Error> for Status {
    fn from(error: Error) -> Status {
        let code = error.code();
        let mut details = ErrorDetails::new();
        let message = match &error {
            Error::Internal(cause) => {
                tracing::error!(%cause, "internal error");
                "internal error".to_string()
            }
            Error::Unavailable(cause) => {
                tracing::warn!(%cause, "database unavailable");
                "the database is unavailable; retry later".to_string()
            }
            other => bounded(&other.to_string(), MAX_MESSAGE),
        };
        match &error {
            Error::InvalidArgument(violations) => {
                for violation in violations.iter().take(MAX_VIOLATIONS) {
                    details.add_bad_request_violation(
                        bounded(&violation.field, MAX_FIELD),
                        bounded(&violation.description, MAX_FIELD),
                    );
                }
            }
            Error::FailedPrecondition {
                reason,
                subject,
                description,
            } => {
                details.add_precondition_failure_violation(
                    *reason,
                    bounded(subject, MAX_FIELD),
                    bounded(description, MAX_FIELD),
                );
            }
            Error::NotFound { resource } | Error::AlreadyExists { resource, .. } => {
                details.set_resource_info("", bounded(resource, MAX_FIELD), "", &message);
            }
            _ => {}
        }
        details.set_error_info(error.reason(), ERROR_DOMAIN, []);
        Status::with_error_details(code, message, details)
    }
}
