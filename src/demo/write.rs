//! The planned demo written through the API services in process, as the
//! synthetic callers it names: every write goes through the same checks,
//! transactions and audit events as a client's, and each call carries a fixed
//! `request_id`, so a second run replays the first answers and writes nothing.
//! The awards and their projects are written here, their money after the
//! award (amendments, reports, payments, closeouts) in [`super::settle`].

use std::sync::Arc;
use std::time::Duration;

use chrono::{Days, NaiveDate};

use super::money::Settlement;
use super::plan::*;
use super::settle::{Cast, Settled, Settler};
use super::steps::{SERVICE, Steps, call, failed};
use crate::api::amendment_api::AmendmentApi;
use crate::api::assistance_api::{AssistanceApi, AssistanceRules};
use crate::api::auth::Authenticator;
use crate::api::closeout_api::CloseoutApi;
use crate::api::financial_report_api::FinancialReportApi;
use crate::api::funds_api::FundsApi;
use crate::api::grant_api::GrantApi;
use crate::api::organization_api::OrganizationApi;
use crate::api::outcome_report_api::OutcomeReportApi;
use crate::api::payment_api::PaymentApi;
use crate::api::project_api::ProjectApi;
use crate::api::reference_data_api::ReferenceDataApi;
use crate::domain::access::{Actor, Role};
use crate::domain::fiscal_year::FiscalCalendar;
use crate::pb::v1 as pb;
use crate::pb::v1::OutcomeKind as K;
use crate::pb::v1::assistance_service_server::AssistanceService;
use crate::pb::v1::funds_service_server::FundsService;
use crate::pb::v1::grant_service_server::GrantService;
use crate::pb::v1::organization_service_server::OrganizationService;
use crate::pb::v1::outcome_report_service_server::OutcomeReportService;
use crate::pb::v1::project_service_server::ProjectService;
use crate::pb::v1::reference_data_service_server::ReferenceDataService;
use crate::settings::Settings;
use crate::store::Store;

/// What `seed-demo` wrote (or found written by an earlier run).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DemoSummary {
    pub organizations: usize,
    pub grants: usize,
    /// Net obligated (awards and supplements, less de-obligations): the appendix.
    pub obligated_cents: i64,
    /// Accepted final outcome reports (every project's but those of the FY 2013 grants that
    /// filed nothing and have no outcome to count).
    pub accepted_reports: usize,
    pub outcomes: usize,
    /// Amendments signed: no-cost extensions and supplements.
    pub extensions: usize,
    pub supplements: usize,
    /// SF-425 financial reports submitted (every period's, and the final one).
    pub financial_reports: usize,
    pub payments: usize,
    pub paid_cents: i64,
    /// Closeouts completed (the grants of FY 2009-2012) and what they de-obligated.
    pub closeouts: usize,
    pub deobligated_cents: i64,
    /// Grants left open after their period ended (FY 2013) and what they still hold unpaid.
    pub open_grants: usize,
    pub unliquidated_cents: i64,
    pub cases: usize,
}

/// The API services the demo writes through.
struct Writer {
    organizations: OrganizationApi,
    reference_data: ReferenceDataApi,
    funds: FundsApi,
    grants: GrantApi,
    projects: ProjectApi,
    /// Outcome reports, amendments, financial reports, payments, closeouts.
    settle: Settler,
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

/// The id at the end of a resource name.
fn id_of(name: &str) -> String {
    name.rsplit('/').next().unwrap_or_default().to_string()
}

fn timestamp(day: NaiveDate, hour: u32) -> prost_types::Timestamp {
    crate::api::timestamp(day.and_hms_opt(hour, 0, 0).unwrap_or_default().and_utc())
}

/// Writes the demo portfolio into `store` (idempotent: a second run writes nothing). The
/// emergency fund's cases are written only when a key for victims' personal data is configured
/// (`privacy.keys`), as the server requires for any case; without one they are left out.
pub async fn seed(store: Store, settings: &Settings) -> Result<DemoSummary, String> {
    let calendar = FiscalCalendar::new(settings.fiscal_year.first_month);
    let reporting = settings.reporting.rules(calendar);
    let keyring = Arc::new(
        crate::privacy::Keyring::from_settings(&settings.privacy)
            .map_err(|error| error.to_string())?,
    );
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
        funds: FundsApi::new(store.clone(), calendar),
        grants: GrantApi::new(store.clone(), calendar),
        projects: ProjectApi::new(store.clone(), reporting),
        settle: Settler {
            reports: OutcomeReportApi::new(store.clone(), reporting, &settings.uploads),
            amendments: AmendmentApi::new(store.clone(), reporting),
            financial: FinancialReportApi::new(store.clone(), reporting),
            payments: PaymentApi::new(store.clone(), reporting),
            closeouts: CloseoutApi::new(store.clone(), calendar),
            reporting,
        },
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

impl Writer {
    async fn write(&self, plan: &DemoPlan) -> Result<DemoSummary, String> {
        let officer = actor("seed-demo-program-officer", Role::ProgramOfficer, None);
        let reviewer = actor("seed-demo-reviewer", Role::ProgramOfficer, None);
        let signer = actor("seed-demo-grants-officer", Role::GrantsOfficer, None);
        let admin = actor("seed-demo-admin", Role::Admin, None);
        let mut summary = DemoSummary::default();
        for (code, display_name, _) in APPENDIX {
            self.funding_account(&admin, code, display_name).await?;
        }
        for (code, year, cents) in appropriations(&plan.grants) {
            self.appropriation(&admin, code, year, cents).await?;
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
        let staff = Staff {
            officer: &officer,
            reviewer: &reviewer,
            signer: &signer,
        };
        for grant in &plan.grants {
            summary.obligated_cents += grant.amount_cents;
            let (reported, settled) = self.grant(&staff, grant, &organization_names).await?;
            if let Some(outcomes) = reported {
                summary.accepted_reports += 1;
                summary.outcomes += outcomes;
            }
            summary.extensions += settled.extensions;
            summary.supplements += settled.supplements;
            summary.financial_reports += settled.financial_reports;
            summary.payments += settled.payments;
            summary.paid_cents += settled.paid_cents;
            if settled.closed_out {
                summary.closeouts += 1;
                summary.deobligated_cents += grant.money.deobligated_cents;
            } else {
                summary.open_grants += 1;
                summary.unliquidated_cents += grant.unliquidated_cents();
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

    /// The account's allotment of `year` (`cents`, see [`appropriations`]), as two-year money.
    async fn appropriation(
        &self,
        admin: &Actor,
        code: &str,
        year: i32,
        cents: i64,
    ) -> Result<(), String> {
        let method = format!("{SERVICE}FundsService/CreateAppropriation");
        let request_id = format!("seed-demo-appropriation-{code}-{year}");
        let created = self
            .funds
            .create_appropriation(call(
                admin,
                &method,
                &request_id,
                pb::CreateAppropriationRequest {
                    parent: format!("fundingAccounts/{code}"),
                    appropriation: Some(pb::Appropriation {
                        fiscal_year: year,
                        amount: cents,
                        availability_years: 2,
                        note: "Synthetic demo allotment: the appendix's obligations, plus what closeouts de-obligate".into(),
                        ..Default::default()
                    }),
                    request_id: request_id.clone(),
                },
            ))
            .await;
        match created {
            // An appropriation recorded before the demo is used as it is.
            Err(status) if status.code() == tonic::Code::AlreadyExists => Ok(()),
            other => other.map(|_| ()).map_err(failed(code)),
        }
    }

    /// One grant, its obligation and project, its amendments, reports, payments and closeout;
    /// the outcomes of its accepted final report (`None`: no final report accepted).
    async fn grant(
        &self,
        staff: &Staff<'_>,
        grant: &PlannedGrant,
        organizations: &[String],
    ) -> Result<(Option<usize>, Settled), String> {
        let award = &grant.award_number;
        let grantee = &organizations[grant.grantee];
        let partner = actor(
            &format!("seed-demo-grantee-{}", grant.grantee),
            Role::Grantee,
            Some(id_of(grantee)),
        );
        let cast = Cast {
            officer: Steps::new(staff.officer, award, award),
            reviewer: Steps::new(staff.reviewer, award, award),
            signer: Steps::new(staff.signer, award, award),
            grantee: Steps::new(&partner, award, award),
        };
        let officer = &cast.officer;
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
                        amount: grant.money.initial_award_cents,
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
        let mut settled = Settled::default();
        self.settle
            .amendments(&cast, grant, &created.name, &mut settled)
            .await?;
        self.settle
            .interim_reports(&cast, grant, &created.name, &project.name, &mut settled)
            .await?;
        let outcomes = self.final_report(&cast, grant, &project.name).await?;
        self.settle
            .final_money(&cast, grant, &created.name, &mut settled)
            .await?;
        // Every demo award has ended: its project is completed; the older ones are closed out.
        officer
            .change(
                "ProjectService/CompleteProject",
                "complete",
                &project.name,
                |request| self.projects.complete_project(request),
            )
            .await?;
        self.settle
            .closeout(&cast, grant, &created.name, &mut settled)
            .await?;
        Ok((outcomes, settled))
    }

    /// The project's final report with its outcomes (a narrative only when it has none to
    /// count), submitted by the grantee and accepted; the number of outcomes. None is written
    /// for a FY 2013 grant that filed nothing and has no outcome to count.
    async fn final_report(
        &self,
        cast: &Cast<'_>,
        grant: &PlannedGrant,
        project_name: &str,
    ) -> Result<Option<usize>, String> {
        if grant.outcomes.is_empty() && grant.money.settlement == Settlement::NothingFiled {
            return Ok(None);
        }
        let partner = &cast.grantee;
        let report = partner
            .send(
                "OutcomeReportService/CreateOutcomeReport",
                "report",
                |request_id| pb::CreateOutcomeReportRequest {
                    parent: project_name.to_string(),
                    outcome_report: Some(pb::OutcomeReport {
                        period: "FINAL".into(),
                        narrative: if grant.outcomes.is_empty() {
                            "Synthetic demo: what the project did; no result of a counted kind"
                        } else {
                            "Synthetic demo: what the project achieved"
                        }
                        .into(),
                        ..Default::default()
                    }),
                    request_id,
                },
                |request| self.settle.reports.create_outcome_report(request),
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
                    |request| self.settle.reports.create_outcome(request),
                )
                .await?;
        }
        partner
            .change(
                "OutcomeReportService/SubmitOutcomeReport",
                "submit",
                &report.name,
                |request| self.settle.reports.submit_outcome_report(request),
            )
            .await?;
        cast.reviewer
            .change(
                "OutcomeReportService/AcceptOutcomeReport",
                "accept",
                &report.name,
                |request| self.settle.reports.accept_outcome_report(request),
            )
            .await?;
        Ok(Some(grant.outcomes.len()))
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
        // One ledger: the fund is INCLE money of FY 2014, appropriated like the grants' money.
        self.appropriation(admin, FUND_ACCOUNT, 2014, FY2014_FUND_CENTS)
            .await?;
        Steps::new(admin, "fund", "the FY 2014 fund")
            .send(
                "AssistanceService/CreateFundAllocation",
                "2014",
                |request_id| pb::CreateFundAllocationRequest {
                    fund_allocation: Some(pb::FundAllocation {
                        fiscal_year: 2014,
                        funding_account: FUND_ACCOUNT.into(),
                        amount: FY2014_FUND_CENTS,
                        allocation_date: "2014-01-15".into(),
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

/// The demo's staff: the program officer who records, the reviewer who decides, the grants
/// officer who signs.
struct Staff<'a> {
    officer: &'a Actor,
    reviewer: &'a Actor,
    signer: &'a Actor,
}

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
