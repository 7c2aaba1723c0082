//! One validation shape: every check answers `Result<T, Violations>` (a
//! single `FieldViolation` converts), and a tuple of checks is combined by
//! [`CheckAll::all`] into all the values or every violation at once, so a
//! request hears about all its bad fields in one answer and no value is ever
//! defaulted. Also the small rules many resources share.

use super::money::{Cents, MAX_AMOUNT};
use crate::error::{Error, FieldViolation};

/// Longest display name of any resource.
pub const MAX_DISPLAY_NAME: usize = 200;
/// Longest free text (descriptions, summaries, notes).
pub const MAX_TEXT: usize = 10_000;

/// The violations found so far.
#[derive(Debug, Default)]
pub struct Violations(Vec<FieldViolation>);

/// A checked value, or what is wrong with it.
pub type Checked<T> = Result<T, Violations>;

impl Violations {
    pub fn new() -> Self {
        Self::default()
    }

    /// Records that `field` breaks `rule`.
    pub fn add(&mut self, field: impl Into<String>, rule: impl Into<String>) {
        self.0.push(FieldViolation::new(field, rule));
    }

    /// Records the violations of a check, keeping its value when valid.
    pub fn check<T, E>(&mut self, result: Result<T, E>) -> Option<T>
    where
        Violations: From<E>,
    {
        match result {
            Ok(value) => Some(value),
            Err(error) => {
                self.0.extend(Violations::from(error).0);
                None
            }
        }
    }

    /// Records a violation found by another check.
    pub fn push(&mut self, violation: FieldViolation) {
        self.0.push(violation);
    }

    /// `Ok` when no field is bad, else `INVALID_ARGUMENT` with all of them.
    pub fn finish(self) -> Result<(), Error> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(Error::InvalidArgument(self.0))
        }
    }

    /// `value` when no field is bad, else these violations (for a check that is itself a step).
    pub fn or<T>(self, value: T) -> Checked<T> {
        if self.0.is_empty() {
            Ok(value)
        } else {
            Err(self)
        }
    }

    /// How many violations were found.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<FieldViolation> for Violations {
    fn from(violation: FieldViolation) -> Self {
        Violations(vec![violation])
    }
}

/// The violations of a nested check's `INVALID_ARGUMENT`. Only validation
/// errors are nested; any other error keeps its text under the empty field.
impl From<Error> for Violations {
    fn from(error: Error) -> Self {
        match error {
            Error::InvalidArgument(violations) => Violations(violations),
            other => Violations::from(FieldViolation::new("", other.to_string())),
        }
    }
}

impl From<Violations> for Error {
    fn from(violations: Violations) -> Self {
        Error::InvalidArgument(violations.0)
    }
}

/// A tuple of checks, combined into all their values or all their violations.
pub trait CheckAll {
    /// The tuple of checked values.
    type Values;

    /// Every value, or `INVALID_ARGUMENT` naming every bad field.
    fn all(self) -> Result<Self::Values, Error>;
}

macro_rules! check_all_tuple {
    ($($value:ident $error:ident $name:ident),+) => {
        impl<$($value, $error),+> CheckAll for ($(Result<$value, $error>,)+)
        where
            $(Violations: From<$error>),+
        {
            type Values = ($($value,)+);

            fn all(self) -> Result<Self::Values, Error> {
                let ($($name,)+) = self;
                let mut violations = Violations::new();
                $(let $name = violations.check($name);)+
                match ($($name,)+) {
                    ($(Some($name),)+) => Ok(($($name,)+)),
                    _ => Err(Error::InvalidArgument(violations.0)),
                }
            }
        }
    };
}

check_all_tuple!(A EA a);
check_all_tuple!(A EA a, B EB b);
check_all_tuple!(A EA a, B EB b, C EC c);
check_all_tuple!(A EA a, B EB b, C EC c, D ED d);
check_all_tuple!(A EA a, B EB b, C EC c, D ED d, E EE e);
check_all_tuple!(A EA a, B EB b, C EC c, D ED d, E EE e, F EF f);
check_all_tuple!(A EA a, B EB b, C EC c, D ED d, E EE e, F EF f, G EG g);
check_all_tuple!(A EA a, B EB b, C EC c, D ED d, E EE e, F EF f, G EG g, H EH h);
check_all_tuple!(A EA a, B EB b, C EC c, D ED d, E EE e, F EF f, G EG g, H EH h, I EI i);
check_all_tuple!(A EA a, B EB b, C EC c, D ED d, E EE e, F EF f, G EG g, H EH h, I EI i, J EJ j);

/// An amount of money in cents: more than 0 and at most [`MAX_AMOUNT`] (a de-obligation or a
/// refund is a kind of its own, never a negative amount).
pub fn positive_amount(field: &str, value: i64) -> Result<Cents, FieldViolation> {
    if value <= 0 {
        Err(FieldViolation::new(
            field,
            "must be more than 0 (an amount in cents)",
        ))
    } else if value > MAX_AMOUNT.0 {
        Err(FieldViolation::new(
            field,
            format!("must be at most {} cents ({MAX_AMOUNT})", MAX_AMOUNT.0),
        ))
    } else {
        Ok(Cents(value))
    }
}

/// How a client spells each value of an enum the domain checks: the name it
/// sends on the wire (`GRANT_INSTRUMENT_GRANT` for `GRANT`). The domain
/// declares the need; the api, which knows the wire, implements it (in
/// `proto_enum!`), so a hint never names a value a client cannot type.
pub trait ClientSpelling: crate::domain::CodeEnum {
    /// The name a client sends for this value.
    fn client_name(self) -> &'static str;
}

/// Every value of `T` as a client spells it, comma-separated.
pub fn choices<T: ClientSpelling>() -> String {
    T::ALL
        .iter()
        .map(|value| value.client_name())
        .collect::<Vec<_>>()
        .join(", ")
}

/// A required enum value (`None` when unspecified or unknown): the violation lists the choices.
pub fn required<T: ClientSpelling>(field: &str, value: Option<T>) -> Result<T, FieldViolation> {
    value.ok_or_else(|| {
        FieldViolation::new(field, format!("is required: one of {}", choices::<T>()))
    })
}

/// A required, trimmed, single-line text of at most `max` characters.
pub fn required_text(field: &str, value: &str, max: usize) -> Result<String, FieldViolation> {
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return Err(FieldViolation::new(field, "is required"));
    }
    optional_text(field, trimmed, max)
}

/// A display name: required, trimmed, one line of at most [`MAX_DISPLAY_NAME`] characters.
pub fn display_name(field: &str, value: &str) -> Result<String, FieldViolation> {
    single_line(field, value, MAX_DISPLAY_NAME)
}

/// Characters that change how text around them is shown without being seen:
/// bidirectional overrides and isolates, and zero-width characters. In a name
/// they make look-alikes (a fraud risk in a grants system), so names refuse them.
fn is_invisible_formatting(c: char) -> bool {
    matches!(
        c,
        '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{2069}' | '\u{061C}' | '\u{FEFF}' | '\u{00AD}'
    )
}

/// A required, trimmed, single-line text (a name or a title): no line breaks,
/// tabs, control characters, bidirectional overrides or zero-width characters.
pub fn single_line(field: &str, value: &str, max: usize) -> Result<String, FieldViolation> {
    let text = required_text(field, value, max)?;
    if text.chars().any(|c| c.is_control()) {
        return Err(FieldViolation::new(
            field,
            "must be one line, without tabs or control characters",
        ));
    }
    if text.chars().any(is_invisible_formatting) {
        return Err(FieldViolation::new(
            field,
            "must not contain bidirectional overrides or zero-width characters",
        ));
    }
    Ok(text)
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
    letter_code(field, value, 2..=2, || {
        format!("{value:?} is not an ISO 3166-1 alpha-2 code such as \"HT\"")
    })
}

/// A region code in shape, e.g. "WHA" (existence is checked by the store).
pub fn region_code(field: &str, value: &str) -> Result<String, FieldViolation> {
    letter_code(field, value, 2..=8, || {
        format!(
            "{} is not a region code such as \"WHA\"",
            super::names::excerpt(value)
        )
    })
}

/// A code of `lengths` upper-case ASCII letters (trimmed and upper-cased first);
/// `not_a_code` says why another non-empty value is refused.
fn letter_code(
    field: &str,
    value: &str,
    lengths: std::ops::RangeInclusive<usize>,
    not_a_code: impl FnOnce() -> String,
) -> Result<String, FieldViolation> {
    let code = value.trim().to_ascii_uppercase();
    if lengths.contains(&code.len()) && code.chars().all(|c| c.is_ascii_uppercase()) {
        Ok(code)
    } else if code.is_empty() {
        Err(FieldViolation::new(field, "is required"))
    } else {
        Err(FieldViolation::new(field, not_a_code()))
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
    prefix: &str,
    start: &str,
    end: &str,
) -> Checked<(chrono::NaiveDate, chrono::NaiveDate)> {
    dated_period(
        &format!("{prefix}.start_date"),
        start,
        &format!("{prefix}.end_date"),
        end,
    )
}

/// A period `[start, end]` of the fields `start_field` and `end_field`; the end may not come before the start.
pub fn dated_period(
    start_field: &str,
    start: &str,
    end_field: &str,
    end: &str,
) -> Checked<(chrono::NaiveDate, chrono::NaiveDate)> {
    let (start, end) = (date(start_field, start), date(end_field, end)).all()?;
    if end < start {
        let start_name = start_field.rsplit('.').next().unwrap_or(start_field);
        return Err(FieldViolation::new(
            end_field,
            format!("{end} is before {start_name} {start}"),
        )
        .into());
    }
    Ok((start, end))
}

/// Values of a repeated enum field: at least one, none unspecified, no repeats; sorted.
pub fn enum_list<T: Ord + ClientSpelling>(field: &str, values: &[Option<T>]) -> Checked<Vec<T>> {
    let allowed = choices::<T>();
    let mut violations = Violations::new();
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
    found.sort();
    violations.or(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_one_visible_line() {
        assert_eq!(display_name("n", "  Caritas  ").unwrap(), "Caritas");
        for bad in [
            "Cari\ntas",
            "Cari\ttas",
            "Cari\u{202E}tas",
            "Cari\u{200B}tas",
            "\u{FEFF}Caritas",
        ] {
            assert!(display_name("n", bad).is_err(), "{bad:?}");
        }
        assert!(display_name("n", "Fundación Esperanza – Perú").is_ok());
    }

    #[test]
    fn all_checks_answer_every_value_or_every_violation() {
        let ok: (Result<i32, FieldViolation>, Checked<&str>) = (Ok(1), Ok("a"));
        assert_eq!(ok.all().unwrap(), (1, "a"));
        let bad = (
            Err::<i32, _>(FieldViolation::new("a", "is bad")),
            Ok::<_, FieldViolation>(2),
            period("p", "2014-02-01", "2014-01-01"),
        );
        match bad.all() {
            Err(Error::InvalidArgument(violations)) => {
                let fields: Vec<&str> = violations.iter().map(|v| v.field.as_str()).collect();
                assert_eq!(fields, ["a", "p.end_date"]);
            }
            other => panic!("{other:?}"),
        }
    }
}
