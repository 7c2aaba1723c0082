//! Federal Financial Reports (SF-425): cumulative figures of a grant per
//! reporting period, their arithmetic (the lines that follow from others),
//! the checks a submission passes, and the review state machine. The final
//! report is due 120 days after the period of performance (2 CFR 200.344).

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use super::access::Actor;
use super::grant::ReportingCadence;
use super::money::{Cents, MAX_AMOUNT};
use super::names::FinancialReportName;
use super::outcome::{ReportingRules, ScheduledPeriod, schedule};
use super::validate::{self, CheckAll, Violations};
use super::version::Stamps;
use crate::error::{Error, FieldViolation, Result};

/// Days after the period of performance that the final financial report is due.
pub const FINAL_DUE_DAYS: u32 = 120;
/// The largest indirect rate, in basis points (100%).
const MAX_RATE_BASIS_POINTS: i32 = 10_000;

code_enum! {
    /// Where a financial report stands in its review.
    pub enum FinancialReportState {
        Draft => "DRAFT",
        Submitted => "SUBMITTED",
        Accepted => "ACCEPTED",
        Returned => "RETURNED",
    }
}

impl FinancialReportState {
    /// The states in which a report counts as given (not overdue; compared with later ones).
    pub const GIVEN: [FinancialReportState; 2] = [
        FinancialReportState::Submitted,
        FinancialReportState::Accepted,
    ];

    /// Whether its figures may still change.
    pub fn is_editable(self) -> bool {
        matches!(
            self,
            FinancialReportState::Draft | FinancialReportState::Returned
        )
    }
}

/// The figures a grantee reports (SF-425 lines 10a, b, e, f, i, j, 11, 12), cumulative.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Figures {
    pub cash_receipts: Cents,
    pub cash_disbursements: Cents,
    pub federal_expenditures: Cents,
    pub federal_unliquidated_obligations: Cents,
    pub recipient_share_required: Cents,
    pub recipient_share_expended: Cents,
    pub indirect_rate_type: String,
    pub indirect_rate_basis_points: i32,
    pub indirect_base: Cents,
    pub indirect_amount: Cents,
    pub expenditure_decrease_reason: String,
    pub remarks: String,
}

audited!(Figures => cash_receipts, cash_disbursements, federal_expenditures,
    federal_unliquidated_obligations, recipient_share_required, recipient_share_expended,
    indirect_rate_type, indirect_rate_basis_points, indirect_base, indirect_amount,
    expenditure_decrease_reason, remarks);

impl Figures {
    /// 10c: cash on hand.
    pub fn cash_on_hand(&self) -> Cents {
        Cents(
            self.cash_receipts
                .0
                .saturating_sub(self.cash_disbursements.0),
        )
    }

    /// 10g: total federal share, expenditures and unliquidated obligations.
    pub fn total_federal_share(&self) -> Cents {
        Cents(
            self.federal_expenditures
                .0
                .saturating_add(self.federal_unliquidated_obligations.0),
        )
    }

    /// 10k: recipient share still to be provided.
    pub fn recipient_share_remaining(&self) -> Cents {
        Cents(
            self.recipient_share_required
                .0
                .saturating_sub(self.recipient_share_expended.0),
        )
    }
}

/// A stored financial report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FinancialReport {
    pub id: String,
    pub grant_id: String,
    pub period: String,
    pub period_start_date: NaiveDate,
    pub period_end_date: NaiveDate,
    pub due_date: NaiveDate,
    pub state: FinancialReportState,
    pub figures: Figures,
    /// 10d: the grant's net obligation when the figures were last written.
    pub federal_funds_authorized: Cents,
    pub reviewer_comments: String,
    pub submitter: String,
    pub submitter_owner: String,
    pub reviewer: String,
    pub reviewer_owner: String,
    pub submit_time: Option<DateTime<Utc>>,
    #[serde(skip)]
    pub stamps: Stamps,
}

audited!(FinancialReport => period, state, federal_funds_authorized, reviewer_comments, submitter, reviewer; with figures);

impl FinancialReport {
    pub fn name(&self) -> FinancialReportName {
        FinancialReportName::new(&self.grant_id, &self.id)
    }

    pub fn resource_name(&self) -> String {
        self.name().to_string()
    }

    /// 10h: unobligated balance of federal funds.
    pub fn unobligated_balance(&self) -> Cents {
        Cents(
            self.federal_funds_authorized
                .0
                .saturating_sub(self.figures.total_federal_share().0),
        )
    }
}

versioned!(FinancialReport => "the financial report", never deleted);

/// The financial reporting schedule of a grant: every period of its cadence in its period of
/// performance, due after the configured days, then the final report, due 120 days after.
pub fn financial_schedule(
    rules: &ReportingRules,
    cadence: ReportingCadence,
    start: NaiveDate,
    end: NaiveDate,
) -> Vec<ScheduledPeriod> {
    let rules = ReportingRules {
        final_due_days: FINAL_DUE_DAYS,
        ..*rules
    };
    schedule(&rules, cadence, start, end)
}

/// The first period of the grant's financial schedule whose report is overdue on `today`:
/// due before it, and not among the `given` periods (submitted or accepted).
pub fn first_overdue(
    rules: &ReportingRules,
    grant: &super::grant::Grant,
    given: &[String],
    today: NaiveDate,
) -> Option<super::outcome::OverduePeriod> {
    financial_schedule(
        rules,
        grant.terms.reporting_cadence,
        grant.terms.start_date,
        grant.terms.end_date,
    )
    .into_iter()
    .find(|period| period.due_date < today && !given.contains(&period.period.to_string()))
    .map(|period| super::outcome::OverduePeriod {
        report: "financial",
        subject: grant.resource_name(),
        period: period.period.to_string(),
        due_date: period.due_date,
    })
}

/// An open report after its grant's period of performance changed: its period's new dates
/// and due date, or `None` when nothing changes (a given report keeps what it was given for).
pub fn rescheduled(
    report: &FinancialReport,
    schedule: &[super::outcome::ScheduledPeriod],
) -> Option<FinancialReport> {
    if !report.state.is_editable() {
        return None;
    }
    let period = schedule
        .iter()
        .find(|period| period.period.to_string() == report.period)?;
    let dates = (period.start_date, period.end_date, period.due_date);
    if dates
        == (
            report.period_start_date,
            report.period_end_date,
            report.due_date,
        )
    {
        return None;
    }
    let mut after = report.clone();
    after.period_start_date = period.start_date;
    after.period_end_date = period.end_date;
    after.due_date = period.due_date;
    Some(after)
}

/// Where a period of the financial schedule stands on `today`, given its report's state (if
/// any) and due date: as an outcome report's period does, a submitted or accepted report is
/// never overdue.
pub fn period_status(
    state: Option<FinancialReportState>,
    due_date: NaiveDate,
    today: NaiveDate,
) -> super::outcome::ReportingStatus {
    use super::outcome::{OutcomeReportState, period_status};
    let state = state.map(|state| match state {
        FinancialReportState::Draft => OutcomeReportState::Draft,
        FinancialReportState::Submitted => OutcomeReportState::Submitted,
        FinancialReportState::Accepted => OutcomeReportState::Accepted,
        FinancialReportState::Returned => OutcomeReportState::Returned,
    });
    period_status(state, due_date, today)
}

/// Unchecked figures as they came in.
pub struct FiguresInput<'a> {
    pub cash_receipts: i64,
    pub cash_disbursements: i64,
    pub federal_expenditures: i64,
    pub federal_unliquidated_obligations: i64,
    pub recipient_share_required: i64,
    pub recipient_share_expended: i64,
    pub indirect_rate_type: &'a str,
    pub indirect_rate_basis_points: i32,
    pub indirect_base: i64,
    pub indirect_amount: i64,
    pub expenditure_decrease_reason: &'a str,
    pub remarks: &'a str,
}

/// An amount of a report line: 0 or more, at most [`MAX_AMOUNT`].
fn line(field: &str, value: i64) -> std::result::Result<Cents, FieldViolation> {
    if value < 0 {
        Err(FieldViolation::new(field, "must not be negative (cents)"))
    } else if value > MAX_AMOUNT.0 {
        Err(FieldViolation::new(
            field,
            format!("must be at most {} cents", MAX_AMOUNT.0),
        ))
    } else {
        Ok(Cents(value))
    }
}

impl FiguresInput<'_> {
    /// Checks each field on its own and reports all violations at once.
    pub fn validate(&self, prefix: &str) -> Result<Figures> {
        let field = |name: &str| format!("{prefix}.{name}");
        let rate = if (0..=MAX_RATE_BASIS_POINTS).contains(&self.indirect_rate_basis_points) {
            Ok(self.indirect_rate_basis_points)
        } else {
            Err(FieldViolation::new(
                field("indirect_rate_basis_points"),
                "must be 0-10000 basis points (1000 = 10.00%)",
            ))
        };
        let (
            (cash_receipts, cash_disbursements, federal_expenditures),
            (federal_unliquidated_obligations, recipient_share_required, recipient_share_expended),
            (indirect_base, indirect_amount, indirect_rate_basis_points),
            (indirect_rate_type, expenditure_decrease_reason, remarks),
        ) = (
            (
                line(&field("cash_receipts"), self.cash_receipts),
                line(&field("cash_disbursements"), self.cash_disbursements),
                line(&field("federal_expenditures"), self.federal_expenditures),
            )
                .all(),
            (
                line(
                    &field("federal_unliquidated_obligations"),
                    self.federal_unliquidated_obligations,
                ),
                line(
                    &field("recipient_share_required"),
                    self.recipient_share_required,
                ),
                line(
                    &field("recipient_share_expended"),
                    self.recipient_share_expended,
                ),
            )
                .all(),
            (
                line(&field("indirect_base"), self.indirect_base),
                line(&field("indirect_amount"), self.indirect_amount),
                rate,
            )
                .all(),
            (
                validate::optional_text(&field("indirect_rate_type"), self.indirect_rate_type, 40),
                validate::optional_text(
                    &field("expenditure_decrease_reason"),
                    self.expenditure_decrease_reason,
                    2000,
                ),
                validate::optional_text(&field("remarks"), self.remarks, 2000),
            )
                .all(),
        )
            .all()?;
        Ok(Figures {
            cash_receipts,
            cash_disbursements,
            federal_expenditures,
            federal_unliquidated_obligations,
            recipient_share_required,
            recipient_share_expended,
            indirect_rate_type,
            indirect_rate_basis_points,
            indirect_base,
            indirect_amount,
            expenditure_decrease_reason,
            remarks,
        })
    }
}

/// The grant's previous given report (submitted or accepted, of an earlier period).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreviousReport {
    pub period: String,
    pub federal_expenditures: Cents,
}

/// The checks of a submission: cash on hand is not negative, the federal share fits in what is
/// `authorized` (the grant's net obligation), the indirect amount is its base times its rate,
/// and cumulative expenditures fall below the `previous` report's only with a reason.
pub fn check_submission(
    figures: &Figures,
    authorized: Cents,
    previous: Option<&PreviousReport>,
) -> Result<()> {
    let prefix = "financial_report";
    let mut violations = Violations::new();
    if figures.cash_disbursements > figures.cash_receipts {
        violations.add(
            format!("{prefix}.cash_disbursements"),
            format!(
                "{} disbursed is more than the {} received (10c, cash on hand, would be negative)",
                figures.cash_disbursements, figures.cash_receipts
            ),
        );
    }
    if figures.total_federal_share() > authorized {
        violations.add(
            format!("{prefix}.federal_expenditures"),
            format!(
                "expenditures and unliquidated obligations (10e + 10f = {}) exceed the {authorized} obligated to the grant (10d)",
                figures.total_federal_share()
            ),
        );
    }
    let expected = i128::from(figures.indirect_base.0)
        * i128::from(figures.indirect_rate_basis_points)
        / i128::from(MAX_RATE_BASIS_POINTS);
    if (i128::from(figures.indirect_amount.0) - expected).abs() > 1 {
        violations.add(
            format!("{prefix}.indirect_amount"),
            format!(
                "is {} but the base {} at {}.{:02}% makes {} cents",
                figures.indirect_amount,
                figures.indirect_base,
                figures.indirect_rate_basis_points / 100,
                figures.indirect_rate_basis_points % 100,
                expected
            ),
        );
    }
    if let Some(previous) = previous
        && figures.federal_expenditures < previous.federal_expenditures
        && figures.expenditure_decrease_reason.is_empty()
    {
        violations.add(
            format!("{prefix}.expenditure_decrease_reason"),
            format!(
                "is required: cumulative expenditures fall from {} ({}) to {}",
                previous.federal_expenditures, previous.period, figures.federal_expenditures
            ),
        );
    }
    violations.finish()
}

/// A change of a report's review state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Review {
    Submit,
    Accept,
    Return,
}

/// Decides `review` of `report` by `actor` at `time`: the report after it. Acceptance needs
/// another person than the submitter; a return needs comments.
pub fn decide_review(
    report: &FinancialReport,
    review: Review,
    actor: &Actor,
    reason: &str,
    time: DateTime<Utc>,
) -> Result<FinancialReport> {
    let reason = validate::optional_text("reason", reason, 2000)?;
    use FinancialReportState::*;
    let target = match (review, report.state) {
        (Review::Submit, Draft | Returned) => Submitted,
        (Review::Accept, Submitted) => Accepted,
        (Review::Return, Submitted) => Returned,
        (_, state) => {
            return Err(Error::precondition(
                "FINANCIAL_REPORT_STATE_TRANSITION_NOT_ALLOWED",
                report.resource_name(),
                format!("the report is {state}: that review step does not apply"),
            ));
        }
    };
    let mut after = report.clone();
    after.state = target;
    match review {
        Review::Submit => {
            after.submitter = actor.resource_name();
            after.submitter_owner = actor.owner.clone();
            after.submit_time = Some(time);
        }
        Review::Accept | Review::Return => {
            if review == Review::Return && reason.is_empty() {
                return Err(Error::invalid("reason", "is required to return a report"));
            }
            if review == Review::Accept
                && actor.is_person(&report.submitter, &report.submitter_owner)
            {
                return Err(Error::precondition(
                    "FINANCIAL_REPORT_FOUR_EYES",
                    report.resource_name(),
                    "the person who submitted a report cannot accept it, with any of their tokens",
                ));
            }
            after.reviewer = actor.resource_name();
            after.reviewer_owner = actor.owner.clone();
            if review == Review::Return {
                after.reviewer_comments = reason;
            }
        }
    }
    Ok(after)
}
