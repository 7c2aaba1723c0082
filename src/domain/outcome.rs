//! Outcome reports and outcomes: what a grantee reports for one project and
//! one reporting period, the review state machine, the reporting schedule,
//! and milestones (one law, one first conviction, ... per country, kind and
//! date, counted once however many grantees report it).

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::fiscal_year::{FiscalCalendar, FiscalPart, check_fiscal_year};
use super::grant::ReportingCadence;
use super::names::{
    IndicatorName, MilestoneName, OutcomeName, OutcomeReportName, ProjectName, ResourceName,
};
use super::project::{Indicator, OutcomeKind, Project};
use super::validate::{self, CheckAll, Checked, MAX_TEXT, Violations};
use super::version::Stamps;
use crate::error::{Error, FieldViolation, Result};

code_enum! {
    /// The review state of an outcome report.
    pub enum OutcomeReportState {
        Draft => "DRAFT",
        Submitted => "SUBMITTED",
        Returned => "RETURNED",
        Accepted => "ACCEPTED",
    }
}

code_enum! {
    /// Where a project's report for one period stands.
    pub enum ReportingStatus {
        NotStarted => "NOT_STARTED",
        Draft => "DRAFT",
        Submitted => "SUBMITTED",
        Returned => "RETURNED",
        Accepted => "ACCEPTED",
        Overdue => "OVERDUE",
    }
}

/// Longest narrative of a report.
pub const MAX_NARRATIVE: usize = 20_000;
/// Largest quantity of one outcome.
pub const MAX_QUANTITY: i64 = 1_000_000_000_000;

/// How reports fall due (from settings).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReportingRules {
    pub calendar: FiscalCalendar,
    /// Days after a period's end that its report is due.
    pub due_days: u32,
    /// Days after the project's end that the final report is due.
    pub final_due_days: u32,
    /// Days of recent spending an advance may leave as cash on hand before it is flagged.
    pub advance_cash_days: u32,
}

/// A reporting period: a part of a fiscal year, or the final report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ReportPeriod {
    Fiscal { year: i32, part: FiscalPart },
    Final,
}

impl fmt::Display for ReportPeriod {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReportPeriod::Final => formatter.write_str("FINAL"),
            ReportPeriod::Fiscal {
                year,
                part: FiscalPart::Year,
            } => write!(formatter, "{year}"),
            ReportPeriod::Fiscal { year, part } => write!(formatter, "{year}-{}", part.code()),
        }
    }
}

impl FromStr for ReportPeriod {
    type Err = String;

    /// `2014-Q3`, `2014-H1`, `2014` or `FINAL` (any case).
    fn from_str(value: &str) -> std::result::Result<Self, String> {
        let upper = value.trim().to_ascii_uppercase();
        if upper == "FINAL" {
            return Ok(ReportPeriod::Final);
        }
        let (year, part) = match upper.split_once('-') {
            Some((year, part)) => (year, Some(part).filter(|part| !part.is_empty())),
            None => (upper.as_str(), Some("")),
        };
        let year = year.parse::<i32>().ok().filter(|_| year.len() == 4);
        match (year, part.and_then(FiscalPart::from_code)) {
            (Some(year), Some(part)) if check_fiscal_year(year).is_ok() => {
                Ok(ReportPeriod::Fiscal { year, part })
            }
            _ => Err(format!(
                "{} is not a reporting period such as 2014-Q3, 2014-H1, 2014 or FINAL",
                super::names::excerpt(value)
            )),
        }
    }
}

impl ReportPeriod {
    /// The fiscal year and part indicator targets use (`None` for the final report).
    pub fn target_key(self) -> Option<(i32, FiscalPart)> {
        match self {
            ReportPeriod::Fiscal { year, part } => Some((year, part)),
            ReportPeriod::Final => None,
        }
    }
}

/// One period of a project's reporting schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduledPeriod {
    pub period: ReportPeriod,
    pub start_date: NaiveDate,
    pub end_date: NaiveDate,
    pub due_date: NaiveDate,
}

/// The reporting schedule of a project: every period of the grant's cadence
/// that overlaps the project's period (clipped to it), then the final report.
pub fn schedule(
    rules: &ReportingRules,
    cadence: ReportingCadence,
    start: NaiveDate,
    end: NaiveDate,
) -> Vec<ScheduledPeriod> {
    let parts: &[FiscalPart] = match cadence {
        ReportingCadence::Quarterly => &[
            FiscalPart::Quarter(1),
            FiscalPart::Quarter(2),
            FiscalPart::Quarter(3),
            FiscalPart::Quarter(4),
        ],
        ReportingCadence::SemiAnnual => &[FiscalPart::Half(1), FiscalPart::Half(2)],
        ReportingCadence::Annual => &[FiscalPart::Year],
    };
    let due = |date: NaiveDate, days: u32| {
        date.checked_add_days(chrono::Days::new(u64::from(days)))
            .unwrap_or(date)
    };
    let mut periods = Vec::new();
    for year in rules.calendar.fiscal_year_of(start)..=rules.calendar.fiscal_year_of(end) {
        for part in parts {
            let Some((part_start, part_end)) = rules.calendar.part_bounds(year, *part) else {
                continue;
            };
            if part_end < start || part_start > end {
                continue;
            }
            let end_date = part_end.min(end);
            periods.push(ScheduledPeriod {
                period: ReportPeriod::Fiscal { year, part: *part },
                start_date: part_start.max(start),
                end_date,
                due_date: due(end_date, rules.due_days),
            });
        }
    }
    periods.push(ScheduledPeriod {
        period: ReportPeriod::Final,
        start_date: start,
        end_date: end,
        due_date: due(end, rules.final_due_days),
    });
    periods
}

/// A reporting period whose report is overdue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OverduePeriod {
    /// Which report: `outcome` or `financial`.
    pub report: &'static str,
    /// Whose report: the project (outcome reports) or the grant (financial reports).
    pub subject: String,
    /// The period, e.g. `2014-Q3` or `FINAL`.
    pub period: String,
    pub due_date: NaiveDate,
}

/// The first period of `projects` (each with its grant's cadence) whose report is overdue on
/// `today`, given their `reports`: the gate of payments.
pub fn first_overdue(
    rules: &ReportingRules,
    projects: &[(&Project, ReportingCadence)],
    reports: &[OutcomeReport],
    today: NaiveDate,
) -> Option<OverduePeriod> {
    projects.iter().find_map(|(project, cadence)| {
        schedule(
            rules,
            *cadence,
            project.fields.start_date,
            project.fields.end_date,
        )
        .into_iter()
        .find_map(|period| {
            let label = period.period.to_string();
            let report = reports
                .iter()
                .find(|report| report.project_id == project.id && report.period == label);
            let due = report
                .and_then(|report| report.due_date)
                .unwrap_or(period.due_date);
            (period_status(report.map(|report| report.state), due, today)
                == ReportingStatus::Overdue)
                .then(|| OverduePeriod {
                    report: "outcome",
                    subject: project.resource_name(),
                    period: label,
                    due_date: due,
                })
        })
    })
}

/// Where a period stands on `today`, given its report's state (if any) and due date.
pub fn period_status(
    state: Option<OutcomeReportState>,
    due_date: NaiveDate,
    today: NaiveDate,
) -> ReportingStatus {
    let late = due_date < today;
    match state {
        Some(OutcomeReportState::Accepted) => ReportingStatus::Accepted,
        Some(OutcomeReportState::Submitted) => ReportingStatus::Submitted,
        _ if late => ReportingStatus::Overdue,
        None => ReportingStatus::NotStarted,
        Some(OutcomeReportState::Draft) => ReportingStatus::Draft,
        Some(OutcomeReportState::Returned) => ReportingStatus::Returned,
    }
}

/// A stored outcome report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OutcomeReport {
    pub id: String,
    pub grant_id: String,
    pub project_id: String,
    pub period: String,
    pub period_start_date: NaiveDate,
    pub period_end_date: NaiveDate,
    /// Fixed when submitted; until then the schedule's due date applies.
    pub due_date: Option<NaiveDate>,
    pub state: OutcomeReportState,
    pub narrative: String,
    pub reviewer_comments: String,
    /// Tokens, `apiTokens/{id}`; empty until set.
    pub submitter: String,
    pub submit_time: Option<DateTime<Utc>>,
    pub reviewer: String,
    pub review_time: Option<DateTime<Utc>>,
    /// The persons behind those tokens (their owners), for four eyes and the audit.
    pub submitter_owner: String,
    pub reviewer_owner: String,
    #[serde(flatten)]
    pub stamps: Stamps,
    /// Live outcomes (read with the report).
    pub outcome_count: i64,
}

audited!(OutcomeReport => period, period_start_date, period_end_date, state, narrative, reviewer_comments, submitter, reviewer, submitter_owner, reviewer_owner, due_date);

impl OutcomeReport {
    /// Whether its period follows the project's schedule: until it is submitted.
    pub fn follows_schedule(&self) -> bool {
        matches!(
            self.state,
            OutcomeReportState::Draft | OutcomeReportState::Returned
        )
    }
}

impl OutcomeReport {
    pub fn name(&self) -> OutcomeReportName {
        OutcomeReportName::new(&self.grant_id, &self.project_id, &self.id)
    }

    pub fn resource_name(&self) -> String {
        self.name().to_string()
    }

    /// Outcomes and the narrative change only while a draft or returned.
    pub fn check_editable(&self) -> Result<()> {
        match self.state {
            OutcomeReportState::Draft | OutcomeReportState::Returned => Ok(()),
            state => Err(Error::precondition(
                "OUTCOME_REPORT_LOCKED",
                self.resource_name(),
                format!("the report is {state}: it changes only while a draft or returned"),
            )),
        }
    }
}

/// An open report after its project's period changed: its period's new dates,
/// or `None` when nothing changes (a submitted report keeps what it was submitted for).
pub fn rescheduled(report: &OutcomeReport, schedule: &[ScheduledPeriod]) -> Option<OutcomeReport> {
    if !report.follows_schedule() {
        return None;
    }
    let period = schedule
        .iter()
        .find(|period| period.period.to_string() == report.period)?;
    if (period.start_date, period.end_date) == (report.period_start_date, report.period_end_date) {
        return None;
    }
    let mut after = report.clone();
    after.period_start_date = period.start_date;
    after.period_end_date = period.end_date;
    Some(after)
}

/// A new report, checked: its period is one of the project's schedule.
pub fn new_report_period(
    field: &str,
    period: &str,
    schedule: &[ScheduledPeriod],
) -> Result<ScheduledPeriod> {
    if period.trim().is_empty() {
        return Err(Error::invalid(
            field,
            "is required: one of the project's reporting periods, e.g. 2014-Q3 or FINAL",
        ));
    }
    let parsed: ReportPeriod = period
        .parse()
        .map_err(|message: String| Error::invalid(field, message))?;
    schedule
        .iter()
        .find(|scheduled| scheduled.period == parsed)
        .cloned()
        .ok_or_else(|| {
            let periods: Vec<String> = schedule.iter().map(|s| s.period.to_string()).collect();
            Error::invalid(
                field,
                format!(
                    "{parsed} is not a reporting period of this project; its periods: {}",
                    periods.join(", ")
                ),
            )
        })
}

/// Whether an indicator has a target for `period`: the part itself or the whole year; for the final report, any target.
pub fn has_target_for(indicator: &Indicator, period: ReportPeriod) -> bool {
    match period.target_key() {
        None => !indicator.fields.targets.is_empty(),
        Some((year, part)) => indicator.fields.targets.iter().any(|target| {
            target.fiscal_year == year && (target.period.is_empty() || target.period == part.code())
        }),
    }
}

/// Officials trained, by role.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OfficialsTrained {
    pub police: i64,
    pub prosecutors: i64,
    pub judges: i64,
    pub labour_inspectors: i64,
    pub social_workers: i64,
    pub other: i64,
}

/// Victims by sex and by age group.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Victims {
    pub female: i64,
    pub male: i64,
    pub other_sex: i64,
    pub children: i64,
    pub adults: i64,
}

/// The breakdowns of an outcome (one JSON column).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Breakdown {
    pub officials_trained: OfficialsTrained,
    pub victims: Victims,
}

/// The fields of an outcome. Drafts may lack a country, a date or a quantity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OutcomeFields {
    pub kind: OutcomeKind,
    /// Empty while a draft leaves it out.
    pub country_code: String,
    pub outcome_date: Option<NaiveDate>,
    pub quantity: i64,
    pub breakdown: Breakdown,
    pub first_for_country: bool,
    pub description: String,
    pub evidence_uri: String,
    /// The indicator's id in the same project; empty for none.
    pub indicator_id: String,
    /// The milestone it reports (set by the server, or named by the client).
    pub milestone_id: Option<String>,
}

audited!(OutcomeFields => kind, country_code, outcome_date, quantity, breakdown, first_for_country, description, evidence_uri, indicator_id, milestone_id);

/// A stored outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Outcome {
    pub id: String,
    pub grant_id: String,
    pub project_id: String,
    pub report_id: String,
    pub fields: OutcomeFields,
    /// The fiscal year of its date (`None` without a date).
    pub fiscal_year: Option<i32>,
    #[serde(flatten)]
    pub stamps: Stamps,
    pub delete_time: Option<DateTime<Utc>>,
}

versioned!(Outcome => "the outcome");

impl Outcome {
    pub fn name(&self) -> OutcomeName {
        OutcomeName::new(&self.grant_id, &self.project_id, &self.report_id, &self.id)
    }

    pub fn resource_name(&self) -> String {
        self.name().to_string()
    }
}

/// What an outcome is checked against: its report's period and its project.
pub struct OutcomeContext<'a> {
    pub report: &'a OutcomeReport,
    pub project: &'a Project,
}

/// Unchecked outcome fields as they came in.
#[derive(Debug, Clone, Default)]
pub struct OutcomeInput<'a> {
    pub kind: Option<OutcomeKind>,
    pub country_code: &'a str,
    pub outcome_date: &'a str,
    pub quantity: i64,
    pub officials_trained: Option<OfficialsTrained>,
    pub victims: Option<Victims>,
    pub first_for_country: bool,
    pub description: &'a str,
    pub evidence_uri: &'a str,
    pub indicator: &'a str,
    pub milestone: &'a str,
}

impl OutcomeInput<'_> {
    /// Checks every field that is present (a draft may leave out the
    /// country, the date and the quantity) and reports all violations at once.
    pub fn validate(&self, prefix: &str, context: &OutcomeContext<'_>) -> Result<OutcomeFields> {
        let field = |name: &str| format!("{prefix}.{name}");
        let report = context.report;
        let project = context.project;
        let country_code = match self.country_code.trim() {
            "" => Ok(String::new()),
            code => validate::country_code(&field("country_code"), code).and_then(|code| {
                if project.fields.country_codes.contains(&code) {
                    Ok(code)
                } else {
                    Err(FieldViolation::new(
                        field("country_code"),
                        format!(
                            "{code} is not one of the project's countries ({})",
                            project.fields.country_codes.join(", ")
                        ),
                    ))
                }
            }),
        };
        let outcome_date = match self.outcome_date.trim() {
            "" => Ok(None),
            text => validate::date(&field("outcome_date"), text).and_then(|date| {
                if (report.period_start_date..=report.period_end_date).contains(&date) {
                    Ok(Some(date))
                } else {
                    Err(FieldViolation::new(
                        field("outcome_date"),
                        format!(
                            "{date} is outside the report's period {} ({} to {})",
                            report.period, report.period_start_date, report.period_end_date
                        ),
                    ))
                }
            }),
        };
        let quantity = if (0..=MAX_QUANTITY).contains(&self.quantity) {
            Ok(self.quantity)
        } else {
            Err(FieldViolation::new(
                field("quantity"),
                format!("must be from 0 to {MAX_QUANTITY}"),
            ))
        };
        let breakdown = breakdown(
            prefix,
            self.quantity,
            self.officials_trained.unwrap_or_default(),
            self.victims.unwrap_or_default(),
        );
        let indicator_id = match self.indicator.trim() {
            "" => Ok(String::new()),
            name => IndicatorName::parse(&field("indicator"), name).and_then(|name| {
                if name.project() == ProjectName::new(&project.grant_id, &project.id) {
                    Ok(name.indicator)
                } else {
                    Err(FieldViolation::new(
                        field("indicator"),
                        "must be an indicator of the report's project",
                    ))
                }
            }),
        };
        let milestone_id = match self.milestone.trim() {
            "" => Ok(None),
            name => {
                MilestoneName::parse(&field("milestone"), name).map(|name| Some(name.milestone))
            }
        };
        let (
            kind,
            country_code,
            outcome_date,
            quantity,
            breakdown,
            description,
            evidence_uri,
            indicator_id,
            milestone_id,
        ) = (
            validate::required(&field("kind"), self.kind),
            country_code,
            outcome_date,
            quantity,
            breakdown,
            validate::optional_text(&field("description"), self.description, MAX_TEXT),
            evidence_uri(&field("evidence_uri"), self.evidence_uri),
            indicator_id,
            milestone_id,
        )
            .all()?;
        Ok(OutcomeFields {
            kind,
            country_code,
            outcome_date,
            quantity,
            breakdown,
            first_for_country: self.first_for_country,
            description,
            evidence_uri,
            indicator_id,
            milestone_id,
        })
    }
}

/// Breakdown parts are not negative and do not add up to more than the
/// quantity (each breakdown named at most once; a bad quantity is its own violation).
fn breakdown(
    prefix: &str,
    quantity: i64,
    officials: OfficialsTrained,
    victims: Victims,
) -> Checked<Breakdown> {
    let problem = |parts: &[(&str, &[i64])]| -> Option<String> {
        let mut problems = Vec::new();
        for (what, values) in parts {
            let sum = values.iter().try_fold(0i64, |sum, part| {
                (*part >= 0).then_some(())?;
                sum.checked_add(*part)
            });
            match sum {
                None => problems.push(format!("{what}the parts must not be negative")),
                Some(sum) if quantity >= 0 && sum > quantity => problems.push(format!(
                    "{what}the parts add up to {sum}, more than the quantity {quantity}"
                )),
                Some(_) => {}
            }
        }
        (!problems.is_empty()).then(|| problems.join("; "))
    };
    let mut violations = Violations::new();
    let officials_parts = [
        officials.police,
        officials.prosecutors,
        officials.judges,
        officials.labour_inspectors,
        officials.social_workers,
        officials.other,
    ];
    if let Some(problem) = problem(&[("", &officials_parts)]) {
        violations.add(format!("{prefix}.officials_trained"), problem);
    }
    let by_sex = [victims.female, victims.male, victims.other_sex];
    let by_age = [victims.children, victims.adults];
    if let Some(problem) = problem(&[("by sex: ", &by_sex), ("by age group: ", &by_age)]) {
        violations.add(format!("{prefix}.victims"), problem);
    }
    violations.or(Breakdown {
        officials_trained: officials,
        victims,
    })
}

/// An optional link to evidence: `http://` or `https://`, at most 2,000 characters.
fn evidence_uri(field: &str, value: &str) -> std::result::Result<String, FieldViolation> {
    let value = validate::optional_text(field, value, 2000)?;
    let web = value.starts_with("https://") || value.starts_with("http://");
    if value.is_empty() || (web && !value.contains(char::is_whitespace)) {
        Ok(value)
    } else {
        Err(FieldViolation::new(
            field,
            "must be an http:// or https:// link without spaces",
        ))
    }
}

/// What a submission needs of every outcome: a country, a date and a quantity of at least 1.
pub(super) fn check_complete(outcomes: &[OutcomeFields]) -> Result<()> {
    let mut violations = Violations::new();
    for (index, outcome) in outcomes.iter().enumerate() {
        let field = |name: &str| format!("outcomes[{index}].{name}");
        if outcome.country_code.is_empty() {
            violations.add(field("country_code"), "is required to submit the report");
        }
        if outcome.outcome_date.is_none() {
            violations.add(field("outcome_date"), "is required to submit the report");
        }
        if outcome.quantity < 1 {
            violations.add(field("quantity"), "must be at least 1 to submit the report");
        }
    }
    violations.finish()
}

/// One accepted outcome counting toward an indicator: its report's period, its fiscal year, quantity and milestone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actual {
    pub period: String,
    pub fiscal_year: Option<i32>,
    pub quantity: i64,
    pub milestone_id: Option<String>,
}

/// Target and accepted actual of one indicator in one (fiscal year, part).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeriodProgress {
    pub fiscal_year: i32,
    pub part: FiscalPart,
    pub target: i64,
    pub actual: i64,
}

/// An indicator's targets beside its accepted actuals, period by period. A
/// milestone counts once, in the first period that reports it; an outcome
/// of the final report counts in its own fiscal year.
pub fn indicator_progress(
    indicator: &Indicator,
    actuals: &[Actual],
) -> (Vec<PeriodProgress>, i64, i64) {
    let mut periods: std::collections::BTreeMap<(i32, FiscalPart), (i64, i64)> = Default::default();
    for target in &indicator.fields.targets {
        if let Some(part) = FiscalPart::from_code(&target.period) {
            periods.entry((target.fiscal_year, part)).or_default().0 += target.value;
        }
    }
    let mut counted_milestones: Vec<&str> = Vec::new();
    for actual in actuals {
        if let Some(milestone) = actual.milestone_id.as_deref() {
            if counted_milestones.contains(&milestone) {
                continue;
            }
            counted_milestones.push(milestone);
        }
        let key = match actual.period.parse::<ReportPeriod>() {
            Ok(ReportPeriod::Fiscal { year, part }) => Some((year, part)),
            _ => actual.fiscal_year.map(|year| (year, FiscalPart::Year)),
        };
        if let Some(key) = key {
            let entry = periods.entry(key).or_default();
            entry.1 = entry.1.saturating_add(if actual.milestone_id.is_some() {
                1
            } else {
                actual.quantity
            });
        }
    }
    let total_actual = periods
        .values()
        .map(|(_, actual)| *actual)
        .fold(0i64, i64::saturating_add);
    let years_with_whole_target: Vec<i32> = indicator
        .fields
        .targets
        .iter()
        .filter(|target| target.period.is_empty())
        .map(|target| target.fiscal_year)
        .collect();
    let total_target = indicator
        .fields
        .targets
        .iter()
        .filter(|target| {
            target.period.is_empty() || !years_with_whole_target.contains(&target.fiscal_year)
        })
        .map(|target| target.value)
        .fold(0i64, i64::saturating_add);
    let periods = periods
        .into_iter()
        .map(|((fiscal_year, part), (target, actual))| PeriodProgress {
            fiscal_year,
            part,
            target,
            actual,
        })
        .collect();
    (periods, total_actual, total_target)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(text: &str) -> NaiveDate {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
    }

    fn rules() -> ReportingRules {
        ReportingRules {
            calendar: FiscalCalendar::default(),
            due_days: 30,
            final_due_days: 90,
            advance_cash_days: 30,
        }
    }

    #[test]
    fn a_quarterly_schedule_clips_periods_to_the_project_and_ends_with_the_final_report() {
        let periods = schedule(
            &rules(),
            ReportingCadence::Quarterly,
            date("2014-01-15"),
            date("2014-06-30"),
        );
        let shown: Vec<(String, NaiveDate, NaiveDate, NaiveDate)> = periods
            .iter()
            .map(|p| (p.period.to_string(), p.start_date, p.end_date, p.due_date))
            .collect();
        assert_eq!(
            shown,
            vec![
                (
                    "2014-Q2".into(),
                    date("2014-01-15"),
                    date("2014-03-31"),
                    date("2014-04-30")
                ),
                (
                    "2014-Q3".into(),
                    date("2014-04-01"),
                    date("2014-06-30"),
                    date("2014-07-30")
                ),
                (
                    "FINAL".into(),
                    date("2014-01-15"),
                    date("2014-06-30"),
                    date("2014-09-28")
                ),
            ]
        );
    }

    #[test]
    fn semi_annual_and_annual_schedules_follow_the_fiscal_year() {
        let halves = schedule(
            &rules(),
            ReportingCadence::SemiAnnual,
            date("2013-10-01"),
            date("2014-10-01"),
        );
        let names: Vec<String> = halves.iter().map(|p| p.period.to_string()).collect();
        assert_eq!(names, ["2014-H1", "2014-H2", "2015-H1", "FINAL"]);
        let years = schedule(
            &rules(),
            ReportingCadence::Annual,
            date("2014-09-30"),
            date("2014-10-01"),
        );
        let names: Vec<String> = years.iter().map(|p| p.period.to_string()).collect();
        assert_eq!(names, ["2014", "2015", "FINAL"]);
    }

    #[test]
    fn periods_parse_and_print_one_way() {
        for text in ["2014-Q3", "2014-H1", "2014", "FINAL"] {
            assert_eq!(text.parse::<ReportPeriod>().unwrap().to_string(), text);
        }
        assert_eq!("final".parse::<ReportPeriod>(), Ok(ReportPeriod::Final));
        for bad in ["2014-Q5", "14-Q1", "2014-X1", "", "2014-"] {
            assert!(bad.parse::<ReportPeriod>().is_err(), "{bad}");
        }
    }

    #[test]
    fn a_period_is_overdue_only_without_a_submitted_report_after_its_due_date() {
        let due = date("2014-07-30");
        let (before, after) = (date("2014-07-30"), date("2014-07-31"));
        assert_eq!(
            period_status(None, due, before),
            ReportingStatus::NotStarted
        );
        assert_eq!(period_status(None, due, after), ReportingStatus::Overdue);
        assert_eq!(
            period_status(Some(OutcomeReportState::Draft), due, after),
            ReportingStatus::Overdue
        );
        assert_eq!(
            period_status(Some(OutcomeReportState::Returned), due, before),
            ReportingStatus::Returned
        );
        assert_eq!(
            period_status(Some(OutcomeReportState::Submitted), due, after),
            ReportingStatus::Submitted
        );
        assert_eq!(
            period_status(Some(OutcomeReportState::Accepted), due, after),
            ReportingStatus::Accepted
        );
    }

    #[test]
    fn breakdown_parts_may_not_exceed_the_quantity() {
        let officials = OfficialsTrained {
            police: 10,
            judges: 5,
            ..Default::default()
        };
        assert!(breakdown("o", 15, officials, Victims::default()).is_ok());
        assert!(breakdown("o", 14, officials, Victims::default()).is_err());
        let victims = Victims {
            female: 3,
            male: 3,
            children: 4,
            adults: 3,
            ..Default::default()
        };
        assert!(breakdown("o", 6, OfficialsTrained::default(), victims).is_err());
        assert!(breakdown("o", 7, OfficialsTrained::default(), victims).is_ok());
        let negative = Victims {
            female: -1,
            ..Default::default()
        };
        assert!(breakdown("o", 7, OfficialsTrained::default(), negative).is_err());
    }
}
