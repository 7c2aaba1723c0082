//! A referral as it comes in: the victim's profile, the needs, the consent,
//! checked all at once; the case number; the fiscal year a referral may be
//! dated in and whether that year still takes cases; times a client may give.

use chrono::{DateTime, Utc};

use super::case::{
    AgeGroup, CLOCK_SKEW, CaseUrgency, MAX_NEEDS, MAX_NOTE, Need, NeedKind, Referral,
    TraffickingForm, VictimProfile, VictimSex,
};
use super::fund::FundYear;
use crate::domain::access::Actor;
use crate::domain::fiscal_year::{FiscalCalendar, check_fiscal_year};
use crate::domain::money::Cents;
use crate::domain::names::{OrganizationName, ResourceName};
use crate::domain::validate::{self, CheckAll, Checked, Violations};
use crate::error::{Error, FieldViolation, Result};

/// A victim profile as it came in.
#[derive(Debug, Clone, Copy, Default)]
pub struct VictimInput<'a> {
    pub sex: Option<VictimSex>,
    pub age_group: Option<AgeGroup>,
    pub nationality: &'a str,
    pub trafficking_form: Option<TraffickingForm>,
}

/// A need as it came in.
#[derive(Debug, Clone, Copy)]
pub struct NeedInput<'a> {
    pub kind: Option<NeedKind>,
    pub description: &'a str,
    pub requested_amount: i64,
}

/// A referral as it came in (the personal data apart).
#[derive(Debug, Clone)]
pub struct ReferralInput<'a> {
    pub referring_organization: &'a str,
    pub country_code: &'a str,
    /// `None` when the request has no victim profile.
    pub victim: Option<VictimInput<'a>>,
    pub urgency: Option<CaseUrgency>,
    pub consent_to_services: bool,
    pub consent_to_statistics: bool,
    pub needs: Vec<NeedInput<'a>>,
}

fn victim(prefix: &str, input: Option<VictimInput<'_>>) -> Checked<VictimProfile> {
    let Some(input) = input else {
        return Err(FieldViolation::new(
            prefix,
            "is required: sex, age_group, nationality and trafficking_form",
        )
        .into());
    };
    let field = |name: &str| format!("{prefix}.{name}");
    let (sex, age_group, nationality, trafficking_form) = (
        validate::required(&field("sex"), input.sex),
        validate::required(&field("age_group"), input.age_group),
        validate::country_code(&field("nationality"), input.nationality),
        validate::required(&field("trafficking_form"), input.trafficking_form),
    )
        .all()?;
    Ok(VictimProfile {
        sex,
        age_group,
        nationality,
        trafficking_form,
    })
}

fn needs(prefix: &str, input: &[NeedInput<'_>]) -> Checked<Vec<Need>> {
    let mut violations = Violations::new();
    if input.is_empty() {
        violations.add(
            prefix,
            "needs at least one need (kind, description, requested_amount)",
        );
    }
    if input.len() > MAX_NEEDS {
        violations.add(prefix, format!("at most {MAX_NEEDS} needs per case"));
    }
    let mut found = Vec::with_capacity(input.len());
    for (index, need) in input.iter().take(MAX_NEEDS).enumerate() {
        let field = |name: &str| format!("{prefix}[{index}].{name}");
        let checked = (
            need.kind.ok_or_else(|| {
                FieldViolation::new(
                    field("kind"),
                    format!("must be one of {}", validate::choices::<NeedKind>()),
                )
            }),
            validate::required_text(&field("description"), need.description, MAX_NOTE),
            validate::positive_amount(&field("requested_amount"), need.requested_amount),
        )
            .all();
        if let Some((kind, description, requested)) = violations.check(checked) {
            found.push(Need {
                number: index as i32 + 1,
                kind,
                description,
                requested,
                approved: Cents(0),
                paid: Cents(0),
            });
        }
    }
    violations.or(found)
}

impl ReferralInput<'_> {
    /// Checks every rule of a referral and reports all violations at once.
    /// A referral without the victim's consent to services is refused: no services without it.
    pub fn validate(&self, prefix: &str) -> Result<Referral> {
        let field = |name: &str| format!("{prefix}.{name}");
        let consent = if self.consent_to_services {
            Ok(())
        } else {
            Err(FieldViolation::new(
                field("consent_to_services"),
                "must be true: no services without the victim's consent to them",
            ))
        };
        let (organization, country_code, victim, urgency, (), needs) = (
            OrganizationName::parse(
                &field("referring_organization"),
                self.referring_organization,
            ),
            validate::country_code(&field("country_code"), self.country_code),
            victim(&field("victim"), self.victim),
            validate::required(&field("urgency"), self.urgency),
            consent,
            needs(&field("needs"), &self.needs),
        )
            .all()?;
        Ok(Referral {
            referring_organization_id: organization.organization,
            country_code,
            victim,
            urgency,
            consent_to_services: self.consent_to_services,
            consent_to_statistics: self.consent_to_statistics,
            needs,
        })
    }
}

/// A grantee refers only for its own organisation (checked before anything is looked up,
/// so the answer tells nothing about other organisations).
pub fn check_own_referral(field: &str, actor: &Actor, organization_id: &str) -> Result<()> {
    match (&actor.role, &actor.organization_id) {
        (crate::domain::access::Role::Grantee, Some(own)) if own != organization_id => {
            Err(Error::invalid(
                field,
                format!(
                    "a grantee refers cases for its own organisation, {}",
                    OrganizationName::new(own)
                ),
            ))
        }
        _ => Ok(()),
    }
}

/// A time a client may give (referral, decision, payment): not in the future, not before `earliest`.
pub fn past_time(
    field: &str,
    value: Option<DateTime<Utc>>,
    earliest: Option<(DateTime<Utc>, &str)>,
    now: DateTime<Utc>,
) -> std::result::Result<DateTime<Utc>, FieldViolation> {
    let Some(time) = value else { return Ok(now) };
    // Both databases keep microseconds: keep no more, so what is stored is what is answered.
    let time = DateTime::from_timestamp_micros(time.timestamp_micros()).unwrap_or(time);
    if time > now + CLOCK_SKEW {
        return Err(FieldViolation::new(field, "must not be in the future"));
    }
    match earliest {
        Some((earliest, what)) if time < earliest => Err(FieldViolation::new(
            field,
            format!("must not be before the {what} ({earliest})"),
        )),
        _ => Ok(time),
    }
}

/// The fiscal year of a referral: the fiscal year of its date (UTC), which must be one the office records.
pub fn referral_fiscal_year(
    field: &str,
    calendar: &FiscalCalendar,
    referral_time: DateTime<Utc>,
) -> std::result::Result<i32, FieldViolation> {
    let year = calendar.fiscal_year_of(referral_time.date_naive());
    check_fiscal_year(year).map_err(|rule| {
        FieldViolation::new(field, format!("falls in fiscal year {year}, which {rule}"))
    })
}

/// How many numbers a fiscal year has: eight random digits.
const CASE_NUMBERS_PER_YEAR: u32 = 100_000_000;

/// A new readable case number, `EAF-2014-4821-0937`: the fiscal year of the referral and eight
/// random digits (read and said on the phone in two groups of four). Random, not a sequence: a
/// sequence shared by every organisation let a grantee read others' referral counts off its own
/// numbers. Numbers given before (`EAF-2014-0007`, one sequence per year) stay valid; their shape
/// differs, so no new number can equal one. The store checks that a number is unused.
pub fn new_case_number(fiscal_year: i32) -> String {
    case_number(fiscal_year, rand::random_range(0..CASE_NUMBERS_PER_YEAR))
}

pub(super) fn case_number(fiscal_year: i32, draw: u32) -> String {
    format!(
        "EAF-{fiscal_year}-{:04}-{:04}",
        draw / 10_000 % 10_000,
        draw % 10_000
    )
}

/// Whether `actor` may date a referral in fiscal year `year` (today's being `current_year`):
/// a grantee the current or the previous fiscal year (a late referral of the year just ended),
/// never further back; staff any year, as long as it is open ([`check_year_open`]).
pub fn check_referral_year(
    field: &str,
    actor: &Actor,
    year: i32,
    current_year: i32,
) -> std::result::Result<i32, FieldViolation> {
    if actor.role == crate::domain::access::Role::Grantee && year < current_year - 1 {
        return Err(FieldViolation::new(
            field,
            format!(
                "falls in fiscal year {year}: a grantee dates a referral in fiscal year {} or {current_year}",
                current_year - 1
            ),
        ));
    }
    Ok(year)
}

/// A fiscal year takes new cases unless it is closed: it ended before the previous fiscal year
/// (today's being `current_year`) and its fund has nothing left to commit (nothing allocated, or
/// all of it committed). There is no explicit closing: the fund's ledger decides.
pub fn check_year_open(current_year: i32, fund: &FundYear) -> Result<()> {
    if fund.fiscal_year >= current_year - 1 || fund.available() > Cents(0) {
        return Ok(());
    }
    Err(Error::precondition(
        "FISCAL_YEAR_CLOSED",
        format!("fiscal year {}", fund.fiscal_year),
        format!(
            "fiscal year {} is closed: it ended before fiscal year {} and its fund has nothing left to commit, so it takes no new case",
            fund.fiscal_year,
            current_year - 1
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::access::Role;
    use crate::domain::assistance::testing::actor;

    #[test]
    fn a_case_number_is_the_fiscal_year_and_eight_digits_in_two_groups() {
        assert_eq!(case_number(2014, 48_210_937), "EAF-2014-4821-0937");
        assert_eq!(case_number(2014, 7), "EAF-2014-0000-0007");
        let number = new_case_number(2026);
        assert_eq!(number.len(), "EAF-2026-0000-0000".len());
        assert!(number.starts_with("EAF-2026-"), "{number}");
    }

    #[test]
    fn a_grantee_dates_a_referral_in_the_current_or_previous_fiscal_year_and_staff_in_any_open_one()
    {
        let grantee = actor("g", Role::Grantee, Some("ngo"));
        let worker = actor("w", Role::CaseWorker, None);
        assert!(check_referral_year("t", &grantee, 2025, 2026).is_ok());
        assert!(check_referral_year("t", &grantee, 2024, 2026).is_err());
        assert!(check_referral_year("t", &worker, 1995, 2026).is_ok());
        let old = |allocated, committed| FundYear {
            fiscal_year: 2014,
            allocated: Cents(allocated),
            committed: Cents(committed),
            paid: Cents(0),
        };
        assert!(check_year_open(2026, &old(100, 50)).is_ok());
        assert_eq!(
            check_year_open(2026, &old(100, 100)).unwrap_err().reason(),
            "FISCAL_YEAR_CLOSED"
        );
        assert!(check_year_open(2026, &FundYear::empty(1995)).is_err());
        assert!(check_year_open(2026, &FundYear::empty(2025)).is_ok());
    }

    #[test]
    fn a_referral_without_consent_to_services_is_refused() {
        let input = ReferralInput {
            referring_organization: "organizations/ngo",
            country_code: "HT",
            victim: Some(VictimInput {
                sex: Some(VictimSex::Female),
                age_group: Some(AgeGroup::Adult),
                nationality: "NP",
                trafficking_form: Some(TraffickingForm::Sex),
            }),
            urgency: Some(CaseUrgency::High),
            consent_to_services: false,
            consent_to_statistics: true,
            needs: vec![NeedInput {
                kind: Some(NeedKind::Food),
                description: "food",
                requested_amount: 100,
            }],
        };
        match input.validate("c") {
            Err(Error::InvalidArgument(violations)) => {
                assert_eq!(violations[0].field, "c.consent_to_services")
            }
            other => panic!("{other:?}"),
        }
    }
}
