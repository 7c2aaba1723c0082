//! `tipgrants seed-demo`: a synthetic demonstration portfolio modelled on the
//! office's fact sheet of June 2014. Every organisation is named
//! "(synthetic)". FY 2009-2013 obligations add up, by funding account and
//! year, to [`APPENDIX`] ($97.3 million; the fact sheet's own table lost its
//! figures, so these are made up to its published total), over 345 projects
//! with awards mostly between $50,000 and $500,000 and a few in the millions;
//! a third of the projects have an accepted final report with outcomes of
//! every kind; the emergency fund helped 54 consenting victims in FY 2014
//! (referred by three partners, 18 in each). Each award runs its course as
//! an office's would: an indicator with a target, the grant activated and its
//! project started, the final report accepted, the project completed and the
//! grant closed.
//!
//! The data are planned first ([`plan`], pure and deterministic: the same
//! every run), then written through the API services in process, so every
//! write goes through the same checks, transactions and audit events as a
//! client's. Each call carries a fixed `request_id`: a second run replays
//! the first answers and writes nothing.

use std::sync::Arc;
use std::time::Duration;

use chrono::{Days, Months, NaiveDate};
use tonic::{Request, Response};

use crate::api::assistance_api::{AssistanceApi, AssistanceRules};
use crate::api::auth::Authenticator;
use crate::api::grant_api::GrantApi;
use crate::api::organization_api::OrganizationApi;
use crate::api::outcome_report_api::OutcomeReportApi;
use crate::api::project_api::ProjectApi;
use crate::api::reference_data_api::ReferenceDataApi;
use crate::domain::access::{Actor, Role};
use crate::domain::fiscal_year::FiscalCalendar;
use crate::domain::outcome::ReportingRules;
use crate::pb::v1 as pb;
use crate::pb::v1::assistance_service_server::AssistanceService;
use crate::pb::v1::grant_service_server::GrantService;
use crate::pb::v1::organization_service_server::OrganizationService;
use crate::pb::v1::outcome_report_service_server::OutcomeReportService;
use crate::pb::v1::project_service_server::ProjectService;
use crate::pb::v1::reference_data_service_server::ReferenceDataService;
use crate::settings::Settings;
use crate::store::{CallContext, Store};

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
/// The FY 2014 emergency fund, in cents.
const FY2014_FUND_CENTS: i64 = 25_000_000;

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

/// One grant with its one obligation and one project.
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
    /// The outcomes of its accepted final report; empty: no report.
    pub outcomes: Vec<PlannedOutcome>,
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

/// A small deterministic generator (SplitMix64): the demo is the same on every run and platform.
struct Dice(u64);

impl Dice {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `low..=high`.
    fn between(&mut self, low: i64, high: i64) -> i64 {
        low + (self.next() % (high - low + 1) as u64) as i64
    }
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
                });
            }
        }
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

/// What `seed-demo` wrote (or found written by an earlier run).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DemoSummary {
    pub organizations: usize,
    pub grants: usize,
    pub obligated_cents: i64,
    pub accepted_reports: usize,
    pub outcomes: usize,
    pub cases: usize,
}

/// The API services the demo writes through, and the synthetic callers it writes as.
struct Writer {
    organizations: OrganizationApi,
    reference_data: ReferenceDataApi,
    grants: GrantApi,
    projects: ProjectApi,
    reports: OutcomeReportApi,
    assistance: AssistanceApi,
    /// Whether a key for victims' personal data is configured: cases need one.
    with_cases: bool,
}

/// A synthetic caller: staff of the demo, or a demo grantee.
fn actor(token_id: &str, role: Role, organization_id: Option<String>) -> Actor {
    Actor {
        token_id: token_id.to_string(),
        role,
        organization_id,
        // Each synthetic caller is a person of its own.
        owner: token_id.to_string(),
    }
}

/// A request as the auth layer would pass it on: from `actor`, to `method`, under `request_id`.
fn call<T>(actor: &Actor, method: &str, request_id: &str, message: T) -> Request<T> {
    let mut request = Request::new(message);
    request.extensions_mut().insert(CallContext {
        actor: actor.clone(),
        method: method.to_string(),
        request_id: request_id.to_string(),
    });
    request
}

/// The id at the end of a resource name.
fn id_of(name: &str) -> String {
    name.rsplit('/').next().unwrap_or_default().to_string()
}

fn failed(what: &str) -> impl Fn(tonic::Status) -> String + '_ {
    move |status| {
        format!(
            "seed-demo: {what}: {:?}: {}",
            status.code(),
            status.message()
        )
    }
}

fn timestamp(day: NaiveDate, hour: u32) -> prost_types::Timestamp {
    crate::api::timestamp(day.and_hms_opt(hour, 0, 0).unwrap_or_default().and_utc())
}

/// Writes the demo portfolio into `store` (idempotent: a second run writes nothing). The
/// emergency fund's cases are written only when a key for victims' personal data is configured
/// (`privacy.keys`), as the server requires for any case; without one they are left out.
pub async fn seed(store: Store, settings: &Settings) -> Result<DemoSummary, String> {
    let calendar = FiscalCalendar::new(settings.fiscal_year.first_month);
    let reporting = ReportingRules {
        calendar,
        due_days: settings.reporting.due_days,
        final_due_days: settings.reporting.final_due_days,
    };
    let keyring = Arc::new(settings.keyring().map_err(|error| error.to_string())?);
    crate::privacy::check_keys(&store, &keyring, "cli seed-demo").await?;
    let with_cases = keyring.active_id().is_some();
    let authenticator = Arc::new(Authenticator::new(
        store.clone(),
        Duration::from_secs(settings.auth.token_cache_ttl_seconds),
        false,
    ));
    let writer = Writer {
        organizations: OrganizationApi::new(store.clone(), authenticator),
        reference_data: ReferenceDataApi::new(store.clone()),
        grants: GrantApi::new(store.clone(), calendar),
        projects: ProjectApi::new(store.clone(), reporting),
        reports: OutcomeReportApi::new(store.clone(), reporting, &settings.uploads),
        assistance: AssistanceApi::new(
            store,
            keyring,
            AssistanceRules {
                calendar,
                critical_decision_hours: settings.assistance.critical_decision_hours,
                suppression_threshold: i64::from(settings.reports.suppression_threshold),
            },
        ),
        with_cases,
    };
    writer.write(&plan()).await
}

const SERVICE: &str = "/tipgrants.v1.";

impl Writer {
    async fn write(&self, plan: &DemoPlan) -> Result<DemoSummary, String> {
        let officer = actor("seed-demo-program-officer", Role::ProgramOfficer, None);
        let reviewer = actor("seed-demo-reviewer", Role::ProgramOfficer, None);
        let admin = actor("seed-demo-admin", Role::Admin, None);
        let mut summary = DemoSummary::default();
        for (code, display_name, _) in APPENDIX {
            self.funding_account(&admin, code, display_name).await?;
        }
        let mut organization_names = Vec::new();
        for (index, organization) in plan.organizations.iter().enumerate() {
            let created = Steps::new(&officer, "organization", &organization.display_name)
                .send(
                    "OrganizationService/CreateOrganization",
                    &index.to_string(),
                    |request_id| pb::CreateOrganizationRequest {
                        organization: Some(pb::Organization {
                            display_name: organization.display_name.clone(),
                            kind: organization.kind as i32,
                            country_code: organization.country_code.clone(),
                            identifiers: vec![pb::OrganizationIdentifier {
                                scheme: "DEMO".into(),
                                value: format!("synthetic-{index}"),
                            }],
                            ..Default::default()
                        }),
                        request_id,
                    },
                    |request| self.organizations.create_organization(request),
                )
                .await?;
            organization_names.push(created.name);
        }
        summary.organizations = organization_names.len();
        for grant in &plan.grants {
            summary.obligated_cents += grant.amount_cents;
            let reported = self
                .grant(&officer, &reviewer, grant, &organization_names)
                .await?;
            if reported > 0 {
                summary.accepted_reports += 1;
                summary.outcomes += reported;
            }
        }
        summary.grants = plan.grants.len();
        if self.with_cases {
            summary.cases = self
                .emergency_fund(&admin, plan, &organization_names)
                .await?;
        }
        Ok(summary)
    }

    async fn funding_account(
        &self,
        admin: &Actor,
        code: &str,
        display_name: &str,
    ) -> Result<(), String> {
        let method = format!("{SERVICE}ReferenceDataService/CreateFundingAccount");
        let request_id = format!("seed-demo-funding-account-{code}");
        let created = self
            .reference_data
            .create_funding_account(call(
                admin,
                &method,
                &request_id,
                pb::CreateFundingAccountRequest {
                    funding_account_id: code.into(),
                    funding_account: Some(pb::FundingAccount {
                        display_name: display_name.into(),
                        ..Default::default()
                    }),
                    request_id: request_id.clone(),
                },
            ))
            .await;
        match created {
            // An account of that code made before the demo is used as it is.
            Err(status) if status.code() == tonic::Code::AlreadyExists => Ok(()),
            other => other.map(|_| ()).map_err(failed(code)),
        }
    }

    /// One grant, its obligation and project, and its accepted final report; the outcomes written.
    async fn grant(
        &self,
        officer: &Actor,
        reviewer: &Actor,
        grant: &PlannedGrant,
        organizations: &[String],
    ) -> Result<usize, String> {
        let award = &grant.award_number;
        let officer = Steps::new(officer, award, award);
        let grantee = &organizations[grant.grantee];
        let large = grant.amount_cents >= 15_000_000;
        let created = officer
            .send(
                "GrantService/CreateGrant",
                "grant",
                |request_id| pb::CreateGrantRequest {
                    grant: Some(pb::Grant {
                        award_number: award.clone(),
                        title: grant.title.clone(),
                        grantee: grantee.clone(),
                        instrument: if large {
                            pb::GrantInstrument::CooperativeAgreement
                        } else {
                            pb::GrantInstrument::Grant
                        } as i32,
                        approach: if large {
                            pb::GrantApproach::ComprehensiveMultiYear
                        } else {
                            pb::GrantApproach::ShortTermTechnicalAssistance
                        } as i32,
                        start_date: grant.start.to_string(),
                        end_date: grant.end.to_string(),
                        reporting_cadence: pb::ReportingCadence::Annual as i32,
                        program_officer: "program.officer@demo.example".into(),
                        ..Default::default()
                    }),
                    request_id,
                },
                |request| self.grants.create_grant(request),
            )
            .await?;
        officer
            .send(
                "GrantService/CreateObligation",
                "obligation",
                |request_id| pb::CreateObligationRequest {
                    parent: created.name.clone(),
                    obligation: Some(pb::Obligation {
                        kind: pb::ObligationKind::InitialAward as i32,
                        funding_account: format!("fundingAccounts/{}", grant.account),
                        fiscal_year: grant.fiscal_year,
                        amount: grant.amount_cents,
                        obligation_date: grant.start.to_string(),
                        note: "Synthetic demo award".into(),
                        ..Default::default()
                    }),
                    request_id,
                },
                |request| self.grants.create_obligation(request),
            )
            .await?;
        let project = officer
            .send(
                "ProjectService/CreateProject",
                "project",
                |request_id| pb::CreateProjectRequest {
                    parent: created.name.clone(),
                    project: Some(pb::Project {
                        title: grant.title.clone(),
                        summary: "Synthetic demonstration project modelled on the office's 2014 fact sheet".into(),
                        country_codes: grant.countries.clone(),
                        pillars: grant.pillars.iter().map(|p| *p as i32).collect(),
                        activity_kinds: vec![grant.activity as i32],
                        start_date: grant.start.to_string(),
                        end_date: grant.end.to_string(),
                        ..Default::default()
                    }),
                    request_id,
                },
                |request| self.projects.create_project(request),
            )
            .await?;
        // A grant is activated once a project has an indicator with a target.
        let indicator_kind = (grant.outcomes.first())
            .map_or(pb::OutcomeKind::OfficialsTrained, |outcome| outcome.kind);
        officer
            .send(
                "ProjectService/CreateIndicator",
                "indicator",
                |request_id| pb::CreateIndicatorRequest {
                    parent: project.name.clone(),
                    indicator: Some(pb::Indicator {
                        display_name: "Results reported (synthetic)".into(),
                        unit: "count".into(),
                        outcome_kind: indicator_kind as i32,
                        baseline: 0,
                        targets: vec![pb::IndicatorTarget {
                            fiscal_year: grant.fiscal_year,
                            period: String::new(),
                            value: 1,
                        }],
                        ..Default::default()
                    }),
                    request_id,
                },
                |request| self.projects.create_indicator(request),
            )
            .await?;
        officer
            .change(
                "GrantService/ActivateGrant",
                "activate",
                &created.name,
                |request| self.grants.activate_grant(request),
            )
            .await?;
        officer
            .change(
                "ProjectService/StartProject",
                "start",
                &project.name,
                |request| self.projects.start_project(request),
            )
            .await?;
        let outcomes = self
            .final_report(reviewer, grant, &project.name, organizations)
            .await?;
        // Every demo award has ended: its project is completed and the grant closed.
        officer
            .change(
                "ProjectService/CompleteProject",
                "complete",
                &project.name,
                |request| self.projects.complete_project(request),
            )
            .await?;
        officer
            .change(
                "GrantService/CloseGrant",
                "close",
                &created.name,
                |request| self.grants.close_grant(request),
            )
            .await?;
        Ok(outcomes)
    }

    /// The project's final report with its outcomes, submitted by the grantee and accepted.
    async fn final_report(
        &self,
        reviewer: &Actor,
        grant: &PlannedGrant,
        project_name: &str,
        organizations: &[String],
    ) -> Result<usize, String> {
        if grant.outcomes.is_empty() {
            return Ok(0);
        }
        let award = &grant.award_number;
        let grantee = &organizations[grant.grantee];
        let partner = actor(
            &format!("seed-demo-grantee-{}", grant.grantee),
            Role::Grantee,
            Some(id_of(grantee)),
        );
        let partner = Steps::new(&partner, award, award);
        let report = partner
            .send(
                "OutcomeReportService/CreateOutcomeReport",
                "report",
                |request_id| pb::CreateOutcomeReportRequest {
                    parent: project_name.to_string(),
                    outcome_report: Some(pb::OutcomeReport {
                        period: "FINAL".into(),
                        narrative: "Synthetic demo: what the project achieved".into(),
                        ..Default::default()
                    }),
                    request_id,
                },
                |request| self.reports.create_outcome_report(request),
            )
            .await?;
        for (index, outcome) in grant.outcomes.iter().enumerate() {
            partner
                .send(
                    "OutcomeReportService/CreateOutcome",
                    &format!("outcome-{index}"),
                    |request_id| pb::CreateOutcomeRequest {
                        parent: report.name.clone(),
                        outcome: Some(outcome_message(outcome)),
                        request_id,
                    },
                    |request| self.reports.create_outcome(request),
                )
                .await?;
        }
        partner
            .change(
                "OutcomeReportService/SubmitOutcomeReport",
                "submit",
                &report.name,
                |request| self.reports.submit_outcome_report(request),
            )
            .await?;
        Steps::new(reviewer, award, award)
            .change(
                "OutcomeReportService/AcceptOutcomeReport",
                "accept",
                &report.name,
                |request| self.reports.accept_outcome_report(request),
            )
            .await?;
        Ok(grant.outcomes.len())
    }

    /// The FY 2014 fund and its cases: referred, reviewed, approved (four eyes), paid, closed.
    async fn emergency_fund(
        &self,
        admin: &Actor,
        plan: &DemoPlan,
        organizations: &[String],
    ) -> Result<usize, String> {
        let intake = actor("seed-demo-case-worker-intake", Role::CaseWorker, None);
        let decider = actor("seed-demo-case-worker-decisions", Role::CaseWorker, None);
        Steps::new(admin, "fund", "the FY 2014 fund")
            .send(
                "AssistanceService/CreateFundAllocation",
                "2014",
                |request_id| pb::CreateFundAllocationRequest {
                    fund_allocation: Some(pb::FundAllocation {
                        fiscal_year: 2014,
                        amount: FY2014_FUND_CENTS,
                        note: "Synthetic demo: FY 2014 emergency assistance".into(),
                        ..Default::default()
                    }),
                    request_id,
                },
                |request| self.assistance.create_fund_allocation(request),
            )
            .await?;
        for (index, case) in plan.cases.iter().enumerate() {
            let subject = format!("case-{index}");
            let what = format!("emergency case {index}");
            let intake = Steps::new(&intake, &subject, &what);
            let decider = Steps::new(&decider, &subject, &what);
            let created = intake
                .send(
                    "AssistanceService/CreateAssistanceCase",
                    "refer",
                    |request_id| pb::CreateAssistanceCaseRequest {
                        assistance_case: Some(pb::AssistanceCase {
                            referring_organization: organizations[case.referrer].clone(),
                            country_code: case.country_code.clone(),
                            victim: Some(pb::VictimProfile {
                                sex: [pb::VictimSex::Female, pb::VictimSex::Male][index % 2] as i32,
                                age_group: [pb::AgeGroup::Adult, pb::AgeGroup::Child][index % 3 / 2]
                                    as i32,
                                nationality: case.country_code.clone(),
                                trafficking_form: [
                                    pb::TraffickingForm::Labour,
                                    pb::TraffickingForm::Sex,
                                    pb::TraffickingForm::Both,
                                ][index % 3]
                                    as i32,
                            }),
                            urgency: pb::CaseUrgency::High as i32,
                            consent_to_services: true,
                            consent_to_statistics: case.consent_to_statistics,
                            needs: case
                                .needs
                                .iter()
                                .map(|(kind, amount)| pb::AssistanceNeed {
                                    kind: *kind as i32,
                                    description: "Synthetic demo need".into(),
                                    requested_amount: *amount,
                                    ..Default::default()
                                })
                                .collect(),
                            referral_time: Some(timestamp(case.referral, 9)),
                            ..Default::default()
                        }),
                        request_id,
                    },
                    |request| self.assistance.create_assistance_case(request),
                )
                .await?;
            intake
                .change(
                    "AssistanceService/StartCaseReview",
                    "review",
                    &created.name,
                    |request| self.assistance.start_case_review(request),
                )
                .await?;
            let decided = case
                .referral
                .checked_add_days(Days::new(1))
                .unwrap_or(case.referral);
            decider
                .send(
                    "AssistanceService/ApproveAssistanceCase",
                    "approve",
                    |request_id| pb::ApproveAssistanceCaseRequest {
                        name: created.name.clone(),
                        etag: String::new(),
                        request_id,
                        approvals: case
                            .needs
                            .iter()
                            .enumerate()
                            .map(|(number, (_, amount))| pb::NeedApproval {
                                need_number: number as i32 + 1,
                                approved_amount: *amount,
                            })
                            .collect(),
                        decision_time: Some(timestamp(decided, 10)),
                    },
                    |request| self.assistance.approve_assistance_case(request),
                )
                .await?;
            for (number, (_, amount)) in case.needs.iter().enumerate() {
                decider
                    .send(
                        "AssistanceService/CreateDisbursement",
                        &format!("pay-{number}"),
                        |request_id| pb::CreateDisbursementRequest {
                            parent: created.name.clone(),
                            disbursement: Some(pb::Disbursement {
                                need_number: number as i32 + 1,
                                amount: *amount,
                                payment_time: Some(timestamp(decided, 15)),
                                reference: format!("DEMO-{}-{}", created.case_number, number + 1),
                                ..Default::default()
                            }),
                            request_id,
                        },
                        |request| self.assistance.create_disbursement(request),
                    )
                    .await?;
            }
            decider
                .send(
                    "AssistanceService/CloseAssistanceCase",
                    "close",
                    |request_id| pb::CloseAssistanceCaseRequest {
                        name: created.name.clone(),
                        etag: String::new(),
                        request_id,
                        outcome: "Synthetic demo: needs met, case closed".into(),
                    },
                    |request| self.assistance.close_assistance_case(request),
                )
                .await?;
        }
        Ok(plan.cases.len())
    }
}

/// One caller's calls about one subject of the demo (an award, a case): each
/// step is sent under its own fixed request id, `seed-demo-{subject}-{step}`,
/// so a second run replays it; a failure names `what`.
struct Steps<'a> {
    actor: &'a Actor,
    subject: &'a str,
    what: &'a str,
}

impl<'a> Steps<'a> {
    fn new(actor: &'a Actor, subject: &'a str, what: &'a str) -> Self {
        Steps {
            actor,
            subject,
            what,
        }
    }

    /// Sends step `step` to `method` (e.g. `GrantService/CreateGrant`): `message` is given
    /// the step's request id, `send` is the service's method; the answer.
    async fn send<Message, Answer, Sent>(
        &self,
        method: &str,
        step: &str,
        message: impl FnOnce(String) -> Message,
        send: impl FnOnce(Request<Message>) -> Sent,
    ) -> Result<Answer, String>
    where
        Sent: Future<Output = Result<Response<Answer>, tonic::Status>>,
    {
        let request_id = format!("seed-demo-{}-{step}", self.subject);
        let request = call(
            self.actor,
            &format!("{SERVICE}{method}"),
            &request_id,
            message(request_id.clone()),
        );
        send(request)
            .await
            .map(Response::into_inner)
            .map_err(failed(self.what))
    }

    /// Sends a state change of the resource `name` (a request of only its name and request id).
    async fn change<Message: StateChange, Answer, Sent>(
        &self,
        method: &str,
        step: &str,
        name: &str,
        send: impl FnOnce(Request<Message>) -> Sent,
    ) -> Result<Answer, String>
    where
        Sent: Future<Output = Result<Response<Answer>, tonic::Status>>,
    {
        let message = |request_id| Message::of(name.to_string(), request_id);
        self.send(method, step, message, send).await
    }
}

/// A state-change request that carries only the resource's name and a request id.
trait StateChange {
    fn of(name: String, request_id: String) -> Self;
}

macro_rules! state_changes {
    ($($request:ty),+ $(,)?) => {$(
        impl StateChange for $request {
            fn of(name: String, request_id: String) -> Self {
                Self {
                    name,
                    request_id,
                    ..Default::default()
                }
            }
        }
    )+};
}

state_changes!(
    pb::ActivateGrantRequest,
    pb::StartProjectRequest,
    pb::CompleteProjectRequest,
    pb::CloseGrantRequest,
    pb::SubmitOutcomeReportRequest,
    pb::AcceptOutcomeReportRequest,
    pb::StartCaseReviewRequest,
);

/// The outcome message of a planned outcome, with the breakdown its kind needs.
fn outcome_message(outcome: &PlannedOutcome) -> pb::Outcome {
    let quantity = outcome.quantity;
    let mut message = pb::Outcome {
        kind: outcome.kind as i32,
        country_code: outcome.country_code.clone(),
        outcome_date: outcome.date.to_string(),
        quantity,
        description: format!("Synthetic demo outcome ({:?})", outcome.kind),
        evidence_uri: "https://demo.example/evidence/synthetic".into(),
        ..Default::default()
    };
    match outcome.kind {
        K::OfficialsTrained => {
            message.officials_trained = Some(pb::OfficialsTrained {
                police: quantity / 2,
                prosecutors: quantity / 4,
                judges: quantity - quantity / 2 - quantity / 4,
                ..Default::default()
            });
        }
        K::VictimsIdentified | K::VictimsReferred | K::VictimsAssisted => {
            let female = quantity * 3 / 5;
            let children = quantity / 3;
            message.victims = Some(pb::VictimBreakdown {
                female,
                male: quantity - female,
                other_sex: 0,
                children,
                adults: quantity - children,
            });
        }
        K::LawEnacted | K::LawDrafted | K::ConvictionSecured => {
            message.first_for_country = true;
        }
        _ => {}
    }
    message
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
}
