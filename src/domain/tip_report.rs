//! The Trafficking in Persons (TIP) Report: a country's tier per report year
//! (at most one per country and year) and the report's recommendations to a
//! country, each under a pillar. Report years run from 2001, the first
//! report, to 2100; resource names hang under `countries/{alpha2}`.

use serde::Serialize;

use super::names::{TipRankingName, TipRecommendationName};
use super::pillar::Pillar;
use super::validate::{self, CheckAll};
use super::version::Stamps;
use crate::error::{FieldViolation, Result};

/// The year of the first TIP Report.
pub const FIRST_REPORT_YEAR: i32 = 2001;
/// The last report year the server accepts.
pub const LAST_REPORT_YEAR: i32 = 2100;
/// Longest recommendation text.
pub const MAX_RECOMMENDATION_TEXT: usize = 2000;

code_enum! {
    /// How fully a government meets the minimum standards for the elimination of trafficking.
    pub enum TipTier {
        Tier1 => "TIER_1",
        Tier2 => "TIER_2",
        Tier2WatchList => "TIER_2_WATCH_LIST",
        Tier3 => "TIER_3",
        SpecialCase => "SPECIAL_CASE",
    }
}

/// The fields a caller sets on a ranking.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TipRankingFields {
    pub tier: TipTier,
}

audited!(TipRankingFields => tier);

/// A country's tier in one report year.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TipRanking {
    pub country_code: String,
    pub report_year: i32,
    #[serde(flatten)]
    pub fields: TipRankingFields,
    #[serde(flatten)]
    pub stamps: Stamps,
}

impl TipRanking {
    pub fn resource_name(&self) -> String {
        TipRankingName::new(&self.country_code, self.report_year.to_string()).to_string()
    }
}

/// The fields a caller sets on a recommendation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TipRecommendationFields {
    pub report_year: i32,
    pub pillar: Pillar,
    pub text: String,
}

audited!(TipRecommendationFields => report_year, pillar, text);

/// One recommendation of the report to a country. Projects cite it by resource name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TipRecommendation {
    pub id: String,
    pub country_code: String,
    pub report_year: i32,
    pub pillar: Pillar,
    pub text: String,
    #[serde(flatten)]
    pub stamps: Stamps,
    pub delete_time: Option<chrono::DateTime<chrono::Utc>>,
}

// The same view as its fields: a creation records what a later update compares.
audited!(TipRecommendation => report_year, pillar, text);

versioned!(TipRecommendation => "the recommendation");

impl TipRecommendation {
    /// `countries/{alpha2}/tipRecommendations/{id}`.
    pub fn resource_name(&self) -> String {
        TipRecommendationName::new(&self.country_code, &self.id).to_string()
    }

    /// The fields a caller may change.
    pub fn fields(&self) -> TipRecommendationFields {
        TipRecommendationFields {
            report_year: self.report_year,
            pillar: self.pillar,
            text: self.text.clone(),
        }
    }
}

/// Checks a report year: 2001 (the first report) to 2100.
pub fn report_year(field: &str, value: i32) -> Result<i32, FieldViolation> {
    if value == 0 {
        Err(FieldViolation::new(field, "is required, e.g. 2014"))
    } else if (FIRST_REPORT_YEAR..=LAST_REPORT_YEAR).contains(&value) {
        Ok(value)
    } else {
        Err(FieldViolation::new(
            field,
            format!(
                "{value} is not a report year: {FIRST_REPORT_YEAR} (the first TIP Report) to {LAST_REPORT_YEAR}"
            ),
        ))
    }
}

/// Checks the fields of a ranking (`tier` is `None` when unspecified or unknown).
pub fn ranking_fields(
    prefix: &str,
    tier: Option<TipTier>,
) -> Result<TipRankingFields, FieldViolation> {
    tier.map(|tier| TipRankingFields { tier }).ok_or_else(|| {
        FieldViolation::new(
            format!("{prefix}.tier"),
            "is required: one of TIER_1, TIER_2, TIER_2_WATCH_LIST, TIER_3, SPECIAL_CASE",
        )
    })
}

/// Unchecked input for a recommendation, as it came in (field paths are relative to `prefix`).
pub struct TipRecommendationInput<'a> {
    pub report_year: i32,
    pub pillar: Option<Pillar>,
    pub text: &'a str,
}

impl TipRecommendationInput<'_> {
    /// Checks every rule and reports all violations at once.
    pub fn validate(&self, prefix: &str) -> Result<TipRecommendationFields> {
        let field = |name: &str| format!("{prefix}.{name}");
        let (report_year, pillar, text) = (
            report_year(&field("report_year"), self.report_year),
            validate::required(&field("pillar"), self.pillar),
            validate::required_text(&field("text"), self.text, MAX_RECOMMENDATION_TEXT),
        )
            .all()?;
        Ok(TipRecommendationFields {
            report_year,
            pillar,
            text,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_years_run_from_the_first_report_to_2100() {
        assert!(report_year("y", 2000).is_err());
        assert!(report_year("y", 0).is_err());
        assert_eq!(report_year("y", 2001), Ok(2001));
        assert_eq!(report_year("y", 2100), Ok(2100));
        assert!(report_year("y", 2101).is_err());
    }
}
