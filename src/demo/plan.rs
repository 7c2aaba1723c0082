//! The demo portfolio planned, pure and deterministic (the same every run):
//! organisations, grants with their NET obligations adding up to [`APPENDIX`]
//! by account and year and their money after the award (`money.rs`),
//! outcomes, the appropriations recorded ([`appropriations`]: the appendix
//! plus what closeouts de-obligate), and the FY 2014 emergency fund's cases.

use chrono::{Days, Months, NaiveDate};

use super::dice::Dice;
use super::money::{Award, GrantMoney, Settlement, plan_money};
use crate::pb::v1 as pb;

/// The first fiscal year of the demo's obligations.
pub const FIRST_YEAR: i32 = 2009;
/// The last fiscal year of the demo's obligations.
pub const LAST_YEAR: i32 = 2013;
/// Obligations by funding account and fiscal year (FY 2009 to FY 2013), in
/// thousands of dollars: $97.3 million in all. Synthetic figures.
pub const APPENDIX: [(&str, &str, [i64; 5]); 2] = [
    (
        "ESF",
        "Economic Support Fund",
        [11_000, 10_600, 9_800, 9_400, 8_900],
    ),
    (
        "INCLE",
        "International Narcotics Control and Law Enforcement",
        [8_600, 9_500, 9_900, 9_700, 9_900],
    ),
];
/// Projects (one per grant) per fiscal year and account, in [`APPENDIX`] order.
const PROJECTS_PER_CELL: [usize; 2] = [35, 34];
/// Every third project reports outcomes.
const REPORTING_EVERY: usize = 3;
/// Emergency assistance cases referred in FY 2014; every tenth victim did not consent to statistics.
const FY2014_CASES: usize = 60;
/// The FY 2014 emergency fund, in cents (a whole number of thousands of dollars).
pub(super) const FY2014_FUND_CENTS: i64 = 25_000_000;
/// The funding account whose FY 2014 money the emergency fund draws on.
pub(super) const FUND_ACCOUNT: &str = "INCLE";

/// A country programme: where, which grantee kind leads, what it works on.
struct Programme {
    countries: &'static [&'static str],
    /// The local partner's name, after the country.
    partner: &'static str,
    activity: pb::ActivityKind,
    pillars: &'static [pb::Pillar],
    /// The milestone its first report records, if any.
    milestone: Option<pb::OutcomeKind>,
    /// The outcome every report records.
    result: pb::OutcomeKind,
}

use pb::ActivityKind as A;
use pb::OutcomeKind as K;
use pb::Pillar as P;

/// The fact sheet's countries and what the office's grantees did there.
const PROGRAMMES: &[Programme] = &[
    Programme {
        countries: &["HT"],
        partner: "Child Protection Network",
        activity: A::VictimServices,
        pillars: &[P::Protection],
        milestone: Some(K::LawEnacted),
        result: K::VictimsAssisted,
    },
    Programme {
        countries: &["PG"],
        partner: "Legal Reform Partnership",
        activity: A::LegislationDrafting,
        pillars: &[P::Prosecution, P::Partnership],
        milestone: Some(K::LawEnacted),
        result: K::OfficialsTrained,
    },
    Programme {
        countries: &["SC"],
        partner: "Justice Sector Initiative",
        activity: A::LegislationDrafting,
        pillars: &[P::Prosecution],
        milestone: Some(K::LawEnacted),
        result: K::OfficialsTrained,
    },
    Programme {
        countries: &["MV"],
        partner: "Rule of Law Forum",
        activity: A::LawEnforcementTraining,
        pillars: &[P::Prosecution],
        milestone: Some(K::ConvictionSecured),
        result: K::OfficialsTrained,
    },
    Programme {
        countries: &["BW", "MW", "NA", "ZW"],
        partner: "SADC Anti-Trafficking Alliance",
        activity: A::LegislationDrafting,
        pillars: &[P::Prosecution, P::Partnership],
        milestone: Some(K::LawDrafted),
        result: K::OfficialsTrained,
    },
    Programme {
        countries: &["MA"],
        partner: "Migrant Rights Association",
        activity: A::LegislationDrafting,
        pillars: &[P::Protection],
        milestone: Some(K::LawDrafted),
        result: K::VictimsIdentified,
    },
    Programme {
        countries: &["TN"],
        partner: "Justice Reform Council",
        activity: A::LegislationDrafting,
        pillars: &[P::Prosecution],
        milestone: Some(K::LawDrafted),
        result: K::OfficialsTrained,
    },
    Programme {
        countries: &["BI"],
        partner: "Advocacy Collective",
        activity: A::LegislationDrafting,
        pillars: &[P::Prevention],
        milestone: Some(K::LawDrafted),
        result: K::AwarenessReached,
    },
    Programme {
        countries: &["CG"],
        partner: "Human Rights League",
        activity: A::LegislationDrafting,
        pillars: &[P::Prevention],
        milestone: Some(K::LawDrafted),
        result: K::AwarenessReached,
    },
    Programme {
        countries: &["BS"],
        partner: "Caribbean Victim Support",
        activity: A::LawEnforcementTraining,
        pillars: &[P::Prosecution, P::Protection],
        milestone: Some(K::ConvictionSecured),
        result: K::InvestigationOpened,
    },
    Programme {
        countries: &["LR"],
        partner: "Justice and Peace Network",
        activity: A::LawEnforcementTraining,
        pillars: &[P::Prosecution],
        milestone: Some(K::ConvictionSecured),
        result: K::InvestigationOpened,
    },
    Programme {
        countries: &["CR"],
        partner: "Judicial Training Institute",
        activity: A::LawEnforcementTraining,
        pillars: &[P::Prosecution],
        milestone: None,
        result: K::OfficialsTrained,
    },
    Programme {
        countries: &["PE"],
        partner: "Police and Prosecutors Academy",
        activity: A::LawEnforcementTraining,
        pillars: &[P::Prosecution],
        milestone: None,
        result: K::InvestigationOpened,
    },
    Programme {
        countries: &["LC"],
        partner: "Caribbean Justice Trainers",
        activity: A::LawEnforcementTraining,
        pillars: &[P::Prosecution],
        milestone: None,
        result: K::InvestigationOpened,
    },
    Programme {
        countries: &["PW", "FM", "MH"],
        partner: "Micronesia Islands Outreach",
        activity: A::Awareness,
        pillars: &[P::Prevention, P::Partnership],
        milestone: Some(K::GovernmentCommitment),
        result: K::AwarenessReached,
    },
    Programme {
        countries: &["BB"],
        partner: "Media and Health Alliance",
        activity: A::Awareness,
        pillars: &[P::Prevention],
        milestone: Some(K::GovernmentCommitment),
        result: K::OfficialsTrained,
    },
    Programme {
        countries: &["AL"],
        partner: "Mobile Social Work Units",
        activity: A::ReferralMechanism,
        pillars: &[P::Protection],
        milestone: Some(K::ReferralMechanismEstablished),
        result: K::VictimsReferred,
    },
    Programme {
        countries: &["MX"],
        partner: "Youth Transition Programme",
        activity: A::VictimServices,
        pillars: &[P::Protection],
        milestone: None,
        result: K::VictimsAssisted,
    },
    Programme {
        countries: &["AF"],
        partner: "Survivors' Care Council",
        activity: A::ProtectionInConflictSettings,
        pillars: &[P::Protection],
        milestone: None,
        result: K::Other,
    },
];

/// International organisations and universities that also hold grants (every third project).
const INTERNATIONAL: &[(&str, &str, pb::OrganizationKind)] = &[
    (
        "International Migration Partners (synthetic)",
        "CH",
        pb::OrganizationKind::InternationalOrganization,
    ),
    (
        "Global Justice Institute (synthetic)",
        "AT",
        pb::OrganizationKind::InternationalOrganization,
    ),
    (
        "Centre for Trafficking Research, a university (synthetic)",
        "GB",
        pb::OrganizationKind::University,
    ),
];

/// One organisation to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedOrganization {
    pub display_name: String,
    pub kind: pb::OrganizationKind,
    pub country_code: String,
}

/// One outcome of a project's final report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedOutcome {
    pub kind: pb::OutcomeKind,
    pub country_code: String,
    pub date: NaiveDate,
    pub quantity: i64,
}

/// One grant with its one project, obligated from one account's fiscal-year funds:
/// `amount_cents` is its NET obligation (what the appendix counts).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedGrant {
    pub award_number: String,
    /// Index into [`DemoPlan::organizations`].
    pub grantee: usize,
    pub account: &'static str,
    pub fiscal_year: i32,
    pub amount_cents: i64,
    pub start: NaiveDate,
    pub end: NaiveDate,
    pub countries: Vec<String>,
    pub activity: pb::ActivityKind,
    pub pillars: Vec<pb::Pillar>,
    pub title: String,
    /// The outcomes of its accepted final report; empty: none to count.
    pub outcomes: Vec<PlannedOutcome>,
    /// Its money after the award: supplement, extension, payments, closeout.
    pub money: GrantMoney,
}

/// One emergency assistance case of FY 2014.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedCase {
    /// Index into [`DemoPlan::organizations`]: the referring partner.
    pub referrer: usize,
    pub country_code: String,
    pub referral: NaiveDate,
    pub consent_to_statistics: bool,
    /// (need, amount in cents), approved and paid in full.
    pub needs: Vec<(pb::NeedKind, i64)>,
}

/// The whole demo portfolio.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoPlan {
    pub organizations: Vec<PlannedOrganization>,
    pub grants: Vec<PlannedGrant>,
    pub cases: Vec<PlannedCase>,
}

fn date(year: i32, month: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(year, month, day).unwrap_or(NaiveDate::MIN)
}

/// Award amounts in whole dollars (as cents) adding up to exactly `total_cents`:
/// one award in the millions when `with_large`, the others spread between
/// about $80,000 and $500,000.
fn awards(dice: &mut Dice, total_cents: i64, count: usize, large: Option<i64>) -> Vec<i64> {
    let mut amounts = Vec::with_capacity(count);
    let mut rest = total_cents;
    if let Some(large) = large {
        amounts.push(large);
        rest -= large;
    }
    let spread = count - amounts.len();
    let weights: Vec<i64> = (0..spread).map(|_| dice.between(80, 460)).collect();
    let weight_sum: i64 = weights.iter().sum();
    let mut given = 0;
    for (index, weight) in weights.iter().enumerate() {
        let amount = if index + 1 == spread {
            rest - given
        } else {
            // Whole hundreds of dollars.
            (i128::from(rest) * i128::from(*weight) / i128::from(weight_sum) / 10_000 * 10_000)
                as i64
        };
        given += amount;
        amounts.push(amount);
    }
    amounts
}

/// The demo portfolio: deterministic, computed without the database.
pub fn plan() -> DemoPlan {
    let mut dice = Dice(0x7469_7067_7261_6e74);
    let mut organizations: Vec<PlannedOrganization> = PROGRAMMES
        .iter()
        .map(|programme| PlannedOrganization {
            display_name: format!(
                "{} {} (synthetic)",
                country_adjective(programme.countries[0]),
                programme.partner
            ),
            kind: pb::OrganizationKind::Ngo,
            country_code: programme.countries[0].to_string(),
        })
        .collect();
    organizations.extend(
        INTERNATIONAL
            .iter()
            .map(|(name, country, kind)| PlannedOrganization {
                display_name: name.to_string(),
                kind: *kind,
                country_code: country.to_string(),
            }),
    );
    let mut grants = Vec::new();
    let mut milestones_reported = std::collections::BTreeSet::new();
    for (year_index, year) in (FIRST_YEAR..=LAST_YEAR).enumerate() {
        for (account_index, (account, _, thousands)) in APPENDIX.iter().enumerate() {
            let count = PROJECTS_PER_CELL[account_index];
            let large = ((year_index + account_index) % 2 == 0)
                .then(|| (1_200_000 + 300_000 * year_index as i64) * 100);
            let amounts = awards(&mut dice, thousands[year_index] * 1_000 * 100, count, large);
            for amount_cents in amounts {
                let number = grants.len();
                let programme_index = number % PROGRAMMES.len();
                let programme = &PROGRAMMES[programme_index];
                let grantee = if number % 3 == 2 {
                    PROGRAMMES.len() + (number / 3) % INTERNATIONAL.len()
                } else {
                    programme_index
                };
                let start = date(year - 1, 10, 1)
                    .checked_add_days(Days::new(dice.between(0, 270) as u64))
                    .unwrap_or(NaiveDate::MIN);
                let months = if amount_cents < 15_000_000 {
                    12
                } else {
                    24 + 12 * (number % 2) as u32
                };
                let end = start
                    .checked_add_months(Months::new(months))
                    .and_then(|end| end.pred_opt())
                    .unwrap_or(start);
                let country = programme.countries[number % programme.countries.len()];
                let mut outcomes = Vec::new();
                if number % REPORTING_EVERY == 0 {
                    let on = |days: u64| {
                        start
                            .checked_add_days(Days::new(days))
                            .unwrap_or(start)
                            .min(end)
                    };
                    if let Some(kind) = programme.milestone
                        && milestones_reported.insert((kind, country))
                    {
                        outcomes.push(PlannedOutcome {
                            kind,
                            country_code: country.into(),
                            date: on(300),
                            quantity: 1,
                        });
                    }
                    let quantity = match programme.result {
                        K::InvestigationOpened => dice.between(2, 9),
                        K::AwarenessReached => dice.between(2_000, 40_000),
                        K::Other => 1,
                        _ => dice.between(12, 260),
                    };
                    outcomes.push(PlannedOutcome {
                        kind: programme.result,
                        country_code: country.into(),
                        date: on(200),
                        quantity,
                    });
                }
                grants.push(PlannedGrant {
                    award_number: format!("DEMO-{year}-{account}-{:03}", number + 1),
                    grantee,
                    account,
                    fiscal_year: year,
                    amount_cents,
                    start,
                    end,
                    countries: programme.countries.iter().map(|c| c.to_string()).collect(),
                    activity: programme.activity,
                    pillars: programme.pillars.to_vec(),
                    title: format!(
                        "{} in {} (synthetic)",
                        activity_title(programme.activity),
                        programme.countries.join(", ")
                    ),
                    outcomes,
                    money: GrantMoney::default(),
                });
            }
        }
    }
    // A dice of its own, so the money planned never moves the portfolio's other figures.
    let mut money_dice = Dice(0x6d6f_6e65_7920_6166);
    for (number, grant) in grants.iter_mut().enumerate() {
        let award = Award {
            amount_cents: grant.amount_cents,
            start: grant.start,
            end: grant.end,
            latest_year: grant.fiscal_year == LAST_YEAR,
        };
        grant.money = plan_money(&mut money_dice, number, &award);
    }
    let cases = (0..FY2014_CASES)
        .map(|index| {
            // Three partners refer them (Haiti, Albania, Mexico): 20 cases each, so no
            // published count of the fund has a part below the suppression threshold.
            let programme_index = [0, 16, 17][index % 3];
            let needs = match index % 3 {
                0 => vec![(pb::NeedKind::Medical, dice.between(400, 2_500) * 100)],
                1 => vec![
                    (pb::NeedKind::Food, dice.between(100, 600) * 100),
                    (pb::NeedKind::ReturnTravel, dice.between(300, 1_800) * 100),
                ],
                _ => vec![(pb::NeedKind::Reintegration, dice.between(500, 3_000) * 100)],
            };
            PlannedCase {
                referrer: programme_index,
                country_code: PROGRAMMES[programme_index].countries[0].to_string(),
                referral: date(2013, 10, 7)
                    .checked_add_days(Days::new(4 * index as u64))
                    .unwrap_or(NaiveDate::MIN),
                consent_to_statistics: index % 10 != 9,
                needs,
            }
        })
        .collect();
    DemoPlan {
        organizations,
        grants,
        cases,
    }
}

impl PlannedGrant {
    /// The last day of its period of performance, after any extension.
    pub fn final_end(&self) -> NaiveDate {
        self.money.extended_end.unwrap_or(self.end)
    }

    /// Obligated and not paid at the end of the demo: 0 once closed out.
    pub fn unliquidated_cents(&self) -> i64 {
        match self.money.settlement {
            Settlement::ClosedOut => 0,
            _ => self.amount_cents - self.money.paid_cents(),
        }
    }
}

/// The appropriations the demo records, by account and fiscal year in [`APPENDIX`] order, in
/// cents: the appendix plus what the closeouts of that account and year de-obligate (the
/// headroom of the larger initial awards). Two-year money.
pub fn appropriations(grants: &[PlannedGrant]) -> Vec<(&'static str, i32, i64)> {
    let mut recorded = Vec::new();
    for (account, _, thousands) in APPENDIX {
        for (year, thousands) in (FIRST_YEAR..=LAST_YEAR).zip(thousands) {
            let headroom: i64 = grants
                .iter()
                .filter(|grant| grant.account == account && grant.fiscal_year == year)
                .map(|grant| grant.money.deobligated_cents)
                .sum();
            recorded.push((account, year, thousands * 100_000 + headroom));
        }
    }
    recorded
}

fn country_adjective(code: &str) -> &'static str {
    match code {
        "HT" => "Haiti",
        "PG" => "Papua New Guinea",
        "SC" => "Seychelles",
        "MV" => "Maldives",
        "BW" => "Southern Africa",
        "MA" => "Morocco",
        "TN" => "Tunisia",
        "BI" => "Burundi",
        "CG" => "Congo",
        "BS" => "Bahamas",
        "LR" => "Liberia",
        "CR" => "Costa Rica",
        "PE" => "Peru",
        "LC" => "St. Lucia",
        "PW" => "Pacific",
        "BB" => "Barbados",
        "AL" => "Albania",
        "MX" => "Mexico",
        "AF" => "Afghanistan",
        _ => "Regional",
    }
}

fn activity_title(activity: pb::ActivityKind) -> &'static str {
    match activity {
        A::LegislationDrafting => "Anti-trafficking legislation",
        A::LawEnforcementTraining => "Training police, prosecutors and judges",
        A::VictimIdentification => "Identifying victims",
        A::ReferralMechanism => "A national referral mechanism",
        A::VictimServices => "Comprehensive care for victims",
        A::Awareness => "Raising awareness",
        A::ProtectionInConflictSettings => "Protection in conflict-affected settings",
        A::Research | A::Unspecified => "Research on trafficking",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Datelike;
    use std::collections::BTreeMap;

    #[test]
    fn the_plan_reproduces_the_appendix_table_by_account_and_year_to_the_cent() {
        let plan = plan();

        let mut by_cell: BTreeMap<(&str, i32), i64> = BTreeMap::new();
        for grant in &plan.grants {
            *by_cell
                .entry((grant.account, grant.fiscal_year))
                .or_default() += grant.amount_cents;
        }

        for (account, _, thousands) in APPENDIX {
            for (index, year) in (FIRST_YEAR..=LAST_YEAR).enumerate() {
                assert_eq!(
                    by_cell[&(account, year)],
                    thousands[index] * 100_000,
                    "{account} FY{year}"
                );
            }
        }
        assert_eq!(by_cell.values().sum::<i64>(), 9_730_000_000);
    }

    #[test]
    fn the_plan_has_more_than_340_projects_with_awards_like_the_offices() {
        let plan = plan();
        let amounts: Vec<i64> = plan.grants.iter().map(|g| g.amount_cents).collect();

        let usual = amounts
            .iter()
            .filter(|cents| (5_000_000..=50_000_000).contains(*cents))
            .count();
        let millions = amounts
            .iter()
            .filter(|cents| **cents >= 100_000_000)
            .count();
        assert!(plan.grants.len() > 340);
        assert!(
            usual * 10 >= amounts.len() * 9,
            "{usual} of {}",
            amounts.len()
        );
        assert!((3..=10).contains(&millions), "{millions}");
        assert!(amounts.iter().all(|cents| *cents > 0));
    }

    #[test]
    fn the_plan_reports_every_kind_of_outcome_and_more_than_50_consenting_victims_helped() {
        let plan = plan();

        let kinds: std::collections::BTreeSet<i32> = plan
            .grants
            .iter()
            .flat_map(|grant| grant.outcomes.iter().map(|o| o.kind as i32))
            .collect();
        let helped = plan
            .cases
            .iter()
            .filter(|c| c.consent_to_statistics)
            .count();
        assert_eq!(kinds.len(), 12, "{kinds:?}");
        assert!(helped > 50);
        let mut by_part: BTreeMap<(usize, &str), usize> = BTreeMap::new();
        for case in plan.cases.iter().filter(|c| c.consent_to_statistics) {
            *by_part
                .entry((case.referrer, &case.country_code))
                .or_default() += 1;
        }
        assert!(by_part.values().all(|helped| *helped >= 11), "{by_part:?}");
        assert!(plan.cases.iter().all(|case| {
            case.referral >= NaiveDate::from_ymd_opt(2013, 10, 1).unwrap()
                && case.referral <= NaiveDate::from_ymd_opt(2014, 9, 30).unwrap()
        }));
        assert!(
            plan.organizations
                .iter()
                .all(|organization| organization.display_name.contains("(synthetic)"))
        );
        assert_eq!(plan, super::plan());
    }

    #[test]
    fn outcomes_fall_inside_their_projects() {
        for grant in plan().grants {
            for outcome in &grant.outcomes {
                assert!(grant.start <= outcome.date && outcome.date <= grant.end);
                assert!(outcome.date.year() >= 2008);
            }
        }
    }

    #[test]
    fn net_obligations_still_reproduce_the_appendix_and_the_appropriations_cover_the_gross() {
        let plan = plan();
        let mut net: BTreeMap<(&str, i32), i64> = BTreeMap::new();
        let mut gross: BTreeMap<(&str, i32), i64> = BTreeMap::new();
        for grant in &plan.grants {
            let money = &grant.money;
            let supplement = money.supplement.as_ref().map_or(0, |s| s.amount_cents);
            let cell = (grant.account, grant.fiscal_year);
            *gross.entry(cell).or_default() += money.initial_award_cents + supplement;
            *net.entry(cell).or_default() +=
                money.initial_award_cents + supplement - money.deobligated_cents;
        }
        for (account, _, thousands) in APPENDIX {
            for (index, year) in (FIRST_YEAR..=LAST_YEAR).enumerate() {
                assert_eq!(net[&(account, year)], thousands[index] * 100_000);
            }
        }
        for (account, year, cents) in appropriations(&plan.grants) {
            assert_eq!(gross[&(account, year)], cents, "{account} FY{year}");
        }
        assert_eq!(net.values().sum::<i64>(), 9_730_000_000);
    }

    #[test]
    fn closed_grants_are_paid_in_full_and_the_latest_year_is_left_with_balances() {
        let plan = plan();
        let count =
            |keep: &dyn Fn(&PlannedGrant) -> bool| plan.grants.iter().filter(|g| keep(g)).count();
        let today = chrono::Utc::now().date_naive();

        for grant in &plan.grants {
            let money = &grant.money;
            assert!(money.initial_award_cents > 0);
            assert!(
                money.paid_cents() <= grant.amount_cents,
                "{}",
                grant.award_number
            );
            assert!(money.expended_cents <= grant.amount_cents);
            assert_eq!(
                money.settlement == Settlement::ClosedOut,
                grant.fiscal_year < LAST_YEAR
            );
            if money.settlement == Settlement::ClosedOut {
                assert_eq!(money.paid_cents(), grant.amount_cents);
                assert_eq!(grant.unliquidated_cents(), 0);
            }
            for payment in &money.payments {
                assert!(payment.amount_cents > 0);
                assert!(payment.costs_from <= payment.costs_to);
                assert!(payment.decided <= payment.paid && payment.paid < today);
            }
            if let Some(supplement) = &money.supplement {
                assert!(grant.start <= supplement.obligation_date);
                assert!(supplement.obligation_date <= grant.end);
            }
        }
        assert_eq!(count(&|g| g.money.supplement.is_some()), 7);
        assert_eq!(count(&|g| g.money.extended_end.is_some()), 7);
        let underspent = count(&|g| g.money.deobligated_cents > 0);
        assert!((60..=75).contains(&underspent), "{underspent}");
        let open: Vec<&PlannedGrant> = plan
            .grants
            .iter()
            .filter(|g| g.fiscal_year == LAST_YEAR)
            .collect();
        assert_eq!(open.len(), 69);
        assert!(open.iter().all(|g| g.unliquidated_cents() > 0));
        for settlement in [
            Settlement::AwaitingSignature,
            Settlement::FinalReportInReview,
            Settlement::NothingFiled,
        ] {
            assert_eq!(
                open.iter()
                    .filter(|g| g.money.settlement == settlement)
                    .count(),
                23
            );
        }
    }
}
