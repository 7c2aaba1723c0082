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
    /// A limit is reached (e.g. report streams running at once); retry after `retry_after`.
    #[error("{message}")]
    ResourceExhausted {
        reason: &'static str,
        message: String,
        retry_after: std::time::Duration,
    },
    /// A dependency (the database) is not reachable now; retry later.
    #[error("service unavailable: {0}")]
    Unavailable(String),
    /// The database is busy with another write (SQLite's write lock held past its busy
    /// timeout, PostgreSQL's lock timeout): nothing was written; retry after a moment.
    #[error("database busy: {0}")]
    Busy(String),
    /// The server, or the share of the callers like this one, is at its limit; retry after
    /// `retry_after`. Not the caller's own excess (that is `ResourceExhausted`) and not logged
    /// one by one: a flood of refusals must stay cheap.
    #[error("{message}")]
    Overloaded {
        reason: &'static str,
        message: String,
        retry_after: std::time::Duration,
    },
    /// The call, or its client's side of it, took longer than a limit allows.
    #[error("{message}")]
    DeadlineExceeded {
        reason: &'static str,
        message: String,
    },
    /// The call was stopped before it finished (its client went away, or its time ran out).
    #[error("{message}")]
    Cancelled {
        reason: &'static str,
        message: String,
    },
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

    /// No record named `resource` (e.g. a `GrantName`), or none the caller may see.
    pub fn not_found(resource: impl std::fmt::Display) -> Self {
        Error::NotFound {
            resource: resource.to_string(),
        }
    }

    /// Server reflection asked of a server that has it turned off.
    pub fn reflection_off() -> Self {
        Error::FailedPrecondition {
            reason: "REFLECTION_OFF",
            subject: "server.reflection".into(),
            description: "server reflection is off on this server (server.reflection = false): \
                          give your client the proto files instead, e.g. grpcurl -import-path proto \
                          -proto tipgrants/v1/grant_service.proto ..."
                .into(),
        }
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
            Error::ResourceExhausted { .. } => Code::ResourceExhausted,
            Error::Unavailable(_) | Error::Busy(_) | Error::Overloaded { .. } => Code::Unavailable,
            Error::DeadlineExceeded { .. } => Code::DeadlineExceeded,
            Error::Cancelled { .. } => Code::Cancelled,
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
            Error::ResourceExhausted { reason, .. } => reason,
            Error::Unavailable(_) => "DATABASE_UNAVAILABLE",
            Error::Busy(_) => "DATABASE_BUSY",
            Error::Overloaded { reason, .. }
            | Error::DeadlineExceeded { reason, .. }
            | Error::Cancelled { reason, .. } => reason,
            Error::Internal(_) => "INTERNAL",
        }
    }

    /// Whether the same call may succeed when tried again unchanged: the database was
    /// unreachable or busy, or the transaction lost a conflict with a concurrent one.
    pub fn is_transient(&self) -> bool {
        match self {
            Error::Unavailable(_) | Error::Busy(_) => true,
            Error::Aborted { reason, .. } => *reason == TRANSACTION_CONFLICT,
            _ => false,
        }
    }
}

/// The `ErrorInfo.reason` of a transaction the database rolled back because it conflicted
/// with a concurrent one (a deadlock, a serialization failure): the call may be retried as it is.
pub const TRANSACTION_CONFLICT: &str = "TRANSACTION_CONFLICT";

/// How long a client should wait before it retries a call the database was too busy for.
pub const BUSY_RETRY_AFTER: std::time::Duration = std::time::Duration::from_millis(200);

/// Most bytes of an answer's message: whatever a request carried, an error stays small. Bytes,
/// not characters: the message travels percent-encoded in a header (and again in the details),
/// and the client's header limit counts bytes.
const MAX_MESSAGE: usize = 1024;
/// Most bytes of one detail (a field path, a rule, a resource name).
const MAX_FIELD: usize = 300;
/// Most field violations one answer lists...
const MAX_VIOLATIONS: usize = 50;
/// ...and most bytes they take, encoded (fields, rules, and about 8 bytes of framing each).
/// With the message (sent twice: in `grpc-message` and in the details) an error stays under
/// 8 KiB, and so under a default client's 16 KiB header limit once percent-encoded and base64.
const MAX_VIOLATION_BYTES: usize = 5632;
/// The framing of one encoded field violation, at most.
const VIOLATION_FRAMING: usize = 8;

/// `text`, cut to at most `max` bytes (on a character boundary) with a mark that it was cut.
fn bounded(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}... (cut)", &text[..end])
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
            Error::Busy(cause) => {
                tracing::warn!(%cause, "database busy");
                "the database is busy with another write and nothing was written; retry in a moment"
                    .to_string()
            }
            other => bounded(&other.to_string(), MAX_MESSAGE),
        };
        match &error {
            Error::InvalidArgument(violations) => {
                let mut budget = MAX_VIOLATION_BYTES;
                for violation in violations.iter().take(MAX_VIOLATIONS) {
                    let field = bounded(&violation.field, MAX_FIELD);
                    let description = bounded(&violation.description, MAX_FIELD);
                    let size = field.len() + description.len() + VIOLATION_FRAMING;
                    let Some(left) = budget.checked_sub(size) else {
                        break;
                    };
                    budget = left;
                    details.add_bad_request_violation(field, description);
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
            Error::ResourceExhausted { retry_after, .. }
            | Error::Overloaded { retry_after, .. } => {
                details.set_retry_info(Some(*retry_after));
            }
            Error::Busy(_) => {
                details.set_retry_info(Some(BUSY_RETRY_AFTER));
            }
            Error::Aborted { reason, .. } if *reason == TRANSACTION_CONFLICT => {
                details.set_retry_info(Some(BUSY_RETRY_AFTER));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_that_echoes_huge_input_in_wide_characters_stays_under_8_kib() {
        let huge = "𝕏\u{202e}".repeat(50_000);
        let violations = (0..1_000)
            .map(|index| FieldViolation::new(format!("paths[{index}].{huge}"), huge.clone()))
            .collect();

        let invalid = Status::from(Error::InvalidArgument(violations));
        let not_found = Status::from(Error::NotFound {
            resource: format!("organizations/{huge}"),
        });

        for status in [invalid, not_found] {
            assert!(status.message().len() <= MAX_MESSAGE + "... (cut)".len());
            assert!(status.message().ends_with("... (cut)"));
            assert!(
                status.message().len() + status.details().len() <= 8 * 1024,
                "{} bytes of details",
                status.details().len()
            );
        }
    }

    #[test]
    fn a_short_error_is_sent_whole() {
        let status = Status::from(Error::invalid("grant.title", "must not be empty"));

        assert_eq!(
            status.message(),
            "invalid request: grant.title: must not be empty"
        );
    }
}
