//! A grant's approved budget by SF-424A cost category, and its changes. The
//! rules kept here: no category below zero, a change names each category
//! once, and the 10% rule of 2 CFR 200.308: a realignment that moves more
//! than a tenth of the total budget needs the grants officer's prior approval.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::money::{Cents, MAX_AMOUNT};
use super::validate::{self, Checked, Violations};
use crate::error::FieldViolation;

code_enum! {
    /// The object class categories of the SF-424A (section B).
    pub enum BudgetCategory {
        Personnel => "PERSONNEL",
        FringeBenefits => "FRINGE_BENEFITS",
        Travel => "TRAVEL",
        Equipment => "EQUIPMENT",
        Supplies => "SUPPLIES",
        Contractual => "CONTRACTUAL",
        Construction => "CONSTRUCTION",
        Other => "OTHER",
        IndirectCharges => "INDIRECT_CHARGES",
    }
}

/// Amounts by category; a category not present is zero. Kept in every grant revision.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Budget(pub BTreeMap<BudgetCategory, Cents>);

/// One line as it came in: a category (None when unset or unknown) and an amount in cents.
#[derive(Debug, Clone, Copy)]
pub struct LineInput {
    pub category: Option<BudgetCategory>,
    pub amount: i64,
}

/// A share of the total budget, in basis points, above which a realignment needs prior approval.
pub const PRIOR_APPROVAL_BASIS_POINTS: i64 = 1_000;

impl Budget {
    /// The sum of the lines (each at most [`MAX_AMOUNT`], so the sum fits).
    pub fn total(&self) -> Cents {
        Cents(self.0.values().map(|amount| amount.0).sum())
    }

    /// The amount of one category (0 when absent).
    pub fn amount(&self, category: BudgetCategory) -> Cents {
        self.0.get(&category).copied().unwrap_or_default()
    }

    /// Checks a budget as it came in: each category once, amounts 0 to [`MAX_AMOUNT`].
    /// Zero lines are dropped, so a budget reads back the same however it was spelled.
    pub fn parse(field: &str, lines: &[LineInput]) -> Checked<Budget> {
        let changes = Changes::parse(field, lines)?;
        let mut violations = Violations::new();
        for (index, (_, amount)) in changes.0.iter().enumerate() {
            if amount.0 < 0 || *amount > MAX_AMOUNT {
                violations.add(
                    format!("{field}[{index}].amount"),
                    format!("must be 0 to {} cents ({MAX_AMOUNT})", MAX_AMOUNT.0),
                );
            }
        }
        violations.or(Budget(
            changes
                .0
                .into_iter()
                .filter(|(_, amount)| amount.0 != 0)
                .collect(),
        ))
    }

    /// The budget after `changes`, or the first category (by its index in `field`) that would
    /// fall below zero or above [`MAX_AMOUNT`].
    pub fn apply(&self, field: &str, changes: &Changes) -> Result<Budget, FieldViolation> {
        let mut after = self.clone();
        for (index, (category, change)) in changes.0.iter().enumerate() {
            let before = after.amount(*category);
            let amount = before
                .checked_add(*change)
                .filter(|amount| amount.0 >= 0 && *amount <= MAX_AMOUNT);
            let Some(amount) = amount else {
                return Err(FieldViolation::new(
                    format!("{field}[{index}].amount"),
                    format!(
                        "would leave {category} at {}: the budget has {before} there, and a category stays between $0.00 and {MAX_AMOUNT}",
                        Cents(before.0.saturating_add(change.0))
                    ),
                ));
            };
            if amount.0 == 0 {
                after.0.remove(category);
            } else {
                after.0.insert(*category, amount);
            }
        }
        Ok(after)
    }
}

/// Signed changes by category, in the order given, each category once.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Changes(pub Vec<(BudgetCategory, Cents)>);

impl Changes {
    /// Checks changes as they came in: a category each, named once; amounts within
    /// [`MAX_AMOUNT`] either way.
    pub fn parse(field: &str, lines: &[LineInput]) -> Checked<Changes> {
        let mut violations = Violations::new();
        let mut changes: Vec<(BudgetCategory, Cents)> = Vec::new();
        for (index, line) in lines.iter().enumerate() {
            let category =
                match validate::required(&format!("{field}[{index}].category"), line.category) {
                    Ok(category) => category,
                    Err(violation) => {
                        violations.push(violation);
                        continue;
                    }
                };
            if changes.iter().any(|(seen, _)| *seen == category) {
                violations.add(
                    format!("{field}[{index}].category"),
                    format!("{category} appears more than once"),
                );
            } else if line
                .amount
                .checked_abs()
                .is_none_or(|amount| amount > MAX_AMOUNT.0)
            {
                violations.add(
                    format!("{field}[{index}].amount"),
                    format!("must be within {} cents either way", MAX_AMOUNT.0),
                );
            } else {
                changes.push((category, Cents(line.amount)));
            }
        }
        violations.or(Changes(changes))
    }

    /// The net change (the lines are bounded, so it fits).
    pub fn net(&self) -> Cents {
        Cents(self.0.iter().map(|(_, amount)| amount.0).sum())
    }

    /// The money moved between categories: the sum of the increases.
    pub fn moved(&self) -> Cents {
        Cents(self.0.iter().map(|(_, amount)| amount.0.max(0)).sum())
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Whether moving `moved` within a budget of `total` needs prior approval: more than 10% of
/// the total (an empty budget: any move).
pub fn needs_prior_approval(moved: Cents, total: Cents) -> bool {
    i128::from(moved.0) * 10_000 > i128::from(total.0) * i128::from(PRIOR_APPROVAL_BASIS_POINTS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ten_percent_of_the_total_is_the_line_of_prior_approval() {
        assert!(!needs_prior_approval(Cents(10_000), Cents(100_000)));
        assert!(needs_prior_approval(Cents(10_001), Cents(100_000)));
        assert!(needs_prior_approval(Cents(1), Cents(0)));
        assert!(!needs_prior_approval(Cents(0), Cents(0)));
    }

    #[test]
    fn a_change_never_leaves_a_category_below_zero() {
        let budget = Budget(BTreeMap::from([
            (BudgetCategory::Personnel, Cents(500)),
            (BudgetCategory::Travel, Cents(100)),
        ]));
        let fine = Changes(vec![
            (BudgetCategory::Travel, Cents(-100)),
            (BudgetCategory::Personnel, Cents(100)),
        ]);
        let after = budget.apply("changes", &fine).unwrap();
        assert_eq!(after.amount(BudgetCategory::Travel), Cents(0));
        assert!(!after.0.contains_key(&BudgetCategory::Travel));
        assert_eq!(after.total(), budget.total());

        let too_much = Changes(vec![(BudgetCategory::Travel, Cents(-101))]);
        let violation = budget.apply("changes", &too_much).unwrap_err();
        assert_eq!(violation.field, "changes[0].amount");
    }
}
