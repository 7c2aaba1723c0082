//! Collects every field violation of a request, so the caller hears about all
//! bad fields at once, and holds the small rules many resources share.

use crate::error::{Error, FieldViolation};

/// Longest display name of any resource.
pub const MAX_DISPLAY_NAME: usize = 200;
/// Longest free text (descriptions, summaries, notes).
pub const MAX_TEXT: usize = 10_000;

/// The violations found so far.
#[derive(Debug, Default)]
pub struct Violations(Vec<FieldViolation>);

impl Violations {
    pub fn new() -> Self {
        Self::default()
    }

    /// Records that `field` breaks `rule`.
    pub fn add(&mut self, field: impl Into<String>, rule: impl Into<String>) {
        self.0.push(FieldViolation::new(field, rule));
    }

    /// Records the violation of a result, keeping its value when valid.
    pub fn check<T>(&mut self, result: Result<T, FieldViolation>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(violation) => {
                self.0.push(violation);
                None
            }
        }
    }

    /// `Ok` when no field is bad, else `INVALID_ARGUMENT` with all of them.
    pub fn finish(self) -> Result<(), Error> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(Error::InvalidArgument(self.0))
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// A required, trimmed, single-line text of at most `max` characters.
pub fn required_text(field: &str, value: &str, max: usize) -> Result<String, FieldViolation> {
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return Err(FieldViolation::new(field, "is required"));
    }
    optional_text(field, trimmed, max)
}

/// An optional, trimmed text of at most `max` characters.
pub fn optional_text(field: &str, value: &str, max: usize) -> Result<String, FieldViolation> {
    let trimmed = value.trim();
    if trimmed.chars().count() > max {
        return Err(FieldViolation::new(
            field,
            format!("must be at most {max} characters"),
        ));
    }
    if trimmed
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t')
    {
        return Err(FieldViolation::new(
            field,
            "must not contain control characters",
        ));
    }
    Ok(trimmed.to_string())
}

/// An ISO 3166-1 alpha-2 code in shape (existence is checked by the store).
pub fn country_code(field: &str, value: &str) -> Result<String, FieldViolation> {
    let code = value.trim().to_ascii_uppercase();
    if code.len() == 2 && code.chars().all(|c| c.is_ascii_uppercase()) {
        Ok(code)
    } else if code.is_empty() {
        Err(FieldViolation::new(field, "is required"))
    } else {
        Err(FieldViolation::new(
            field,
            format!("{value:?} is not an ISO 3166-1 alpha-2 code such as \"HT\""),
        ))
    }
}

/// An optional idempotency key.
pub fn request_id(value: &str) -> Result<Option<String>, FieldViolation> {
    let value = value.trim();
    if value.is_empty() {
        return Ok(None);
    }
    if value.len() > 100 || !value.chars().all(|c| c.is_ascii_graphic()) {
        return Err(FieldViolation::new(
            "request_id",
            "must be at most 100 printable ASCII characters",
        ));
    }
    Ok(Some(value.to_string()))
}

/// A required calendar date `YYYY-MM-DD` between 1900 and 2200.
pub fn date(field: &str, value: &str) -> Result<chrono::NaiveDate, FieldViolation> {
    let value = value.trim();
    if value.is_empty() {
        return Err(FieldViolation::new(field, "is required: a date YYYY-MM-DD"));
    }
    let parsed = chrono::NaiveDate::parse_from_str(value, "%Y-%m-%d")
        .map_err(|_| FieldViolation::new(field, format!("{value:?} is not a date YYYY-MM-DD")))?;
    if !(1900..=2200).contains(&chrono::Datelike::year(&parsed)) {
        return Err(FieldViolation::new(
            field,
            "must be between the years 1900 and 2200",
        ));
    }
    Ok(parsed)
}

/// A period `[start, end]` of `prefix.start_date` and `prefix.end_date`; the end may not come before the start.
pub fn period(
    violations: &mut Violations,
    prefix: &str,
    start: &str,
    end: &str,
) -> Option<(chrono::NaiveDate, chrono::NaiveDate)> {
    let start = violations.check(date(&format!("{prefix}.start_date"), start));
    let end = violations.check(date(&format!("{prefix}.end_date"), end));
    match (start, end) {
        (Some(start), Some(end)) if end < start => {
            violations.add(
                format!("{prefix}.end_date"),
                format!("{end} is before start_date {start}"),
            );
            None
        }
        (Some(start), Some(end)) => Some((start, end)),
        _ => None,
    }
}

/// Values of a repeated enum field: at least one, none unspecified, no repeats.
pub fn enum_list<T: PartialEq + Copy>(
    violations: &mut Violations,
    field: &str,
    values: &[Option<T>],
    allowed: &str,
) -> Vec<T> {
    let mut found: Vec<T> = Vec::new();
    if values.is_empty() {
        violations.add(field, format!("needs at least one of {allowed}"));
    }
    for (index, value) in values.iter().enumerate() {
        match value {
            None => violations.add(
                format!("{field}[{index}]"),
                format!("must be one of {allowed}"),
            ),
            Some(value) if found.contains(value) => {
                violations.add(format!("{field}[{index}]"), "appears more than once")
            }
            Some(value) => found.push(*value),
        }
    }
    found
}
