//! The lines of a fiscal-year report as the command line reads them, and
//! what the table, the CSV and the chart all need to know of them: how a
//! year's rows are grouped, and in which years they overlap (add up to more
//! than the year because a grant counts in several rows).

use clap::ValueEnum;

use crate::pb::v1 as pb;
use crate::pb::v1::stream_fiscal_year_report_response::Part;

/// How the rows of a year are grouped.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupBy {
    Account,
    Country,
    Region,
    Pillar,
    Grantee,
    None,
}

impl GroupBy {
    /// The grouping the server is asked for.
    pub fn to_proto(self) -> pb::ReportGrouping {
        match self {
            GroupBy::Account => pb::ReportGrouping::Account,
            GroupBy::Country => pb::ReportGrouping::Country,
            GroupBy::Region => pb::ReportGrouping::Region,
            GroupBy::Pillar => pb::ReportGrouping::Pillar,
            GroupBy::Grantee => pb::ReportGrouping::Grantee,
            GroupBy::None => pb::ReportGrouping::None,
        }
    }
}

/// A report's part as read: ("row" | "subtotal" | "total", its figures).
pub type Line = (&'static str, pb::ReportFigures);

/// The line of a part; the header is none.
pub fn line_of(part: Part) -> Option<Line> {
    match part {
        Part::Header(_) => None,
        Part::Row(figures) => Some(("row", figures)),
        Part::Subtotal(figures) => Some(("subtotal", figures)),
        Part::GrandTotal(figures) => Some(("total", figures)),
    }
}

/// The fiscal years whose rows add up to more than the year (a grant counted in several rows).
pub fn overlapping_years(lines: &[Line]) -> Vec<i32> {
    let mut sums: std::collections::BTreeMap<i32, i128> = std::collections::BTreeMap::new();
    for (part, figures) in lines {
        if *part == "row" {
            *sums.entry(figures.fiscal_year).or_default() += i128::from(figures.obligated_cents);
        }
    }
    lines
        .iter()
        .filter(|(part, figures)| {
            *part == "subtotal"
                && sums.get(&figures.fiscal_year).copied().unwrap_or_default()
                    > i128::from(figures.obligated_cents)
        })
        .map(|(_, figures)| figures.fiscal_year)
        .collect()
}
