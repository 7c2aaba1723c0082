//! The demo's money after the award, planned (pure and deterministic, as the
//! rest of the plan in `plan.rs`): per grant, its initial award, a supplement or a no-cost
//! extension for a handful, its payments, what it spent, and how it settles.
//! The rule it keeps: a grant's NET obligation (awards + increments -
//! de-obligations) stays what the plan gives it, so the appendix still adds
//! up. A grant planned at P with a supplement S is first awarded P - S; one
//! whose closeout will de-obligate D is awarded P + D and paid P.

use chrono::{Days, Months, NaiveDate};

use super::dice::Dice;

/// Every fiftieth grant, from the eighth, gets a supplement (seven grants).
const SUPPLEMENT_EVERY: (usize, usize) = (50, 7);
/// Every fiftieth grant, from the thirty-third, gets a no-cost extension (seven grants).
const EXTENSION_EVERY: (usize, usize) = (50, 32);
/// Every fourth closed grant, from the second, leaves an unpaid balance its closeout de-obligates.
const UNDERSPENT_EVERY: (usize, usize) = (4, 1);
/// Months a no-cost extension adds to the period of performance.
const EXTENSION_MONTHS: u32 = 6;
/// Awards from this amount run two years or more and are paid twice (an interim and a final
/// reimbursement); smaller ones once, after they end.
const PAID_TWICE_FROM_CENTS: i64 = 15_000_000;

/// How a grant's award settles.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Settlement {
    /// FY 2009-2012: reports accepted, paid, closed out by a grants officer (what was not paid
    /// de-obligated).
    #[default]
    ClosedOut,
    /// FY 2013: reports accepted and the final payment made, the unpaid balance still
    /// obligated: the closeout waits for a grants officer's signature.
    AwaitingSignature,
    /// FY 2013: the final SF-425 submitted and not yet accepted; paid in part.
    FinalReportInReview,
    /// FY 2013: no financial report and no payment: the whole award unliquidated.
    NothingFiled,
}

/// One reimbursement: requested by the grantee, approved by other staff on `decided`, paid on `paid`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedPayment {
    pub amount_cents: i64,
    /// The period of the costs it reimburses.
    pub costs_from: NaiveDate,
    pub costs_to: NaiveDate,
    pub decided: NaiveDate,
    pub paid: NaiveDate,
}

/// A supplement: an increment from the grant's own account and fiscal year.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedSupplement {
    pub amount_cents: i64,
    pub obligation_date: NaiveDate,
}

/// A grant's money after its award.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GrantMoney {
    /// The initial award: the planned (net) amount, less the supplement, plus what the closeout
    /// will de-obligate.
    pub initial_award_cents: i64,
    pub supplement: Option<PlannedSupplement>,
    /// The end of the period of performance after a no-cost extension.
    pub extended_end: Option<NaiveDate>,
    pub settlement: Settlement,
    /// Cumulative federal expenditures of its final SF-425 (0 when none is filed).
    pub expended_cents: i64,
    pub payments: Vec<PlannedPayment>,
    /// What the closeout de-obligates: obligated and never paid (0 unless closed out).
    pub deobligated_cents: i64,
}

impl GrantMoney {
    /// What was paid in all.
    pub fn paid_cents(&self) -> i64 {
        self.payments
            .iter()
            .map(|payment| payment.amount_cents)
            .sum()
    }
}

/// `cents` times `percent` / 100, down to whole hundreds of dollars.
fn share(cents: i64, percent: i64) -> i64 {
    cents * percent / 100 / 10_000 * 10_000
}

fn plus_days(day: NaiveDate, days: u64) -> NaiveDate {
    day.checked_add_days(Days::new(days)).unwrap_or(day)
}

/// Reimbursements adding up to `total` over the grant's period from `start` to `end`: one after
/// the end, or for a large award an interim one after its first year and a final one.
fn reimbursements(
    total: i64,
    large: bool,
    start: NaiveDate,
    end: NaiveDate,
) -> Vec<PlannedPayment> {
    let after_end = |amount_cents, costs_from| PlannedPayment {
        amount_cents,
        costs_from,
        costs_to: end,
        decided: plus_days(end, 45),
        paid: plus_days(end, 50),
    };
    if !large {
        return vec![after_end(total, start)];
    }
    let first_year_end = start
        .checked_add_months(Months::new(12))
        .and_then(|day| day.pred_opt())
        .unwrap_or(start)
        .min(end);
    let first = share(total, 45);
    vec![
        PlannedPayment {
            amount_cents: first,
            costs_from: start,
            costs_to: first_year_end,
            decided: plus_days(first_year_end, 30),
            paid: plus_days(first_year_end, 35),
        },
        after_end(total - first, plus_days(first_year_end, 1)),
    ]
}

/// The award a grant's money is planned for: its net amount, period, and whether it is of the
/// latest fiscal year (left open) or an older one (closed out).
pub(super) struct Award {
    pub amount_cents: i64,
    pub start: NaiveDate,
    pub end: NaiveDate,
    pub latest_year: bool,
}

/// The money of grant `number` of the plan (its index), planned at `grant.amount_cents` net.
pub(super) fn plan_money(dice: &mut Dice, number: usize, grant: &Award) -> GrantMoney {
    let planned = grant.amount_cents;
    let picked = |(every, from): (usize, usize)| number % every == from;
    let supplement = picked(SUPPLEMENT_EVERY).then(|| PlannedSupplement {
        amount_cents: share(planned, 20),
        obligation_date: plus_days(grant.start, 120).min(grant.end),
    });
    let extended_end = picked(EXTENSION_EVERY).then(|| {
        grant
            .end
            .checked_add_months(Months::new(EXTENSION_MONTHS))
            .unwrap_or(grant.end)
    });
    let end = extended_end.unwrap_or(grant.end);
    let large = planned >= PAID_TWICE_FROM_CENTS;
    let settlement = if !grant.latest_year {
        Settlement::ClosedOut
    } else {
        [
            Settlement::AwaitingSignature,
            Settlement::FinalReportInReview,
            Settlement::NothingFiled,
        ][number % 3]
    };
    let (expended_cents, payments, deobligated_cents) = match settlement {
        Settlement::ClosedOut => {
            let deobligated = if picked(UNDERSPENT_EVERY) {
                share(planned, dice.between(3, 12)).max(10_000)
            } else {
                0
            };
            (
                planned,
                reimbursements(planned, large, grant.start, end),
                deobligated,
            )
        }
        Settlement::AwaitingSignature => {
            let spent = share(planned, dice.between(88, 98));
            (spent, reimbursements(spent, large, grant.start, end), 0)
        }
        Settlement::FinalReportInReview => {
            let paid = share(planned, 60);
            let midway = plus_days(
                grant.start,
                (end - grant.start).num_days().max(0) as u64 / 2,
            );
            let payment = PlannedPayment {
                amount_cents: paid,
                costs_from: grant.start,
                costs_to: midway,
                decided: plus_days(midway, 30),
                paid: plus_days(midway, 35),
            };
            (share(planned, 95), vec![payment], 0)
        }
        Settlement::NothingFiled => (0, Vec::new(), 0),
    };
    GrantMoney {
        initial_award_cents: planned - supplement.as_ref().map_or(0, |s| s.amount_cents)
            + deobligated_cents,
        supplement,
        extended_end,
        settlement,
        expended_cents,
        payments,
        deobligated_cents,
    }
}
