//! Projects (the work a grant funds, in one or more countries) and their
//! indicators (what is measured, with a baseline and targets).

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::fiscal_year::check_fiscal_year;
use super::grant::Grant;
use super::names::{IndicatorName, ProjectName, ResourceName, TipRecommendationName};
use super::pillar::Pillar;
use super::validate::{self, CheckAll, Checked, MAX_TEXT, Violations};
use super::version::Stamps;
use crate::error::{Error, FieldViolation, Result};

code_enum! {
    /// A kind of project activity.
    pub enum ActivityKind {
        LegislationDrafting => "LEGISLATION_DRAFTING",
        LawEnforcementTraining => "LAW_ENFORCEMENT_TRAINING",
        VictimIdentification => "VICTIM_IDENTIFICATION",
        ReferralMechanism => "REFERRAL_MECHANISM",
        VictimServices => "VICTIM_SERVICES",
        Awareness => "AWARENESS",
        ProtectionInConflictSettings => "PROTECTION_IN_CONFLICT_SETTINGS",
        Research => "RESEARCH",
    }
}

code_enum! {
    /// The lifecycle of a project.
    pub enum ProjectState {
        Planned => "PLANNED",
        Active => "ACTIVE",
        Completed => "COMPLETED",
        Cancelled => "CANCELLED",
    }
}

code_enum! {
    /// A kind of outcome grantees report; indicators count one kind.
    pub enum OutcomeKind {
        LawEnacted => "LAW_ENACTED",
        LawDrafted => "LAW_DRAFTED",
        ConvictionSecured => "CONVICTION_SECURED",
        InvestigationOpened => "INVESTIGATION_OPENED",
        OfficialsTrained => "OFFICIALS_TRAINED",
        GovernmentCommitment => "GOVERNMENT_COMMITMENT",
        ReferralMechanismEstablished => "REFERRAL_MECHANISM_ESTABLISHED",
        VictimsIdentified => "VICTIMS_IDENTIFIED",
        VictimsReferred => "VICTIMS_REFERRED",
        VictimsAssisted => "VICTIMS_ASSISTED",
        AwarenessReached => "AWARENESS_REACHED",
        Other => "OTHER",
    }
}

impl OutcomeKind {
    /// Whether its quantity counts people who were trafficked (victims identified, referred,
    /// assisted): statistics of them are subject to small-cell suppression.
    pub fn counts_victims(self) -> bool {
        matches!(
            self,
            OutcomeKind::VictimsIdentified
                | OutcomeKind::VictimsReferred
                | OutcomeKind::VictimsAssisted
        )
    }
}

impl ProjectState {
    /// Completed and cancelled projects accept no more changes.
    pub fn is_final(self) -> bool {
        matches!(self, ProjectState::Completed | ProjectState::Cancelled)
    }

    /// The states of a project still under way (planned or active): every state but the final ones.
    pub fn open_states() -> impl Iterator<Item = ProjectState> {
        ProjectState::ALL
            .iter()
            .copied()
            .filter(|state| !state.is_final())
    }
}

/// Most countries one project may span.
pub const MAX_PROJECT_COUNTRIES: usize = 60;

/// The fields a program officer sets on a project.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProjectFields {
    pub title: String,
    pub summary: String,
    pub country_codes: Vec<String>,
    pub pillars: Vec<Pillar>,
    pub activity_kinds: Vec<ActivityKind>,
    pub start_date: NaiveDate,
    pub end_date: NaiveDate,
    /// Ids of TIP Report recommendations the project answers.
    pub recommendation_ids: Vec<String>,
}

/// A stored project.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Project {
    pub id: String,
    pub grant_id: String,
    pub fields: ProjectFields,
    pub state: ProjectState,
    #[serde(flatten)]
    pub stamps: Stamps,
}

impl Project {
    pub fn resource_name(&self) -> String {
        ProjectName::new(&self.grant_id, &self.id).to_string()
    }

    /// Refuses changes to a finished project.
    pub fn check_open(&self) -> Result<()> {
        if self.state.is_final() {
            return Err(Error::precondition(
                "PROJECT_FINISHED",
                self.resource_name(),
                format!("the project is {}: it accepts no more changes", self.state),
            ));
        }
        Ok(())
    }
}

audited!(ProjectFields => title, summary, country_codes, pillars, activity_kinds, start_date, end_date, recommendation_ids);

impl super::audit::Audited for Project {
    /// The project's fields and its state.
    fn audit_view(&self) -> Result<serde_json::Value> {
        let mut view = self.fields.audit_view()?;
        if let Some(map) = view.as_object_mut() {
            map.insert("state".into(), super::audit::to_json(&self.state)?);
        }
        Ok(view)
    }
}
audited!(IndicatorFields => display_name, unit, outcome_kind, baseline, targets);

/// Unchecked project fields as they came in.
pub struct ProjectInput<'a> {
    pub title: &'a str,
    pub summary: &'a str,
    pub country_codes: &'a [String],
    pub pillars: Vec<Option<Pillar>>,
    pub activity_kinds: Vec<Option<ActivityKind>>,
    pub start_date: &'a str,
    pub end_date: &'a str,
    /// Resource names `countries/{alpha2}/tipRecommendations/{id}`.
    pub tip_recommendations: &'a [String],
}

impl ProjectInput<'_> {
    /// Checks every rule (the period inside the grant's) and reports all violations at once.
    /// Whether the countries and recommendations exist is a fact the caller asks the store.
    pub fn validate(&self, prefix: &str, grant: &Grant) -> Result<ProjectFields> {
        let field = |name: &str| format!("{prefix}.{name}");
        let country_codes = country_list(&field("country_codes"), self.country_codes);
        let period =
            validate::period(prefix, self.start_date, self.end_date).and_then(|(start, end)| {
                grant.check_inside_period(prefix, start, end)?;
                Ok((start, end))
            });
        // Recommendations are checked against every well-formed country, even when the list has bad ones.
        let well_formed: Vec<String> = self
            .country_codes
            .iter()
            .filter_map(|code| validate::country_code("", code).ok())
            .collect();
        let recommendations = recommendation_list(
            &field("tip_recommendations"),
            self.tip_recommendations,
            &well_formed,
        );
        let (
            title,
            summary,
            country_codes,
            pillars,
            activity_kinds,
            (start_date, end_date),
            recommendation_ids,
        ) = (
            validate::single_line(&field("title"), self.title, 300),
            validate::optional_text(&field("summary"), self.summary, MAX_TEXT),
            country_codes,
            validate::enum_list(&field("pillars"), &self.pillars),
            validate::enum_list(&field("activity_kinds"), &self.activity_kinds),
            period,
            recommendations,
        )
            .all()?;
        Ok(ProjectFields {
            title,
            summary,
            country_codes,
            pillars,
            activity_kinds,
            start_date,
            end_date,
            recommendation_ids,
        })
    }
}

/// One to [`MAX_PROJECT_COUNTRIES`] distinct country codes, sorted (one canonical order for answers and diffs).
fn country_list(field: &str, values: &[String]) -> Checked<Vec<String>> {
    let mut violations = Violations::new();
    let mut codes: Vec<String> = Vec::new();
    if values.is_empty() {
        violations.add(field, "needs at least one country");
    }
    if values.len() > MAX_PROJECT_COUNTRIES {
        violations.add(field, format!("at most {MAX_PROJECT_COUNTRIES} countries"));
    }
    for (index, code) in values.iter().enumerate().take(MAX_PROJECT_COUNTRIES + 1) {
        let item = format!("{field}[{index}]");
        match validate::country_code(&item, code) {
            Ok(code) if codes.contains(&code) => {
                violations.add(item, format!("{code} appears more than once"))
            }
            Ok(code) => codes.push(code),
            Err(violation) => violations.push(violation),
        }
    }
    codes.sort();
    violations.or(codes)
}

/// Distinct recommendation ids, each filed under one of `countries`, sorted.
fn recommendation_list(
    field: &str,
    names: &[String],
    countries: &[String],
) -> Checked<Vec<String>> {
    let mut violations = Violations::new();
    let mut ids: Vec<String> = Vec::new();
    for (index, name) in names.iter().enumerate() {
        let item = format!("{field}[{index}]");
        match TipRecommendationName::parse(&item, name) {
            Err(violation) => violations.push(violation),
            Ok(name) if !countries.contains(&name.country) => violations.add(
                item,
                format!(
                    "is a recommendation for {}, which is not one of the project's countries",
                    name.country
                ),
            ),
            Ok(name) if ids.contains(&name.recommendation) => {
                violations.add(item, "appears more than once")
            }
            Ok(name) => ids.push(name.recommendation),
        }
    }
    ids.sort();
    violations.or(ids)
}

/// Each cited recommendation must be live and filed under the country its
/// name says (`live` are the live recommendations among those cited, as the store found them).
pub fn check_recommendations_live(
    field: &str,
    names: &[String],
    live: &[super::tip_report::TipRecommendation],
) -> Result<()> {
    let mut violations = Violations::new();
    for (index, name) in names.iter().enumerate() {
        let Ok(name) = name.parse::<TipRecommendationName>() else {
            continue;
        };
        let item = format!("{field}[{index}]");
        match live.iter().find(|found| found.id == name.recommendation) {
            Some(found) if found.country_code == name.country => {}
            Some(found) => violations.add(
                item,
                format!(
                    "is filed under {}, not {}",
                    found.country_code, name.country
                ),
            ),
            None => violations.add(item, "does not exist or is deleted"),
        }
    }
    violations.finish()
}

/// The ids of recommendation names (those that parse; validation reports the others).
pub fn recommendation_ids(names: &[String]) -> Vec<String> {
    names
        .iter()
        .filter_map(|name| name.parse::<TipRecommendationName>().ok())
        .map(|name| name.recommendation)
        .collect()
}

/// A change of a project's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProjectTransition {
    Start,
    Complete,
    Cancel,
}

impl ProjectTransition {
    fn verb(self) -> &'static str {
        match self {
            ProjectTransition::Start => "start",
            ProjectTransition::Complete => "complete",
            ProjectTransition::Cancel => "cancel",
        }
    }

    /// The state after this transition from `from`, if allowed.
    pub fn target(self, from: ProjectState) -> Option<ProjectState> {
        use ProjectState::*;
        match (self, from) {
            (ProjectTransition::Start, Planned) => Some(Active),
            (ProjectTransition::Complete, Active) => Some(Completed),
            (ProjectTransition::Cancel, Planned | Active) => Some(Cancelled),
            _ => None,
        }
    }
}

/// Decides a project state change: the project after it. None under a closed
/// or terminated grant; starting needs an active grant.
pub fn decide_project_transition(
    project: &Project,
    grant: &Grant,
    transition: ProjectTransition,
) -> Result<Project> {
    grant.check_open()?;
    let Some(target) = transition.target(project.state) else {
        return Err(Error::precondition(
            "PROJECT_STATE_TRANSITION_NOT_ALLOWED",
            project.resource_name(),
            format!(
                "cannot {} a project that is {}",
                transition.verb(),
                project.state
            ),
        ));
    };
    if transition == ProjectTransition::Start && grant.state != super::grant::GrantState::Active {
        return Err(Error::precondition(
            "GRANT_NOT_ACTIVE",
            grant.resource_name(),
            format!(
                "a project starts only under an ACTIVE grant; the grant is {}",
                grant.state
            ),
        ));
    }
    let mut after = project.clone();
    after.state = target;
    Ok(after)
}

/// A target of an indicator for a fiscal year or one of its periods.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndicatorTarget {
    pub fiscal_year: i32,
    /// Empty for the whole year, or `Q1`-`Q4`, `H1`, `H2`.
    pub period: String,
    pub value: i64,
}

/// The fields of an indicator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndicatorFields {
    pub display_name: String,
    pub unit: String,
    pub outcome_kind: OutcomeKind,
    pub baseline: i64,
    pub targets: Vec<IndicatorTarget>,
}

/// A stored indicator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Indicator {
    pub id: String,
    pub grant_id: String,
    pub project_id: String,
    pub fields: IndicatorFields,
    #[serde(flatten)]
    pub stamps: Stamps,
    pub delete_time: Option<DateTime<Utc>>,
}

versioned!(Indicator => "the indicator");

impl Indicator {
    pub fn resource_name(&self) -> String {
        IndicatorName::new(&self.grant_id, &self.project_id, &self.id).to_string()
    }
}

/// Largest indicator value (a count of people, laws, ...).
pub const MAX_INDICATOR_VALUE: i64 = 1_000_000_000_000;
const PERIODS: [&str; 7] = ["", "Q1", "Q2", "Q3", "Q4", "H1", "H2"];

/// Unchecked indicator fields as they came in.
pub struct IndicatorInput<'a> {
    pub display_name: &'a str,
    pub unit: &'a str,
    pub outcome_kind: Option<OutcomeKind>,
    pub baseline: i64,
    pub targets: Vec<(i32, &'a str, i64)>,
}

impl IndicatorInput<'_> {
    /// Checks every rule and reports all violations at once.
    pub fn validate(&self, prefix: &str) -> Result<IndicatorFields> {
        let field = |name: &str| format!("{prefix}.{name}");
        let baseline = if (0..=MAX_INDICATOR_VALUE).contains(&self.baseline) {
            Ok(self.baseline)
        } else {
            Err(FieldViolation::new(
                field("baseline"),
                format!("must be from 0 to {MAX_INDICATOR_VALUE}"),
            ))
        };
        let (display_name, unit, outcome_kind, baseline, targets) = (
            validate::display_name(&field("display_name"), self.display_name),
            validate::required_text(&field("unit"), self.unit, 50),
            validate::required(&field("outcome_kind"), self.outcome_kind),
            baseline,
            target_list(&field("targets"), &self.targets),
        )
            .all()?;
        Ok(IndicatorFields {
            display_name,
            unit,
            outcome_kind,
            baseline,
            targets,
        })
    }
}

/// At most 200 targets, one per fiscal year and period.
fn target_list(field: &str, values: &[(i32, &str, i64)]) -> Checked<Vec<IndicatorTarget>> {
    let mut violations = Violations::new();
    let mut targets: Vec<IndicatorTarget> = Vec::new();
    if values.len() > 200 {
        violations.add(field, "at most 200 targets");
    }
    for (index, (fiscal_year, period, value)) in values.iter().enumerate().take(201) {
        let item = format!("{field}[{index}]");
        if let Err(description) = check_fiscal_year(*fiscal_year) {
            violations.add(format!("{item}.fiscal_year"), description);
        }
        let period = period.trim().to_ascii_uppercase();
        if !PERIODS.contains(&period.as_str()) {
            violations.add(
                format!("{item}.period"),
                "must be empty (whole year) or Q1-Q4, H1, H2",
            );
        }
        if !(1..=MAX_INDICATOR_VALUE).contains(value) {
            violations.add(
                format!("{item}.value"),
                format!("must be from 1 to {MAX_INDICATOR_VALUE}"),
            );
        }
        if targets
            .iter()
            .any(|seen| seen.fiscal_year == *fiscal_year && seen.period == period)
        {
            violations.add(
                item,
                format!("fiscal year {fiscal_year} {period} has a target already"),
            );
            continue;
        }
        targets.push(IndicatorTarget {
            fiscal_year: *fiscal_year,
            period,
            value: *value,
        });
    }
    violations.or(targets)
}

/// Checks an indicator's targets against what they measure: each fiscal year
/// falls within the project's period, and each period is one the grant
/// reports by (quarters for a quarterly grant, halves for a semi-annual one,
/// only whole years for an annual one), so outcome reports can be compared
/// with targets period by period.
pub fn check_targets(
    prefix: &str,
    fields: &IndicatorFields,
    project: &Project,
    cadence: super::grant::ReportingCadence,
    calendar: &super::fiscal_year::FiscalCalendar,
) -> Result<()> {
    use super::grant::ReportingCadence;
    let first = calendar.fiscal_year_of(project.fields.start_date);
    let last = calendar.fiscal_year_of(project.fields.end_date);
    let periods: &[&str] = match cadence {
        ReportingCadence::Quarterly => &["", "Q1", "Q2", "Q3", "Q4"],
        ReportingCadence::SemiAnnual => &["", "H1", "H2"],
        ReportingCadence::Annual => &[""],
    };
    let mut violations = Violations::new();
    for (index, target) in fields.targets.iter().enumerate() {
        let field = format!("{prefix}.targets[{index}]");
        if !(first..=last).contains(&target.fiscal_year) {
            violations.add(
                format!("{field}.fiscal_year"),
                format!(
                    "fiscal year {} is outside the project's fiscal years {first} to {last}",
                    target.fiscal_year
                ),
            );
        }
        if !periods.contains(&target.period.as_str()) {
            violations.add(
                format!("{field}.period"),
                format!(
                    "the grant reports {cadence}: use {}",
                    if periods.len() == 1 {
                        "the whole year (empty)".to_string()
                    } else {
                        format!("the whole year (empty) or {}", periods[1..].join(", "))
                    }
                ),
            );
        }
    }
    violations.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_state_machine_allows_exactly_these_transitions() {
        use ProjectState::*;
        use ProjectTransition::*;
        crate::domain::assert_exact_transitions(
            ProjectTransition::target,
            &[
                (Start, &[Planned], Active),
                (Complete, &[Active], Completed),
                (Cancel, &[Planned, Active], Cancelled),
            ],
        );
    }
}
