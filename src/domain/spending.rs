//! What grants did with their money, by the account and fiscal year of the
//! funds: obligated (net of de-obligations), de-obligated, expended and paid,
//! and what stays unliquidated. The rules kept here:
//!
//! - **Unliquidated** is obligated and not yet paid (the office's undisbursed
//!   balance): what a closeout de-obligates, never below 0.
//! - **Expended** comes from the grantee's latest accepted SF-425 (line 10e,
//!   cumulative federal expenditures), which is for the whole grant. It is
//!   attributed to the grant's money oldest fiscal year first (then by account
//!   code), each line up to its net obligation, the way an office spends
//!   money before it expires; what is left over (a report above what is now
//!   obligated) goes to the last line, so the lines add up to what was
//!   reported.

use serde::Serialize;

use super::money::Cents;

/// Obligated and not paid, never below 0.
pub fn unliquidated(obligated: Cents, paid: Cents) -> Cents {
    Cents(obligated.0.saturating_sub(paid.0).max(0))
}

/// A grant's money of one account and fiscal year of funds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct MoneyLine {
    pub grant_id: String,
    pub account_code: String,
    pub fiscal_year: i32,
    /// Net obligated: awards and increments minus de-obligations.
    pub obligated: Cents,
    /// Every de-obligation (already taken out of `obligated`).
    pub deobligated: Cents,
    /// The grant's reported expenditure attributed to this money.
    pub expended: Cents,
    /// Payment requests recorded paid from this money.
    pub paid: Cents,
}

impl MoneyLine {
    /// Obligated and not paid.
    pub fn unliquidated(&self) -> Cents {
        unliquidated(self.obligated, self.paid)
    }
}

/// Sets `expended` on `lines` (all of one grant, in any order) from the grant's cumulative
/// federal expenditure `total`: oldest fiscal year first, then by account, each line up to
/// its net obligation, what is left over on the last line.
pub fn attribute_expenditure(lines: &mut [MoneyLine], total: Cents) {
    let mut order: Vec<usize> = (0..lines.len()).collect();
    order.sort_by(|a, b| {
        (lines[*a].fiscal_year, &lines[*a].account_code)
            .cmp(&(lines[*b].fiscal_year, &lines[*b].account_code))
    });
    let mut left = total.0.max(0);
    for index in &order {
        let line = &mut lines[*index];
        let share = left.min(line.obligated.0.max(0));
        line.expended = Cents(share);
        left -= share;
    }
    if let Some(last) = order.last() {
        lines[*last].expended = Cents(lines[*last].expended.0.saturating_add(left));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(account: &str, year: i32, obligated: i64) -> MoneyLine {
        MoneyLine {
            grant_id: "g".into(),
            account_code: account.into(),
            fiscal_year: year,
            obligated: Cents(obligated),
            ..MoneyLine::default()
        }
    }

    fn expended(lines: &[MoneyLine]) -> Vec<i64> {
        lines.iter().map(|line| line.expended.0).collect()
    }

    #[test]
    fn expenditure_spends_the_oldest_money_first_and_adds_up_to_what_was_reported() {
        let mut lines = vec![
            line("INCLE", 2014, 500),
            line("ESF", 2013, 300),
            line("ESF", 2014, 200),
        ];
        attribute_expenditure(&mut lines, Cents(650));
        assert_eq!(expended(&lines), [150, 300, 200]);

        attribute_expenditure(&mut lines, Cents(0));
        assert_eq!(expended(&lines), [0, 0, 0]);

        // Reported above what is now obligated (after a de-obligation): the rest on the last line.
        attribute_expenditure(&mut lines, Cents(1_100));
        assert_eq!(expended(&lines), [600, 300, 200]);

        attribute_expenditure(&mut [], Cents(100));
    }

    #[test]
    fn unliquidated_is_obligated_and_not_paid_never_below_zero() {
        assert_eq!(unliquidated(Cents(500), Cents(200)), Cents(300));
        assert_eq!(unliquidated(Cents(500), Cents(700)), Cents(0));
        let paid = MoneyLine {
            paid: Cents(100),
            ..line("ESF", 2013, 300)
        };
        assert_eq!(paid.unliquidated(), Cents(200));
    }
}
