//! Projects (the work a grant funds, in one or more countries) and their
//! indicators (what is measured, with a baseline and targets).

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::fiscal_year::check_fiscal_year;
use super::grant::Grant;
use super::pillar::Pillar;
use super::validate::{self, MAX_DISPLAY_NAME, MAX_TEXT, Violations};
use crate::error::{Error, Result};

code_enum! {
    /// A kind of project activity.
    ActivityKind {
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
    ProjectState {
        Planned => "PLANNED",
        Active => "ACTIVE",
        Completed => "COMPLETED",
        Cancelled => "CANCELLED",
    }
}

code_enum! {
    /// A kind of outcome grantees report; indicators count one kind.
    OutcomeKind {
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

impl ProjectState {
    /// Completed and cancelled projects accept no more changes.
    pub fn is_final(self) -> bool {
        matches!(self, ProjectState::Completed | ProjectState::Cancelled)
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
    pub create_time: DateTime<Utc>,
    pub update_time: DateTime<Utc>,
    pub revision: i64,
}

impl Project {
    pub fn resource_name(&self) -> String {
        format!("grants/{}/projects/{}", self.grant_id, self.id)
    }

    /// What the audit diff of a project shows.
    pub fn audit_view(&self) -> serde_json::Value {
        let mut view = serde_json::to_value(&self.fields).unwrap_or_default();
        if let Some(map) = view.as_object_mut() {
            map.insert("state".into(), serde_json::json!(self.state));
        }
        view
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

/// Unchecked project fields as they came in.
pub struct ProjectInput<'a> {
    pub title: &'a str,
    pub summary: &'a str,
    pub country_codes: &'a [String],
    pub pillars: Vec<Option<Pillar>>,
    pub activity_kinds: Vec<Option<ActivityKind>>,
    pub start_date: &'a str,
    pub end_date: &'a str,
    /// Recommendation ids with their country, or the violation of each resource name.
    pub recommendations: Vec<std::result::Result<(String, String), String>>,
}

impl ProjectInput<'_> {
    /// Checks every rule (the period inside the grant's) and reports all violations at once.
    /// Existence of countries and recommendations is checked by the store.
    pub fn validate(&self, prefix: &str, grant: &Grant) -> Result<ProjectFields> {
        let mut violations = Violations::new();
        let title = violations.check(validate::required_text(
            &format!("{prefix}.title"),
            self.title,
            300,
        ));
        let summary = violations.check(validate::optional_text(
            &format!("{prefix}.summary"),
            self.summary,
            MAX_TEXT,
        ));
        let countries_field = format!("{prefix}.country_codes");
        let mut country_codes: Vec<String> = Vec::new();
        if self.country_codes.is_empty() {
            violations.add(&countries_field, "needs at least one country");
        }
        if self.country_codes.len() > MAX_PROJECT_COUNTRIES {
            violations.add(
                &countries_field,
                format!("at most {MAX_PROJECT_COUNTRIES} countries"),
            );
        }
        for (index, code) in self.country_codes.iter().enumerate() {
            let field = format!("{countries_field}[{index}]");
            if let Some(code) = violations.check(validate::country_code(&field, code)) {
                if country_codes.contains(&code) {
                    violations.add(field, format!("{code} appears more than once"));
                } else {
                    country_codes.push(code);
                }
            }
        }
        let pillars = validate::enum_list(
            &mut violations,
            &format!("{prefix}.pillars"),
            &self.pillars,
            "PROSECUTION, PROTECTION, PREVENTION, PARTNERSHIP",
        );
        let activity_kinds = validate::enum_list(
            &mut violations,
            &format!("{prefix}.activity_kinds"),
            &self.activity_kinds,
            "the ACTIVITY_KIND values",
        );
        let period = validate::period(&mut violations, prefix, self.start_date, self.end_date);
        if let Some((start, end)) = period {
            grant.check_inside_period(&mut violations, prefix, start, end);
        }
        let mut recommendation_ids: Vec<String> = Vec::new();
        for (index, recommendation) in self.recommendations.iter().enumerate() {
            let field = format!("{prefix}.tip_recommendations[{index}]");
            match recommendation {
                Err(description) => violations.add(field, description.clone()),
                Ok((country, _)) if !country_codes.contains(country) => {
                    violations.add(field, format!("is a recommendation for {country}, which is not one of the project's countries"))
                }
                Ok((_, id)) if recommendation_ids.contains(id) => violations.add(field, "appears more than once"),
                Ok((_, id)) => recommendation_ids.push(id.clone()),
            }
        }
        violations.finish()?;
        // One canonical order, so every answer (and every audit diff) lists them the same way.
        country_codes.sort();
        let (mut pillars, mut activity_kinds) = (pillars, activity_kinds);
        pillars.sort();
        activity_kinds.sort();
        recommendation_ids.sort();
        match (title, summary, period) {
            (Some(title), Some(summary), Some((start_date, end_date))) => Ok(ProjectFields {
                title,
                summary,
                country_codes,
                pillars,
                activity_kinds,
                start_date,
                end_date,
                recommendation_ids,
            }),
            _ => Err(Error::Internal("project validated without values".into())),
        }
    }
}

/// A change of a project's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProjectTransition {
    Start,
    Complete,
    Cancel,
}

/// Decides a project state change: none under a closed or terminated grant; starting needs an active grant.
pub fn decide_project_transition(
    project: &Project,
    grant: &Grant,
    transition: ProjectTransition,
) -> Result<ProjectState> {
    use ProjectState::*;
    grant.check_open()?;
    let (verb, target) = match (transition, project.state) {
        (ProjectTransition::Start, Planned) => ("start", Some(Active)),
        (ProjectTransition::Start, _) => ("start", None),
        (ProjectTransition::Complete, Active) => ("complete", Some(Completed)),
        (ProjectTransition::Complete, _) => ("complete", None),
        (ProjectTransition::Cancel, Planned | Active) => ("cancel", Some(Cancelled)),
        (ProjectTransition::Cancel, _) => ("cancel", None),
    };
    let Some(target) = target else {
        return Err(Error::precondition(
            "PROJECT_STATE_TRANSITION_NOT_ALLOWED",
            project.resource_name(),
            format!("cannot {verb} a project that is {}", project.state),
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
    Ok(target)
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
    pub create_time: DateTime<Utc>,
    pub update_time: DateTime<Utc>,
    pub delete_time: Option<DateTime<Utc>>,
    pub revision: i64,
}

impl Indicator {
    pub fn resource_name(&self) -> String {
        format!(
            "grants/{}/projects/{}/indicators/{}",
            self.grant_id, self.project_id, self.id
        )
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
        let mut violations = Violations::new();
        let display_name = violations.check(validate::required_text(
            &format!("{prefix}.display_name"),
            self.display_name,
            MAX_DISPLAY_NAME,
        ));
        let unit = violations.check(validate::required_text(
            &format!("{prefix}.unit"),
            self.unit,
            50,
        ));
        if self.outcome_kind.is_none() {
            violations.add(
                format!("{prefix}.outcome_kind"),
                "is required: one of the OUTCOME_KIND values",
            );
        }
        if !(0..=MAX_INDICATOR_VALUE).contains(&self.baseline) {
            violations.add(
                format!("{prefix}.baseline"),
                format!("must be from 0 to {MAX_INDICATOR_VALUE}"),
            );
        }
        let mut targets: Vec<IndicatorTarget> = Vec::new();
        if self.targets.len() > 200 {
            violations.add(format!("{prefix}.targets"), "at most 200 targets");
        }
        for (index, (fiscal_year, period, value)) in self.targets.iter().enumerate() {
            let field = format!("{prefix}.targets[{index}]");
            if let Err(description) = check_fiscal_year(*fiscal_year) {
                violations.add(format!("{field}.fiscal_year"), description);
            }
            let period = period.trim().to_ascii_uppercase();
            if !PERIODS.contains(&period.as_str()) {
                violations.add(
                    format!("{field}.period"),
                    "must be empty (whole year) or Q1-Q4, H1, H2",
                );
            }
            if !(1..=MAX_INDICATOR_VALUE).contains(value) {
                violations.add(
                    format!("{field}.value"),
                    format!("must be from 1 to {MAX_INDICATOR_VALUE}"),
                );
            }
            if targets
                .iter()
                .any(|seen| seen.fiscal_year == *fiscal_year && seen.period == period)
            {
                violations.add(
                    field,
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
        violations.finish()?;
        match (display_name, unit, self.outcome_kind) {
            (Some(display_name), Some(unit), Some(outcome_kind)) => Ok(IndicatorFields {
                display_name,
                unit,
                outcome_kind,
                baseline: self.baseline,
                targets,
            }),
            _ => Err(Error::Internal("indicator validated without values".into())),
        }
    }
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
