//! Amendments of an award (2 CFR 200.308): a no-cost extension, a supplement,
//! a budget realignment or a de-obligation, requested and then signed by a
//! grants officer other than the requester. The rules kept here: what each
//! kind must and must not carry, that its change could take effect on the
//! grant as it stands, the 10% prior-approval line of a realignment, and four
//! eyes. The money of a supplement or de-obligation is checked where every
//! obligation is (`grant`, `funds`, `payment`).

use chrono::NaiveDate;
use serde::Serialize;

use super::access::Actor;
use super::budget::{self, Changes, LineInput};
use super::fiscal_year::check_fiscal_year;
use super::grant::{Grant, NewObligation, ObligationKind, funding_account};
use super::money::Cents;
use super::names::AmendmentName;
use super::validate::{self, Violations};
use super::version::Stamps;
use crate::error::{Error, FieldViolation, Result};

code_enum! {
    /// What an amendment changes.
    pub enum AmendmentKind {
        NoCostExtension => "NO_COST_EXTENSION",
        Supplement => "SUPPLEMENT",
        BudgetRealignment => "BUDGET_REALIGNMENT",
        Deobligation => "DEOBLIGATION",
    }
}

code_enum! {
    /// Where an amendment stands.
    pub enum AmendmentState {
        Requested => "REQUESTED",
        Approved => "APPROVED",
        Refused => "REFUSED",
    }
}

/// The money of a supplement or de-obligation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AmendmentMoney {
    pub account_code: String,
    pub fiscal_year: i32,
    pub amount: Cents,
    /// The obligation's date; the day of approval when not given.
    pub obligation_date: Option<NaiveDate>,
}

/// What a requester asks for, checked for its kind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AmendmentTerms {
    pub kind: AmendmentKind,
    pub justification: String,
    /// A no-cost extension's new end of the period of performance.
    pub end_date: Option<NaiveDate>,
    pub money: Option<AmendmentMoney>,
    pub budget_changes: Changes,
}

/// A stored amendment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Amendment {
    pub id: String,
    pub grant_id: String,
    pub terms: AmendmentTerms,
    /// A realignment's money moved between categories.
    pub moved: Cents,
    pub prior_approval_required: bool,
    pub state: AmendmentState,
    pub state_reason: String,
    pub requester: String,
    pub requester_owner: String,
    pub decider: String,
    pub decider_owner: String,
    /// The obligation a supplement or de-obligation recorded, once approved.
    pub obligation_id: String,
    /// The grant revision it made, once in effect (0 before).
    pub grant_revision: i64,
    #[serde(skip)]
    pub stamps: Stamps,
}

audited!(Amendment => state, state_reason, moved, prior_approval_required, requester, decider, obligation_id, grant_revision; with terms);
audited!(AmendmentTerms => kind, justification, end_date, money, budget_changes);

impl Amendment {
    pub fn name(&self) -> AmendmentName {
        AmendmentName::new(&self.grant_id, &self.id)
    }

    pub fn resource_name(&self) -> String {
        self.name().to_string()
    }
}

/// An amendment as it came in.
pub struct AmendmentInput<'a> {
    pub kind: Option<AmendmentKind>,
    pub justification: &'a str,
    pub end_date: &'a str,
    pub funding_account: &'a str,
    pub fiscal_year: i32,
    pub amount: i64,
    pub obligation_date: &'a str,
    pub budget_changes: &'a [LineInput],
}

impl AmendmentInput<'_> {
    /// Checks every rule of the amendment's own fields, reporting all violations at once:
    /// each kind carries exactly the fields it uses.
    pub fn validate(&self, prefix: &str) -> Result<AmendmentTerms> {
        let field = |name: &str| format!("{prefix}.{name}");
        let mut violations = Violations::new();
        let kind = violations.check(validate::required(&field("kind"), self.kind));
        let justification = violations.check(validate::required_text(
            &field("justification"),
            self.justification,
            2000,
        ));
        let changes = violations.check(Changes::parse(
            &field("budget_changes"),
            self.budget_changes,
        ));
        let Some(kind) = kind else {
            violations.finish()?;
            return Err(Error::Internal("an unchecked amendment kind".into()));
        };
        let mut unused = |name: &str, given: bool| {
            if given {
                violations.add(field(name), format!("is not used by a {kind}"));
            }
        };
        let has_money = matches!(
            kind,
            AmendmentKind::Supplement | AmendmentKind::Deobligation
        );
        if kind != AmendmentKind::NoCostExtension {
            unused("end_date", !self.end_date.trim().is_empty());
        }
        if !has_money {
            unused("funding_account", !self.funding_account.trim().is_empty());
            unused("fiscal_year", self.fiscal_year != 0);
            unused("amount", self.amount != 0);
            unused("obligation_date", !self.obligation_date.trim().is_empty());
        }
        if kind == AmendmentKind::NoCostExtension {
            unused("budget_changes", !self.budget_changes.is_empty());
        }
        let end_date = if kind == AmendmentKind::NoCostExtension {
            violations.check(validate::date(&field("end_date"), self.end_date))
        } else {
            None
        };
        let money = if has_money {
            let account_code = violations.check(funding_account(
                &field("funding_account"),
                self.funding_account,
            ));
            let fiscal_year = violations.check(
                check_fiscal_year(self.fiscal_year)
                    .map_err(|rule| FieldViolation::new(field("fiscal_year"), rule)),
            );
            let amount = violations.check(validate::positive_amount(&field("amount"), self.amount));
            let obligation_date = if self.obligation_date.trim().is_empty() {
                Some(None)
            } else {
                violations
                    .check(validate::date(
                        &field("obligation_date"),
                        self.obligation_date,
                    ))
                    .map(Some)
            };
            match (account_code, fiscal_year, amount, obligation_date) {
                (Some(account_code), Some(fiscal_year), Some(amount), Some(obligation_date)) => {
                    Some(AmendmentMoney {
                        account_code,
                        fiscal_year,
                        amount,
                        obligation_date,
                    })
                }
                _ => None,
            }
        } else {
            None
        };
        if let Some(changes) = &changes {
            let wanted = match (kind, &money) {
                (AmendmentKind::BudgetRealignment, _) => Some(Cents(0)),
                (AmendmentKind::Supplement, Some(money)) => Some(money.amount),
                (AmendmentKind::Deobligation, Some(money)) => Some(Cents(-money.amount.0)),
                _ => None,
            };
            let optional = kind != AmendmentKind::BudgetRealignment;
            match wanted {
                _ if kind == AmendmentKind::BudgetRealignment && changes.moved() == Cents(0) => {
                    violations.add(
                        field("budget_changes"),
                        "a realignment moves money between categories: name at least one increase and one decrease",
                    )
                }
                Some(wanted) if !(optional && changes.is_empty()) && changes.net() != wanted => {
                    violations.add(
                        field("budget_changes"),
                        format!(
                            "add up to {}, not {wanted}: a {kind} changes the budget by {wanted}",
                            changes.net()
                        ),
                    )
                }
                _ => {}
            }
        }
        violations.finish()?;
        match (justification, changes) {
            (Some(justification), Some(budget_changes)) => Ok(AmendmentTerms {
                kind,
                justification,
                end_date,
                money,
                budget_changes,
            }),
            _ => Err(Error::Internal("an unchecked amendment".into())),
        }
    }
}

/// What a request decides before it is stored: the money a realignment moves and whether it
/// needs prior approval. Refuses an amendment that could not take effect on `grant` as it stands.
pub fn request(grant: &Grant, terms: &AmendmentTerms, prefix: &str) -> Result<(Cents, bool)> {
    grant.check_open()?;
    check_effect(grant, terms, prefix)?;
    let moved = match terms.kind {
        AmendmentKind::BudgetRealignment => terms.budget_changes.moved(),
        _ => Cents(0),
    };
    let prior_approval = terms.kind != AmendmentKind::BudgetRealignment
        || budget::needs_prior_approval(moved, grant.budget.total());
    Ok((moved, prior_approval))
}

/// The grant's terms and budget after `terms` take effect (its money moves by the obligation
/// the caller records), or why they cannot.
pub fn check_effect(grant: &Grant, terms: &AmendmentTerms, prefix: &str) -> Result<Grant> {
    let mut after = grant.clone();
    if let Some(end_date) = terms.end_date {
        if end_date <= grant.terms.end_date {
            return Err(Error::invalid(
                format!("{prefix}.end_date"),
                format!(
                    "{end_date} does not extend the period of performance, which ends on {}",
                    grant.terms.end_date
                ),
            ));
        }
        after.terms.end_date = end_date;
    }
    after.budget = grant
        .budget
        .apply(&format!("{prefix}.budget_changes"), &terms.budget_changes)
        .map_err(|violation| Error::InvalidArgument(vec![violation]))?;
    Ok(after)
}

/// The obligation an approved supplement or de-obligation records, dated `today` unless the
/// amendment names a date.
pub fn obligation_of(amendment: &Amendment, today: NaiveDate) -> Option<NewObligation> {
    let money = amendment.terms.money.as_ref()?;
    let kind = match amendment.terms.kind {
        AmendmentKind::Supplement => ObligationKind::Increment,
        AmendmentKind::Deobligation => ObligationKind::Deobligation,
        _ => return None,
    };
    Some(NewObligation {
        kind,
        account_code: money.account_code.clone(),
        fiscal_year: money.fiscal_year,
        amount: money.amount,
        obligation_date: money.obligation_date.unwrap_or(today),
        note: format!("{} {}", amendment.terms.kind, amendment.resource_name()),
    })
}

/// A decision on a requested amendment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Approve,
    Refuse,
}

/// The amendment after `decision` by `actor`: from REQUESTED only, never by the requester's
/// person, a refusal with a reason. The effect of an approval is checked by the caller.
pub fn decide(
    amendment: &Amendment,
    decision: Decision,
    actor: &Actor,
    reason: &str,
) -> Result<Amendment> {
    let reason = validate::optional_text("reason", reason, 2000)
        .map_err(|violation| Error::invalid(violation.field, violation.description))?;
    if decision == Decision::Refuse && reason.is_empty() {
        return Err(Error::invalid(
            "reason",
            "is required to refuse an amendment",
        ));
    }
    if amendment.state != AmendmentState::Requested {
        return Err(Error::precondition(
            "AMENDMENT_STATE_TRANSITION_NOT_ALLOWED",
            amendment.resource_name(),
            format!(
                "the amendment is {}: only a REQUESTED amendment is decided",
                amendment.state
            ),
        ));
    }
    if actor.is_person(&amendment.requester, &amendment.requester_owner) {
        return Err(Error::precondition(
            "AMENDMENT_FOUR_EYES",
            amendment.resource_name(),
            "the person who requested an amendment cannot sign it, with any of their tokens: another grants officer signs",
        ));
    }
    let mut after = amendment.clone();
    after.state = match decision {
        Decision::Approve => AmendmentState::Approved,
        Decision::Refuse => AmendmentState::Refused,
    };
    after.state_reason = reason;
    after.decider = actor.resource_name();
    after.decider_owner = actor.owner.clone();
    Ok(after)
}

versioned!(Amendment => "the amendment", never deleted);
