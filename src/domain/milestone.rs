//! Milestones: one fact (a law, a first conviction, a referral mechanism, a
//! government commitment) in one country, reported by one or many grantees
//! and counted once. A milestone is shared, but what a caller learns of it
//! comes only from the outcomes the caller may see (`Milestone::as_seen`):
//! staff see every outcome; a grantee its own, and of other grantees only
//! outcomes in accepted reports. So another grantee's draft (its
//! description, its time, its being there at all) never reaches a grantee,
//! and a deleted draft leaves no trace in what others see.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use super::names::MilestoneName;
use super::outcome::OutcomeFields;
use super::project::OutcomeKind;
use crate::error::{Error, Result};

/// Kinds that are facts about a country rather than counts: the same
/// country, kind and date is one milestone. A conviction is one only when it
/// is the country's first.
pub fn is_milestone(kind: OutcomeKind, first_for_country: bool) -> bool {
    match kind {
        OutcomeKind::LawEnacted
        | OutcomeKind::LawDrafted
        | OutcomeKind::ReferralMechanismEstablished
        | OutcomeKind::GovernmentCommitment => true,
        OutcomeKind::ConvictionSecured => first_for_country,
        _ => false,
    }
}

/// The milestone key of an outcome: (country, kind, date), once it has a country and a date.
pub fn milestone_key(fields: &OutcomeFields) -> Option<(String, OutcomeKind, NaiveDate)> {
    if !is_milestone(fields.kind, fields.first_for_country) || fields.country_code.is_empty() {
        return None;
    }
    Some((
        fields.country_code.clone(),
        fields.kind,
        fields.outcome_date?,
    ))
}

/// A milestone: one fact in one country. Its key (kind, country, date) and fiscal year are the
/// record's; the rest is as one caller sees it ([`Milestone::as_seen`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Milestone {
    pub id: String,
    pub kind: OutcomeKind,
    pub country_code: String,
    pub milestone_date: NaiveDate,
    pub fiscal_year: i32,
    /// The description of the first outcome that reported it, of those the caller may see.
    pub description: String,
    /// When the first of those outcomes was created.
    pub create_time: DateTime<Utc>,
    /// Live outcomes that report it, of those the caller may see.
    pub outcome_count: i64,
    /// Whether one of them is in an accepted report.
    pub accepted: bool,
}

/// What a caller may see of the live outcomes that report a milestone: the first of them
/// (the oldest), how many there are, and whether one is in an accepted report.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sightings {
    /// The first one's description and creation time.
    pub first: Option<(String, DateTime<Utc>)>,
    pub count: i64,
    pub accepted: bool,
}

audited!(Milestone => kind, country_code, milestone_date, fiscal_year, description);

impl Milestone {
    pub fn resource_name(&self) -> String {
        MilestoneName::new(&self.id).to_string()
    }

    /// The milestone as a caller sees it through `sightings`, the live outcomes that report it
    /// which the caller may see: its description, first-reported time, count and acceptance
    /// come from them alone. Without any (staff only: a grantee sees a milestone only through
    /// its own outcomes) it is the record as created, with no outcome.
    pub fn as_seen(self, sightings: &Sightings) -> Milestone {
        let Some((description, create_time)) = &sightings.first else {
            return Milestone {
                outcome_count: 0,
                accepted: false,
                ..self
            };
        };
        Milestone {
            description: description.clone(),
            create_time: *create_time,
            outcome_count: sightings.count,
            accepted: sightings.accepted,
            ..self
        }
    }
}

/// A milestone a client named must be of the outcome's country and kind.
pub fn check_named_milestone(
    field: &str,
    fields: &OutcomeFields,
    milestone: &Milestone,
) -> Result<()> {
    let kind_matches = milestone.kind == fields.kind;
    let country_matches =
        fields.country_code.is_empty() || milestone.country_code == fields.country_code;
    if kind_matches && country_matches && is_milestone(fields.kind, fields.first_for_country) {
        Ok(())
    } else {
        Err(Error::invalid(
            field,
            format!(
                "{} is a {} in {}, not a {} in {}",
                milestone.resource_name(),
                milestone.kind,
                milestone.country_code,
                fields.kind,
                if fields.country_code.is_empty() {
                    "-"
                } else {
                    &fields.country_code
                }
            ),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_facts_about_a_country_are_milestones() {
        assert!(is_milestone(OutcomeKind::LawEnacted, false));
        assert!(is_milestone(OutcomeKind::ConvictionSecured, true));
        assert!(!is_milestone(OutcomeKind::ConvictionSecured, false));
        assert!(!is_milestone(OutcomeKind::OfficialsTrained, true));
    }

    #[test]
    fn a_milestone_shows_only_what_the_outcomes_a_caller_may_see_say() {
        let time = |text: &str| {
            DateTime::parse_from_rfc3339(text)
                .unwrap()
                .with_timezone(&Utc)
        };
        let record = Milestone {
            id: "m".into(),
            kind: OutcomeKind::LawEnacted,
            country_code: "HT".into(),
            milestone_date: NaiveDate::from_ymd_opt(2014, 6, 1).unwrap(),
            fiscal_year: 2014,
            description: "a draft someone else wrote".into(),
            create_time: time("2014-06-02T00:00:00Z"),
            outcome_count: 0,
            accepted: false,
        };
        let own = Sightings {
            first: Some(("our report of the law".into(), time("2014-07-01T00:00:00Z"))),
            count: 1,
            accepted: false,
        };
        let accepted = Sightings {
            count: 2,
            accepted: true,
            ..own.clone()
        };

        let seen = record.clone().as_seen(&own);
        let with_accepted = record.clone().as_seen(&accepted);
        let unseen = record.clone().as_seen(&Sightings::default());

        assert_eq!(
            (
                seen.description.as_str(),
                seen.create_time,
                seen.outcome_count,
                seen.accepted
            ),
            (
                "our report of the law",
                time("2014-07-01T00:00:00Z"),
                1,
                false
            )
        );
        assert_eq!(
            (with_accepted.outcome_count, with_accepted.accepted),
            (2, true)
        );
        assert_eq!(
            (unseen.description, unseen.outcome_count),
            (record.description, 0)
        );
    }
}
