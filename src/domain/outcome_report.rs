//! The review of an outcome report: its state machine and what each
//! transition does to the report. The api gathers the facts, this module
//! decides the whole report after the change (state, comments, due date,
//! submitter or reviewer and their times), the store saves it.

use chrono::{DateTime, NaiveDate, Utc};

use super::access::Actor;
use super::names::IndicatorName;
use super::outcome::{
    OutcomeFields, OutcomeReport, OutcomeReportState, ReportPeriod, ReportingRules,
    ScheduledPeriod, check_complete, has_target_for,
};
use super::project::Indicator;
use super::validate;
use crate::error::{Error, Result};

/// A change of a report's review state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportTransition {
    Submit,
    Accept,
    Return,
    Reopen,
}

impl ReportTransition {
    fn verb(self) -> &'static str {
        match self {
            ReportTransition::Submit => "submit",
            ReportTransition::Accept => "accept",
            ReportTransition::Return => "return",
            ReportTransition::Reopen => "reopen",
        }
    }

    /// The state after this transition from `from`, if allowed.
    pub fn target(self, from: OutcomeReportState) -> Option<OutcomeReportState> {
        use OutcomeReportState::*;
        match (self, from) {
            (ReportTransition::Submit, Draft | Returned) => Some(Submitted),
            (ReportTransition::Accept, Submitted) => Some(Accepted),
            (ReportTransition::Return, Submitted) => Some(Returned),
            (ReportTransition::Reopen, Accepted) => Some(Returned),
            _ => None,
        }
    }

    /// Whether the transition needs a reason (which becomes the reviewer's comments).
    fn needs_reason(self) -> bool {
        matches!(self, ReportTransition::Return | ReportTransition::Reopen)
    }
}

/// What the store found that a transition depends on.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReportFacts {
    /// The report's live outcomes, oldest first (checked on submission).
    pub outcomes: Vec<OutcomeFields>,
    /// The due date the report's period has today (fixed on submission):
    /// see [`OutcomeReport::due_date_in`].
    pub due_date: Option<NaiveDate>,
    /// The project's live indicators (each needs a target for the report's period on acceptance).
    pub indicators: Vec<Indicator>,
}

impl OutcomeReport {
    /// The due date of a report: fixed at submission, else its period's end plus the configured days.
    pub fn due_date_under(&self, rules: &ReportingRules) -> NaiveDate {
        self.due_date.unwrap_or_else(|| {
            let days = if self.period == "FINAL" {
                rules.final_due_days
            } else {
                rules.due_days
            };
            self.period_end_date
                .checked_add_days(chrono::Days::new(u64::from(days)))
                .unwrap_or(self.period_end_date)
        })
    }

    /// The due date of the report's period in the project's `schedule` (what a
    /// submission fixes); a period no longer scheduled keeps [`Self::due_date_under`].
    pub fn due_date_in(&self, schedule: &[ScheduledPeriod], rules: &ReportingRules) -> NaiveDate {
        schedule
            .iter()
            .find(|period| period.period.to_string() == self.period)
            .map(|period| period.due_date)
            .unwrap_or_else(|| self.due_date_under(rules))
    }
}

/// Decides a transition of `report` by `actor` at `time`: the report as it
/// stands after it. Submission checks every outcome, fixes the due date and
/// records the submitter; acceptance needs a target for every indicator and
/// another person than the submitter (persons are compared, not tokens:
/// `Actor::is_person`); every review records the reviewer, and a return or
/// reopening its reason as the reviewer's comments.
pub fn decide_report_transition(
    report: &OutcomeReport,
    transition: ReportTransition,
    actor: &Actor,
    reason: &str,
    facts: &ReportFacts,
    time: DateTime<Utc>,
) -> Result<OutcomeReport> {
    let reason = validate::optional_text("reason", reason, 2000)?;
    if transition.needs_reason() && reason.is_empty() {
        return Err(Error::invalid(
            "reason",
            format!("is required to {} a report", transition.verb()),
        ));
    }
    let Some(target) = transition.target(report.state) else {
        return Err(Error::precondition(
            "OUTCOME_REPORT_STATE_TRANSITION_NOT_ALLOWED",
            report.resource_name(),
            format!(
                "cannot {} a report that is {}",
                transition.verb(),
                report.state
            ),
        ));
    };
    match transition {
        ReportTransition::Submit => check_complete(&facts.outcomes)?,
        ReportTransition::Accept => check_acceptable(report, actor, &facts.indicators)?,
        ReportTransition::Return | ReportTransition::Reopen => {}
    }
    let mut after = report.clone();
    after.state = target;
    if transition.needs_reason() {
        after.reviewer_comments = reason;
    }
    if transition == ReportTransition::Submit {
        after.due_date = facts.due_date.or(report.due_date);
        after.submitter = actor.resource_name();
        after.submitter_owner = actor.owner.clone();
        after.submit_time = Some(time);
    } else {
        after.reviewer = actor.resource_name();
        after.reviewer_owner = actor.owner.clone();
        after.review_time = Some(time);
    }
    Ok(after)
}

/// Acceptance: by another person than the submitter, with a target for the
/// report's period on every live indicator.
fn check_acceptable(report: &OutcomeReport, actor: &Actor, indicators: &[Indicator]) -> Result<()> {
    if actor.is_person(&report.submitter, &report.submitter_owner) {
        return Err(Error::precondition(
            "OUTCOME_REPORT_OWN_SUBMISSION",
            report.resource_name(),
            "the person who submitted a report cannot accept it, with any of their tokens: another program officer reviews it",
        ));
    }
    let period: ReportPeriod = report.period.parse().map_err(Error::Internal)?;
    let names: Vec<String> = indicators
        .iter()
        .filter(|indicator| !has_target_for(indicator, period))
        .map(|indicator| {
            IndicatorName::new(&indicator.grant_id, &indicator.project_id, &indicator.id)
                .to_string()
        })
        .collect();
    if !names.is_empty() {
        return Err(Error::precondition(
            "INDICATOR_TARGET_MISSING",
            report.resource_name(),
            format!(
                "indicators without a target for {}: {}; set their targets before accepting",
                report.period,
                names.join(", ")
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::access::Role;
    use crate::domain::version::Stamps;

    fn date(text: &str) -> NaiveDate {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
    }

    fn person(token: &str, owner: &str) -> Actor {
        Actor {
            token_id: token.into(),
            role: Role::ProgramOfficer,
            organization_id: None,
            owner: owner.into(),
        }
    }

    fn draft() -> OutcomeReport {
        let time = DateTime::parse_from_rfc3339("2015-01-05T08:00:00Z")
            .unwrap()
            .to_utc();
        OutcomeReport {
            id: "r1".into(),
            grant_id: "g1".into(),
            project_id: "p1".into(),
            period: "2015-Q1".into(),
            period_start_date: date("2014-10-01"),
            period_end_date: date("2014-12-31"),
            due_date: None,
            state: OutcomeReportState::Draft,
            narrative: String::new(),
            reviewer_comments: String::new(),
            submitter: String::new(),
            submit_time: None,
            reviewer: String::new(),
            review_time: None,
            submitter_owner: String::new(),
            reviewer_owner: String::new(),
            stamps: Stamps::new(time),
            outcome_count: 0,
        }
    }

    #[test]
    fn a_submission_fixes_the_due_date_and_records_the_submitter_and_a_return_the_reviewer_and_reason()
     {
        let time = DateTime::parse_from_rfc3339("2015-01-20T09:30:00Z")
            .unwrap()
            .to_utc();
        let grantee = person("t1", "ana@example.org");
        let facts = ReportFacts {
            due_date: Some(date("2015-01-30")),
            ..ReportFacts::default()
        };

        let submitted = decide_report_transition(
            &draft(),
            ReportTransition::Submit,
            &grantee,
            "",
            &facts,
            time,
        )
        .unwrap();
        let officer = person("t2", "bo@example.org");
        let returned = decide_report_transition(
            &submitted,
            ReportTransition::Return,
            &officer,
            "add the dates",
            &ReportFacts::default(),
            time,
        )
        .unwrap();

        assert_eq!(submitted.state, OutcomeReportState::Submitted);
        assert_eq!(submitted.due_date, Some(date("2015-01-30")));
        assert_eq!(
            (
                submitted.submitter.as_str(),
                submitted.submitter_owner.as_str()
            ),
            ("apiTokens/t1", "ana@example.org")
        );
        assert_eq!(submitted.submit_time, Some(time));
        assert_eq!(
            (submitted.reviewer.as_str(), submitted.review_time),
            ("", None)
        );
        assert_eq!(returned.state, OutcomeReportState::Returned);
        assert_eq!(returned.reviewer_comments, "add the dates");
        assert_eq!(
            (returned.reviewer.as_str(), returned.reviewer_owner.as_str()),
            ("apiTokens/t2", "bo@example.org")
        );
        assert_eq!(returned.review_time, Some(time));
        assert_eq!(returned.submitter, "apiTokens/t1");
    }

    #[test]
    fn the_submitter_cannot_accept_with_another_token_of_theirs() {
        let mut submitted = draft();
        submitted.state = OutcomeReportState::Submitted;
        submitted.submitter = "apiTokens/t1".into();
        submitted.submitter_owner = "ana@example.org".into();

        let error = decide_report_transition(
            &submitted,
            ReportTransition::Accept,
            &person("t9", "ana@example.org"),
            "",
            &ReportFacts::default(),
            Utc::now(),
        )
        .unwrap_err();

        assert!(
            matches!(&error, Error::FailedPrecondition { reason, .. } if *reason == "OUTCOME_REPORT_OWN_SUBMISSION"),
            "{error:?}"
        );
    }

    #[test]
    fn the_review_state_machine_allows_exactly_these_transitions() {
        use OutcomeReportState::*;
        use ReportTransition::*;
        crate::domain::assert_exact_transitions(
            ReportTransition::target,
            &[
                (Submit, &[Draft, Returned], Submitted),
                (Accept, &[Submitted], Accepted),
                (Return, &[Submitted], Returned),
                (Reopen, &[Accepted], Returned),
            ],
        );
    }
}
