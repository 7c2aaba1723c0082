//! `tipgrants.v1.AssistanceService`: the emergency victim-assistance fund.
//! Partners refer victims, case workers review, approve an amount per need
//! (four eyes, never more than the fiscal year's fund has available), pay,
//! and close. Victims' personal data is sealed here with `crate::privacy`
//! before it reaches the store, and opened only by `GetCasePersonalData`,
//! which writes an audit event for every read.

use std::sync::Arc;

use tonic::{Request, Response, Status};

use super::funds_api::draw_funds;
use super::{
    ProtoEnum, StateChange, StateChangeRequest, Write, accept, accept_list, accept_name,
    accept_update, accept_write, call_context, etag, filter_code, filter_number, from_timestamp,
    required, timestamp,
};
use super::{paging, permissions};
use crate::domain::CodeEnum;
use crate::domain::access::Actor;
use crate::domain::assistance::{
    self, AgeGroup, AllocationInput, AssistanceCase, CaseState, CaseTransition, CaseUrgency,
    Disbursement, DisbursementInput, FundAllocation, FundYear, NeedInput, NeedKind, PersonalField,
    ReferralInput, TraffickingForm, TransitionInput, VictimInput, VictimSex,
};
use crate::domain::case_statistics::{self, CaseCount, Summary};
use crate::domain::fiscal_year::{FiscalCalendar, check_fiscal_year};
use crate::domain::names::{
    AppropriationName, AssistanceCaseName, FundAllocationName, FundingAccountName,
    OrganizationName, ResourceName, excerpt,
};
use crate::domain::statistics::{Disclosure, Published};
use crate::error::{Error, FieldViolation, Result};
use crate::pb::v1 as pb;
use crate::pb::v1::assistance_service_server::AssistanceService;
use crate::privacy::Keyring;
use crate::secret::ExposeSecret;
use crate::store::assistance::CaseFilter;
use crate::store::{Store, Tx, new_id, now};

/// Case numbers drawn at most for one referral: with 10^8 numbers a year, a draw is taken
/// once in a million times even with 100 cases a year; eight in a row never are.
const CASE_NUMBER_DRAWS: usize = 8;

/// How the fund's rules are set for this server.
#[derive(Debug, Clone, Copy)]
pub struct AssistanceRules {
    pub calendar: FiscalCalendar,
    /// A CRITICAL case still undecided this many hours after its referral is late.
    pub critical_decision_hours: u32,
    /// Figures about victims for callers who cannot list every case are published under this
    /// (`reports.suppression_threshold`, the k of the fiscal-year reports).
    pub suppression_threshold: i64,
}

/// Serves the emergency assistance fund.
pub struct AssistanceApi {
    store: Store,
    keyring: Arc<Keyring>,
    rules: AssistanceRules,
}

impl AssistanceApi {
    pub fn new(store: Store, keyring: Arc<Keyring>, rules: AssistanceRules) -> Self {
        Self {
            store,
            keyring,
            rules,
        }
    }
}

code_enum! {
    /// The fields of a case an update may change (the paths of its mask).
    pub enum CaseField {
        CountryCode => "country_code",
        Victim => "victim",
        Urgency => "urgency",
        ConsentToServices => "consent_to_services",
        ConsentToStatistics => "consent_to_statistics",
        Needs => "needs",
        FullName => "personal_data.full_name",
        Contact => "personal_data.contact",
        Notes => "personal_data.notes",
    }
}

impl CaseField {
    /// The personal-data field a path names, if it names one.
    fn personal(self) -> Option<PersonalField> {
        match self {
            CaseField::FullName => Some(PersonalField::FullName),
            CaseField::Contact => Some(PersonalField::Contact),
            CaseField::Notes => Some(PersonalField::Notes),
            _ => None,
        }
    }
}

code_enum! {
    /// The fields a filter of assistance cases may name.
    pub enum CaseFilterField {
        State => "state",
        Urgency => "urgency",
        Country => "country",
        Referrer => "referrer",
        FiscalYear => "fiscal_year",
        CriticalUndecided => "critical_undecided",
    }
}

code_enum! {
    /// The fields a filter of fund allocations may name.
    pub enum AllocationFilterField {
        FiscalYear => "fiscal_year",
    }
}

named_requests!(pb::GetFundAllocationRequest, pb::GetAssistanceCaseRequest,);
write_requests!(
    pb::CreateFundAllocationRequest,
    pb::CreateDisbursementRequest,
    pb::CloseAssistanceCaseRequest,
);
list_requests!(
    pb::ListFundAllocationsRequest,
    pb::ListAssistanceCasesRequest;
    without filter: pb::ListDisbursementsRequest
);
list_responses!(
    pb::ListFundAllocationsResponse => fund_allocations: pb::FundAllocation,
    pb::ListAssistanceCasesResponse => assistance_cases: pb::AssistanceCase,
    pb::ListDisbursementsResponse => disbursements: pb::Disbursement,
);
update_requests!(pb::UpdateAssistanceCaseRequest => assistance_case: pb::AssistanceCase [AssistanceCaseName, CaseField]);

state_change_requests!(
    pb::StartCaseReviewRequest,
    pb::ApproveAssistanceCaseRequest;
    with reason: pb::DenyAssistanceCaseRequest,
    pb::WithdrawAssistanceCaseRequest
);

/// Closing carries its outcome where the others carry a reason.
impl StateChangeRequest for pb::CloseAssistanceCaseRequest {
    fn name(&self) -> &str {
        &self.name
    }
    fn etag(&self) -> &str {
        &self.etag
    }
    fn reason(&self) -> &str {
        &self.outcome
    }
}

/// The proto form of a case, as `viewer` may see it: never its personal data, only which fields it holds.
fn case_to_proto(case: &AssistanceCase, viewer: &Actor) -> pb::AssistanceCase {
    pb::AssistanceCase {
        name: case.resource_name(),
        case_number: case.case_number.clone(),
        referring_organization: OrganizationName::new(&case.referral.referring_organization_id)
            .to_string(),
        country_code: case.referral.country_code.clone(),
        victim: Some(pb::VictimProfile {
            sex: case.referral.victim.sex.to_proto(),
            age_group: case.referral.victim.age_group.to_proto(),
            nationality: case.referral.victim.nationality.clone(),
            trafficking_form: case.referral.victim.trafficking_form.to_proto(),
        }),
        urgency: case.referral.urgency.to_proto(),
        consent_to_services: case.referral.consent_to_services,
        consent_to_statistics: case.referral.consent_to_statistics,
        needs: case
            .referral
            .needs
            .iter()
            .map(|need| pb::AssistanceNeed {
                number: need.number,
                kind: need.kind.to_proto(),
                description: need.description.clone(),
                requested_amount: need.requested.0,
                approved_amount: need.approved.0,
                paid_amount: need.paid.0,
            })
            .collect(),
        state: case.state.to_proto(),
        referral_time: Some(timestamp(case.referral_time)),
        fiscal_year: case.fiscal_year,
        decision_time: case.decision_time.map(timestamp),
        first_payment_time: case.first_payment_time.map(timestamp),
        close_time: case.close_time.map(timestamp),
        state_reason: case.state_reason.clone(),
        outcome: case.outcome.clone(),
        requested_amount: case.requested().0,
        approved_amount: case.approved().0,
        paid_amount: case.paid().0,
        referrer: viewer.sees_actor_of(&case.handlers.referrer, "assistance office"),
        reviewer: viewer.sees_actor_of(&case.handlers.reviewer, "assistance office"),
        decider: viewer.sees_actor_of(&case.handlers.decider, "assistance office"),
        personal_data: None,
        personal_data_fields: case
            .personal_data_fields
            .iter()
            .map(|field| field.code().to_string())
            .collect(),
        create_time: Some(timestamp(case.stamps.create_time)),
        update_time: Some(timestamp(case.stamps.update_time)),
        etag: etag(case.stamps.revision),
    }
}

fn allocation_to_proto(allocation: &FundAllocation) -> pb::FundAllocation {
    pb::FundAllocation {
        name: allocation.resource_name(),
        fiscal_year: allocation.fiscal_year,
        amount: allocation.amount.0,
        note: allocation.note.clone(),
        creator: allocation.creator.clone(),
        create_time: Some(timestamp(allocation.create_time)),
        funding_account: FundingAccountName::new(&allocation.account_code).to_string(),
        allocation_date: allocation.allocation_date.to_string(),
    }
}

fn disbursement_to_proto(disbursement: &Disbursement, viewer: &Actor) -> pb::Disbursement {
    pb::Disbursement {
        name: disbursement.resource_name(),
        need_number: disbursement.need_number,
        need_kind: disbursement.need_kind.to_proto(),
        amount: disbursement.amount.0,
        payment_time: Some(timestamp(disbursement.payment_time)),
        reference: disbursement.reference.clone(),
        creator: viewer.sees_actor_of(&disbursement.creator, "assistance office"),
        create_time: Some(timestamp(disbursement.create_time)),
    }
}

/// The proto form of a fiscal year's fund, drawing on `account` (`None` before its first allocation).
fn balance_to_proto(fund: &FundYear, account: Option<&str>) -> pb::FundBalance {
    pb::FundBalance {
        fiscal_year: fund.fiscal_year,
        allocated: fund.allocated.0,
        committed: fund.committed.0,
        paid: fund.paid.0,
        available: fund.available().0,
        funding_account: account
            .map(|code| FundingAccountName::new(code).to_string())
            .unwrap_or_default(),
        appropriation: account
            .map(|code| AppropriationName::new(code, fund.fiscal_year.to_string()).to_string())
            .unwrap_or_default(),
    }
}

/// The proto summary: a withheld figure is 0 (a withheld breakdown an empty list) with its flag set.
fn summary_to_proto(summary: Summary) -> pb::AssistanceSummary {
    fn cases<K: CodeEnum>(groups: Vec<(K, CaseCount)>) -> Vec<pb::CaseCount> {
        groups
            .into_iter()
            .map(|(key, count)| case_count(key.code().to_string(), count))
            .collect()
    }
    fn case_count(key: String, count: CaseCount) -> pb::CaseCount {
        pb::CaseCount {
            key,
            cases: count.cases,
            approved_amount: count.approved.0,
            paid_amount: count.paid.0,
        }
    }
    fn victims<K: CodeEnum>(groups: Vec<(K, i64)>) -> Vec<pb::VictimCount> {
        groups
            .into_iter()
            .map(|(key, victims)| pb::VictimCount {
                key: key.code().to_string(),
                victims,
            })
            .collect()
    }
    /// The value (or the default when withheld) and whether it is withheld.
    fn split<T, U: Default>(figure: Published<T>, convert: impl FnOnce(T) -> U) -> (U, bool) {
        match figure {
            Published::Shown(value) => (convert(value), false),
            Published::Suppressed => (U::default(), true),
        }
    }
    let (totals, cases_suppressed) = split(summary.totals, |totals| totals);
    let (by_state, by_state_suppressed) = split(summary.by_state, cases);
    let (by_urgency, by_urgency_suppressed) = split(summary.by_urgency, cases);
    let (by_country, by_country_suppressed) = split(summary.by_country, |groups| {
        groups
            .into_iter()
            .map(|(country, count)| case_count(country, count))
            .collect()
    });
    let (by_need, by_need_suppressed) = split(summary.by_need, |groups| {
        groups
            .into_iter()
            .map(|(kind, count)| pb::NeedCount {
                kind: kind.to_proto(),
                needs: count.needs,
                requested_amount: count.requested.0,
                approved_amount: count.approved.0,
                paid_amount: count.paid.0,
            })
            .collect()
    });
    let (victims_by_sex, victims_by_sex_suppressed) = split(summary.victims_by_sex, victims);
    let (victims_by_age_group, victims_by_age_group_suppressed) =
        split(summary.victims_by_age_group, victims);
    let (victims_by_trafficking_form, victims_by_trafficking_form_suppressed) =
        split(summary.victims_by_trafficking_form, victims);
    let (victims_not_counted, victims_not_counted_suppressed) =
        split(summary.victims_not_counted, |count| count);
    let ((median_hours_to_decision, decided_cases), decided_cases_suppressed) =
        split(summary.to_decision, |measured| measured);
    let ((median_hours_to_first_payment, paid_cases), _) =
        split(summary.to_first_payment, |measured| measured);
    pb::AssistanceSummary {
        fiscal_year: summary.fiscal_year,
        cases: totals.cases,
        by_state,
        by_urgency,
        by_country,
        by_need,
        requested_amount: totals.requested_cents,
        approved_amount: totals.approved_cents,
        paid_amount: totals.paid_cents,
        victims_counted: totals.cases,
        victims_not_counted,
        victims_by_sex,
        victims_by_age_group,
        victims_by_trafficking_form,
        median_hours_to_decision,
        decided_cases,
        median_hours_to_first_payment,
        paid_cases,
        suppression_threshold: summary
            .disclosure
            .threshold()
            .map_or(0, |k| i32::try_from(k).unwrap_or(i32::MAX)),
        cases_suppressed,
        by_state_suppressed,
        by_urgency_suppressed,
        by_country_suppressed,
        by_need_suppressed,
        victims_by_sex_suppressed,
        victims_by_age_group_suppressed,
        victims_by_trafficking_form_suppressed,
        victims_not_counted_suppressed,
        decided_cases_suppressed,
    }
}

/// A referral's fields as the domain reads them.
fn referral_input(case: &pb::AssistanceCase) -> ReferralInput<'_> {
    ReferralInput {
        referring_organization: &case.referring_organization,
        country_code: &case.country_code,
        victim: case.victim.as_ref().map(|victim| VictimInput {
            sex: VictimSex::from_proto(victim.sex),
            age_group: AgeGroup::from_proto(victim.age_group),
            nationality: &victim.nationality,
            trafficking_form: TraffickingForm::from_proto(victim.trafficking_form),
        }),
        urgency: CaseUrgency::from_proto(case.urgency),
        consent_to_services: case.consent_to_services,
        consent_to_statistics: case.consent_to_statistics,
        needs: case
            .needs
            .iter()
            .map(|need| NeedInput {
                kind: NeedKind::from_proto(need.kind),
                description: &need.description,
                requested_amount: need.requested_amount,
            })
            .collect(),
    }
}

/// The value a request gives for one personal-data field.
fn personal_value_of(data: Option<&pb::PersonalData>, field: PersonalField) -> &str {
    data.map_or("", |data| match field {
        PersonalField::FullName => &data.full_name,
        PersonalField::Contact => &data.contact,
        PersonalField::Notes => &data.notes,
    })
}

/// A fiscal year a request names; the error names `field`.
fn fiscal_year(field: &str, year: i32) -> Result<i32> {
    check_fiscal_year(year).map_err(|rule| Error::invalid(field, rule))
}

impl AssistanceApi {
    /// The country codes of a referral must be known: the field violations of those that are not.
    async fn check_countries(
        tx: &Tx,
        prefix: &str,
        country: &str,
        nationality: &str,
    ) -> Result<()> {
        let unknown = tx
            .unknown_countries(&[country.to_string(), nationality.to_string()])
            .await?;
        let mut violations = crate::domain::Violations::new();
        for (field, code) in [
            ("country_code", country),
            ("victim.nationality", nationality),
        ] {
            if unknown.iter().any(|missing| missing == code) {
                violations.add(
                    format!("{prefix}.{field}"),
                    format!("{} is not a known ISO 3166-1 alpha-2 code", excerpt(code)),
                );
            }
        }
        violations.finish()
    }

    /// The one path of every state change of a case: they differ by the transition and its input.
    async fn change_state<R: StateChangeRequest>(
        &self,
        request: Request<R>,
        transition: CaseTransition,
        approvals: Vec<(i32, i64)>,
        decision_time: Option<prost_types::Timestamp>,
    ) -> Result<Response<pb::AssistanceCase>, Status> {
        let decision_time = decision_time
            .as_ref()
            .map(|time| from_timestamp("decision_time", time))
            .transpose()?;
        let change = StateChange::<AssistanceCaseName>::parse(request)?;
        let actor = change.call.actor.clone();
        let answer = change
            .write
            .run(&self.store, async |tx| {
                let case = tx
                    .case_for_update(&actor.scope(), &change.name, change.expected)
                    .await?;
                let fund = if transition.target(case.state).is_some()
                    && transition.moves_money(case.state)
                {
                    Some(tx.fund_year_for_update(case.fiscal_year).await?)
                } else {
                    None
                };
                let input = TransitionInput {
                    reason: &change.reason,
                    approvals: approvals.clone(),
                    decision_time,
                };
                let decided =
                    assistance::decide_transition(&case, transition, &actor, &input, fund, now())?;
                let saved = tx
                    .save_assistance_case(&case, decided.case, None, decided.fund.as_ref())
                    .await?;
                Ok(case_to_proto(&saved, &actor))
            })
            .await?;
        Ok(Response::new(answer))
    }

    /// A new case number of `year` that no case has: drawn again (rarely) when one has it.
    async fn unused_case_number(tx: &Tx, year: i32) -> Result<String> {
        for _ in 0..CASE_NUMBER_DRAWS {
            let number = assistance::new_case_number(year);
            if !tx.case_number_taken(&number).await? {
                return Ok(number);
            }
        }
        Err(Error::Internal(format!(
            "{CASE_NUMBER_DRAWS} case numbers of fiscal year {year} drawn, each already taken"
        )))
    }

    fn parse_case_filter(&self, filter: &str) -> Result<CaseFilter> {
        let mut parsed = CaseFilter::default();
        for (field, value) in paging::parse_filter::<CaseFilterField>(filter)? {
            match field {
                CaseFilterField::State => {
                    parsed.state = Some(filter_code::<CaseState>(&value, "case state")?)
                }
                CaseFilterField::Urgency => {
                    parsed.urgency = Some(filter_code::<CaseUrgency>(&value, "case urgency")?)
                }
                CaseFilterField::Country => {
                    parsed.country_code = Some(value.trim().to_ascii_uppercase())
                }
                CaseFilterField::Referrer => {
                    parsed.referring_organization_id =
                        Some(OrganizationName::parse("filter", &value)?.organization)
                }
                CaseFilterField::FiscalYear => {
                    parsed.fiscal_year = Some(filter_number("fiscal_year", &value)?)
                }
                CaseFilterField::CriticalUndecided => match value.to_ascii_lowercase().as_str() {
                    "true" => {
                        parsed.critical_undecided_before = Some(assistance::critical_cutoff(
                            now(),
                            self.rules.critical_decision_hours,
                        ))
                    }
                    _ => {
                        return Err(Error::invalid(
                            "filter",
                            format!(
                                "critical_undecided {} must be true (leave the term out for every case)",
                                excerpt(&value)
                            ),
                        ));
                    }
                },
            }
        }
        Ok(parsed)
    }
}

#[tonic::async_trait]
impl AssistanceService for AssistanceApi {
    async fn create_fund_allocation(
        &self,
        request: Request<pb::CreateFundAllocationRequest>,
    ) -> Result<Response<pb::FundAllocation>, Status> {
        let (_, write, request) = accept_write(request)?;
        let allocation = required("fund_allocation", &request.fund_allocation)?;
        let calendar = &self.rules.calendar;
        let new = AllocationInput {
            fiscal_year: allocation.fiscal_year,
            funding_account: &allocation.funding_account,
            amount: allocation.amount,
            allocation_date: &allocation.allocation_date,
            note: &allocation.note,
        }
        .validate("fund_allocation", now().date_naive(), calendar)?;
        let answer = write
            .run(&self.store, async |tx| {
                let fund = tx.fund_year_for_update(new.fiscal_year).await?;
                let account = tx.fund_year_account(new.fiscal_year).await?;
                assistance::check_allocation_account(account.as_deref(), &new)?;
                let after = fund.allocate(new.amount)?;
                draw_funds(tx, calendar, &new.draw(), "fund_allocation.funding_account").await?;
                let created = tx.create_fund_allocation(new.clone(), &after).await?;
                Ok(allocation_to_proto(&created))
            })
            .await?;
        Ok(Response::new(answer))
    }

    async fn get_fund_allocation(
        &self,
        request: Request<pb::GetFundAllocationRequest>,
    ) -> Result<Response<pb::FundAllocation>, Status> {
        let (_, name) = accept_name::<_, FundAllocationName>(request)?;
        let allocation = self.store.get_fund_allocation(&name).await?;
        Ok(Response::new(allocation_to_proto(&allocation)))
    }

    async fn list_fund_allocations(
        &self,
        request: Request<pb::ListFundAllocationsRequest>,
    ) -> Result<Response<pb::ListFundAllocationsResponse>, Status> {
        let (_, request, page) = accept_list(request)?;
        let mut year = None;
        for (field, value) in paging::parse_filter::<AllocationFilterField>(&request.filter)? {
            match field {
                AllocationFilterField::FiscalYear => {
                    year = Some(filter_number("fiscal_year", &value)?)
                }
            }
        }
        let found = self.store.list_fund_allocations(year, &page.keyset).await?;
        Ok(page.respond(found, allocation_to_proto))
    }

    async fn get_fund_balance(
        &self,
        request: Request<pb::GetFundBalanceRequest>,
    ) -> Result<Response<pb::FundBalance>, Status> {
        call_context(&request)?;
        let year = fiscal_year("fiscal_year", request.get_ref().fiscal_year)?;
        let fund = self.store.fund_year(year).await?;
        let account = self.store.fund_year_account(year).await?;
        Ok(Response::new(balance_to_proto(&fund, account.as_deref())))
    }

    async fn create_assistance_case(
        &self,
        request: Request<pb::CreateAssistanceCaseRequest>,
    ) -> Result<Response<pb::AssistanceCase>, Status> {
        let (call, request) = accept(request)?;
        // The retry key hashes the request without its personal data (a hash of a name is no
        // place to keep it), and keeps a keyed digest of the personal data beside it (below).
        let mut keyed = request.clone();
        if let Some(case) = keyed.assistance_case.as_mut() {
            case.personal_data = None;
        }
        let write = Write::of(&call, &request.request_id, &keyed)?;
        let case = required("assistance_case", &request.assistance_case)?;
        let prefix = "assistance_case";
        let now = now();
        let referral_time = case
            .referral_time
            .as_ref()
            .map(|time| from_timestamp("assistance_case.referral_time", time))
            .transpose()?;
        let current_year = self.rules.calendar.fiscal_year_of(now.date_naive());
        let field = "assistance_case.referral_time";
        let referral_time: std::result::Result<_, FieldViolation> =
            assistance::past_time(field, referral_time, None, now).and_then(|time| {
                assistance::referral_fiscal_year(field, &self.rules.calendar, time)
                    .and_then(|year| {
                        assistance::check_referral_year(field, &call.actor, year, current_year)
                    })
                    .map(|year| (time, year))
            });
        let data = case.personal_data.as_ref();
        let personal = assistance::personal_data(
            "assistance_case.personal_data",
            [
                PersonalField::FullName,
                PersonalField::Contact,
                PersonalField::Notes,
            ]
            .map(|field| (field, personal_value_of(data, field))),
        );
        let (referral, (referral_time, year), personal) = {
            use crate::domain::validate::CheckAll;
            (
                referral_input(case).validate(prefix),
                referral_time,
                personal,
            )
                .all()?
        };
        assistance::check_own_referral(
            "assistance_case.referring_organization",
            &call.actor,
            &referral.referring_organization_id,
        )?;
        self.keyring.require_active()?;
        // A retry with other personal data is another request (REQUEST_ID_REUSED), not a replay.
        let write =
            write.with_personal_data_digests(self.keyring.personal_data_digests(&personal)?);
        let answer = write
            .run(&self.store, async |tx| {
                let organization = OrganizationName::new(&referral.referring_organization_id);
                tx.organization_presence(&referral.referring_organization_id)
                    .await?
                    .require_live("assistance_case.referring_organization", &organization)?;
                Self::check_countries(
                    tx,
                    prefix,
                    &referral.country_code,
                    &referral.victim.nationality,
                )
                .await?;
                // The year's fund row is locked (and made when new) as an approval's would be.
                let fund = tx.fund_year_for_update(year).await?;
                assistance::check_year_open(current_year, &fund)?;
                let case_number = Self::unused_case_number(tx, year).await?;
                let id = new_id();
                let sealed = self.keyring.seal_personal_data(&id, &personal)?;
                let created = tx
                    .create_assistance_case(
                        id,
                        case_number,
                        year,
                        referral.clone(),
                        referral_time,
                        &sealed,
                    )
                    .await?;
                Ok(case_to_proto(&created, &call.actor))
            })
            .await?;
        Ok(Response::new(answer))
    }

    async fn get_assistance_case(
        &self,
        request: Request<pb::GetAssistanceCaseRequest>,
    ) -> Result<Response<pb::AssistanceCase>, Status> {
        let (call, name) = accept_name::<_, AssistanceCaseName>(request)?;
        let case = self
            .store
            .get_assistance_case(&call.actor.scope(), &name)
            .await?;
        Ok(Response::new(case_to_proto(&case, &call.actor)))
    }

    async fn list_assistance_cases(
        &self,
        request: Request<pb::ListAssistanceCasesRequest>,
    ) -> Result<Response<pb::ListAssistanceCasesResponse>, Status> {
        let (call, request, page) = accept_list(request)?;
        let filter = self.parse_case_filter(&request.filter)?;
        super::check_filter_places(&self.store, filter.country_code.as_deref(), None).await?;
        let found = self
            .store
            .list_assistance_cases(&call.actor.scope(), &filter, &page.keyset)
            .await?;
        Ok(page.respond(found, |case| case_to_proto(case, &call.actor)))
    }

    async fn update_assistance_case(
        &self,
        request: Request<pb::UpdateAssistanceCaseRequest>,
    ) -> Result<Response<pb::AssistanceCase>, Status> {
        let update = accept_update(request)?;
        let prefix = "assistance_case";
        let mut tx = self.store.begin(&update.call).await?;
        let current = tx
            .case_for_update(&update.call.actor.scope(), &update.name, update.expected)
            .await?;
        current.check_updatable(&update.call.actor)?;
        let mut merged = case_to_proto(&current, &update.call.actor);
        for field in &update.fields {
            match field {
                CaseField::CountryCode => merged.country_code = update.changes.country_code.clone(),
                CaseField::Victim => merged.victim = update.changes.victim.clone(),
                CaseField::Urgency => merged.urgency = update.changes.urgency,
                CaseField::ConsentToServices => {
                    merged.consent_to_services = update.changes.consent_to_services
                }
                CaseField::ConsentToStatistics => {
                    merged.consent_to_statistics = update.changes.consent_to_statistics
                }
                CaseField::Needs => merged.needs = update.changes.needs.clone(),
                CaseField::FullName | CaseField::Contact | CaseField::Notes => {}
            }
        }
        // The referring organisation never changes: the merged form carries the stored one.
        merged.referring_organization =
            OrganizationName::new(&current.referral.referring_organization_id).to_string();
        let referral = referral_input(&merged).validate(prefix)?;
        Self::check_countries(
            &tx,
            prefix,
            &referral.country_code,
            &referral.victim.nationality,
        )
        .await?;
        let personal_fields: Vec<PersonalField> = update
            .fields
            .iter()
            .filter_map(|field| field.personal())
            .collect();
        let sealed = if personal_fields.is_empty() {
            None
        } else {
            let mut violations = crate::domain::Violations::new();
            let mut changed = Vec::new();
            for field in &personal_fields {
                let value = personal_value_of(update.changes.personal_data.as_ref(), *field);
                if let Some(value) = violations.check(assistance::personal_value(
                    "assistance_case.personal_data",
                    *field,
                    value,
                )) {
                    changed.push((*field, value));
                }
            }
            violations.finish()?;
            self.keyring.require_active()?;
            let stored = tx.sealed_personal_data(&current).await?;
            let mut data = self.keyring.open_personal_data(&current.id, &stored)?;
            for (field, value) in changed {
                data.set(field, value);
            }
            Some(self.keyring.seal_personal_data(&current.id, &data)?)
        };
        let after = current.with_referral(referral);
        let saved = tx
            .save_assistance_case(&current, after, sealed.as_ref(), None)
            .await?;
        tx.commit().await?;
        Ok(Response::new(case_to_proto(&saved, &update.call.actor)))
    }

    async fn start_case_review(
        &self,
        request: Request<pb::StartCaseReviewRequest>,
    ) -> Result<Response<pb::AssistanceCase>, Status> {
        self.change_state(request, CaseTransition::StartReview, Vec::new(), None)
            .await
    }

    async fn approve_assistance_case(
        &self,
        request: Request<pb::ApproveAssistanceCaseRequest>,
    ) -> Result<Response<pb::AssistanceCase>, Status> {
        let approvals = request
            .get_ref()
            .approvals
            .iter()
            .map(|approval| (approval.need_number, approval.approved_amount))
            .collect();
        let decision_time = request.get_ref().decision_time;
        self.change_state(request, CaseTransition::Approve, approvals, decision_time)
            .await
    }

    async fn deny_assistance_case(
        &self,
        request: Request<pb::DenyAssistanceCaseRequest>,
    ) -> Result<Response<pb::AssistanceCase>, Status> {
        let decision_time = request.get_ref().decision_time;
        self.change_state(request, CaseTransition::Deny, Vec::new(), decision_time)
            .await
    }

    async fn withdraw_assistance_case(
        &self,
        request: Request<pb::WithdrawAssistanceCaseRequest>,
    ) -> Result<Response<pb::AssistanceCase>, Status> {
        self.change_state(request, CaseTransition::Withdraw, Vec::new(), None)
            .await
    }

    async fn close_assistance_case(
        &self,
        request: Request<pb::CloseAssistanceCaseRequest>,
    ) -> Result<Response<pb::AssistanceCase>, Status> {
        self.change_state(request, CaseTransition::Close, Vec::new(), None)
            .await
    }

    async fn create_disbursement(
        &self,
        request: Request<pb::CreateDisbursementRequest>,
    ) -> Result<Response<pb::Disbursement>, Status> {
        let (call, write, request) = accept_write(request)?;
        let parent = AssistanceCaseName::parse("parent", &request.parent)?;
        let disbursement = required("disbursement", &request.disbursement)?;
        let payment_time = disbursement
            .payment_time
            .as_ref()
            .map(|time| from_timestamp("disbursement.payment_time", time))
            .transpose()?;
        let input = DisbursementInput {
            need_number: disbursement.need_number,
            amount: disbursement.amount,
            payment_time,
            reference: &disbursement.reference,
        };
        let answer = write
            .run(&self.store, async |tx| {
                let case = tx
                    .case_for_update(&call.actor.scope(), &parent, None)
                    .await?;
                let fund = tx.fund_year_for_update(case.fiscal_year).await?;
                let (payment, after, fund) =
                    assistance::decide_disbursement(&case, &input, fund, now())?;
                let (created, _) = tx.create_disbursement(&case, after, payment, &fund).await?;
                Ok(disbursement_to_proto(&created, &call.actor))
            })
            .await?;
        Ok(Response::new(answer))
    }

    async fn list_disbursements(
        &self,
        request: Request<pb::ListDisbursementsRequest>,
    ) -> Result<Response<pb::ListDisbursementsResponse>, Status> {
        let (call, request, page) = accept_list(request)?;
        let parent = AssistanceCaseName::parse("parent", &request.parent)?;
        let found = self
            .store
            .list_disbursements(&call.actor.scope(), &parent, &page.keyset)
            .await?;
        Ok(page.respond(found, |payment| disbursement_to_proto(payment, &call.actor)))
    }

    async fn get_case_personal_data(
        &self,
        request: Request<pb::GetCasePersonalDataRequest>,
    ) -> Result<Response<pb::CasePersonalData>, Status> {
        let (call, request) = accept(request)?;
        let name = AssistanceCaseName::parse("name", &request.name)?;
        let mut tx = self.store.begin(&call).await?;
        let case = tx.case_for_update(&call.actor.scope(), &name, None).await?;
        let stored = tx.sealed_personal_data(&case).await?;
        let data = self.keyring.open_personal_data(&case.id, &stored)?;
        // The read is recorded (who, which case, which fields) in the same transaction as it is answered.
        tx.record_personal_data_read(&case, &data.fields());
        tx.commit().await?;
        let mut answer = pb::PersonalData::default();
        for (field, value) in &data.values {
            let value = value.expose_secret().to_string();
            match field {
                PersonalField::FullName => answer.full_name = value,
                PersonalField::Contact => answer.contact = value,
                PersonalField::Notes => answer.notes = value,
            }
        }
        Ok(Response::new(pb::CasePersonalData {
            assistance_case: case.resource_name(),
            case_number: case.case_number.clone(),
            personal_data: Some(answer),
        }))
    }

    async fn summarize_assistance_cases(
        &self,
        request: Request<pb::SummarizeAssistanceCasesRequest>,
    ) -> Result<Response<pb::AssistanceSummary>, Status> {
        let call = call_context(&request)?;
        let year = fiscal_year("fiscal_year", request.get_ref().fiscal_year)?;
        // Exact for whoever could count the cases itself; under the k rule for anyone else.
        let disclosure = if permissions::lists_every_case(&call.actor) {
            Disclosure::Exact
        } else {
            Disclosure::Published {
                threshold: self.rules.suppression_threshold,
            }
        };
        let cases = self.store.cases_of_fiscal_year(year).await?;
        let summary = case_statistics::summarize(year, &cases, disclosure);
        Ok(Response::new(summary_to_proto(summary)))
    }
}
