//! Reference data: funding accounts (by code), countries (ISO 3166-1) and
//! regions (the ministry's regional bureaus).

use serde::Serialize;

use super::names::FundingAccountName;
use super::validate::{self, CheckAll};
use super::version::Stamps;
use crate::error::{FieldViolation, Result};

/// The fields a caller sets on a funding account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FundingAccountFields {
    pub display_name: String,
    pub description: String,
}

audited!(FundingAccountFields => display_name, description);

/// A stored funding account, e.g. ESF.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FundingAccount {
    pub code: String,
    #[serde(flatten)]
    pub fields: FundingAccountFields,
    #[serde(flatten)]
    pub stamps: Stamps,
    pub delete_time: Option<chrono::DateTime<chrono::Utc>>,
}

versioned!(FundingAccount => "the funding account");

impl FundingAccount {
    pub fn resource_name(&self) -> String {
        FundingAccountName::new(&self.code).to_string()
    }
}

/// Checks a funding account code: 2-16 upper-case letters, digits or `-`.
pub fn funding_account_code(field: &str, value: &str) -> Result<String, FieldViolation> {
    let code = value.trim().to_ascii_uppercase();
    let valid = (2..=16).contains(&code.len())
        && code.starts_with(|c: char| c.is_ascii_uppercase())
        && code
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '-');
    if valid {
        Ok(code)
    } else if code.is_empty() {
        Err(FieldViolation::new(field, "is required, e.g. \"ESF\""))
    } else {
        Err(FieldViolation::new(
            field,
            "must be 2-16 upper-case letters, digits or '-', starting with a letter",
        ))
    }
}

/// Checks the fields of a funding account.
pub fn funding_account_fields(
    prefix: &str,
    display_name: &str,
    description: &str,
) -> Result<FundingAccountFields> {
    let (display_name, description) = (
        validate::display_name(&format!("{prefix}.display_name"), display_name),
        validate::optional_text(&format!("{prefix}.description"), description, 2000),
    )
        .all()?;
    Ok(FundingAccountFields {
        display_name,
        description,
    })
}

/// Checks a new funding account: its code (`funding_account_id`) and fields, all violations at once.
pub fn new_funding_account(
    code: &str,
    display_name: &str,
    description: &str,
) -> Result<(String, FundingAccountFields)> {
    (
        funding_account_code("funding_account_id", code),
        funding_account_fields("funding_account", display_name, description),
    )
        .all()
}

/// Refuses a country code that is not ISO 3166-1 (`unknown` lists the codes the store did not find).
pub fn check_known_country(
    field: &str,
    code: &str,
    unknown: &[String],
) -> Result<(), FieldViolation> {
    if unknown.iter().any(|missing| missing == code) {
        Err(FieldViolation::new(
            field,
            format!("{code:?} is not a known ISO 3166-1 alpha-2 country code"),
        ))
    } else {
        Ok(())
    }
}

/// Refuses each code of the list field `field` that is not ISO 3166-1.
pub fn check_known_countries(field: &str, codes: &[String], unknown: &[String]) -> Result<()> {
    let mut violations = super::Violations::new();
    for (index, code) in codes.iter().enumerate() {
        if let Err(violation) = check_known_country(&format!("{field}[{index}]"), code, unknown) {
            violations.push(violation);
        }
    }
    violations.finish()
}

/// A country or territory of ISO 3166-1.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Country {
    pub alpha2: String,
    pub alpha3: String,
    pub numeric: String,
    pub display_name: String,
    pub region_code: String,
}

/// A region (regional bureau).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Region {
    pub code: String,
    pub display_name: String,
}
