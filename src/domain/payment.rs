//! Payment requests (2 CFR 200.305): a grantee asks to be paid from one of its
//! grant's obligations; staff other than the requester approve or refuse; an
//! approved request is recorded as paid. The rules kept here: approved and
//! paid requests never exceed the grant's net obligation from that account
//! and fiscal year; nothing is approved or paid while a required report of
//! the grant is overdue, nor from cancelled funds; four eyes compare persons.

use chrono::NaiveDate;
use serde::Serialize;

use super::access::Actor;
use super::fiscal_year::check_fiscal_year;
use super::funds::FundsStatus;
use super::grant::{Grant, GrantState, funding_account};
use super::money::Cents;
use super::names::PaymentRequestName;
use super::outcome::OverduePeriod;
use super::validate::{self, CheckAll};
use super::version::Stamps;
use crate::error::{Error, FieldViolation, Result};

code_enum! {
    /// Advance or reimbursement.
    pub enum PaymentKind {
        Advance => "ADVANCE",
        Reimbursement => "REIMBURSEMENT",
    }
}

code_enum! {
    /// Where a payment request stands.
    pub enum PaymentRequestState {
        Submitted => "SUBMITTED",
        Approved => "APPROVED",
        Refused => "REFUSED",
        Paid => "PAID",
    }
}

impl PaymentRequestState {
    /// The states whose amount is committed against the obligation.
    pub const COMMITTED: [PaymentRequestState; 2] =
        [PaymentRequestState::Approved, PaymentRequestState::Paid];
}

/// What a requester asks for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PaymentTerms {
    pub kind: PaymentKind,
    pub account_code: String,
    pub fiscal_year: i32,
    pub amount: Cents,
    pub period_start_date: NaiveDate,
    pub period_end_date: NaiveDate,
    pub description: String,
}

/// A stored payment request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PaymentRequest {
    pub id: String,
    pub grant_id: String,
    pub terms: PaymentTerms,
    pub state: PaymentRequestState,
    pub state_reason: String,
    /// The requester's token, `apiTokens/{id}`, and its owner.
    pub requester: String,
    pub requester_owner: String,
    /// The decider's token and its owner; empty until decided.
    pub decider: String,
    pub decider_owner: String,
    pub payment_date: Option<NaiveDate>,
    pub payment_reference: String,
    /// An advance's flag: why it exceeds immediate cash needs; empty when it does not.
    pub excess_cash_note: String,
    #[serde(skip)]
    pub stamps: Stamps,
}

audited!(PaymentRequest => state, state_reason, requester, decider, payment_date, payment_reference, excess_cash_note; with terms);
audited!(PaymentTerms => kind, account_code, fiscal_year, amount, period_start_date, period_end_date, description);

impl PaymentRequest {
    pub fn name(&self) -> PaymentRequestName {
        PaymentRequestName::new(&self.grant_id, &self.id)
    }

    pub fn resource_name(&self) -> String {
        self.name().to_string()
    }
}

/// Unchecked terms as they came in.
pub struct PaymentInput<'a> {
    pub kind: Option<PaymentKind>,
    pub funding_account: &'a str,
    pub fiscal_year: i32,
    pub amount: i64,
    pub period_start_date: &'a str,
    pub period_end_date: &'a str,
    pub description: &'a str,
}

impl PaymentInput<'_> {
    /// Checks every rule and reports all violations at once.
    pub fn validate(&self, prefix: &str) -> Result<PaymentTerms> {
        let field = |name: &str| format!("{prefix}.{name}");
        let (kind, account_code, fiscal_year, amount, (start, end), description) = (
            validate::required(&field("kind"), self.kind),
            funding_account(&field("funding_account"), self.funding_account),
            check_fiscal_year(self.fiscal_year)
                .map_err(|description| FieldViolation::new(field("fiscal_year"), description)),
            validate::positive_amount(&field("amount"), self.amount),
            validate::dated_period(
                &field("period_start_date"),
                self.period_start_date,
                &field("period_end_date"),
                self.period_end_date,
            ),
            validate::optional_text(&field("description"), self.description, 2000),
        )
            .all()?;
        Ok(PaymentTerms {
            kind,
            account_code,
            fiscal_year,
            amount,
            period_start_date: start,
            period_end_date: end,
            description,
        })
    }
}

/// A payment is requested, approved and paid only on an ACTIVE grant.
pub fn check_grant_active(grant: &Grant) -> Result<()> {
    if grant.state != GrantState::Active {
        return Err(Error::precondition(
            "PAYMENT_GRANT_NOT_ACTIVE",
            grant.resource_name(),
            format!(
                "the grant is {}: payments are requested, approved and paid only on an ACTIVE grant",
                grant.state
            ),
        ));
    }
    Ok(())
}

/// `terms` must fit in what `grant` has obligated from their account and fiscal year, net of
/// de-obligations, minus what approved and paid requests already `committed` there.
pub fn check_within_obligation(
    grant: &Grant,
    committed: Cents,
    terms: &PaymentTerms,
    resource: &str,
) -> Result<()> {
    let obligated = grant.obligated_in(&terms.account_code, terms.fiscal_year);
    let left = Cents(obligated.0.saturating_sub(committed.0));
    if terms.amount > left {
        return Err(Error::precondition(
            "PAYMENT_EXCEEDS_OBLIGATION",
            resource,
            format!(
                "the grant has {obligated} obligated from FY {} {}, of which {committed} is approved or paid: {left} is left, less than the {} asked",
                terms.fiscal_year, terms.account_code, terms.amount
            ),
        ));
    }
    Ok(())
}

/// A de-obligation never takes back money that approved or paid requests already `committed`
/// from the grant's obligation of that account and year.
pub fn check_deobligation_spares_payments(
    grant: &Grant,
    committed: Cents,
    deobligation: &super::grant::NewObligation,
) -> Result<()> {
    let obligated = grant.obligated_in(&deobligation.account_code, deobligation.fiscal_year);
    let left = Cents(obligated.0.saturating_sub(committed.0));
    if deobligation.amount > left {
        return Err(Error::precondition(
            "DEOBLIGATION_BELOW_PAYMENTS",
            grant.resource_name(),
            format!(
                "FY {} {}: {obligated} obligated, {committed} approved or paid: at most {left} can be de-obligated",
                deobligation.fiscal_year, deobligation.account_code
            ),
        ));
    }
    Ok(())
}

/// Cumulative federal expenditures a financial report gave, as of its period's end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Spending {
    pub as_of: NaiveDate,
    pub expenditures: Cents,
}

/// Why an advance of `terms` exceeds the grantee's immediate cash needs (empty when it does
/// not): with `committed` (what the grant's approved and paid requests hold), the cash on hand
/// it leaves (committed plus the advance, minus what was spent) must cover no more than
/// `days` of recent spending. Recent spending is the daily rate between the two latest
/// reports in `spending` (latest first), or since the grant's `start` with one report.
pub fn excess_cash(
    terms: &PaymentTerms,
    committed: Cents,
    spending: &[Spending],
    start: NaiveDate,
    days: u32,
) -> String {
    if terms.kind != PaymentKind::Advance {
        return String::new();
    }
    let Some(latest) = spending.first() else {
        return format!(
            "no expenditure is reported yet: an advance of {} cannot be weighed against spending",
            terms.amount
        );
    };
    let (since, spent_before) = match spending.get(1) {
        Some(previous) => (previous.as_of, previous.expenditures),
        None => (start, Cents(0)),
    };
    let elapsed = (latest.as_of - since).num_days().max(1);
    let spent = i128::from(latest.expenditures.0) - i128::from(spent_before.0);
    let on_hand =
        i128::from(committed.0) + i128::from(terms.amount.0) - i128::from(latest.expenditures.0);
    // on_hand / (spent / elapsed) > days, in integers: on_hand * elapsed > days * spent.
    if on_hand * i128::from(elapsed) <= i128::from(days) * spent.max(0) {
        return String::new();
    }
    let daily = Cents(i64::try_from(spent.max(0) / i128::from(elapsed)).unwrap_or(i64::MAX));
    let on_hand = Cents(i64::try_from(on_hand).unwrap_or(i64::MAX));
    format!(
        "cash on hand after this advance would be {on_hand}, more than {days} days of recent spending ({daily} a day from {since} to {})",
        latest.as_of
    )
}

/// Nothing is approved or paid while a required report of the grant is overdue.
pub fn check_no_overdue_report(overdue: Option<&OverduePeriod>, resource: &str) -> Result<()> {
    match overdue {
        None => Ok(()),
        Some(overdue) => Err(Error::precondition(
            "PAYMENT_BLOCKED_BY_OVERDUE_REPORT",
            resource,
            format!(
                "the {} {} report of {} was due on {} and is not submitted: no payment until it is",
                overdue.period, overdue.report, overdue.subject, overdue.due_date
            ),
        )),
    }
}

/// Cancelled funds pay nothing (31 U.S.C. 1552); `status` is the appropriation's on the day.
pub fn check_funds_payable(
    status: Option<FundsStatus>,
    terms: &PaymentTerms,
    resource: &str,
) -> Result<()> {
    if status == Some(FundsStatus::Cancelled) {
        return Err(Error::precondition(
            "FUNDS_CANCELLED",
            resource,
            format!(
                "FY {} {} money is cancelled: it pays nothing",
                terms.fiscal_year, terms.account_code
            ),
        ));
    }
    Ok(())
}

/// A decision on a submitted request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Approve,
    Refuse,
}

/// The request after `decision` by `actor`: from SUBMITTED only, never by the requester's
/// person, a refusal with a reason. The money and report checks of an approval come first.
pub fn decide(
    request: &PaymentRequest,
    decision: Decision,
    actor: &Actor,
    reason: &str,
) -> Result<PaymentRequest> {
    let reason = validate::optional_text("reason", reason, 2000)
        .map_err(|violation| Error::invalid(violation.field, violation.description))?;
    if decision == Decision::Refuse && reason.is_empty() {
        return Err(Error::invalid(
            "reason",
            "is required to refuse a payment request",
        ));
    }
    if request.state != PaymentRequestState::Submitted {
        return Err(Error::precondition(
            "PAYMENT_REQUEST_STATE_TRANSITION_NOT_ALLOWED",
            request.resource_name(),
            format!(
                "the request is {}: only a SUBMITTED request is decided",
                request.state
            ),
        ));
    }
    if actor.is_person(&request.requester, &request.requester_owner) {
        return Err(Error::precondition(
            "PAYMENT_REQUEST_FOUR_EYES",
            request.resource_name(),
            "the person who requested a payment cannot decide it, with any of their tokens: other staff decide",
        ));
    }
    let mut after = request.clone();
    after.state = match decision {
        Decision::Approve => PaymentRequestState::Approved,
        Decision::Refuse => PaymentRequestState::Refused,
    };
    after.state_reason = reason;
    after.decider = actor.resource_name();
    after.decider_owner = actor.owner.clone();
    Ok(after)
}

/// The day an approval is decided on: `date` (`YYYY-MM-DD`, not after `today`) for history
/// recorded after the fact, or `today` when empty.
pub fn decision_day(date: &str, today: NaiveDate) -> Result<NaiveDate> {
    if date.trim().is_empty() {
        return Ok(today);
    }
    let day = validate::date("decision_date", date)
        .map_err(|violation| Error::invalid(violation.field, violation.description))?;
    if day > today {
        return Err(Error::invalid(
            "decision_date",
            format!("{day} is in the future"),
        ));
    }
    Ok(day)
}

/// An approval recorded after the fact says in its reason the day it was decided on.
pub fn state_decision_day(approved: &mut PaymentRequest, day: NaiveDate, today: NaiveDate) {
    if day == today {
        return;
    }
    approved.state_reason = if approved.state_reason.is_empty() {
        format!("decided on {day}")
    } else {
        format!("{} (decided on {day})", approved.state_reason)
    };
}

/// The request after its payment on `date` (not after `today`), with an optional reference.
pub fn pay(
    request: &PaymentRequest,
    date: &str,
    reference: &str,
    today: NaiveDate,
) -> Result<PaymentRequest> {
    let (date, reference) = (
        validate::date("payment_date", date),
        validate::optional_text("payment_reference", reference, 200),
    )
        .all()?;
    if date > today {
        return Err(Error::invalid(
            "payment_date",
            format!("{date} is in the future"),
        ));
    }
    if request.state != PaymentRequestState::Approved {
        return Err(Error::precondition(
            "PAYMENT_REQUEST_STATE_TRANSITION_NOT_ALLOWED",
            request.resource_name(),
            format!(
                "the request is {}: only an APPROVED request is paid",
                request.state
            ),
        ));
    }
    let mut after = request.clone();
    after.state = PaymentRequestState::Paid;
    after.payment_date = Some(date);
    after.payment_reference = reference;
    Ok(after)
}

versioned!(PaymentRequest => "the payment request", never deleted);
