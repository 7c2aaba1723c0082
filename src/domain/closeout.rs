//! Closeout of an award (2 CFR 200.344): when the period of performance ends,
//! a closeout opens with a 120-day clock. It is complete when every live
//! project's final outcome report and the grant's final financial report are
//! accepted, no payment request is waiting or approved but unpaid, and every
//! project is finished; completing it de-obligates what was obligated and not
//! paid (back to its appropriation) and closes the grant. The rules kept
//! here: the clock, the status, what blocks completion, and the balances.

use chrono::{Days, NaiveDate};
use serde::Serialize;

use super::grant::{Grant, GrantState, NewObligation, ObligationKind};
use super::money::Cents;
use super::spending;
use crate::error::{Error, Result};

/// Days after the end of the period of performance by which a closeout is due.
pub const CLOSEOUT_DAYS: u64 = 120;

code_enum! {
    /// Where a grant's closeout stands.
    pub enum CloseoutStatus {
        NotStarted => "NOT_STARTED",
        Open => "OPEN",
        Overdue => "OVERDUE",
        Closed => "CLOSED",
    }
}

/// What was obligated to a grant from one account's fiscal-year funds, and paid from it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Balance {
    pub account_code: String,
    pub fiscal_year: i32,
    pub obligated: Cents,
    pub paid: Cents,
}

impl Balance {
    /// Obligated and not paid: what closeout de-obligates.
    pub fn unliquidated(&self) -> Cents {
        spending::unliquidated(self.obligated, self.paid)
    }
}

/// What the store found about a grant for its closeout.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CloseoutFacts {
    /// Live (not cancelled) projects whose FINAL outcome report is not accepted.
    pub missing_outcome_reports: Vec<String>,
    pub final_financial_report_accepted: bool,
    /// Payment requests SUBMITTED or APPROVED (not yet paid).
    pub open_payment_requests: u64,
    /// Projects still PLANNED or ACTIVE.
    pub open_projects: u64,
    /// Paid per (account, fiscal year).
    pub paid: Vec<(String, i32, Cents)>,
}

/// A grant's closeout on a day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Closeout {
    pub grant: Grant,
    pub due_date: NaiveDate,
    pub status: CloseoutStatus,
    pub facts: CloseoutFacts,
    pub balances: Vec<Balance>,
}

/// The day a closeout of a period ending on `end` is due.
pub fn due_date(end: NaiveDate) -> NaiveDate {
    end.checked_add_days(Days::new(CLOSEOUT_DAYS))
        .unwrap_or(end)
}

/// The last end of a period of performance whose closeout is overdue on `today`.
pub fn overdue_if_ended_before(today: NaiveDate) -> NaiveDate {
    today
        .checked_sub_days(Days::new(CLOSEOUT_DAYS))
        .unwrap_or(today)
}

impl Closeout {
    /// The closeout of `grant` on `today`, from what the store found.
    pub fn of(grant: Grant, facts: CloseoutFacts, today: NaiveDate) -> Closeout {
        let end = grant.terms.end_date;
        let due = due_date(end);
        let status = if grant.state == GrantState::Closed {
            CloseoutStatus::Closed
        } else if today <= end {
            CloseoutStatus::NotStarted
        } else if today > due {
            CloseoutStatus::Overdue
        } else {
            CloseoutStatus::Open
        };
        let balances = grant
            .totals
            .iter()
            .map(|total| Balance {
                account_code: total.account_code.clone(),
                fiscal_year: total.fiscal_year,
                obligated: total.amount,
                paid: facts
                    .paid
                    .iter()
                    .find(|(account, year, _)| {
                        *account == total.account_code && *year == total.fiscal_year
                    })
                    .map(|(_, _, paid)| *paid)
                    .unwrap_or_default(),
            })
            .collect();
        Closeout {
            grant,
            due_date: due,
            status,
            facts,
            balances,
        }
    }

    /// The total obligated and not paid.
    pub fn unliquidated(&self) -> Cents {
        Cents(self.balances.iter().map(|b| b.unliquidated().0).sum())
    }

    /// What keeps the closeout from completion, in words a grants officer acts on.
    pub fn blockers(&self) -> Vec<String> {
        let mut blockers = Vec::new();
        if self.status == CloseoutStatus::NotStarted {
            blockers.push(format!(
                "the period of performance runs until {}",
                self.grant.terms.end_date
            ));
        }
        for project in &self.facts.missing_outcome_reports {
            blockers.push(format!(
                "the FINAL outcome report of {project} is not accepted"
            ));
        }
        if !self.facts.final_financial_report_accepted {
            blockers.push("the FINAL financial report (SF-425) is not accepted".into());
        }
        if self.facts.open_payment_requests > 0 {
            blockers.push(format!(
                "{} payment request(s) are waiting for a decision or approved and unpaid: refuse or pay them",
                self.facts.open_payment_requests
            ));
        }
        if self.facts.open_projects > 0 {
            blockers.push(format!(
                "{} project(s) are still planned or active: complete or cancel them",
                self.facts.open_projects
            ));
        }
        blockers
    }

    /// Refuses to complete a closeout of a closed or terminated grant, or one with blockers.
    pub fn check_ready(&self) -> Result<()> {
        self.grant.check_open()?;
        let blockers = self.blockers();
        if !blockers.is_empty() {
            return Err(Error::precondition(
                "CLOSEOUT_NOT_READY",
                self.grant.resource_name(),
                format!("the closeout cannot complete: {}", blockers.join("; ")),
            ));
        }
        Ok(())
    }

    /// Refuses a bare close (`CloseGrant`, which de-obligates nothing) of a grant that holds
    /// money, unless its closeout is ready and nothing is left unliquidated: money is settled
    /// by `CompleteCloseout`, never left open on a closed grant. A grant that never held money
    /// has nothing to settle.
    pub fn check_bare_close(&self) -> Result<()> {
        if self.grant.obligated() == Cents(0) && self.unliquidated() == Cents(0) {
            return Ok(());
        }
        self.check_ready()?;
        if self.unliquidated() > Cents(0) {
            return Err(Error::precondition(
                "CLOSEOUT_NOT_READY",
                self.grant.resource_name(),
                format!(
                    "{} obligated to the grant is not paid: complete its closeout (CloseoutService/CompleteCloseout), which de-obligates it and closes the grant",
                    self.unliquidated()
                ),
            ));
        }
        Ok(())
    }

    /// The de-obligations that take back every unliquidated balance, dated `today`.
    pub fn deobligations(&self, today: NaiveDate) -> Vec<NewObligation> {
        self.balances
            .iter()
            .filter(|balance| balance.unliquidated() > Cents(0))
            .map(|balance| NewObligation {
                kind: ObligationKind::Deobligation,
                account_code: balance.account_code.clone(),
                fiscal_year: balance.fiscal_year,
                amount: balance.unliquidated(),
                obligation_date: today,
                note: format!(
                    "closeout of {}: the unliquidated balance",
                    self.grant.resource_name()
                ),
            })
            .collect()
    }
}
