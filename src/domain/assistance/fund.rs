//! The emergency fund of each fiscal year and its allocations. The rules
//! kept here: an allocation never brings a year's fund below what approvals
//! have committed; an approval commits only what is available; a release
//! never falls below what was paid.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::case::MAX_NOTE;
use crate::domain::fiscal_year::check_fiscal_year;
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

/// An allocation as it came in, checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NewAllocation {
    pub fiscal_year: i32,
    pub amount: Cents,
    pub note: String,
}

/// A stored allocation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FundAllocation {
    pub id: String,
    pub fiscal_year: i32,
    pub amount: Cents,
    pub note: String,
    pub creator: String,
    pub create_time: DateTime<Utc>,
}

audited!(FundAllocation => fiscal_year, amount, note);

impl FundAllocation {
    pub fn resource_name(&self) -> String {
        FundAllocationName::new(&self.id).to_string()
    }
}

/// Checks an allocation: a fiscal year the office records, an amount other than 0, a note when it reduces the fund.
pub fn new_allocation(
    prefix: &str,
    fiscal_year: i32,
    amount: i64,
    note: &str,
) -> Result<NewAllocation> {
    let field = |name: &str| format!("{prefix}.{name}");
    let amount = if amount == 0 {
        Err(FieldViolation::new(
            field("amount"),
            "must not be 0: positive to allocate, negative to reduce",
        ))
    } else if amount.unsigned_abs() > MAX_AMOUNT.0.unsigned_abs() {
        Err(FieldViolation::new(
            field("amount"),
            format!("must be at most {} cents either way", MAX_AMOUNT.0),
        ))
    } else {
        Ok(Cents(amount))
    };
    let (fiscal_year, amount, note) = (
        check_fiscal_year(fiscal_year)
            .map_err(|rule| FieldViolation::new(field("fiscal_year"), rule)),
        amount,
        validate::optional_text(&field("note"), note, MAX_NOTE),
    )
        .all()?;
    if amount < Cents(0) && note.is_empty() {
        return Err(Error::invalid(
            field("note"),
            "is required when the amount reduces the year's allocation",
        ));
    }
    Ok(NewAllocation {
        fiscal_year,
        amount,
        note,
    })
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
        assert!(
            new_allocation("a", 2014, -5, "").is_err(),
            "a reduction needs a note"
        );
        assert!(new_allocation("a", 2014, 0, "x").is_err());
        assert!(new_allocation("a", 1989, 5, "").is_err());
    }
}
