//! Organisations: grantees and partners. A live organisation has a name, a
//! kind, a home country and identifiers, each identifier scheme at most once.

use serde::{Deserialize, Serialize};

use super::validate::{self, MAX_DISPLAY_NAME, Violations};
use crate::error::{FieldViolation, Result};

code_enum! {
    /// What kind of body an organisation is.
    OrganizationKind {
        Ngo => "NGO",
        InternationalOrganization => "INTERNATIONAL_ORGANIZATION",
        University => "UNIVERSITY",
        Government => "GOVERNMENT",
        PrivateFirm => "PRIVATE_FIRM",
    }
}

/// One external identifier (registration number, UEI, ...).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identifier {
    pub scheme: String,
    pub value: String,
}

/// The fields a caller sets on an organisation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrganizationFields {
    pub display_name: String,
    pub kind: OrganizationKind,
    pub country_code: String,
    pub identifiers: Vec<Identifier>,
}

/// A stored organisation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Organization {
    pub id: String,
    #[serde(flatten)]
    pub fields: OrganizationFields,
    pub create_time: chrono::DateTime<chrono::Utc>,
    pub update_time: chrono::DateTime<chrono::Utc>,
    pub delete_time: Option<chrono::DateTime<chrono::Utc>>,
    pub revision: i64,
}

impl Organization {
    pub fn resource_name(&self) -> String {
        format!("organizations/{}", self.id)
    }
}

/// Unchecked input for an organisation, as it came in (field paths are relative to `prefix`).
pub struct OrganizationInput<'a> {
    pub display_name: &'a str,
    pub kind: Option<OrganizationKind>,
    pub country_code: &'a str,
    pub identifiers: Vec<(&'a str, &'a str)>,
}

impl OrganizationInput<'_> {
    /// Checks every rule and reports all violations at once.
    pub fn validate(&self, prefix: &str) -> Result<OrganizationFields> {
        let mut violations = Violations::new();
        let display_name = violations.check(validate::required_text(
            &format!("{prefix}.display_name"),
            self.display_name,
            MAX_DISPLAY_NAME,
        ));
        if self.kind.is_none() {
            violations.add(
                format!("{prefix}.kind"),
                "is required: one of NGO, INTERNATIONAL_ORGANIZATION, UNIVERSITY, GOVERNMENT, PRIVATE_FIRM",
            );
        }
        let country_code = violations.check(validate::country_code(
            &format!("{prefix}.country_code"),
            self.country_code,
        ));
        let mut identifiers: Vec<Identifier> = Vec::new();
        for (index, (scheme, value)) in self.identifiers.iter().enumerate() {
            let field = format!("{prefix}.identifiers[{index}]");
            match check_identifier(&field, scheme, value) {
                Ok(identifier) => {
                    if identifiers
                        .iter()
                        .any(|seen| seen.scheme == identifier.scheme)
                    {
                        violations.add(
                            format!("{field}.scheme"),
                            format!("scheme {} appears more than once", identifier.scheme),
                        );
                    } else {
                        identifiers.push(identifier);
                    }
                }
                Err(violation) => violations.add(violation.field, violation.description),
            }
        }
        if self.identifiers.len() > 20 {
            violations.add(format!("{prefix}.identifiers"), "at most 20 identifiers");
        }
        violations.finish()?;
        Ok(OrganizationFields {
            display_name: display_name.unwrap_or_default(),
            kind: self.kind.unwrap_or(OrganizationKind::Ngo),
            country_code: country_code.unwrap_or_default(),
            identifiers,
        })
    }
}

fn check_identifier(field: &str, scheme: &str, value: &str) -> Result<Identifier, FieldViolation> {
    let scheme = scheme.trim().to_ascii_uppercase();
    let valid_scheme = (1..=40).contains(&scheme.len())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if !valid_scheme {
        return Err(FieldViolation::new(
            format!("{field}.scheme"),
            "must be 1-40 letters, digits, '_' or '-'",
        ));
    }
    let value = validate::required_text(&format!("{field}.value"), value, 100)?;
    Ok(Identifier { scheme, value })
}

/// Refuses to delete an organisation that still has grants under way (not closed or terminated):
/// their money and reports would lose their grantee.
pub fn check_deletable(organization: &Organization, open_grants: u64) -> Result<()> {
    if open_grants > 0 {
        return Err(crate::error::Error::precondition(
            "ORGANIZATION_HAS_OPEN_GRANTS",
            organization.resource_name(),
            format!("{open_grants} grant(s) of this organisation are not closed or terminated"),
        ));
    }
    Ok(())
}
