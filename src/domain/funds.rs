//! Appropriations and the availability of funds (31 U.S.C. 1552): an
//! account's money of fiscal year N may be newly obligated only during its
//! period of availability (N to N + years - 1), is then expired for five
//! fiscal years (it pays what was obligated while it was available, takes
//! nothing new), then cancelled (it pays nothing). New obligations never
//! exceed what was appropriated; money deobligated while the appropriation is
//! available may be obligated again, money deobligated after it expired may
//! not. Every rule about an appropriation's money is kept here.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::fiscal_year::{FiscalCalendar, check_fiscal_year};
use super::grant::{NewObligation, ObligationKind};
use super::money::Cents;
use super::names::AppropriationName;
use super::validate::{self, CheckAll};
use super::version::Stamps;
use crate::error::{Error, FieldViolation, Result};

/// Fiscal years an expired appropriation stays expired before it is cancelled.
pub const EXPIRED_YEARS: i32 = 5;
/// The longest period of availability the server accepts, in fiscal years.
pub const MAX_AVAILABILITY_YEARS: i32 = 10;

code_enum! {
    /// Where an appropriation stands on a given day.
    pub enum FundsStatus {
        NotYetAvailable => "NOT_YET_AVAILABLE",
        Available => "AVAILABLE",
        Expired => "EXPIRED",
        Cancelled => "CANCELLED",
    }
}

/// What an administrator records about an appropriation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppropriationFields {
    pub amount: Cents,
    /// How many fiscal years, from its own, the money may be newly obligated.
    pub availability_years: i32,
    pub note: String,
}

audited!(AppropriationFields => amount, availability_years, note);

/// A stored appropriation: an account's money of one fiscal year.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Appropriation {
    pub account_code: String,
    pub fiscal_year: i32,
    pub fields: AppropriationFields,
    pub stamps: Stamps,
}

impl Appropriation {
    pub fn name(&self) -> AppropriationName {
        AppropriationName::new(&self.account_code, self.fiscal_year.to_string())
    }

    pub fn resource_name(&self) -> String {
        self.name().to_string()
    }

    /// The last fiscal year in which the money may be newly obligated.
    pub fn last_obligation_year(&self) -> i32 {
        self.fiscal_year + self.fields.availability_years - 1
    }

    /// The first fiscal year in which the money is cancelled.
    pub fn cancellation_year(&self) -> i32 {
        self.last_obligation_year() + EXPIRED_YEARS + 1
    }

    /// Where the money stands in fiscal year `year`.
    pub fn status_in(&self, year: i32) -> FundsStatus {
        if year < self.fiscal_year {
            FundsStatus::NotYetAvailable
        } else if year <= self.last_obligation_year() {
            FundsStatus::Available
        } else if year < self.cancellation_year() {
            FundsStatus::Expired
        } else {
            FundsStatus::Cancelled
        }
    }
}

/// What the store found drawn on one appropriation, across every grant.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Drawn {
    /// Initial awards and increments, and the emergency fund's allocations.
    pub obligated: Cents,
    /// Each de-obligation (and reduction of the emergency fund): its date and amount.
    pub deobligations: Vec<(NaiveDate, Cents)>,
    /// What the grants reported spent from it (see `domain::spending`) and the emergency fund
    /// paid out. Read for the funds status only: 0 where an obligation is checked.
    pub expended: Cents,
    /// What was paid from it: the grants' paid payment requests and the fund's disbursements.
    /// Read for the funds status only, like `expended`.
    pub paid: Cents,
}

versioned!(Appropriation => "the appropriation", never deleted);

/// The obligations of one appropriation, summed for its rules.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ObligationSums {
    /// Initial awards and increments.
    pub obligated: Cents,
    /// Every de-obligation.
    pub deobligated: Cents,
    /// De-obligations dated while the money was available for new obligations.
    pub deobligated_while_available: Cents,
}

impl ObligationSums {
    /// Net obligated: awards and increments minus de-obligations.
    pub fn net(&self) -> Cents {
        Cents(self.obligated.0.saturating_sub(self.deobligated.0))
    }
}

/// An appropriation with its obligations, seen on one day: the funds-status view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FundsPosition {
    pub appropriation: Appropriation,
    pub sums: ObligationSums,
    pub as_of: NaiveDate,
    pub status: FundsStatus,
    /// Expended from it (see [`Drawn::expended`]).
    pub expended: Cents,
    /// Paid from it (see [`Drawn::paid`]).
    pub paid: Cents,
}

impl FundsPosition {
    /// `appropriation` with what was `drawn` on it, as it stands on `as_of`.
    pub fn new(
        appropriation: Appropriation,
        drawn: &Drawn,
        as_of: NaiveDate,
        calendar: &FiscalCalendar,
    ) -> FundsPosition {
        let last_year = appropriation.last_obligation_year();
        let mut sums = ObligationSums {
            obligated: drawn.obligated,
            ..ObligationSums::default()
        };
        for (date, amount) in &drawn.deobligations {
            sums.deobligated += *amount;
            if calendar.fiscal_year_of(*date) <= last_year {
                sums.deobligated_while_available += *amount;
            }
        }
        let status = appropriation.status_in(calendar.fiscal_year_of(as_of));
        FundsPosition {
            appropriation,
            sums,
            as_of,
            status,
            expended: drawn.expended,
            paid: drawn.paid,
        }
    }

    /// Obligated (net) and not yet paid.
    pub fn unliquidated(&self) -> Cents {
        super::spending::unliquidated(self.sums.net(), self.paid)
    }

    /// What new obligations may still take, whatever the day: the appropriation minus
    /// awards and increments, plus what was de-obligated while the money was available.
    pub fn obligable(&self) -> Cents {
        let appropriated = self.appropriation.fields.amount.0;
        Cents(
            appropriated
                .saturating_sub(self.sums.obligated.0)
                .saturating_add(self.sums.deobligated_while_available.0),
        )
    }

    /// The unobligated balance: the appropriation minus net obligations.
    fn unobligated(&self) -> Cents {
        Cents(
            self.appropriation
                .fields
                .amount
                .0
                .saturating_sub(self.sums.net().0),
        )
    }

    /// Available for new obligations on `as_of`: nothing once the money expired.
    pub fn available(&self) -> Cents {
        match self.status {
            FundsStatus::NotYetAvailable | FundsStatus::Available => self.obligable(),
            FundsStatus::Expired | FundsStatus::Cancelled => Cents(0),
        }
    }

    /// The unobligated balance that expired (de-obligations after expiry included).
    pub fn expired(&self) -> Cents {
        match self.status {
            FundsStatus::Expired => self.unobligated(),
            _ => Cents(0),
        }
    }

    /// The balance cancelled: the unobligated balance once the money is cancelled.
    pub fn cancelled(&self) -> Cents {
        match self.status {
            FundsStatus::Cancelled => self.unobligated(),
            _ => Cents(0),
        }
    }
}

/// Unchecked appropriation fields as they came in.
pub struct AppropriationInput<'a> {
    pub amount: i64,
    pub availability_years: i32,
    pub note: &'a str,
}

impl AppropriationInput<'_> {
    /// Checks every rule and reports all violations at once.
    pub fn validate(&self, prefix: &str) -> Result<AppropriationFields> {
        let field = |name: &str| format!("{prefix}.{name}");
        let (amount, availability_years, note) = (
            validate::positive_amount(&field("amount"), self.amount),
            availability_years(&field("availability_years"), self.availability_years),
            validate::optional_text(&field("note"), self.note, 2000),
        )
            .all()?;
        Ok(AppropriationFields {
            amount,
            availability_years,
            note,
        })
    }
}

fn availability_years(field: &str, years: i32) -> std::result::Result<i32, FieldViolation> {
    if (1..=MAX_AVAILABILITY_YEARS).contains(&years) {
        Ok(years)
    } else {
        Err(FieldViolation::new(
            field,
            format!(
                "must be 1-{MAX_AVAILABILITY_YEARS} fiscal years (ESF and INCLE money is typically available for 2)"
            ),
        ))
    }
}

/// Checks the fiscal year of a new appropriation.
pub fn check_appropriation_year(field: &str, year: i32) -> Result<i32> {
    check_fiscal_year(year).map_err(|description| Error::invalid(field, description))
}

/// A change of an appropriation's amount must keep it at or above what is
/// obligated from it, net of de-obligations.
pub fn check_appropriation_change(
    position: &FundsPosition,
    fields: &AppropriationFields,
) -> Result<()> {
    if fields.amount < position.sums.net() {
        return Err(Error::precondition(
            "APPROPRIATION_BELOW_OBLIGATED",
            position.appropriation.resource_name(),
            format!(
                "the appropriation would fall to {}, below the {} obligated from it",
                fields.amount,
                position.sums.net()
            ),
        ));
    }
    if fields.availability_years != position.appropriation.fields.availability_years
        && position.sums.obligated > Cents(0)
    {
        return Err(Error::precondition(
            "APPROPRIATION_IN_USE",
            position.appropriation.resource_name(),
            "the period of availability cannot change once money was obligated from the appropriation",
        ));
    }
    Ok(())
}

/// Money drawn on an appropriation, or given back to it: a grant's obligation, or an
/// allocation to the emergency fund (one ledger: both draw on the same money).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Draw<'a> {
    pub account_code: &'a str,
    pub fiscal_year: i32,
    /// Positive: what is drawn, or given back when `gives_back`.
    pub amount: Cents,
    /// The day it takes effect, which decides whether the money is still available.
    pub date: NaiveDate,
    /// A de-obligation, or an allocation that reduces the fund.
    pub gives_back: bool,
}

impl NewObligation {
    /// What the obligation draws on its appropriation.
    pub fn draw(&self) -> Draw<'_> {
        Draw {
            account_code: &self.account_code,
            fiscal_year: self.fiscal_year,
            amount: self.amount,
            date: self.obligation_date,
            gives_back: self.kind == ObligationKind::Deobligation,
        }
    }
}

/// Decides whether `new` may draw on `position` (the appropriation of its account and
/// fiscal year, `None` when none was recorded). An award or increment needs money that was
/// available on its date and not yet obligated; a de-obligation is always allowed (it
/// gives money back: to new obligations while the money is available, to nothing after).
pub fn check_obligation_funds(
    position: Option<&FundsPosition>,
    new: &NewObligation,
    calendar: &FiscalCalendar,
) -> Result<()> {
    check_draw(position, &new.draw(), calendar)
}

/// Decides whether `draw` may be made on `position` (the appropriation of its account and
/// fiscal year, `None` when none was recorded): the rule of every obligation and allocation.
pub fn check_draw(
    position: Option<&FundsPosition>,
    draw: &Draw,
    calendar: &FiscalCalendar,
) -> Result<()> {
    let name = AppropriationName::new(draw.account_code, draw.fiscal_year.to_string());
    let Some(position) = position else {
        return Err(Error::precondition(
            "APPROPRIATION_NOT_RECORDED",
            name.to_string(),
            format!(
                "no FY {} {} appropriation is recorded: an administrator records it first (FundsService/CreateAppropriation)",
                draw.fiscal_year, draw.account_code
            ),
        ));
    };
    if draw.gives_back {
        return Ok(());
    }
    let appropriation = &position.appropriation;
    let year = calendar.fiscal_year_of(draw.date);
    match appropriation.status_in(year) {
        FundsStatus::NotYetAvailable | FundsStatus::Available => {}
        status @ (FundsStatus::Expired | FundsStatus::Cancelled) => {
            let reason = match status {
                FundsStatus::Expired => "FUNDS_EXPIRED",
                _ => "FUNDS_CANCELLED",
            };
            return Err(Error::precondition(
                reason,
                name.to_string(),
                format!(
                    "FY {} {} money could be newly obligated until the end of FY {}; on {} (FY {year}) it is {}: it takes no new obligation",
                    appropriation.fiscal_year,
                    appropriation.account_code,
                    appropriation.last_obligation_year(),
                    draw.date,
                    status.code().to_ascii_lowercase(),
                ),
            ));
        }
    }
    if draw.amount > position.obligable() {
        return Err(Error::precondition(
            "FUNDS_INSUFFICIENT",
            name.to_string(),
            format!(
                "FY {} {} has {} left to obligate, less than the {} asked",
                appropriation.fiscal_year,
                appropriation.account_code,
                position.obligable(),
                draw.amount
            ),
        ));
    }
    Ok(())
}

/// What a funds-status listing asks for.
#[derive(Debug, Clone, Default)]
pub struct AppropriationFilter {
    pub account_code: Option<String>,
    pub fiscal_year: Option<i32>,
}

/// An appropriation newly recorded, for the store.
#[derive(Debug, Clone)]
pub struct NewAppropriation {
    pub account_code: String,
    pub fiscal_year: i32,
    pub fields: AppropriationFields,
    pub create_time: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn appropriation(year: i32, years: i32, amount: i64) -> Appropriation {
        Appropriation {
            account_code: "ESF".into(),
            fiscal_year: year,
            fields: AppropriationFields {
                amount: Cents(amount),
                availability_years: years,
                note: String::new(),
            },
            stamps: Stamps::new(Utc::now()),
        }
    }

    #[test]
    fn two_year_money_is_available_two_years_expired_five_then_cancelled() {
        let money = appropriation(2014, 2, 100);
        assert_eq!(money.status_in(2013), FundsStatus::NotYetAvailable);
        assert_eq!(money.status_in(2014), FundsStatus::Available);
        assert_eq!(money.status_in(2015), FundsStatus::Available);
        assert_eq!(money.status_in(2016), FundsStatus::Expired);
        assert_eq!(money.status_in(2020), FundsStatus::Expired);
        assert_eq!(money.status_in(2021), FundsStatus::Cancelled);
    }

    fn obligation(kind: ObligationKind, amount: i64, date: &str) -> NewObligation {
        NewObligation {
            kind,
            account_code: "ESF".into(),
            fiscal_year: 2014,
            amount: Cents(amount),
            obligation_date: date.parse().unwrap(),
            note: String::new(),
        }
    }

    #[test]
    fn money_deobligated_after_expiry_is_not_obligated_again() {
        let calendar = FiscalCalendar::default();
        let drawn = Drawn {
            obligated: Cents(100),
            deobligations: vec![
                ("2015-09-30".parse().unwrap(), Cents(10)),
                ("2015-10-01".parse().unwrap(), Cents(30)),
            ],
            ..Drawn::default()
        };
        let position = FundsPosition::new(
            appropriation(2014, 2, 100),
            &drawn,
            "2015-06-01".parse().unwrap(),
            &calendar,
        );
        assert_eq!(position.obligable(), Cents(10));
        let new = obligation(ObligationKind::Increment, 11, "2015-06-01");
        let refused = check_obligation_funds(Some(&position), &new, &calendar).unwrap_err();
        assert_eq!(refused.reason(), "FUNDS_INSUFFICIENT");
        let late = obligation(ObligationKind::Increment, 1, "2015-10-01");
        let refused = check_obligation_funds(Some(&position), &late, &calendar).unwrap_err();
        assert_eq!(refused.reason(), "FUNDS_EXPIRED");
    }
}
