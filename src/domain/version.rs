//! Optimistic concurrency and soft delete: what every change checks on the
//! record it is about to write. An etag is the record's revision; a stale one
//! is ABORTED. A soft-deleted record takes no more changes.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::{Error, FieldViolation, Result};

/// The bookkeeping every versioned record carries: when it was created and
/// last changed, and its revision (its etag). Records hold it flattened
/// (`#[serde(flatten)] pub stamps: Stamps`), so their JSON keeps the three
/// fields at the top level. A soft-deletable record keeps its own `delete_time`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stamps {
    pub create_time: DateTime<Utc>,
    pub update_time: DateTime<Utc>,
    pub revision: i64,
}

impl Stamps {
    /// The stamps of a record created at `time`: revision 1.
    pub fn new(time: DateTime<Utc>) -> Stamps {
        Stamps {
            create_time: time,
            update_time: time,
            revision: 1,
        }
    }

    /// The stamps of the next revision, changed at `time`.
    pub fn next(self, time: DateTime<Utc>) -> Stamps {
        Stamps {
            update_time: time,
            revision: self.revision + 1,
            ..self
        }
    }
}

/// Whether a record that a request refers to exists and is live: a fact the
/// store answers, so the rule about it is decided here and the api names the field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Presence {
    Live,
    Deleted,
    Missing,
}

impl Presence {
    /// The presence of a row read with its delete time (`None` when there is no row).
    pub fn of(delete_time: Option<Option<DateTime<Utc>>>) -> Presence {
        match delete_time {
            None => Presence::Missing,
            Some(None) => Presence::Live,
            Some(Some(_)) => Presence::Deleted,
        }
    }

    /// A reference in field `field` to `name` must be to a live record.
    pub fn require_live(
        self,
        field: &str,
        name: &impl std::fmt::Display,
    ) -> Result<(), FieldViolation> {
        match self {
            Presence::Live => Ok(()),
            Presence::Deleted => Err(FieldViolation::new(field, format!("{name} is deleted"))),
            Presence::Missing => Err(FieldViolation::new(field, format!("{name} does not exist"))),
        }
    }
}

/// Refuses a second record with the same unique key (`existing` is the one that has it).
pub fn check_unique(existing: Option<String>, what: &str) -> Result<()> {
    match existing {
        None => Ok(()),
        Some(resource) => Err(Error::AlreadyExists {
            message: format!("{what} is already {resource}"),
            resource,
        }),
    }
}

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

/// A record that changes by revision and is deleted softly.
pub trait Versioned: Sized {
    /// How people call it in an error, e.g. "the indicator".
    const WHAT: &'static str;
    fn resource(&self) -> String;
    fn revision(&self) -> i64;
    fn delete_time(&self) -> Option<DateTime<Utc>>;

    /// The record, when a change may be written to it: live, and at `etag` when one is given.
    fn writable(self, etag: Option<i64>) -> Result<Self> {
        let resource = self.resource();
        check_live(&resource, Self::WHAT, self.delete_time())?;
        check_etag(&resource, self.revision(), etag)?;
        Ok(self)
    }
}
