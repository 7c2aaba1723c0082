//! What a report or an export asks for: the grouping of rows, the filters and
//! the fiscal years, each range checked with every violation at once.

use crate::domain::fiscal_year::check_fiscal_year;
use crate::domain::pillar::Pillar;
use crate::domain::project::OutcomeKind;
use crate::domain::validate::Violations;
use crate::error::Error;

/// Longest range of fiscal years one report covers.
pub const MAX_REPORT_YEARS: i32 = 20;

code_enum! {
    /// How the rows of a fiscal year are grouped.
    pub enum Grouping {
        Account => "ACCOUNT",
        Country => "COUNTRY",
        Region => "REGION",
        Pillar => "PILLAR",
        Grantee => "GRANTEE",
        None => "NONE",
    }
}

impl Grouping {
    /// Whether each amount counts in exactly one row (so rows add up to the subtotal).
    pub fn partitions(self) -> bool {
        matches!(self, Grouping::Account | Grouping::Grantee | Grouping::None)
    }
}

/// Which data a report covers, besides the caller's scope.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReportFilters {
    /// Only obligations from this account.
    pub account: Option<String>,
    /// Only grants with a project in this country.
    pub country: Option<String>,
    /// Only grants with a project in a country of this region.
    pub region: Option<String>,
    /// Only grants with a project pursuing this pillar.
    pub pillar: Option<Pillar>,
    /// Only grants of this organisation (its id).
    pub grantee: Option<String>,
}

/// A report asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportRequest {
    pub from_year: i32,
    pub to_year: i32,
    pub filters: ReportFilters,
    pub group_by: Grouping,
}

/// Which accepted outcomes an export covers, besides the caller's scope.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExportFilter {
    /// Only outcomes of this fiscal year or later.
    pub from_year: Option<i32>,
    /// Only outcomes of this fiscal year or earlier.
    pub to_year: Option<i32>,
    /// Only outcomes in this country.
    pub country: Option<String>,
    /// Only outcomes in a country of this region.
    pub region: Option<String>,
    pub kind: Option<OutcomeKind>,
    /// Only outcomes of this organisation's grants (its id).
    pub grantee: Option<String>,
}

/// Checks the optional fiscal years of an export (0 is "no bound"): every violation at once.
pub fn check_optional_years(
    from_year: i32,
    to_year: i32,
) -> Result<(Option<i32>, Option<i32>), Error> {
    let mut violations = Violations::new();
    let mut check = |field: &str, year: i32| match year {
        0 => None,
        year => violations.check(
            check_fiscal_year(year).map_err(|rule| crate::error::FieldViolation::new(field, rule)),
        ),
    };
    let from = check("from_fiscal_year", from_year);
    let to = check("to_fiscal_year", to_year);
    if let (Some(from), Some(to)) = (from, to)
        && to < from
    {
        violations.add("to_fiscal_year", "must be at least from_fiscal_year");
    }
    violations.finish()?;
    Ok((from, to))
}

/// Checks a range of fiscal years: every violation at once.
pub fn check_year_range(from_year: i32, to_year: i32) -> Result<(i32, i32), Error> {
    let mut violations = Violations::new();
    let from = violations.check(
        check_fiscal_year(from_year)
            .map_err(|rule| crate::error::FieldViolation::new("from_fiscal_year", rule)),
    );
    let to = violations.check(
        check_fiscal_year(to_year)
            .map_err(|rule| crate::error::FieldViolation::new("to_fiscal_year", rule)),
    );
    if let (Some(from), Some(to)) = (from, to) {
        if to < from {
            violations.add("to_fiscal_year", "must be at least from_fiscal_year");
        } else if to - from >= MAX_REPORT_YEARS {
            violations.add(
                "to_fiscal_year",
                format!("a report covers at most {MAX_REPORT_YEARS} fiscal years"),
            );
        }
    }
    violations.finish()?;
    Ok((from_year, to_year))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_range_of_years_is_checked_with_every_violation() {
        assert!(check_year_range(2009, 2013).is_ok());
        assert!(check_year_range(2014, 2013).is_err());
        assert!(check_year_range(1980, 2013).is_err());
        assert!(check_year_range(2000, 2020).is_err());
        assert!(check_year_range(2000, 2019).is_ok());
    }
}
