//! The demo's money after the award, planned (pure and deterministic, as the
//! rest of the plan): per grant, its initial award, a supplement or a no-cost
//! extension for a handful, its payments, what it spent, and how it settles.
//! The rule it keeps: NET obligated (awards + increments - de-obligations) by
//! account and fiscal year stays exactly [`APPENDIX`]. A grant planned at P
//! with a supplement S is first awarded P - S; one whose closeout will
//! de-obligate D is awarded P + D and paid P. The appropriations recorded
//! ([`appropriations`]) are the appendix plus every D of that account and
//! year: the headroom the larger awards need, handed back at closeout.

use chrono::{Days, Months, NaiveDate};

use super::plan::{APPENDIX, Dice, FIRST_YEAR, LAST_YEAR, PlannedGrant};

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

impl PlannedGrant {
    /// The last day of its period of performance, after any extension.
    pub fn final_end(&self) -> NaiveDate {
        self.money.extended_end.unwrap_or(self.end)
    }

    /// Obligated and not paid at the end of the demo: 0 once closed out.
    pub fn unliquidated_cents(&self) -> i64 {
        match self.money.settlement {
            Settlement::ClosedOut => 0,
            _ => self.amount_cents - self.money.paid_cents(),
        }
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

/// The money of grant `number` of the plan (its index), planned at `grant.amount_cents` net.
pub(super) fn plan_money(dice: &mut Dice, number: usize, grant: &PlannedGrant) -> GrantMoney {
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
    let settlement = if grant.fiscal_year < LAST_YEAR {
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

/// The appropriations the demo records, by account and fiscal year in [`APPENDIX`] order, in
/// cents: the appendix plus what the closeouts of that account and year de-obligate (the
/// headroom of the larger initial awards). Two-year money.
pub fn appropriations(grants: &[PlannedGrant]) -> Vec<(&'static str, i32, i64)> {
    let mut recorded = Vec::new();
    for (account, _, thousands) in APPENDIX {
        for (year, thousands) in (FIRST_YEAR..=LAST_YEAR).zip(thousands) {
            let headroom: i64 = grants
                .iter()
                .filter(|grant| grant.account == account && grant.fiscal_year == year)
                .map(|grant| grant.money.deobligated_cents)
                .sum();
            recorded.push((account, year, thousands * 100_000 + headroom));
        }
    }
    recorded
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::demo::plan::plan;
    use std::collections::BTreeMap;

    #[test]
    fn net_obligations_still_reproduce_the_appendix_and_the_appropriations_cover_the_gross() {
        let plan = plan();
        let mut net: BTreeMap<(&str, i32), i64> = BTreeMap::new();
        let mut gross: BTreeMap<(&str, i32), i64> = BTreeMap::new();
        for grant in &plan.grants {
            let money = &grant.money;
            let supplement = money.supplement.as_ref().map_or(0, |s| s.amount_cents);
            let cell = (grant.account, grant.fiscal_year);
            *gross.entry(cell).or_default() += money.initial_award_cents + supplement;
            *net.entry(cell).or_default() +=
                money.initial_award_cents + supplement - money.deobligated_cents;
        }
        for (account, _, thousands) in APPENDIX {
            for (index, year) in (FIRST_YEAR..=LAST_YEAR).enumerate() {
                assert_eq!(net[&(account, year)], thousands[index] * 100_000);
            }
        }
        for (account, year, cents) in appropriations(&plan.grants) {
            assert_eq!(gross[&(account, year)], cents, "{account} FY{year}");
        }
        assert_eq!(net.values().sum::<i64>(), 9_730_000_000);
    }

    #[test]
    fn closed_grants_are_paid_in_full_and_the_latest_year_is_left_with_balances() {
        let plan = plan();
        let count =
            |keep: &dyn Fn(&PlannedGrant) -> bool| plan.grants.iter().filter(|g| keep(g)).count();
        let today = chrono::Utc::now().date_naive();

        for grant in &plan.grants {
            let money = &grant.money;
            assert!(money.initial_award_cents > 0);
            assert!(
                money.paid_cents() <= grant.amount_cents,
                "{}",
                grant.award_number
            );
            assert!(money.expended_cents <= grant.amount_cents);
            assert_eq!(
                money.settlement == Settlement::ClosedOut,
                grant.fiscal_year < LAST_YEAR
            );
            if money.settlement == Settlement::ClosedOut {
                assert_eq!(money.paid_cents(), grant.amount_cents);
                assert_eq!(grant.unliquidated_cents(), 0);
            }
            for payment in &money.payments {
                assert!(payment.amount_cents > 0);
                assert!(payment.costs_from <= payment.costs_to);
                assert!(payment.decided <= payment.paid && payment.paid < today);
            }
            if let Some(supplement) = &money.supplement {
                assert!(grant.start <= supplement.obligation_date);
                assert!(supplement.obligation_date <= grant.end);
            }
        }
        assert_eq!(count(&|g| g.money.supplement.is_some()), 7);
        assert_eq!(count(&|g| g.money.extended_end.is_some()), 7);
        let underspent = count(&|g| g.money.deobligated_cents > 0);
        assert!((60..=75).contains(&underspent), "{underspent}");
        let open: Vec<&PlannedGrant> = plan
            .grants
            .iter()
            .filter(|g| g.fiscal_year == LAST_YEAR)
            .collect();
        assert_eq!(open.len(), 69);
        assert!(open.iter().all(|g| g.unliquidated_cents() > 0));
        for settlement in [
            Settlement::AwaitingSignature,
            Settlement::FinalReportInReview,
            Settlement::NothingFiled,
        ] {
            assert_eq!(
                open.iter()
                    .filter(|g| g.money.settlement == settlement)
                    .count(),
                23
            );
        }
    }
}
