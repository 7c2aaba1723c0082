//! Resource names, one typed name per resource (`GrantName`,
//! `ProjectName { grant, project }`, ...), each parsed by `FromStr` and
//! printed by `Display` from one pattern. Every layer uses these: the api
//! parses request fields into them, the domain and the store print them.
//!
//! The rules are the same for every name: the collection words must match,
//! each id is 1 to [`MAX_ID`] printable ASCII characters without `/`, and an
//! error quotes at most [`ECHO`] characters of what it was given: the ones
//! around the character where the name goes wrong, which it names.

use std::fmt;
use std::str::FromStr;

use crate::error::FieldViolation;

/// Longest id in a name.
pub const MAX_ID: usize = 100;
/// Most characters of a bad input an error message repeats.
pub const ECHO: usize = 40;
/// The id that stands for "any" in a list's parent (`grants/-`).
pub const ANY: &str = "-";

/// `value` quoted, cut to its first [`ECHO`] characters.
pub fn excerpt(value: &str) -> String {
    if value.chars().count() <= ECHO {
        format!("{value:?}")
    } else {
        let head: String = value.chars().take(ECHO).collect();
        format!("{head:?}... ({} characters)", value.chars().count())
    }
}

/// `value` quoted around character `position` (counted from 1): at most
/// [`ECHO`] characters, the place where it goes wrong always among them.
pub fn excerpt_at(value: &str, position: usize) -> String {
    let length = value.chars().count();
    if length <= ECHO {
        return format!("{value:?}");
    }
    // Most of the window before the mistake, a little after it.
    let end = (position + ECHO / 4).clamp(ECHO, length);
    let start = end - ECHO;
    let window: String = value.chars().skip(start).take(ECHO).collect();
    let before = if start > 0 { "..." } else { "" };
    let after = if end < length { "..." } else { "" };
    format!("{before}{window:?}{after} ({length} characters)")
}

/// Why a string is not a resource name of some pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameError {
    message: String,
}

impl NameError {
    /// `value` goes wrong at its character `position` (counted from 1): `problem` says how.
    fn new(value: &str, pattern: &str, position: usize, problem: &str) -> Self {
        let message = if value.is_empty() {
            format!("is required: a resource name of the form {pattern}")
        } else {
            format!(
                "{} is not a resource name of the form {pattern}: at character {position}, {problem}",
                excerpt_at(value, position)
            )
        };
        NameError { message }
    }

    /// The violation of field `field`.
    pub fn at(self, field: impl Into<String>) -> FieldViolation {
        FieldViolation::new(field, self.message)
    }
}

impl fmt::Display for NameError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.message)
    }
}

/// How one id segment is checked and normalised.
#[derive(Debug, Clone, Copy)]
pub enum IdRule {
    /// Any id the server or a caller chose.
    Id,
    /// An ISO 3166-1 alpha-2 code, upper-cased (`ht` -> `HT`); `-` stays.
    Alpha2,
    /// An upper-cased code (`esf` -> `ESF`).
    Code,
    /// A year of four digits.
    Year,
}

impl IdRule {
    /// What an id refused by [`IdRule::apply`] should have been.
    fn expected(self, id: &str) -> String {
        if id.is_empty() {
            return "expected an id, found nothing".into();
        }
        if id.chars().count() > MAX_ID {
            return format!("the id is longer than {MAX_ID} characters");
        }
        if let Some(bad) = id.chars().find(|c| !c.is_ascii_graphic()) {
            return format!("the id holds {bad:?}: ids are printable ASCII without spaces");
        }
        match self {
            IdRule::Alpha2 => "expected an ISO 3166-1 alpha-2 code such as HT".into(),
            IdRule::Year => "expected a year of four digits".into(),
            IdRule::Id | IdRule::Code => "the id is not valid".into(),
        }
    }

    fn apply(self, id: &str) -> Option<String> {
        let printable = !id.is_empty()
            && id.len() <= MAX_ID
            && id.chars().all(|c| c.is_ascii_graphic() && c != '/');
        if !printable {
            return None;
        }
        match self {
            IdRule::Id => Some(id.to_string()),
            _ if id == ANY => Some(id.to_string()),
            IdRule::Alpha2 => (id.len() == 2 && id.chars().all(|c| c.is_ascii_alphabetic()))
                .then(|| id.to_ascii_uppercase()),
            IdRule::Code => Some(id.to_ascii_uppercase()),
            IdRule::Year => {
                (id.len() == 4 && id.chars().all(|c| c.is_ascii_digit())).then(|| id.to_string())
            }
        }
    }
}

/// The ids of `value` under `collections` (`["grants", "projects"]` for
/// `grants/{grant}/projects/{project}`), checked by `rules`.
pub fn parse_ids<const N: usize>(
    value: &str,
    collections: [&str; N],
    rules: [IdRule; N],
    pattern: &str,
) -> Result<[String; N], NameError> {
    // `position` counts characters (from 1) up to the segment being read.
    let mut position = 1;
    let error =
        |position: usize, problem: String| NameError::new(value, pattern, position, &problem);
    let mut parts = value.split('/');
    let mut ids: [String; N] = std::array::from_fn(|_| String::new());
    for (index, collection) in collections.iter().enumerate() {
        match parts.next() {
            Some(word) if word == *collection => position += word.chars().count() + 1,
            Some(word) => {
                return Err(error(
                    position,
                    format!("expected `{collection}`, found {}", excerpt(word)),
                ));
            }
            None => return Err(error(position, format!("expected `{collection}/`"))),
        }
        let Some(id) = parts.next() else {
            return Err(error(
                position,
                format!("expected an id after `{collection}/`"),
            ));
        };
        ids[index] = rules[index]
            .apply(id)
            .ok_or_else(|| error(position, rules[index].expected(id)))?;
        position += id.chars().count() + 1;
    }
    match parts.next() {
        None => Ok(ids),
        // The `/` that begins the extra part.
        Some(_) => Err(error(
            position - 1,
            "the name should end before this `/`".into(),
        )),
    }
}

/// A typed resource name: parsed from and printed as one pattern.
pub trait ResourceName: FromStr<Err = NameError> + fmt::Display {
    /// The pattern, e.g. `grants/{grant}/projects/{project}`.
    const PATTERN: &'static str;

    /// Parses `value` of request field `field`.
    fn parse(field: &str, value: &str) -> Result<Self, FieldViolation> {
        value.parse().map_err(|error: NameError| error.at(field))
    }
}

/// Declares typed names, each written as the struct it declares (so grep finds it):
/// `pub struct GrantName { "grants" / grant: Id }`, a collection and an id field per level.
macro_rules! resource_names {
    ($(
        $(#[$meta:meta])* $vis:vis struct $name:ident {
            $c0:literal / $f0:ident : $r0:ident $(, $c:literal / $f:ident : $r:ident)* $(,)?
        }
    )+) => {$(
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        $vis struct $name {
            pub $f0: String,
            $(pub $f: String),*
        }

        impl $name {
            /// The name of these ids.
            pub fn new($f0: impl Into<String> $(, $f: impl Into<String>)*) -> Self {
                Self { $f0: $f0.into() $(, $f: $f.into())* }
            }
        }

        impl ResourceName for $name {
            const PATTERN: &'static str =
                concat!($c0, "/{", stringify!($f0), "}" $(, "/", $c, "/{", stringify!($f), "}")*);
        }

        impl FromStr for $name {
            type Err = NameError;

            fn from_str(value: &str) -> Result<Self, NameError> {
                let [$f0 $(, $f)*] = parse_ids(
                    value,
                    [$c0 $(, $c)*],
                    [IdRule::$r0 $(, IdRule::$r)*],
                    <Self as ResourceName>::PATTERN,
                )?;
                Ok(Self { $f0 $(, $f)* })
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(formatter, "{}/{}", $c0, self.$f0)?;
                $(write!(formatter, "/{}/{}", $c, self.$f)?;)*
                Ok(())
            }
        }
    )+};
}

resource_names! {
    /// `organizations/{organization}`: a grantee or partner.
    pub struct OrganizationName { "organizations" / organization: Id }
    /// `apiTokens/{token}`.
    pub struct ApiTokenName { "apiTokens" / token: Id }
    /// `fundingAccounts/{code}`, e.g. `fundingAccounts/ESF`.
    pub struct FundingAccountName { "fundingAccounts" / code: Code }
    /// `fundingAccounts/{code}/appropriations/{fiscal_year}`: an account's money of one fiscal year.
    pub struct AppropriationName { "fundingAccounts" / code: Code, "appropriations" / fiscal_year: Year }
    /// `countries/{alpha2}`, e.g. `countries/HT`.
    pub struct CountryName { "countries" / country: Alpha2 }
    /// `regions/{code}`, e.g. `regions/WHA`.
    pub struct RegionName { "regions" / region: Code }
    /// `countries/{alpha2}/tipRankings/{report_year}`.
    pub struct TipRankingName { "countries" / country: Alpha2, "tipRankings" / report_year: Year }
    /// `countries/{alpha2}/tipRecommendations/{recommendation}`.
    pub struct TipRecommendationName { "countries" / country: Alpha2, "tipRecommendations" / recommendation: Id }
    /// `auditEvents/{sequence}`.
    pub struct AuditEventName { "auditEvents" / sequence: Id }
    /// `grants/{grant}`.
    pub struct GrantName { "grants" / grant: Id }
    /// `grants/{grant}/obligations/{obligation}`.
    pub struct ObligationName { "grants" / grant: Id, "obligations" / obligation: Id }
    /// `grants/{grant}/revisions/{revision}`.
    pub struct GrantRevisionName { "grants" / grant: Id, "revisions" / revision: Id }
    /// `grants/{grant}/projects/{project}`.
    pub struct ProjectName { "grants" / grant: Id, "projects" / project: Id }
    /// `grants/{grant}/projects/{project}/indicators/{indicator}`.
    pub struct IndicatorName { "grants" / grant: Id, "projects" / project: Id, "indicators" / indicator: Id }
    /// `grants/{grant}/projects/{project}/outcomeReports/{report}`.
    pub struct OutcomeReportName { "grants" / grant: Id, "projects" / project: Id, "outcomeReports" / report: Id }
    /// `grants/{grant}/projects/{project}/outcomeReports/{report}/outcomes/{outcome}`.
    pub struct OutcomeName {
        "grants" / grant: Id,
        "projects" / project: Id,
        "outcomeReports" / report: Id,
        "outcomes" / outcome: Id,
    }
    /// `milestones/{milestone}`.
    pub struct MilestoneName { "milestones" / milestone: Id }
    /// `grants/{grant}/financialReports/{financial_report}`: a Federal Financial Report (SF-425).
    pub struct FinancialReportName { "grants" / grant: Id, "financialReports" / financial_report: Id }
    /// `grants/{grant}/paymentRequests/{payment_request}`: a grantee's request to be paid.
    pub struct PaymentRequestName { "grants" / grant: Id, "paymentRequests" / payment_request: Id }
    /// `grants/{grant}/amendments/{amendment}`: a change of an award, requested and signed.
    pub struct AmendmentName { "grants" / grant: Id, "amendments" / amendment: Id }
    /// `fundAllocations/{allocation}`: money added to (or taken from) one fiscal year's assistance fund.
    pub struct FundAllocationName { "fundAllocations" / allocation: Id }
    /// `assistanceCases/{case}`: an emergency victim-assistance case.
    pub struct AssistanceCaseName { "assistanceCases" / case: Id }
    /// `assistanceCases/{case}/disbursements/{disbursement}`: one payment of a case.
    pub struct DisbursementName { "assistanceCases" / case: Id, "disbursements" / disbursement: Id }
}

/// `grants/{grant}/closeout`: the closeout of a grant, one per grant (a singleton).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CloseoutName {
    pub grant: String,
}

impl CloseoutName {
    pub fn new(grant: impl Into<String>) -> Self {
        Self {
            grant: grant.into(),
        }
    }
}

impl ResourceName for CloseoutName {
    const PATTERN: &'static str = "grants/{grant}/closeout";
}

impl FromStr for CloseoutName {
    type Err = NameError;

    fn from_str(value: &str) -> Result<Self, NameError> {
        let Some(grant) = value.strip_suffix("/closeout") else {
            return Err(NameError::new(
                value,
                Self::PATTERN,
                value.len().max(1),
                "a closeout's name ends with /closeout",
            ));
        };
        let grant: GrantName = grant.parse()?;
        Ok(Self::new(grant.grant))
    }
}

impl fmt::Display for CloseoutName {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "grants/{}/closeout", self.grant)
    }
}

impl OutcomeReportName {
    /// The project the report belongs to.
    pub fn project(&self) -> ProjectName {
        ProjectName::new(&self.grant, &self.project)
    }
}

impl OutcomeName {
    /// The report the outcome belongs to.
    pub fn report(&self) -> OutcomeReportName {
        OutcomeReportName::new(&self.grant, &self.project, &self.report)
    }
}

impl HasWildcard for ProjectName {
    fn is_any(&self) -> bool {
        self.grant == ANY && self.project == ANY
    }
}

impl ProjectName {
    /// The grant the project belongs to.
    pub fn grant(&self) -> GrantName {
        GrantName::new(&self.grant)
    }
}

impl IndicatorName {
    /// The project the indicator belongs to.
    pub fn project(&self) -> ProjectName {
        ProjectName::new(&self.grant, &self.project)
    }
}

impl TipRankingName {
    /// The report year as a number (the name's rule guarantees four digits).
    pub fn year(&self) -> i32 {
        self.report_year.parse().unwrap_or_default()
    }
}

/// A list's parent: one resource, or every one of its kind (`grants/-`).
pub fn parse_parent<N>(field: &str, value: &str) -> Result<Option<N>, FieldViolation>
where
    N: ResourceName + HasWildcard,
{
    let name = N::parse(field, value)?;
    Ok((!name.is_any()).then_some(name))
}

/// Names whose ids may all be the wildcard `-`.
pub trait HasWildcard {
    /// Whether every id is `-`.
    fn is_any(&self) -> bool;
}

impl HasWildcard for GrantName {
    fn is_any(&self) -> bool {
        self.grant == ANY
    }
}

impl HasWildcard for CountryName {
    fn is_any(&self) -> bool {
        self.country == ANY
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_print_as_they_parse() {
        for text in [
            "grants/g1",
            "grants/g1/projects/p1",
            "grants/g1/projects/p1/indicators/i1",
            "grants/g1/obligations/o1",
            "countries/HT/tipRankings/2014",
            "countries/HT/tipRecommendations/r1",
            "organizations/o1",
            "fundingAccounts/ESF",
        ] {
            let printed = match text.split('/').count() {
                2 if text.starts_with("grants") => text.parse::<GrantName>().map(|n| n.to_string()),
                2 if text.starts_with("organizations") => {
                    text.parse::<OrganizationName>().map(|n| n.to_string())
                }
                2 => text.parse::<FundingAccountName>().map(|n| n.to_string()),
                4 if text.contains("projects") => {
                    text.parse::<ProjectName>().map(|n| n.to_string())
                }
                4 if text.contains("obligations") => {
                    text.parse::<ObligationName>().map(|n| n.to_string())
                }
                4 if text.contains("tipRankings") => {
                    text.parse::<TipRankingName>().map(|n| n.to_string())
                }
                4 => text.parse::<TipRecommendationName>().map(|n| n.to_string()),
                _ => text.parse::<IndicatorName>().map(|n| n.to_string()),
            };
            assert_eq!(printed.as_deref(), Ok(text));
        }
        assert_eq!(
            IndicatorName::PATTERN,
            "grants/{grant}/projects/{project}/indicators/{indicator}"
        );
    }

    #[test]
    fn codes_are_normalised_and_ids_bounded() {
        let name: TipRankingName = "countries/ht/tipRankings/2014".parse().unwrap();
        assert_eq!((name.country.as_str(), name.year()), ("HT", 2014));
        assert_eq!(
            "fundingAccounts/esf"
                .parse::<FundingAccountName>()
                .unwrap()
                .code,
            "ESF"
        );
        let longest = format!("grants/{}", "x".repeat(MAX_ID));
        assert!(longest.parse::<GrantName>().is_ok());
        let too_long = format!("grants/{}", "x".repeat(MAX_ID + 1));
        for bad in [
            "grants/",
            "grants/a/b",
            "grant/a",
            "grants/a b",
            too_long.as_str(),
        ] {
            assert!(bad.parse::<GrantName>().is_err(), "{bad}");
        }
        for bad in [
            "countries/HT/tipRankings/x",
            "countries/HT/tipRecommendations/2014",
        ] {
            assert!(bad.parse::<TipRankingName>().is_err(), "{bad}");
        }
        let bad = "countries/HTI/tipRecommendations/a";
        assert!(bad.parse::<TipRecommendationName>().is_err(), "{bad}");
    }

    #[test]
    fn an_error_repeats_only_a_short_prefix_of_the_input() {
        let huge = "grants/".to_string() + &"x".repeat(1_000_000);
        let violation = GrantName::parse("name", &huge).unwrap_err();
        assert!(
            violation.description.len() < 200,
            "{}",
            violation.description
        );
        assert!(violation.description.contains("grants/{grant}"));
        assert_eq!(
            GrantName::parse("name", "").unwrap_err().description,
            "is required: a resource name of the form grants/{grant}"
        );
    }

    #[test]
    fn an_error_shows_where_a_long_name_goes_wrong() {
        // A trailing `/` at character 44: a prefix of 40 characters would not show it.
        let bad = "grants/0193a5b2-7c1d-7e4f-9a3b-2c5d6e7f8a9b/";
        let violation = GrantName::parse("name", bad).unwrap_err();
        assert!(
            violation.description.contains("8a9b/\"")
                && violation.description.contains("at character 44"),
            "{}",
            violation.description
        );
        let violation = ProjectName::parse("name", "grants/g1/project/p1").unwrap_err();
        assert!(
            violation
                .description
                .ends_with("at character 11, expected `projects`, found \"project\""),
            "{}",
            violation.description
        );
    }

    #[test]
    fn a_wildcard_parent_means_every_parent() {
        assert_eq!(parse_parent::<GrantName>("parent", "grants/-"), Ok(None));
        assert_eq!(
            parse_parent::<GrantName>("parent", "grants/g1"),
            Ok(Some(GrantName::new("g1")))
        );
        assert_eq!(
            parse_parent::<CountryName>("parent", "countries/-"),
            Ok(None)
        );
        assert!(parse_parent::<CountryName>("parent", "regions/AF").is_err());
    }
}
