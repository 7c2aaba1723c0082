//! The Trafficking in Persons (TIP) Report: a country's tier per report year
//! (at most one per country and year) and the report's recommendations to a
//! country, each under a pillar. Report years run from 2001, the first
//! report, to 2100; resource names hang under `countries/{alpha2}`.

use serde::{Deserialize, Serialize};

use super::pillar::Pillar;
use super::validate::{self, Violations};
use crate::error::{FieldViolation, Result};

/// The year of the first TIP Report.
pub const FIRST_REPORT_YEAR: i32 = 2001;
/// The last report year the server accepts.
pub const LAST_REPORT_YEAR: i32 = 2100;
/// Longest recommendation text.
pub const MAX_RECOMMENDATION_TEXT: usize = 2000;
/// The collection of rankings under a country.
pub const RANKINGS: &str = "tipRankings";
/// The collection of recommendations under a country.
pub const RECOMMENDATIONS: &str = "tipRecommendations";

/// How fully a government meets the minimum standards for the elimination of trafficking.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum TipTier {
    #[serde(rename = "TIER_1")]
    Tier1,
    #[serde(rename = "TIER_2")]
    Tier2,
    #[serde(rename = "TIER_2_WATCH_LIST")]
    Tier2WatchList,
    #[serde(rename = "TIER_3")]
    Tier3,
    #[serde(rename = "SPECIAL_CASE")]
    SpecialCase,
}

impl TipTier {
    pub const ALL: [TipTier; 5] = [
        Self::Tier1,
        Self::Tier2,
        Self::Tier2WatchList,
        Self::Tier3,
        Self::SpecialCase,
    ];

    /// The stored and filterable code, e.g. `TIER_2_WATCH_LIST`.
    pub fn code(self) -> &'static str {
        match self {
            Self::Tier1 => "TIER_1",
            Self::Tier2 => "TIER_2",
            Self::Tier2WatchList => "TIER_2_WATCH_LIST",
            Self::Tier3 => "TIER_3",
            Self::SpecialCase => "SPECIAL_CASE",
        }
    }

    /// Parses a code, with or without the proto prefix `TIP_` (`TIP_TIER_3`, `TIER_3`,
    /// `TIP_TIER_SPECIAL_CASE`, `SPECIAL_CASE`), any case.
    pub fn from_code(code: &str) -> Option<TipTier> {
        let code = code.trim().to_ascii_uppercase();
        let code = code.strip_prefix("TIP_").unwrap_or(&code);
        let code = if code == "TIER_SPECIAL_CASE" {
            "SPECIAL_CASE"
        } else {
            code
        };
        Self::ALL.into_iter().find(|tier| tier.code() == code)
    }
}

/// The fields a caller sets on a ranking.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TipRankingFields {
    pub tier: TipTier,
}

/// A country's tier in one report year.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TipRanking {
    pub country_code: String,
    pub report_year: i32,
    #[serde(flatten)]
    pub fields: TipRankingFields,
    pub create_time: chrono::DateTime<chrono::Utc>,
    pub update_time: chrono::DateTime<chrono::Utc>,
    pub revision: i64,
}

impl TipRanking {
    pub fn resource_name(&self) -> String {
        ranking_name(&self.country_code, self.report_year)
    }
}

/// `countries/{alpha2}/tipRankings/{report_year}`.
pub fn ranking_name(country_code: &str, report_year: i32) -> String {
    format!("countries/{country_code}/{RANKINGS}/{report_year}")
}

/// The fields a caller sets on a recommendation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TipRecommendationFields {
    pub report_year: i32,
    pub pillar: Pillar,
    pub text: String,
}

/// One recommendation of the report to a country. Projects cite it by resource name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TipRecommendation {
    pub id: String,
    pub country_code: String,
    pub report_year: i32,
    pub pillar: Pillar,
    pub text: String,
    pub create_time: chrono::DateTime<chrono::Utc>,
    pub update_time: chrono::DateTime<chrono::Utc>,
    pub delete_time: Option<chrono::DateTime<chrono::Utc>>,
    pub revision: i64,
}

impl TipRecommendation {
    /// `countries/{alpha2}/tipRecommendations/{id}`.
    pub fn resource_name(&self) -> String {
        format!(
            "countries/{}/{RECOMMENDATIONS}/{}",
            self.country_code, self.id
        )
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
        let mut violations = Violations::new();
        let report_year = violations.check(report_year(
            &format!("{prefix}.report_year"),
            self.report_year,
        ));
        if self.pillar.is_none() {
            violations.add(
                format!("{prefix}.pillar"),
                "is required: one of PROSECUTION, PROTECTION, PREVENTION, PARTNERSHIP",
            );
        }
        let text = violations.check(validate::required_text(
            &format!("{prefix}.text"),
            self.text,
            MAX_RECOMMENDATION_TEXT,
        ));
        violations.finish()?;
        Ok(TipRecommendationFields {
            report_year: report_year.unwrap_or(FIRST_REPORT_YEAR),
            pillar: self.pillar.unwrap_or(Pillar::Prosecution),
            text: text.unwrap_or_default(),
        })
    }
}

/// The countries a list covers: one, or every country (`countries/-`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Countries {
    All,
    One(String),
}

impl Countries {
    /// The parent it was parsed from, normalised: `countries/HT` or `countries/-`.
    pub fn parent(&self) -> String {
        match self {
            Countries::All => "countries/-".to_string(),
            Countries::One(code) => format!("countries/{code}"),
        }
    }
}

fn malformed(field: &str, value: &str, form: &str) -> FieldViolation {
    if value.is_empty() {
        FieldViolation::new(
            field,
            format!("is required: a resource name such as {form}"),
        )
    } else {
        FieldViolation::new(field, format!("{value:?} is not of the form {form}"))
    }
}

/// The country code in `countries/{alpha2}` (upper-cased).
pub fn parse_country(field: &str, parent: &str) -> Result<String, FieldViolation> {
    parent
        .strip_prefix("countries/")
        .and_then(|code| validate::country_code(field, code).ok())
        .ok_or_else(|| malformed(field, parent, "countries/{alpha2}, e.g. countries/HT"))
}

/// The countries in `countries/{alpha2}` or `countries/-`.
pub fn parse_countries(field: &str, parent: &str) -> Result<Countries, FieldViolation> {
    if parent == "countries/-" {
        return Ok(Countries::All);
    }
    parse_country(field, parent)
        .map(Countries::One)
        .map_err(|_| {
            malformed(
                field,
                parent,
                "countries/{alpha2} (e.g. countries/HT) or countries/- for every country",
            )
        })
}

/// The country and id in `countries/{alpha2}/{collection}/{id}`.
fn parse_child<'a>(
    field: &str,
    name: &'a str,
    collection: &str,
) -> Result<(String, &'a str), FieldViolation> {
    let form = format!("countries/{{alpha2}}/{collection}/{{id}}");
    let mut parts = name.split('/');
    let (Some("countries"), Some(code), Some(found), Some(id), None) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return Err(malformed(field, name, &form));
    };
    let code = validate::country_code(field, code).map_err(|_| malformed(field, name, &form))?;
    if found != collection || id.is_empty() || id.len() > 100 {
        return Err(malformed(field, name, &form));
    }
    Ok((code, id))
}

/// The country and report year in `countries/{alpha2}/tipRankings/{report_year}`.
pub fn parse_ranking_name(field: &str, name: &str) -> Result<(String, i32), FieldViolation> {
    let (code, year) = parse_child(field, name, RANKINGS)?;
    let year = year.parse::<i32>().map_err(|_| {
        malformed(
            field,
            name,
            "countries/{alpha2}/tipRankings/{report_year}, e.g. countries/HT/tipRankings/2014",
        )
    })?;
    Ok((code, year))
}

/// The country and id in `countries/{alpha2}/tipRecommendations/{id}`. Projects cite
/// recommendations by this name.
pub fn parse_recommendation_name(
    field: &str,
    name: &str,
) -> Result<(String, String), FieldViolation> {
    parse_child(field, name, RECOMMENDATIONS).map(|(code, id)| (code, id.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiers_parse_with_or_without_the_proto_prefix() {
        assert_eq!(TipTier::from_code("TIP_TIER_1"), Some(TipTier::Tier1));
        assert_eq!(
            TipTier::from_code("tier_2_watch_list"),
            Some(TipTier::Tier2WatchList)
        );
        assert_eq!(
            TipTier::from_code("TIP_TIER_SPECIAL_CASE"),
            Some(TipTier::SpecialCase)
        );
        assert_eq!(
            TipTier::from_code("SPECIAL_CASE"),
            Some(TipTier::SpecialCase)
        );
        assert_eq!(TipTier::from_code("TIER_4"), None);
        for tier in TipTier::ALL {
            assert_eq!(TipTier::from_code(tier.code()), Some(tier));
        }
    }

    #[test]
    fn report_years_run_from_the_first_report_to_2100() {
        assert!(report_year("y", 2000).is_err());
        assert!(report_year("y", 0).is_err());
        assert_eq!(report_year("y", 2001), Ok(2001));
        assert_eq!(report_year("y", 2100), Ok(2100));
        assert!(report_year("y", 2101).is_err());
    }

    #[test]
    fn names_under_a_country_parse_and_normalise_the_code() {
        assert_eq!(
            parse_ranking_name("name", "countries/ht/tipRankings/2014"),
            Ok(("HT".to_string(), 2014))
        );
        assert_eq!(
            parse_recommendation_name("name", "countries/HT/tipRecommendations/abc"),
            Ok(("HT".to_string(), "abc".to_string()))
        );
        assert!(parse_ranking_name("name", "countries/HT/tipRankings/x").is_err());
        assert!(parse_ranking_name("name", "countries/HT/tipRecommendations/2014").is_err());
        assert!(parse_recommendation_name("name", "countries/HT/tipRecommendations/").is_err());
        assert!(parse_recommendation_name("name", "countries/HTI/tipRecommendations/a").is_err());
        assert!(parse_recommendation_name("name", "countries/HT/tipRecommendations/a/b").is_err());
        assert_eq!(parse_countries("parent", "countries/-"), Ok(Countries::All));
        assert_eq!(
            parse_countries("parent", "countries/pe"),
            Ok(Countries::One("PE".into()))
        );
        assert!(parse_countries("parent", "regions/AF").is_err());
        assert!(parse_country("parent", "countries/-").is_err());
    }
}
