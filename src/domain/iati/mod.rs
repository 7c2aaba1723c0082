//! The IATI 2.03 activity file: what one grant (award) says as an `iati-activity`, decided here
//! from the facts the store reads (`ActivityFacts`) and written by `xml.rs`. One activity per
//! grant, not per project: the award number is the identifier the office publishes and money
//! (obligations) belongs to grants; a grant's projects give its countries, sectors, description
//! and results. The codes come from IATI's code lists (ActivityStatus, OrganisationType,
//! TransactionType, Sector vocabulary 1: OECD DAC 5-digit purpose codes) and are listed, with the
//! mapping, in docs/standards.md. Counts of victims reach IATI (a public file) only under the k
//! rule (`statistics::People`), with the same parts as fiscal-year reports.

mod xml;

use chrono::{DateTime, NaiveDate, Utc};

pub use xml::{document_end, document_start, write_activity};

use super::fiscal_year::{FiscalCalendar, FiscalPart};
use super::grant::{GrantState, ObligationKind};
use super::money::Cents;
use super::organization::OrganizationKind;
use super::outcome::{Actual, ReportPeriod, indicator_progress};
use super::pillar::Pillar;
use super::project::Indicator;
use super::statistics::People;

/// The office as IATI knows it (`[iati]` settings).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Publisher {
    /// Its IATI organisation identifier: the prefix of every activity identifier.
    pub identifier: String,
    pub name: String,
    /// IATI OrganisationType code.
    pub organization_type: u32,
}

/// The fiscal years an export covers; `None` for no bound.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FiscalYears {
    pub from: Option<i32>,
    pub to: Option<i32>,
}

impl FiscalYears {
    /// Whether `year` is inside.
    pub fn contains(self, year: i32) -> bool {
        self.from.is_none_or(|from| year >= from) && self.to.is_none_or(|to| year <= to)
    }

    /// The first and last day of the range, each `None` when unbounded.
    pub fn dates(self, calendar: FiscalCalendar) -> (Option<NaiveDate>, Option<NaiveDate>) {
        (
            self.from
                .and_then(|year| calendar.bounds(year))
                .map(|(start, _)| start),
            self.to
                .and_then(|year| calendar.bounds(year))
                .map(|(_, end)| end),
        )
    }
}

/// The grantee, as `participating-org` (implementing) names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GranteeFact {
    pub name: String,
    pub kind: OrganizationKind,
    /// Its home country (ISO 3166 alpha-2).
    pub country_code: String,
}

/// A country of a grant's projects, with its region (the office's regional bureau).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct CountryFact {
    pub code: String,
    pub region_code: String,
    pub region_name: String,
}

/// One obligation (a de-obligation is negative).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObligationEntry {
    pub kind: ObligationKind,
    /// The fiscal year of its funds.
    pub fiscal_year: i32,
    pub date: NaiveDate,
    pub amount: Cents,
}

/// A payment made to the grantee: a paid payment request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentEntry {
    /// The fiscal year of the funds paid from.
    pub fiscal_year: i32,
    pub date: NaiveDate,
    pub amount: Cents,
}

/// An accepted financial report: cumulative federal expenditures to the end of its period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpenditureEntry {
    pub period: String,
    pub period_end: NaiveDate,
    pub cumulative: Cents,
}

/// An accepted outcome counting toward an indicator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResultActual {
    /// Its report's period (`2014-Q3`, `FINAL`, ...).
    pub period: String,
    pub fiscal_year: Option<i32>,
    pub date: Option<NaiveDate>,
    pub country_code: String,
    pub quantity: i64,
    pub milestone_id: Option<String>,
}

/// An indicator with its project's start and its accepted actuals.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndicatorFact {
    pub indicator: Indicator,
    /// The baseline is as of the project's start.
    pub project_start: NaiveDate,
    pub actuals: Vec<ResultActual>,
}

/// An outcome's evidence link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvidenceLink {
    pub uri: String,
    pub description: String,
    /// Whether its outcome counts victims: then its description (which may say how many) is not
    /// published, only the link.
    pub counts_victims: bool,
    /// The outcome's recorded fiscal year, or the date it is computed from.
    pub fiscal_year: Option<i32>,
    pub date: Option<NaiveDate>,
}

impl EvidenceLink {
    /// Whether its outcome falls in the years asked for (an undated one always does).
    pub fn is_in(&self, context: &ActivityContext<'_>) -> bool {
        self.fiscal_year
            .or_else(|| self.date.map(|date| context.calendar.fiscal_year_of(date)))
            .is_none_or(|year| context.years.contains(year))
    }
}

/// Everything one `iati-activity` is written from, read from one snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActivityFacts {
    pub award_number: String,
    pub title: String,
    pub state: GrantState,
    pub start: NaiveDate,
    pub end: NaiveDate,
    /// When the grant last changed.
    pub last_updated: DateTime<Utc>,
    pub grantee: GranteeFact,
    /// Each project's title and summary.
    pub projects: Vec<(String, String)>,
    /// The countries of its projects, each once, in code order.
    pub countries: Vec<CountryFact>,
    /// The pillars of its projects, each once.
    pub pillars: Vec<Pillar>,
    pub obligations: Vec<ObligationEntry>,
    /// Paid payment requests, by date.
    pub payments: Vec<PaymentEntry>,
    /// Accepted financial reports, by period end.
    pub expenditures: Vec<ExpenditureEntry>,
    pub indicators: Vec<IndicatorFact>,
    pub evidence: Vec<EvidenceLink>,
}

/// How an activity is written: who publishes, the calendar, the years asked for, the k of the k
/// rule, and today (actual dates are never in the future).
#[derive(Debug, Clone, Copy)]
pub struct ActivityContext<'a> {
    pub publisher: &'a Publisher,
    pub calendar: FiscalCalendar,
    pub years: FiscalYears,
    pub k: i64,
    pub today: NaiveDate,
}

/// The activity's identifier: the office's organisation identifier, a hyphen, the award number.
pub fn identifier(publisher: &Publisher, award_number: &str) -> String {
    format!("{}-{}", publisher.identifier, award_number.trim())
}

/// IATI ActivityStatus of a grant: 1 pipeline (draft), 2 implementation (active), 3 finalisation
/// (active past its end), 4 closed, 5 cancelled (terminated early), 6 suspended.
pub fn activity_status(state: GrantState, end: NaiveDate, today: NaiveDate) -> u8 {
    match state {
        GrantState::Draft => 1,
        GrantState::Active if end < today => 3,
        GrantState::Active => 2,
        GrantState::Closed => 4,
        GrantState::Terminated => 5,
        GrantState::Suspended => 6,
    }
}

/// IATI OrganisationType of a grantee: an NGO based in a country the grant works in is a partner
/// country based NGO (24), another an international NGO (21).
pub fn organization_type(grantee: &GranteeFact, countries: &[CountryFact]) -> u32 {
    match grantee.kind {
        OrganizationKind::Ngo
            if countries
                .iter()
                .any(|country| country.code == grantee.country_code) =>
        {
            24
        }
        OrganizationKind::Ngo => 21,
        OrganizationKind::InternationalOrganization => 40,
        OrganizationKind::University => 80,
        OrganizationKind::Government => 10,
        OrganizationKind::PrivateFirm => 70,
    }
}

/// The OECD DAC purpose code (IATI Sector vocabulary 1) of a pillar and its name.
pub fn sector(pillar: Pillar) -> (&'static str, &'static str) {
    match pillar {
        Pillar::Prosecution => ("15130", "Legal and judicial development"),
        Pillar::Protection => ("15160", "Human rights"),
        Pillar::Prevention => (
            "15190",
            "Facilitation of orderly, safe, regular and responsible migration and mobility",
        ),
        Pillar::Partnership => ("15150", "Democratic participation and civil society"),
    }
}

/// `count` percentages with two decimals adding up to exactly 100 (the first take the extra
/// hundredths).
pub fn percentages(count: usize) -> Vec<String> {
    if count == 0 {
        return Vec::new();
    }
    let hundredths = 10_000 / count as u64;
    let extra = 10_000 % count as u64;
    (0..count as u64)
        .map(|index| {
            let share = hundredths + u64::from(index < extra);
            format!("{}.{:02}", share / 100, share % 100)
        })
        .collect()
}

/// An amount in dollars with two decimals, as IATI values are written (`-1250.00`).
pub fn dollars(amount: Cents) -> String {
    let sign = if amount.0 < 0 { "-" } else { "" };
    let absolute = amount.0.unsigned_abs();
    format!("{sign}{}.{:02}", absolute / 100, absolute % 100)
}

/// One `budget`: a fiscal year's net obligations, from its funds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Budget {
    pub start: NaiveDate,
    pub end: NaiveDate,
    pub value: Cents,
}

/// The budget of each fiscal year of funds in the range: the net of its obligations.
pub fn budgets(activity: &ActivityFacts, context: &ActivityContext<'_>) -> Vec<Budget> {
    let mut by_year: std::collections::BTreeMap<i32, Cents> = Default::default();
    for obligation in &activity.obligations {
        if context.years.contains(obligation.fiscal_year) {
            *by_year.entry(obligation.fiscal_year).or_default() += obligation.amount;
        }
    }
    by_year
        .into_iter()
        .filter_map(|(year, value)| {
            let (start, end) = context.calendar.bounds(year)?;
            Some(Budget { start, end, value })
        })
        .collect()
}

/// IATI TransactionType.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum TransactionType {
    /// 2: money the office committed to the grantee (an obligation).
    OutgoingCommitment,
    /// 3: money paid to the grantee (a paid payment request).
    Disbursement,
    /// 4: money the grantee spent (what an accepted financial report adds to the one before).
    Expenditure,
}

impl TransactionType {
    /// The IATI code.
    pub fn code(self) -> u8 {
        match self {
            TransactionType::OutgoingCommitment => 2,
            TransactionType::Disbursement => 3,
            TransactionType::Expenditure => 4,
        }
    }
}

/// One `transaction`: from the office to the grantee.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transaction {
    pub kind: TransactionType,
    pub date: NaiveDate,
    pub value: Cents,
    pub description: String,
}

/// Every transaction of the activity in the range, by date. Each kind of money has its source:
/// commitments from obligations, disbursements from paid payment requests, expenditures from
/// accepted financial reports.
pub fn transactions(activity: &ActivityFacts, context: &ActivityContext<'_>) -> Vec<Transaction> {
    let mut all = commitments(activity, context);
    all.extend(disbursements(activity, context));
    all.extend(expenditures(activity, context));
    all.sort_by_key(|transaction| (transaction.date, transaction.kind));
    all
}

/// Outgoing commitments: one per obligation whose funds' year is in the range (a de-obligation
/// as a negative commitment, as IATI asks for a decrease).
fn commitments(activity: &ActivityFacts, context: &ActivityContext<'_>) -> Vec<Transaction> {
    activity
        .obligations
        .iter()
        .filter(|obligation| context.years.contains(obligation.fiscal_year))
        .map(|obligation| Transaction {
            kind: TransactionType::OutgoingCommitment,
            date: obligation.date,
            value: obligation.amount,
            description: format!(
                "{} (FY {} funds)",
                match obligation.kind {
                    ObligationKind::InitialAward => "Initial award",
                    ObligationKind::Increment => "Increment",
                    ObligationKind::Deobligation => "De-obligation",
                },
                obligation.fiscal_year
            ),
        })
        .collect()
}

/// Disbursements: one per paid request whose funds' year is in the range.
fn disbursements(activity: &ActivityFacts, context: &ActivityContext<'_>) -> Vec<Transaction> {
    activity
        .payments
        .iter()
        .filter(|payment| context.years.contains(payment.fiscal_year))
        .map(|payment| Transaction {
            kind: TransactionType::Disbursement,
            date: payment.date,
            value: payment.amount,
            description: format!("Payment (FY {} funds)", payment.fiscal_year),
        })
        .collect()
}

/// Expenditures: what each accepted financial report adds to the cumulative expenditures of
/// the one before (negative when they fell), dated at its period's end, for periods ending in
/// a fiscal year of the range. Reports with nothing new add no transaction.
fn expenditures(activity: &ActivityFacts, context: &ActivityContext<'_>) -> Vec<Transaction> {
    let mut before = Cents(0);
    let mut found = Vec::new();
    for report in &activity.expenditures {
        let added = Cents(report.cumulative.0.saturating_sub(before.0));
        before = report.cumulative;
        let year = context.calendar.fiscal_year_of(report.period_end);
        if added.0 != 0 && context.years.contains(year) {
            found.push(Transaction {
                kind: TransactionType::Expenditure,
                date: report.period_end,
                value: added,
                description: format!("Expenditure reported for {}", report.period),
            });
        }
    }
    found
}

/// One period of a result indicator: its dates, target and actual (`None` when not given or
/// withheld under the k rule).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResultPeriod {
    pub start: NaiveDate,
    pub end: NaiveDate,
    pub target: Option<i64>,
    pub actual: Option<i64>,
}

/// One `result`: an indicator, its baseline and periods.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndicatorResult {
    pub title: String,
    pub unit: String,
    /// IATI ResultType: 1 output (people reached), 2 outcome (laws, convictions, mechanisms).
    pub result_type: u8,
    pub baseline_year: i32,
    pub baseline: i64,
    pub periods: Vec<ResultPeriod>,
}

/// The result of each indicator: per reporting period in the range its target and the actual of
/// accepted outcomes. An indicator counting victims is reported per fiscal year, and its actual
/// only when no part of it (the victims of one country in that year, as in reports) holds from 1
/// to k - 1: quarters would be smaller groups than any report shows.
pub fn results(activity: &ActivityFacts, context: &ActivityContext<'_>) -> Vec<IndicatorResult> {
    activity
        .indicators
        .iter()
        .map(|fact| {
            let fields = &fact.indicator.fields;
            let kind = fields.outcome_kind;
            let periods = if kind.counts_victims() {
                yearly_victim_periods(fact, context)
            } else {
                reporting_periods(fact, context)
            };
            IndicatorResult {
                title: fields.display_name.clone(),
                unit: fields.unit.clone(),
                result_type: if kind.counts_victims()
                    || matches!(
                        kind,
                        super::project::OutcomeKind::OfficialsTrained
                            | super::project::OutcomeKind::AwarenessReached
                    ) {
                    1
                } else {
                    2
                },
                baseline_year: context.calendar.fiscal_year_of(fact.project_start),
                baseline: fields.baseline,
                periods,
            }
        })
        .collect()
}

/// Periods as `GetIndicatorProgress` counts them (the one rule of targets beside actuals).
fn reporting_periods(fact: &IndicatorFact, context: &ActivityContext<'_>) -> Vec<ResultPeriod> {
    let actuals: Vec<Actual> = fact
        .actuals
        .iter()
        .map(|actual| Actual {
            period: actual.period.clone(),
            fiscal_year: actual.fiscal_year,
            quantity: actual.quantity,
            milestone_id: actual.milestone_id.clone(),
        })
        .collect();
    let (periods, _, _) = indicator_progress(&fact.indicator, &actuals);
    periods
        .into_iter()
        .filter(|period| context.years.contains(period.fiscal_year))
        .filter_map(|period| {
            let (start, end) = context
                .calendar
                .part_bounds(period.fiscal_year, period.part)?;
            Some(ResultPeriod {
                start,
                end,
                target: Some(period.target),
                actual: Some(period.actual),
            })
        })
        .collect()
}

/// Whole fiscal years for an indicator counting victims: the year's target (the whole-year
/// target, else the sum of its parts') and the victims of its outcomes dated in the year,
/// published only when no country's part is small.
fn yearly_victim_periods(fact: &IndicatorFact, context: &ActivityContext<'_>) -> Vec<ResultPeriod> {
    use std::collections::BTreeMap;
    let mut targets: BTreeMap<i32, (Option<i64>, i64)> = BTreeMap::new();
    for target in &fact.indicator.fields.targets {
        let entry = targets.entry(target.fiscal_year).or_default();
        if FiscalPart::from_code(&target.period) == Some(FiscalPart::Year) {
            entry.0 = Some(entry.0.unwrap_or(0).saturating_add(target.value));
        } else {
            entry.1 = entry.1.saturating_add(target.value);
        }
    }
    let mut victims: BTreeMap<i32, People> = BTreeMap::new();
    for actual in &fact.actuals {
        let year = actual
            .fiscal_year
            .or_else(|| {
                actual
                    .date
                    .map(|date| context.calendar.fiscal_year_of(date))
            })
            .or_else(|| match actual.period.parse::<ReportPeriod>() {
                Ok(ReportPeriod::Fiscal { year, .. }) => Some(year),
                _ => None,
            });
        if let Some(year) = year {
            victims
                .entry(year)
                .or_default()
                .add(actual.country_code.clone(), actual.quantity);
        }
    }
    let years: std::collections::BTreeSet<i32> =
        targets.keys().chain(victims.keys()).copied().collect();
    years
        .into_iter()
        .filter(|year| context.years.contains(*year))
        .filter_map(|year| {
            let (start, end) = context.calendar.bounds(year)?;
            let target = targets
                .get(&year)
                .map(|(whole, parts)| whole.unwrap_or(*parts));
            let actual = match victims.get(&year) {
                Some(people) => people.publish(context.k).shown(),
                None => Some(0),
            };
            Some(ResultPeriod {
                start,
                end,
                target,
                actual,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentages_add_up_to_exactly_one_hundred() {
        assert_eq!(percentages(1), ["100.00"]);
        assert_eq!(percentages(3), ["33.34", "33.33", "33.33"]);
        assert_eq!(percentages(4), ["25.00", "25.00", "25.00", "25.00"]);
    }

    #[test]
    fn amounts_are_dollars_with_two_decimals() {
        assert_eq!(dollars(Cents(125_000)), "1250.00");
        assert_eq!(dollars(Cents(-5)), "-0.05");
    }

    #[test]
    fn a_grant_state_maps_to_the_iati_activity_status() {
        let end = NaiveDate::from_ymd_opt(2015, 9, 30).unwrap_or_default();
        let before = NaiveDate::from_ymd_opt(2015, 1, 1).unwrap_or_default();
        let after = NaiveDate::from_ymd_opt(2016, 1, 1).unwrap_or_default();
        assert_eq!(activity_status(GrantState::Draft, end, before), 1);
        assert_eq!(activity_status(GrantState::Active, end, before), 2);
        assert_eq!(activity_status(GrantState::Active, end, after), 3);
        assert_eq!(activity_status(GrantState::Closed, end, after), 4);
        assert_eq!(activity_status(GrantState::Terminated, end, before), 5);
        assert_eq!(activity_status(GrantState::Suspended, end, before), 6);
    }
}
