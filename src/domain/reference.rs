//! Reference data: funding accounts (by code), countries (ISO 3166-1) and
//! regions (the ministry's regional bureaus).

use serde::Serialize;

use super::validate::{self, MAX_DISPLAY_NAME, Violations};
use crate::error::{FieldViolation, Result};

/// The fields a caller sets on a funding account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FundingAccountFields {
    pub display_name: String,
    pub description: String,
}

/// A stored funding account, e.g. ESF.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FundingAccount {
    pub code: String,
    #[serde(flatten)]
    pub fields: FundingAccountFields,
    pub create_time: chrono::DateTime<chrono::Utc>,
    pub update_time: chrono::DateTime<chrono::Utc>,
    pub delete_time: Option<chrono::DateTime<chrono::Utc>>,
    pub revision: i64,
}

impl FundingAccount {
    pub fn resource_name(&self) -> String {
        format!("fundingAccounts/{}", self.code)
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

/// Checks the fields of a funding account, adding what is wrong to `violations`.
fn check_fields(
    violations: &mut Violations,
    prefix: &str,
    display_name: &str,
    description: &str,
) -> Option<FundingAccountFields> {
    let display_name = violations.check(validate::required_text(
        &format!("{prefix}.display_name"),
        display_name,
        MAX_DISPLAY_NAME,
    ));
    let description = violations.check(validate::optional_text(
        &format!("{prefix}.description"),
        description,
        2000,
    ));
    Some(FundingAccountFields {
        display_name: display_name?,
        description: description?,
    })
}

/// Checks the fields of a funding account.
pub fn funding_account_fields(
    prefix: &str,
    display_name: &str,
    description: &str,
) -> Result<FundingAccountFields> {
    let mut violations = Violations::new();
    let fields = check_fields(&mut violations, prefix, display_name, description);
    violations.finish()?;
    fields.ok_or_else(|| {
        crate::error::Error::Internal("funding account validated without values".into())
    })
}

/// Checks a new funding account: its code (`funding_account_id`) and fields, all violations at once.
pub fn new_funding_account(
    code: &str,
    display_name: &str,
    description: &str,
) -> Result<(String, FundingAccountFields)> {
    let mut violations = Violations::new();
    let code = violations.check(funding_account_code("funding_account_id", code));
    let fields = check_fields(
        &mut violations,
        "funding_account",
        display_name,
        description,
    );
    violations.finish()?;
    code.zip(fields).ok_or_else(|| {
        crate::error::Error::Internal("funding account validated without values".into())
    })
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
