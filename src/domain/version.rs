//! Optimistic concurrency and soft delete: what every change checks on the
//! record it is about to write. An etag is the record's revision; a stale one
//! is ABORTED. A soft-deleted record takes no more changes.

use chrono::{DateTime, Utc};

use crate::error::{Error, Result};

/// Refuses a change when the caller's etag (if any) is not the record's revision.
pub fn check_etag(resource: &str, revision: i64, expected: Option<i64>) -> Result<()> {
    match expected {
        Some(etag) if etag != revision => Err(Error::stale_etag(resource)),
        _ => Ok(()),
    }
}

/// Refuses a change to a soft-deleted record (`what` names it for people, e.g. "the indicator").
pub fn check_live(resource: &str, what: &str, delete_time: Option<DateTime<Utc>>) -> Result<()> {
    match delete_time {
        Some(_) => Err(Error::precondition(
            "RESOURCE_DELETED",
            resource,
            format!("{what} is deleted"),
        )),
        None => Ok(()),
    }
}
