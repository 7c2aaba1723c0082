//! The emergency fund of each fiscal year and its allocations. The rules
//! kept here: an allocation never brings a year's fund below what approvals
//! have committed; an approval commits only what is available; a release
//! never falls below what was paid.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use super::case::MAX_NOTE;
use crate::domain::fiscal_year::{FiscalCalendar, check_fiscal_year};
use crate::domain::funds::Draw;
use crate::domain::grant::funding_account;
use crate::domain::money::{Cents, MAX_AMOUNT};
use crate::domain::names::FundAllocationName;
use crate::domain::validate::{self, CheckAll};
use crate::error::{Error, FieldViolation, Result};

/// The fund of one fiscal year.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct FundYear {
    pub fiscal_year: i32,
    pub allocated: Cents,
    /// Committed by approvals and not released (paid included).
    pub committed: Cents,
    pub paid: Cents,
}

impl FundYear {
    /// An empty fund.
    pub fn empty(fiscal_year: i32) -> FundYear {
        FundYear {
            fiscal_year,
            allocated: Cents(0),
            committed: Cents(0),
            paid: Cents(0),
        }
    }

    /// What new approvals may still commit.
    pub fn available(&self) -> Cents {
        Cents(self.allocated.0.saturating_sub(self.committed.0))
    }

    /// The fund after an allocation of `amount` (negative to reduce it), refused when the
    /// allocation would fall below what is committed.
    pub fn allocate(&self, amount: Cents) -> Result<FundYear> {
        let allocated = self
            .allocated
            .checked_add(amount)
            .filter(|total| *total <= Cents(MAX_AMOUNT.0.saturating_mul(1000)))
            .ok_or_else(|| {
                Error::invalid(
                    "fund_allocation.amount",
                    "the year's total would be too large",
                )
            })?;
        if allocated < self.committed {
            return Err(Error::precondition(
                "FUND_ALLOCATION_BELOW_COMMITTED",
                format!("fiscal year {}", self.fiscal_year),
                format!(
                    "the fiscal year {} allocation would fall to {allocated}, below the {} that approvals have committed",
                    self.fiscal_year, self.committed
                ),
            ));
        }
        Ok(FundYear { allocated, ..*self })
    }

    /// The fund after committing `amount` to `case`, refused when the available balance does not cover it.
    pub(super) fn commit(&self, amount: Cents, case: &str) -> Result<FundYear> {
        if amount > self.available() {
            return Err(Error::precondition(
                "FUND_INSUFFICIENT",
                case,
                format!(
                    "the fiscal year {} fund has {} available, less than the {amount} to approve",
                    self.fiscal_year,
                    self.available()
                ),
            ));
        }
        Ok(FundYear {
            committed: Cents(self.committed.0 + amount.0),
            ..*self
        })
    }

    /// The fund after releasing `amount` that a case will not pay.
    pub(super) fn release(&self, amount: Cents) -> FundYear {
        FundYear {
            committed: Cents(self.committed.0.saturating_sub(amount.0).max(self.paid.0)),
            ..*self
        }
    }

    /// The fund after a payment of `amount` (already committed).
    pub(super) fn pay(&self, amount: Cents) -> FundYear {
        FundYear {
            paid: Cents(self.paid.0.saturating_add(amount.0)),
            ..*self
        }
    }
}

/// An allocation as it came in, checked: money of `fiscal_year` from `account_code`, drawn
/// on that appropriation on `allocation_date` (one ledger with the grants' obligations).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NewAllocation {
    pub fiscal_year: i32,
    pub account_code: String,
    pub amount: Cents,
    pub allocation_date: NaiveDate,
    pub note: String,
}

impl NewAllocation {
    /// What the allocation draws on its appropriation (a reduction gives money back).
    pub fn draw(&self) -> Draw<'_> {
        Draw {
            account_code: &self.account_code,
            fiscal_year: self.fiscal_year,
            amount: Cents(self.amount.0.saturating_abs()),
            date: self.allocation_date,
            gives_back: self.amount < Cents(0),
        }
    }
}

/// A stored allocation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FundAllocation {
    pub id: String,
    pub fiscal_year: i32,
    pub account_code: String,
    pub amount: Cents,
    pub allocation_date: NaiveDate,
    pub note: String,
    pub creator: String,
    pub create_time: DateTime<Utc>,
}

audited!(FundAllocation => fiscal_year, account_code, amount, allocation_date, note);

impl FundAllocation {
    pub fn resource_name(&self) -> String {
        FundAllocationName::new(&self.id).to_string()
    }
}

/// An allocation's fields as they came in, unchecked.
pub struct AllocationInput<'a> {
    pub fiscal_year: i32,
    pub funding_account: &'a str,
    pub amount: i64,
    /// `YYYY-MM-DD`, or empty for `today`.
    pub allocation_date: &'a str,
    pub note: &'a str,
}

impl AllocationInput<'_> {
    /// Checks an allocation: a fiscal year the office records, a funding account, an amount
    /// other than 0, a day not before the money's fiscal year (today when not given), a note
    /// when it reduces the fund. Every violation is reported at once.
    pub fn validate(
        &self,
        prefix: &str,
        today: NaiveDate,
        calendar: &FiscalCalendar,
    ) -> Result<NewAllocation> {
        let field = |name: &str| format!("{prefix}.{name}");
        let amount = if self.amount == 0 {
            Err(FieldViolation::new(
                field("amount"),
                "must not be 0: positive to allocate, negative to reduce",
            ))
        } else if self.amount.unsigned_abs() > MAX_AMOUNT.0.unsigned_abs() {
            Err(FieldViolation::new(
                field("amount"),
                format!("must be at most {} cents either way", MAX_AMOUNT.0),
            ))
        } else {
            Ok(Cents(self.amount))
        };
        let allocation_date = if self.allocation_date.trim().is_empty() {
            Ok(today)
        } else {
            validate::date(&field("allocation_date"), self.allocation_date)
        };
        let (fiscal_year, account_code, amount, allocation_date, note) = (
            check_fiscal_year(self.fiscal_year)
                .map_err(|rule| FieldViolation::new(field("fiscal_year"), rule)),
            funding_account(&field("funding_account"), self.funding_account),
            amount,
            allocation_date,
            validate::optional_text(&field("note"), self.note, MAX_NOTE),
        )
            .all()?;
        calendar
            .check_funds_on(fiscal_year, allocation_date)
            .map_err(|rule| Error::invalid(field("fiscal_year"), rule))?;
        if amount < Cents(0) && note.is_empty() {
            return Err(Error::invalid(
                field("note"),
                "is required when the amount reduces the year's allocation",
            ));
        }
        Ok(NewAllocation {
            fiscal_year,
            account_code,
            amount,
            allocation_date,
            note,
        })
    }
}

/// A fiscal year's fund draws on one account's money (the account of its first allocation),
/// so that every payment from it traces back to one appropriation.
pub fn check_allocation_account(year_account: Option<&str>, new: &NewAllocation) -> Result<()> {
    match year_account {
        Some(account) if account != new.account_code => Err(Error::precondition(
            "FUND_ACCOUNT_MISMATCH",
            format!("fiscal year {}", new.fiscal_year),
            format!(
                "the fiscal year {} fund draws on {account} money: its allocations all come from fundingAccounts/{account}, so that every payment traces back to one appropriation",
                new.fiscal_year
            ),
        )),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::assistance::testing::fund;

    #[test]
    fn an_allocation_never_falls_below_what_is_committed() {
        let year = FundYear {
            committed: Cents(60_000),
            ..fund(100_000)
        };
        assert_eq!(
            year.allocate(Cents(-40_000)).unwrap().allocated,
            Cents(60_000)
        );
        assert_eq!(
            year.allocate(Cents(-40_001)).unwrap_err().reason(),
            "FUND_ALLOCATION_BELOW_COMMITTED"
        );
    }

    fn input(
        fiscal_year: i32,
        amount: i64,
        date: &str,
        note: &'static str,
    ) -> Result<NewAllocation> {
        AllocationInput {
            fiscal_year,
            funding_account: "fundingAccounts/INCLE",
            amount,
            allocation_date: date,
            note,
        }
        .validate(
            "a",
            NaiveDate::from_ymd_opt(2014, 3, 1).unwrap(),
            &FiscalCalendar::default(),
        )
    }

    #[test]
    fn an_allocation_names_its_money_and_needs_a_note_to_reduce_the_fund() {
        let allocation = input(2014, 5, "", "").unwrap();
        assert_eq!(allocation.account_code, "INCLE");
        assert_eq!(allocation.allocation_date.to_string(), "2014-03-01");
        assert!(!allocation.draw().gives_back);
        let reduction = input(2014, -5, "2014-06-01", "rescission").unwrap();
        assert_eq!(
            (reduction.draw().amount, reduction.draw().gives_back),
            (Cents(5), true)
        );
        assert!(input(2014, -5, "", "").is_err(), "a reduction needs a note");
        assert!(input(2014, 0, "", "x").is_err());
        assert!(input(1989, 5, "", "").is_err());
        assert!(
            input(2015, 5, "2014-03-01", "").is_err(),
            "FY 2015 money cannot be allocated in FY 2014"
        );
        let error = AllocationInput {
            fiscal_year: 2014,
            funding_account: "",
            amount: 5,
            allocation_date: "someday",
            note: "",
        }
        .validate("a", NaiveDate::MIN, &FiscalCalendar::default())
        .unwrap_err();
        let Error::InvalidArgument(violations) = error else {
            panic!("expected field violations, got {error:?}");
        };
        let fields: Vec<&str> = violations.iter().map(|v| v.field.as_str()).collect();
        assert_eq!(fields, ["a.funding_account", "a.allocation_date"]);
    }

    #[test]
    fn a_fund_year_draws_on_one_account() {
        let allocation = input(2014, 5, "", "").unwrap();
        assert!(check_allocation_account(None, &allocation).is_ok());
        assert!(check_allocation_account(Some("INCLE"), &allocation).is_ok());
        assert_eq!(
            check_allocation_account(Some("ESF"), &allocation)
                .unwrap_err()
                .reason(),
            "FUND_ACCOUNT_MISMATCH"
        );
    }
}
