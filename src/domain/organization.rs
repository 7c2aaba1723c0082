//! Organisations: grantees and partners. A live organisation has a name, a
//! kind, a home country and identifiers, each identifier scheme at most once.

use serde::{Deserialize, Serialize};

use super::names::OrganizationName;
use super::validate::{self, CheckAll, Checked, Violations};
use super::version::Stamps;
use crate::error::{FieldViolation, Result};

code_enum! {
    /// What kind of body an organisation is.
    pub enum OrganizationKind {
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

audited!(OrganizationFields => display_name, kind, country_code, identifiers);

/// A stored organisation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Organization {
    pub id: String,
    #[serde(flatten)]
    pub fields: OrganizationFields,
    #[serde(flatten)]
    pub stamps: Stamps,
    pub delete_time: Option<chrono::DateTime<chrono::Utc>>,
}

versioned!(Organization => "the organisation");

impl Organization {
    pub fn resource_name(&self) -> String {
        OrganizationName::new(&self.id).to_string()
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
        let field = |name: &str| format!("{prefix}.{name}");
        let (display_name, kind, country_code, identifiers) = (
            validate::display_name(&field("display_name"), self.display_name),
            validate::required(&field("kind"), self.kind),
            validate::country_code(&field("country_code"), self.country_code),
            identifier_list(&field("identifiers"), &self.identifiers),
        )
            .all()?;
        Ok(OrganizationFields {
            display_name,
            kind,
            country_code,
            identifiers,
        })
    }
}

/// At most 20 identifiers, each scheme once.
fn identifier_list(field: &str, values: &[(&str, &str)]) -> Checked<Vec<Identifier>> {
    let mut violations = Violations::new();
    let mut identifiers: Vec<Identifier> = Vec::new();
    if values.len() > 20 {
        violations.add(field, "at most 20 identifiers");
    }
    for (index, (scheme, value)) in values.iter().enumerate().take(21) {
        let item = format!("{field}[{index}]");
        match check_identifier(&item, scheme, value) {
            Ok(identifier)
                if identifiers
                    .iter()
                    .any(|seen| seen.scheme == identifier.scheme) =>
            {
                violations.add(
                    format!("{item}.scheme"),
                    format!("scheme {} appears more than once", identifier.scheme),
                )
            }
            Ok(identifier) => identifiers.push(identifier),
            Err(violation) => violations.push(violation),
        }
    }
    violations.or(identifiers)
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
