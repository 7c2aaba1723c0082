//! Grants (awards): terms, the lifecycle state machine, and the money rules
//! of obligations. A grant's net obligation in any funding account and fiscal
//! year never goes below zero, so neither does its total.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::budget::Budget;
use super::fiscal_year::{FiscalCalendar, check_fiscal_year};
use super::money::Cents;
use super::names::{
    FundingAccountName, GrantName, ObligationName, OrganizationName, ProjectName, ResourceName,
};
use super::reference::funding_account_code;
use super::validate::{self, CheckAll, Checked, Violations};
use super::version::Stamps;
use crate::error::{Error, FieldViolation, Result};

code_enum! {
    /// The legal instrument of an award.
    pub enum GrantInstrument {
        Grant => "GRANT",
        CooperativeAgreement => "COOPERATIVE_AGREEMENT",
        InterAgencyAgreement => "INTER_AGENCY_AGREEMENT",
    }
}

code_enum! {
    /// Short-term technical assistance or a comprehensive multi-year project.
    pub enum GrantApproach {
        ShortTermTechnicalAssistance => "SHORT_TERM_TECHNICAL_ASSISTANCE",
        ComprehensiveMultiYear => "COMPREHENSIVE_MULTI_YEAR",
    }
}

code_enum! {
    /// How often the grantee reports.
    pub enum ReportingCadence {
        Quarterly => "QUARTERLY",
        SemiAnnual => "SEMI_ANNUAL",
        Annual => "ANNUAL",
    }
}

code_enum! {
    /// The lifecycle of a grant.
    pub enum GrantState {
        Draft => "DRAFT",
        Active => "ACTIVE",
        Suspended => "SUSPENDED",
        Closed => "CLOSED",
        Terminated => "TERMINATED",
    }
}

code_enum! {
    /// The kind of an obligation.
    pub enum ObligationKind {
        InitialAward => "INITIAL_AWARD",
        Increment => "INCREMENT",
        Deobligation => "DEOBLIGATION",
    }
}

impl GrantState {
    /// Closed and terminated grants accept no more changes or money.
    pub fn is_final(self) -> bool {
        matches!(self, GrantState::Closed | GrantState::Terminated)
    }

    /// The states of a grant still under way: every state but the final ones.
    pub fn open_states() -> impl Iterator<Item = GrantState> {
        GrantState::ALL
            .iter()
            .copied()
            .filter(|state| !state.is_final())
    }
}

/// The terms a program officer sets on a grant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GrantTerms {
    pub award_number: String,
    pub title: String,
    pub organization_id: String,
    pub instrument: GrantInstrument,
    pub approach: GrantApproach,
    pub start_date: NaiveDate,
    pub end_date: NaiveDate,
    pub reporting_cadence: ReportingCadence,
    pub program_officer: String,
}

/// Net money obligated from one account in one fiscal year of funds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObligationTotal {
    pub account_code: String,
    pub fiscal_year: i32,
    pub amount: Cents,
}

/// A stored grant with its obligated money.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grant {
    pub id: String,
    pub terms: GrantTerms,
    pub state: GrantState,
    pub state_reason: String,
    pub totals: Vec<ObligationTotal>,
    /// The approved budget by cost category (revisions written before budgets existed have none).
    #[serde(default)]
    pub budget: Budget,
    #[serde(flatten)]
    pub stamps: Stamps,
}

impl Grant {
    pub fn resource_name(&self) -> String {
        GrantName::new(&self.id).to_string()
    }

    /// Net amount obligated from one account's funds of one fiscal year (0 when none).
    pub fn obligated_in(&self, account_code: &str, fiscal_year: i32) -> Cents {
        self.totals
            .iter()
            .find(|total| total.account_code == account_code && total.fiscal_year == fiscal_year)
            .map(|total| total.amount)
            .unwrap_or_default()
    }

    /// Net amount obligated across accounts and years (bounded: see [`totals`]).
    pub fn obligated(&self) -> Cents {
        Cents(self.totals.iter().map(|total| total.amount.0).sum())
    }
}

impl super::audit::Audited for Grant {
    /// Terms, state and money.
    fn audit_view(&self) -> Result<serde_json::Value> {
        Ok(serde_json::json!({
            "award_number": self.terms.award_number,
            "title": self.terms.title,
            "grantee": OrganizationName::new(&self.terms.organization_id).to_string(),
            "instrument": self.terms.instrument,
            "approach": self.terms.approach,
            "start_date": self.terms.start_date,
            "end_date": self.terms.end_date,
            "reporting_cadence": self.terms.reporting_cadence,
            "program_officer": self.terms.program_officer,
            "state": self.state,
            "state_reason": self.state_reason,
            "obligated_amount": self.obligated().0,
            "budget": self.budget,
        }))
    }
}

impl Grant {
    /// Refuses changes to a closed or terminated grant.
    pub fn check_open(&self) -> Result<()> {
        if self.state.is_final() {
            return Err(Error::precondition(
                "GRANT_CLOSED",
                self.resource_name(),
                format!("the grant is {}: it accepts no more changes", self.state),
            ));
        }
        Ok(())
    }

    /// Checks that a project period lies inside the grant's period of performance.
    pub fn check_inside_period(
        &self,
        prefix: &str,
        start: NaiveDate,
        end: NaiveDate,
    ) -> Checked<()> {
        let (grant_start, grant_end) = (self.terms.start_date, self.terms.end_date);
        let mut violations = Violations::new();
        for (field, date) in [("start_date", start), ("end_date", end)] {
            if !(grant_start..=grant_end).contains(&date) {
                violations.add(
                    format!("{prefix}.{field}"),
                    format!("{date} is outside the grant's period of performance {grant_start} to {grant_end}"),
                );
            }
        }
        violations.or(())
    }
}

/// The budget is set freely while the grant is a DRAFT; once awarded it changes only by an
/// amendment, approved by a grants officer (`domain::amendment`).
pub fn check_budget_changeable(grant: &Grant) -> Result<()> {
    if grant.state != GrantState::Draft {
        return Err(Error::precondition(
            "BUDGET_CHANGES_BY_AMENDMENT",
            grant.resource_name(),
            format!(
                "the grant is {}: its approved budget changes only by an amendment (AmendmentService/CreateAmendment, a BUDGET_REALIGNMENT)",
                grant.state
            ),
        ));
    }
    Ok(())
}

/// The period of performance is set freely while the grant is a DRAFT; once awarded it ends
/// later only by a no-cost extension, signed by a grants officer (`domain::amendment`), and
/// earlier only by termination.
pub fn check_period_changeable(grant: &Grant) -> Result<()> {
    if grant.state != GrantState::Draft {
        return Err(Error::precondition(
            "PERIOD_CHANGES_BY_AMENDMENT",
            grant.resource_name(),
            format!(
                "the grant is {}: its period of performance ends later only by an amendment (AmendmentService/CreateAmendment, a NO_COST_EXTENSION), and earlier only by TerminateGrant",
                grant.state
            ),
        ));
    }
    Ok(())
}

/// Unchecked grant terms as they came in.
pub struct GrantInput<'a> {
    pub award_number: &'a str,
    pub title: &'a str,
    /// The grantee's resource name, `organizations/{organization}`.
    pub grantee: &'a str,
    pub instrument: Option<GrantInstrument>,
    pub approach: Option<GrantApproach>,
    pub start_date: &'a str,
    pub end_date: &'a str,
    pub reporting_cadence: Option<ReportingCadence>,
    pub program_officer: &'a str,
}

fn award_number(field: &str, value: &str) -> std::result::Result<String, FieldViolation> {
    let number = value.trim().to_ascii_uppercase();
    if number.is_empty() {
        return Err(FieldViolation::new(
            field,
            "is required, e.g. \"SGTIP14GR0012\"",
        ));
    }
    let valid = (3..=40).contains(&number.len())
        && number
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-');
    if !valid {
        return Err(FieldViolation::new(
            field,
            "must be 3-40 letters, digits or '-'",
        ));
    }
    Ok(number)
}

impl GrantInput<'_> {
    /// Checks every rule and reports all violations at once.
    pub fn validate(&self, prefix: &str) -> Result<GrantTerms> {
        let field = |name: &str| format!("{prefix}.{name}");
        let (
            award_number,
            title,
            grantee,
            instrument,
            approach,
            (start_date, end_date),
            reporting_cadence,
            program_officer,
        ) = (
            award_number(&field("award_number"), self.award_number),
            validate::single_line(&field("title"), self.title, 300),
            OrganizationName::parse(&field("grantee"), self.grantee),
            validate::required(&field("instrument"), self.instrument),
            validate::required(&field("approach"), self.approach),
            validate::period(prefix, self.start_date, self.end_date),
            validate::required(&field("reporting_cadence"), self.reporting_cadence),
            validate::display_name(&field("program_officer"), self.program_officer),
        )
            .all()?;
        Ok(GrantTerms {
            award_number,
            title,
            organization_id: grantee.organization,
            instrument,
            approach,
            start_date,
            end_date,
            reporting_cadence,
            program_officer,
        })
    }
}

/// A change of a grant's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    Activate,
    Suspend,
    Close,
    Terminate,
}

impl Transition {
    fn verb(self) -> &'static str {
        match self {
            Transition::Activate => "activate",
            Transition::Suspend => "suspend",
            Transition::Close => "close",
            Transition::Terminate => "terminate",
        }
    }

    /// The state after this transition from `from`, if allowed.
    pub fn target(self, from: GrantState) -> Option<GrantState> {
        use GrantState::*;
        match (self, from) {
            (Transition::Activate, Draft | Suspended) => Some(Active),
            (Transition::Suspend, Active) => Some(Suspended),
            (Transition::Close, Active | Suspended) => Some(Closed),
            (Transition::Terminate, Draft | Active | Suspended) => Some(Terminated),
            _ => None,
        }
    }

    /// Whether the transition needs a reason.
    fn needs_reason(self) -> bool {
        matches!(self, Transition::Suspend | Transition::Terminate)
    }
}

/// A project's period, as the store found it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectPeriod {
    pub project: ProjectName,
    pub start_date: NaiveDate,
    pub end_date: NaiveDate,
}

/// New terms must keep every project inside the period of performance
/// (`outside` is a project that would fall outside it, as the store found).
pub fn check_projects_fit(terms: &GrantTerms, outside: Option<ProjectPeriod>) -> Result<()> {
    match outside {
        None => Ok(()),
        Some(project) => Err(Error::precondition(
            "PROJECT_OUTSIDE_GRANT_PERIOD",
            project.project.to_string(),
            format!(
                "project period {} to {} would fall outside the new period {} to {}: change the project first",
                project.start_date, project.end_date, terms.start_date, terms.end_date
            ),
        )),
    }
}

/// What the store knows about a grant's projects, for deciding a state change.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ProjectFacts {
    /// Some live (not cancelled) project has a live indicator with a target.
    pub has_indicator_target: bool,
    /// How many projects are still PLANNED or ACTIVE.
    pub open_projects: u64,
}

/// Decides a state change: the grant after it, in its new state with the
/// checked reason. Activation needs an indicator with a target; closing needs
/// every project finished.
pub fn decide_transition(
    grant: &Grant,
    transition: Transition,
    reason: &str,
    projects: ProjectFacts,
) -> Result<Grant> {
    let reason = validate::optional_text("reason", reason, 2000)
        .map_err(|v| Error::invalid(v.field, v.description))?;
    if transition.needs_reason() && reason.is_empty() {
        return Err(Error::invalid(
            "reason",
            format!("is required to {} a grant", transition.verb()),
        ));
    }
    let Some(target) = transition.target(grant.state) else {
        return Err(Error::precondition(
            "GRANT_STATE_TRANSITION_NOT_ALLOWED",
            grant.resource_name(),
            format!(
                "cannot {} a grant that is {}",
                transition.verb(),
                grant.state
            ),
        ));
    };
    if transition == Transition::Close && projects.open_projects > 0 {
        return Err(Error::precondition(
            "GRANT_HAS_OPEN_PROJECTS",
            grant.resource_name(),
            format!(
                "{} project(s) are still planned or active: complete or cancel them before closing the grant",
                projects.open_projects
            ),
        ));
    }
    if transition == Transition::Activate && !projects.has_indicator_target {
        return Err(Error::precondition(
            "GRANT_HAS_NO_INDICATOR_TARGET",
            grant.resource_name(),
            "a grant is activated only when at least one of its projects has an indicator with a target",
        ));
    }
    let mut after = grant.clone();
    after.state = target;
    after.state_reason = reason;
    Ok(after)
}

/// A checked new obligation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NewObligation {
    pub kind: ObligationKind,
    pub account_code: String,
    pub fiscal_year: i32,
    pub amount: Cents,
    pub obligation_date: NaiveDate,
    pub note: String,
}

audited!(NewObligation => kind, account_code, fiscal_year, amount, obligation_date, note);

/// A stored obligation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Obligation {
    pub id: String,
    pub grant_id: String,
    #[serde(flatten)]
    pub fields: NewObligation,
    pub create_time: DateTime<Utc>,
}

impl Obligation {
    pub fn resource_name(&self) -> String {
        ObligationName::new(&self.grant_id, &self.id).to_string()
    }

    /// The signed movement: negative for a de-obligation.
    pub fn signed_amount(&self) -> Cents {
        match self.fields.kind {
            ObligationKind::Deobligation => Cents(-self.fields.amount.0),
            _ => self.fields.amount,
        }
    }
}

/// Unchecked obligation as it came in.
pub struct ObligationInput<'a> {
    pub kind: Option<ObligationKind>,
    /// `fundingAccounts/{code}`; a bare code (`ESF`) is accepted too.
    pub funding_account: &'a str,
    pub fiscal_year: i32,
    pub amount: i64,
    pub obligation_date: &'a str,
    pub note: &'a str,
}

impl ObligationInput<'_> {
    /// Checks the obligation's own rules: funds of a fiscal year cannot be obligated before that year begins.
    pub fn validate(&self, prefix: &str, calendar: &FiscalCalendar) -> Result<NewObligation> {
        let field = |name: &str| format!("{prefix}.{name}");
        let (kind, account_code, fiscal_year, amount, obligation_date, note) = (
            validate::required(&field("kind"), self.kind),
            funding_account(&field("funding_account"), self.funding_account),
            check_fiscal_year(self.fiscal_year)
                .map_err(|description| FieldViolation::new(field("fiscal_year"), description)),
            validate::positive_amount(&field("amount"), self.amount),
            validate::date(&field("obligation_date"), self.obligation_date),
            validate::optional_text(&field("note"), self.note, 2000),
        )
            .all()?;
        calendar
            .check_funds_on(fiscal_year, obligation_date)
            .map_err(|description| Error::invalid(field("fiscal_year"), description))?;
        Ok(NewObligation {
            kind,
            account_code,
            fiscal_year,
            amount,
            obligation_date,
            note,
        })
    }
}

/// A funding account named `fundingAccounts/{code}` or by its bare code.
pub(crate) fn funding_account(
    field: &str,
    value: &str,
) -> std::result::Result<String, FieldViolation> {
    let value = value.trim();
    if value.is_empty() {
        return Err(FieldViolation::new(
            field,
            "is required, e.g. fundingAccounts/ESF",
        ));
    }
    match value.parse::<FundingAccountName>() {
        Ok(name) => funding_account_code(field, &name.code),
        Err(_) if !value.contains('/') => funding_account_code(field, value),
        Err(error) => Err(error.at(field)),
    }
}

/// Net totals per (account, fiscal year), in that order. Fails on overflow.
pub fn totals(obligations: &[Obligation]) -> Result<Vec<ObligationTotal>> {
    let mut totals: std::collections::BTreeMap<(String, i32), Cents> =
        std::collections::BTreeMap::new();
    for obligation in obligations {
        let key = (
            obligation.fields.account_code.clone(),
            obligation.fields.fiscal_year,
        );
        let total = totals.entry(key).or_default();
        *total = total
            .checked_add(obligation.signed_amount())
            .ok_or_else(|| {
                Error::Internal(format!(
                    "obligated total overflows at {}",
                    obligation.resource_name()
                ))
            })?;
    }
    Ok(totals
        .into_iter()
        .map(|((account_code, fiscal_year), amount)| ObligationTotal {
            account_code,
            fiscal_year,
            amount,
        })
        .collect())
}

/// Decides whether `new` may be added to `grant`, whose obligations so far are `existing`.
pub fn check_obligation(
    grant: &Grant,
    existing: &[Obligation],
    new: &NewObligation,
    prefix: &str,
) -> Result<()> {
    grant.check_open()?;
    if new.kind == ObligationKind::InitialAward
        && existing
            .iter()
            .any(|obligation| obligation.fields.kind == ObligationKind::InitialAward)
    {
        return Err(Error::precondition(
            "INITIAL_AWARD_EXISTS",
            grant.resource_name(),
            "the grant already has its initial award: add money as an INCREMENT",
        ));
    }
    let available = existing
        .iter()
        .filter(|obligation| {
            obligation.fields.account_code == new.account_code
                && obligation.fields.fiscal_year == new.fiscal_year
        })
        .try_fold(Cents(0), |sum, obligation| {
            sum.checked_add(obligation.signed_amount())
        })
        .ok_or_else(|| {
            Error::invalid(
                format!("{prefix}.amount"),
                "the obligated total would overflow",
            )
        })?;
    match new.kind {
        ObligationKind::Deobligation if new.amount > available => Err(Error::invalid(
            format!("{prefix}.amount"),
            format!(
                "a de-obligation of {} exceeds the {} obligated from {} in fiscal year {}",
                new.amount, available, new.account_code, new.fiscal_year
            ),
        )),
        ObligationKind::Deobligation => Ok(()),
        _ => {
            let grand_total = grant.obligated().checked_add(new.amount);
            match (available.checked_add(new.amount), grand_total) {
                (Some(_), Some(total)) if total <= Cents(i64::MAX / 2) => Ok(()),
                _ => Err(Error::invalid(
                    format!("{prefix}.amount"),
                    "the obligated total would overflow",
                )),
            }
        }
    }
}

/// A grant as it stood after one change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantRevision {
    pub grant_id: String,
    pub revision: i64,
    pub revision_time: DateTime<Utc>,
    pub actor: String,
    pub method: String,
    pub grant: Grant,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_state_machine_allows_exactly_these_transitions() {
        use GrantState::*;
        use Transition::*;
        crate::domain::assert_exact_transitions(
            Transition::target,
            &[
                (Activate, &[Draft, Suspended], Active),
                (Suspend, &[Active], Suspended),
                (Close, &[Active, Suspended], Closed),
                (Terminate, &[Draft, Active, Suspended], Terminated),
            ],
        );
    }

    #[test]
    fn a_grant_snapshot_keeps_its_bookkeeping_at_the_top_level_and_reads_back() {
        let date = |text: &str| NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap();
        let time = |text: &str| DateTime::parse_from_rfc3339(text).unwrap().to_utc();
        let grant = Grant {
            id: "g1".into(),
            terms: GrantTerms {
                award_number: "SSJTIP14CA0001".into(),
                title: "Shelter".into(),
                organization_id: "o1".into(),
                instrument: GrantInstrument::Grant,
                approach: GrantApproach::ComprehensiveMultiYear,
                start_date: date("2014-10-01"),
                end_date: date("2016-09-30"),
                reporting_cadence: ReportingCadence::Quarterly,
                program_officer: "apiTokens/staff".into(),
            },
            state: GrantState::Draft,
            state_reason: String::new(),
            totals: Vec::new(),
            budget: Budget::default(),
            stamps: Stamps {
                create_time: time("2014-09-01T08:00:00Z"),
                update_time: time("2014-09-02T08:00:00.000001Z"),
                revision: 2,
            },
        };

        let snapshot = serde_json::to_value(&grant).unwrap();

        let keys: Vec<&str> = snapshot
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            keys,
            [
                "budget",
                "create_time",
                "id",
                "revision",
                "state",
                "state_reason",
                "terms",
                "totals",
                "update_time"
            ]
        );
        assert_eq!(snapshot["create_time"], "2014-09-01T08:00:00Z");
        assert_eq!(snapshot["update_time"], "2014-09-02T08:00:00.000001Z");
        assert_eq!(snapshot["revision"], 2);
        assert_eq!(serde_json::from_value::<Grant>(snapshot).unwrap(), grant);
    }
}
