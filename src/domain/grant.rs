//! Grants (awards): terms, the lifecycle state machine, and the money rules
//! of obligations. A grant's net obligation in any funding account and fiscal
//! year never goes below zero, so neither does its total.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::fiscal_year::{FiscalCalendar, check_fiscal_year};
use super::money::{Cents, MAX_AMOUNT};
use super::reference::funding_account_code;
use super::validate::{self, MAX_DISPLAY_NAME, Violations};
use crate::error::{Error, FieldViolation, Result};

code_enum! {
    /// The legal instrument of an award.
    GrantInstrument {
        Grant => "GRANT",
        CooperativeAgreement => "COOPERATIVE_AGREEMENT",
        InterAgencyAgreement => "INTER_AGENCY_AGREEMENT",
    }
}

code_enum! {
    /// Short-term technical assistance or a comprehensive multi-year project.
    GrantApproach {
        ShortTermTechnicalAssistance => "SHORT_TERM_TECHNICAL_ASSISTANCE",
        ComprehensiveMultiYear => "COMPREHENSIVE_MULTI_YEAR",
    }
}

code_enum! {
    /// How often the grantee reports.
    ReportingCadence {
        Quarterly => "QUARTERLY",
        SemiAnnual => "SEMI_ANNUAL",
        Annual => "ANNUAL",
    }
}

code_enum! {
    /// The lifecycle of a grant.
    GrantState {
        Draft => "DRAFT",
        Active => "ACTIVE",
        Suspended => "SUSPENDED",
        Closed => "CLOSED",
        Terminated => "TERMINATED",
    }
}

code_enum! {
    /// The kind of an obligation.
    ObligationKind {
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
    pub create_time: DateTime<Utc>,
    pub update_time: DateTime<Utc>,
    pub revision: i64,
}

impl Grant {
    pub fn resource_name(&self) -> String {
        format!("grants/{}", self.id)
    }

    /// Net amount obligated across accounts and years (bounded: see [`totals`]).
    pub fn obligated(&self) -> Cents {
        Cents(self.totals.iter().map(|total| total.amount.0).sum())
    }

    /// What the audit diff of a grant shows: terms, state and money.
    pub fn audit_view(&self) -> serde_json::Value {
        serde_json::json!({
            "award_number": self.terms.award_number,
            "title": self.terms.title,
            "grantee": format!("organizations/{}", self.terms.organization_id),
            "instrument": self.terms.instrument,
            "approach": self.terms.approach,
            "start_date": self.terms.start_date,
            "end_date": self.terms.end_date,
            "reporting_cadence": self.terms.reporting_cadence,
            "program_officer": self.terms.program_officer,
            "state": self.state,
            "state_reason": self.state_reason,
            "obligated_amount": self.obligated().0,
        })
    }

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
        violations: &mut Violations,
        prefix: &str,
        start: NaiveDate,
        end: NaiveDate,
    ) {
        let (grant_start, grant_end) = (self.terms.start_date, self.terms.end_date);
        if start < grant_start || start > grant_end {
            violations.add(
                format!("{prefix}.start_date"),
                format!("{start} is outside the grant's period of performance {grant_start} to {grant_end}"),
            );
        }
        if end > grant_end || end < grant_start {
            violations.add(
                format!("{prefix}.end_date"),
                format!("{end} is outside the grant's period of performance {grant_start} to {grant_end}"),
            );
        }
    }
}

/// Unchecked grant terms as they came in.
pub struct GrantInput<'a> {
    pub award_number: &'a str,
    pub title: &'a str,
    /// The organisation id, or the violation of its resource name.
    pub organization_id: std::result::Result<&'a str, String>,
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

fn required<T>(
    violations: &mut Violations,
    field: &str,
    value: Option<T>,
    allowed: &str,
) -> Option<T> {
    if value.is_none() {
        violations.add(field, format!("is required: one of {allowed}"));
    }
    value
}

impl GrantInput<'_> {
    /// Checks every rule and reports all violations at once.
    pub fn validate(&self, prefix: &str) -> Result<GrantTerms> {
        let mut violations = Violations::new();
        let award_number = violations.check(award_number(
            &format!("{prefix}.award_number"),
            self.award_number,
        ));
        let title = violations.check(validate::required_text(
            &format!("{prefix}.title"),
            self.title,
            300,
        ));
        let organization_id = match self.organization_id {
            Ok(id) => Some(id.to_string()),
            Err(ref description) => {
                violations.add(format!("{prefix}.grantee"), description.clone());
                None
            }
        };
        let instrument = required(
            &mut violations,
            &format!("{prefix}.instrument"),
            self.instrument,
            "GRANT, COOPERATIVE_AGREEMENT, INTER_AGENCY_AGREEMENT",
        );
        let approach = required(
            &mut violations,
            &format!("{prefix}.approach"),
            self.approach,
            "SHORT_TERM_TECHNICAL_ASSISTANCE, COMPREHENSIVE_MULTI_YEAR",
        );
        let period = validate::period(&mut violations, prefix, self.start_date, self.end_date);
        let reporting_cadence = required(
            &mut violations,
            &format!("{prefix}.reporting_cadence"),
            self.reporting_cadence,
            "QUARTERLY, SEMI_ANNUAL, ANNUAL",
        );
        let program_officer = violations.check(validate::required_text(
            &format!("{prefix}.program_officer"),
            self.program_officer,
            MAX_DISPLAY_NAME,
        ));
        violations.finish()?;
        match (
            award_number,
            title,
            organization_id,
            instrument,
            approach,
            period,
            reporting_cadence,
            program_officer,
        ) {
            (
                Some(award_number),
                Some(title),
                Some(organization_id),
                Some(instrument),
                Some(approach),
                Some((start_date, end_date)),
                Some(reporting_cadence),
                Some(program_officer),
            ) => Ok(GrantTerms {
                award_number,
                title,
                organization_id,
                instrument,
                approach,
                start_date,
                end_date,
                reporting_cadence,
                program_officer,
            }),
            _ => Err(Error::Internal(
                "grant terms validated without values".into(),
            )),
        }
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

/// What the store knows about a grant's projects, for deciding a state change.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ProjectFacts {
    /// Some live (not cancelled) project has a live indicator with a target.
    pub has_indicator_target: bool,
    /// How many projects are still PLANNED or ACTIVE.
    pub open_projects: u64,
}

/// Decides a state change: the new state and the checked reason.
/// Activation needs an indicator with a target; closing needs every project finished.
pub fn decide_transition(
    grant: &Grant,
    transition: Transition,
    reason: &str,
    projects: ProjectFacts,
) -> Result<(GrantState, String)> {
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
    Ok((target, reason))
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
        format!("grants/{}/obligations/{}", self.grant_id, self.id)
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
    /// The account code, or the violation of its resource name.
    pub account_code: std::result::Result<&'a str, String>,
    pub fiscal_year: i32,
    pub amount: i64,
    pub obligation_date: &'a str,
    pub note: &'a str,
}

impl ObligationInput<'_> {
    /// Checks the obligation's own rules: funds of a fiscal year cannot be obligated before that year begins.
    pub fn validate(&self, prefix: &str, calendar: &FiscalCalendar) -> Result<NewObligation> {
        let mut violations = Violations::new();
        let kind = required(
            &mut violations,
            &format!("{prefix}.kind"),
            self.kind,
            "INITIAL_AWARD, INCREMENT, DEOBLIGATION",
        );
        let account_field = format!("{prefix}.funding_account");
        let account_code = match self.account_code {
            Ok(code) => violations.check(funding_account_code(&account_field, code)),
            Err(ref description) => {
                violations.add(&account_field, description.clone());
                None
            }
        };
        let fiscal_year_field = format!("{prefix}.fiscal_year");
        let fiscal_year = match check_fiscal_year(self.fiscal_year) {
            Ok(year) => Some(year),
            Err(description) => {
                violations.add(&fiscal_year_field, description);
                None
            }
        };
        let amount_field = format!("{prefix}.amount");
        if self.amount <= 0 {
            violations.add(
                &amount_field,
                "must be positive (a de-obligation is its own kind)",
            );
        } else if self.amount > MAX_AMOUNT.0 {
            violations.add(&amount_field, format!("must be at most {MAX_AMOUNT}"));
        }
        let obligation_date = violations.check(validate::date(
            &format!("{prefix}.obligation_date"),
            self.obligation_date,
        ));
        if let (Some(year), Some(date)) = (fiscal_year, obligation_date) {
            let date_year = calendar.fiscal_year_of(date);
            if year > date_year {
                violations.add(
                    &fiscal_year_field,
                    format!("funds of fiscal year {year} cannot be obligated on {date}, which is in fiscal year {date_year}"),
                );
            }
        }
        let note = violations.check(validate::optional_text(
            &format!("{prefix}.note"),
            self.note,
            2000,
        ));
        violations.finish()?;
        match (kind, account_code, fiscal_year, obligation_date, note) {
            (
                Some(kind),
                Some(account_code),
                Some(fiscal_year),
                Some(obligation_date),
                Some(note),
            ) => Ok(NewObligation {
                kind,
                account_code,
                fiscal_year,
                amount: Cents(self.amount),
                obligation_date,
                note,
            }),
            _ => Err(Error::Internal(
                "obligation validated without values".into(),
            )),
        }
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
        let allowed = [
            (Activate, Draft, Active),
            (Activate, Suspended, Active),
            (Suspend, Active, Suspended),
            (Close, Active, Closed),
            (Close, Suspended, Closed),
            (Terminate, Draft, Terminated),
            (Terminate, Active, Terminated),
            (Terminate, Suspended, Terminated),
        ];
        for transition in [Activate, Suspend, Close, Terminate] {
            for from in GrantState::ALL.iter().copied() {
                let expected = allowed
                    .iter()
                    .find(|(t, f, _)| *t == transition && *f == from)
                    .map(|(_, _, to)| *to);
                assert_eq!(
                    transition.target(from),
                    expected,
                    "{transition:?} from {from:?}"
                );
            }
        }
    }
}
