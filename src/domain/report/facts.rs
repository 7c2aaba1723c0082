//! The facts a report is counted from (what the store reads from one
//! snapshot) and the figures it answers: rows, subtotals, the grand total.

use std::collections::BTreeMap;

use chrono::NaiveDate;

use crate::domain::case_statistics::{CaseFact, FundFigures};
use crate::domain::money::Cents;
use crate::domain::pillar::Pillar;
use crate::domain::project::OutcomeKind;
use crate::domain::spending::MoneyLine;
use crate::domain::statistics::Published;

/// A project as a report sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectFact {
    pub id: String,
    pub start: NaiveDate,
    pub end: NaiveDate,
    /// Its countries, each with its region.
    pub countries: Vec<(String, String)>,
    pub pillars: Vec<Pillar>,
}

/// A grant as a report sees it, with its projects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantFact {
    pub id: String,
    /// The grantee's id.
    pub organization_id: String,
    pub start: NaiveDate,
    pub end: NaiveDate,
    pub projects: Vec<ProjectFact>,
}

/// Outcomes of accepted outcome reports that every figure counts alike: one outcome, or
/// several of one report (so one grant and project), country, kind and fiscal year, none of a
/// milestone (counted by the database, so a report reads a row per group, not per outcome).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutcomeFact {
    pub grant_id: String,
    pub project_id: String,
    pub kind: OutcomeKind,
    pub country_code: String,
    pub region_code: String,
    /// Its recorded fiscal year, or the date it is computed from.
    pub fiscal_year: Option<i32>,
    pub date: Option<NaiveDate>,
    /// Their quantities added up.
    pub quantity: i64,
    /// How many outcomes: 1 for a milestone's (read one by one: a milestone counts once).
    pub count: i64,
    /// The milestone it reports (a law enacted, a first conviction), counted once.
    pub milestone_id: Option<String>,
}

/// Everything a report counts, read from one snapshot.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Portfolio {
    pub grants: Vec<GrantFact>,
    /// Each grant's money by account and fiscal year of funds.
    pub money: Vec<MoneyLine>,
    pub outcomes: Vec<OutcomeFact>,
    pub cases: Vec<CaseFact>,
}

/// Outcomes of one kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    /// 0 when `quantity_suppressed`: beside a withheld count of victims, a count of the
    /// outcomes that found them would bound it from below.
    pub count: i64,
    /// 0 when suppressed.
    pub quantity: i64,
    /// Whether `quantity` (a count of victims) and `count` are withheld: see [`People`].
    pub quantity_suppressed: bool,
}

/// The figures of a row, a subtotal or the grand total.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Figures {
    /// 0 in the grand total.
    pub fiscal_year: i32,
    /// The group key; empty in subtotals and the grand total.
    pub group: String,
    /// Obligated, net of de-obligations, exact; `obligated_thousands` is what reports print.
    pub obligated: Cents,
    pub obligated_thousands: i64,
    /// De-obligated (already taken out of `obligated`).
    pub deobligated: Cents,
    /// Expended, as the grantees' accepted SF-425s report it (see `domain::spending`).
    pub expended: Cents,
    /// Paid to the grantees.
    pub paid: Cents,
    pub grants_active: i64,
    pub projects_active: i64,
    pub outcomes: BTreeMap<OutcomeKind, Tally>,
    /// The emergency fund's figures (of consenting victims' cases), shown or withheld
    /// together; subtotals and the grand total only.
    pub emergency: Option<Published<FundFigures>>,
}

impl Figures {
    /// Adds the money of `line`.
    pub fn add_money(&mut self, line: &MoneyLine) {
        self.obligated += line.obligated;
        self.deobligated += line.deobligated;
        self.expended += line.expended;
        self.paid += line.paid;
    }

    /// Adds the money of `other` (a subtotal into the grand total).
    pub fn add_money_of(&mut self, other: &Figures) {
        self.obligated += other.obligated;
        self.deobligated += other.deobligated;
        self.expended += other.expended;
        self.paid += other.paid;
    }

    /// Obligated and not paid (see `domain::spending`).
    pub fn unliquidated(&self) -> Cents {
        crate::domain::spending::unliquidated(self.obligated, self.paid)
    }
}

/// One fiscal year of a report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct YearReport {
    pub rows: Vec<Figures>,
    pub subtotal: Figures,
}

/// A whole report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FiscalYearReport {
    pub years: Vec<YearReport>,
    pub grand_total: Figures,
}
