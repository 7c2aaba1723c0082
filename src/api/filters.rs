//! List filters: a value naming an enum (by code or proto name), a number,
//! and places that must exist (an unknown country is refused, not answered
//! with an empty list).

use super::ProtoEnum;
use crate::domain::names::{CountryName, RegionName};
use crate::error::{Error, Result};

/// A filter value naming an enum value, by code or proto name; the error names `filter`.
pub fn filter_code<T: ProtoEnum>(value: &str, what: &str) -> Result<T> {
    T::from_filter(value).ok_or_else(|| {
        Error::invalid(
            "filter",
            format!("{} is not a {what}", crate::domain::names::excerpt(value)),
        )
    })
}

/// A filter value that must be a whole number (e.g. a fiscal year).
pub fn filter_number(field: &str, value: &str) -> Result<i32> {
    value.trim().parse().map_err(|_| {
        Error::invalid(
            "filter",
            format!(
                "{field} {} is not a number",
                crate::domain::names::excerpt(value)
            ),
        )
    })
}

/// Refuses a filter on a country or region that does not exist, rather than answering an empty list.
pub async fn check_filter_places(
    store: &crate::store::Store,
    country: Option<&str>,
    region: Option<&str>,
) -> Result<()> {
    check_places(
        store,
        country.map(|code| ("filter", code)),
        region.map(|code| ("filter", code)),
    )
    .await
}

/// Refuses a `(field, code)` country or region that does not exist (a report or an export would
/// otherwise answer zeros for a typo): the violation names the field and the value.
pub async fn check_places(
    store: &crate::store::Store,
    country: Option<(&str, &str)>,
    region: Option<(&str, &str)>,
) -> Result<()> {
    let unknown = |error: Error, field: &str, message: String| match error {
        Error::NotFound { .. } => Error::invalid(field, message),
        other => other,
    };
    if let Some((field, country)) = country {
        store
            .get_country(&CountryName::new(country))
            .await
            .map_err(|error| {
                unknown(
                    error,
                    field,
                    format!(
                        "country {} is not a known ISO 3166-1 alpha-2 code",
                        crate::domain::names::excerpt(country)
                    ),
                )
            })?;
    }
    if let Some((field, region)) = region {
        store
            .get_region(&RegionName::new(region))
            .await
            .map_err(|error| {
                unknown(
                    error,
                    field,
                    format!(
                        "region {} is not a region code such as AF or WHA",
                        crate::domain::names::excerpt(region)
                    ),
                )
            })?;
    }
    Ok(())
}

// The service modules come after the macros above, which they use.
