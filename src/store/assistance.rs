//! Emergency assistance: the fund of each fiscal year, its allocations, the
//! cases and their payments. A grantee's scope is the cases its organisation
//! referred. Every change of a year's money takes that year's `fund_years`
//! row lock first (after the case's own lock, never before), so concurrent
//! approvals read the balance one after another and can never over-commit;
//! SQLite's single writer serialises the same transactions. Personal data
//! arrives and leaves here sealed: the store never sees a plaintext value.

use chrono::{DateTime, NaiveDate, Utc};
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveModelTrait,
    ActiveValue::{Set, Unchanged},
    ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect, Select,
};

use super::entities::{assistance_cases, disbursements, fund_allocations, fund_years};
use super::{Keyset, Page, Stamped, Store, Tx, decode_code, new_id, now, to_json_column};
use crate::domain::access::Scope;
use crate::domain::assistance::{
    AssistanceCase, CaseHandlers, CaseState, CaseUrgency, Disbursement, FundAllocation, FundYear,
    Need, NewAllocation, NewDisbursement, PersonalField, Referral, SealedPersonalData,
    VictimProfile,
};
use crate::domain::money::Cents;
use crate::domain::names::{AssistanceCaseName, FundAllocationName};
use crate::domain::version::{self, Stamps};
use crate::error::{Error, Result};

/// Which cases to list.
#[derive(Debug, Clone, Default)]
pub struct CaseFilter {
    pub state: Option<CaseState>,
    pub urgency: Option<CaseUrgency>,
    pub country_code: Option<String>,
    pub referring_organization_id: Option<String>,
    pub fiscal_year: Option<i32>,
    /// CRITICAL cases still undecided (`CaseState::UNDECIDED`), referred before this time.
    pub critical_undecided_before: Option<DateTime<Utc>>,
}

/// One case's sealed personal data, for rotation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedCase {
    pub case_id: String,
    pub key_id: Option<String>,
    pub values: Vec<(PersonalField, String)>,
}

/// What start-up checks: how many cases exist and which keys seal their personal data.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeysInUse {
    pub cases: u64,
    pub key_ids: Vec<String>,
}

fn sealed_of(row: &assistance_cases::Model) -> SealedPersonalData {
    let values = [
        (PersonalField::FullName, &row.full_name_sealed),
        (PersonalField::Contact, &row.contact_sealed),
        (PersonalField::Notes, &row.notes_sealed),
    ]
    .into_iter()
    .filter_map(|(field, value)| value.clone().map(|value| (field, value)))
    .collect();
    SealedPersonalData {
        key_id: row.personal_data_key.clone(),
        values,
    }
}

fn sealed_case_of(row: &assistance_cases::Model) -> SealedCase {
    let sealed = sealed_of(row);
    SealedCase {
        case_id: row.id.clone(),
        key_id: sealed.key_id,
        values: sealed.values,
    }
}

fn case_to_domain(row: assistance_cases::Model) -> Result<AssistanceCase> {
    let id = row.id.clone();
    let needs: Vec<Need> = serde_json::from_value(row.needs.clone())
        .map_err(|error| Error::Internal(format!("assistance_cases.needs of {id}: {error}")))?;
    let personal_data_fields = sealed_of(&row)
        .values
        .into_iter()
        .map(|(field, _)| field)
        .collect();
    Ok(AssistanceCase {
        stamps: row.stamps(),
        case_number: row.case_number,
        fiscal_year: row.fiscal_year,
        referral: Referral {
            referring_organization_id: row.referring_organization_id,
            country_code: row.country_code,
            victim: VictimProfile {
                sex: decode_code("assistance_cases.victim_sex", &id, &row.victim_sex)?,
                age_group: decode_code(
                    "assistance_cases.victim_age_group",
                    &id,
                    &row.victim_age_group,
                )?,
                nationality: row.victim_nationality,
                trafficking_form: decode_code(
                    "assistance_cases.trafficking_form",
                    &id,
                    &row.trafficking_form,
                )?,
            },
            urgency: decode_code("assistance_cases.urgency", &id, &row.urgency)?,
            consent_to_services: row.consent_to_services,
            consent_to_statistics: row.consent_to_statistics,
            needs,
        },
        state: decode_code("assistance_cases.state", &id, &row.state)?,
        referral_time: row.referral_time,
        decision_time: row.decision_time,
        first_payment_time: row.first_payment_time,
        close_time: row.close_time,
        state_reason: row.state_reason,
        outcome: row.outcome,
        handlers: CaseHandlers {
            referrer: row.referrer,
            referrer_owner: row.referrer_owner,
            reviewer: row.reviewer,
            reviewer_owner: row.reviewer_owner,
            decider: row.decider,
            decider_owner: row.decider_owner,
        },
        personal_data_fields,
        id,
    })
}

fn fund_to_domain(row: fund_years::Model) -> FundYear {
    FundYear {
        fiscal_year: row.fiscal_year,
        allocated: Cents(row.allocated),
        committed: Cents(row.committed),
        paid: Cents(row.paid),
    }
}

fn allocation_to_domain(row: fund_allocations::Model) -> FundAllocation {
    FundAllocation {
        id: row.id,
        fiscal_year: row.fiscal_year,
        account_code: row.account_code,
        amount: Cents(row.amount),
        allocation_date: allocation_day(row.allocation_date, row.create_time),
        note: row.note,
        creator: row.creator,
        create_time: row.create_time,
    }
}

/// The day an allocation took effect: the day recorded with it, or (for allocations made
/// before they drew on appropriations) the day it was recorded.
pub(super) fn allocation_day(
    allocation_date: Option<NaiveDate>,
    create_time: DateTime<Utc>,
) -> NaiveDate {
    allocation_date.unwrap_or_else(|| create_time.date_naive())
}

/// The account of the allocations of `year`'s fund (one, by the domain's rule).
async fn fund_year_account(conn: &impl ConnectionTrait, year: i32) -> Result<Option<String>> {
    Ok(fund_allocations::Entity::find()
        .select_only()
        .column(fund_allocations::Column::AccountCode)
        .filter(fund_allocations::Column::FiscalYear.eq(year))
        .limit(1)
        .into_tuple::<String>()
        .one(conn)
        .await?)
}

fn disbursement_to_domain(row: disbursements::Model) -> Result<Disbursement> {
    Ok(Disbursement {
        need_kind: decode_code("disbursements.need_kind", &row.id, &row.need_kind)?,
        id: row.id,
        case_id: row.case_id,
        need_number: row.need_number,
        amount: Cents(row.amount),
        payment_time: row.payment_time,
        reference: row.reference,
        creator: row.creator,
        create_time: row.create_time,
    })
}

/// The cases `scope` may see: a grantee, those its organisation referred.
fn scoped(scope: &Scope) -> Select<assistance_cases::Entity> {
    let select = assistance_cases::Entity::find();
    match scope {
        Scope::All => select,
        Scope::Organization(organization) => select
            .filter(assistance_cases::Column::ReferringOrganizationId.eq(organization.as_str())),
    }
}

async fn find_case(
    conn: &impl ConnectionTrait,
    scope: &Scope,
    name: &AssistanceCaseName,
    lock: bool,
) -> Result<assistance_cases::Model> {
    let mut select = scoped(scope).filter(assistance_cases::Column::Id.eq(name.case.as_str()));
    if lock {
        select = select.lock_exclusive();
    }
    select
        .one(conn)
        .await?
        .ok_or_else(|| Error::not_found(name))
}

impl Store {
    /// One case the caller may see.
    pub async fn get_assistance_case(
        &self,
        scope: &Scope,
        name: &AssistanceCaseName,
    ) -> Result<AssistanceCase> {
        case_to_domain(find_case(&self.db, scope, name, false).await?)
    }

    /// A page of the cases the caller may see, oldest first.
    pub async fn list_assistance_cases(
        &self,
        scope: &Scope,
        filter: &CaseFilter,
        page: &Keyset,
    ) -> Result<Page<AssistanceCase>> {
        let mut select = scoped(scope);
        if let Some(state) = filter.state {
            select = select.filter(assistance_cases::Column::State.eq(state.code()));
        }
        if let Some(urgency) = filter.urgency {
            select = select.filter(assistance_cases::Column::Urgency.eq(urgency.code()));
        }
        if let Some(country) = &filter.country_code {
            select = select.filter(assistance_cases::Column::CountryCode.eq(country.as_str()));
        }
        if let Some(organization) = &filter.referring_organization_id {
            select = select.filter(
                assistance_cases::Column::ReferringOrganizationId.eq(organization.as_str()),
            );
        }
        if let Some(year) = filter.fiscal_year {
            select = select.filter(assistance_cases::Column::FiscalYear.eq(year));
        }
        if let Some(cutoff) = filter.critical_undecided_before {
            select = select
                .filter(assistance_cases::Column::Urgency.eq(CaseUrgency::Critical.code()))
                .filter(
                    assistance_cases::Column::State
                        .is_in(CaseState::UNDECIDED.iter().map(|state| state.code())),
                )
                .filter(assistance_cases::Column::ReferralTime.lt(cutoff));
        }
        page.fetch(&self.db, select, assistance_cases::Column::Id, |row| {
            row.id.clone()
        })
        .await?
        .try_map(case_to_domain)
    }

    /// Every case referred in fiscal year `year`, read in keyset chunks.
    pub async fn cases_of_fiscal_year(&self, year: i32) -> Result<Vec<AssistanceCase>> {
        let mut cases = Vec::new();
        let mut keyset = Keyset {
            after: None,
            limit: 1000,
        };
        loop {
            let select = assistance_cases::Entity::find()
                .filter(assistance_cases::Column::FiscalYear.eq(year));
            let page = keyset
                .fetch(&self.db, select, assistance_cases::Column::Id, |row| {
                    row.id.clone()
                })
                .await?;
            for row in page.items {
                cases.push(case_to_domain(row)?);
            }
            match page.next_after {
                Some(after) => keyset.after = Some(after),
                None => return Ok(cases),
            }
        }
    }

    /// The fund of fiscal year `year` (empty when nothing was allocated or referred yet).
    pub async fn fund_year(&self, year: i32) -> Result<FundYear> {
        Ok(fund_years::Entity::find_by_id(year)
            .one(&self.db)
            .await?
            .map(fund_to_domain)
            .unwrap_or_else(|| FundYear::empty(year)))
    }

    /// The funding account the fund of `year` draws on (see [`Tx::fund_year_account`]).
    pub async fn fund_year_account(&self, year: i32) -> Result<Option<String>> {
        fund_year_account(&self.db, year).await
    }

    /// One allocation.
    pub async fn get_fund_allocation(&self, name: &FundAllocationName) -> Result<FundAllocation> {
        fund_allocations::Entity::find_by_id(name.allocation.as_str())
            .one(&self.db)
            .await?
            .map(allocation_to_domain)
            .ok_or_else(|| Error::not_found(name))
    }

    /// A page of allocations, oldest first, of one fiscal year or all.
    pub async fn list_fund_allocations(
        &self,
        fiscal_year: Option<i32>,
        page: &Keyset,
    ) -> Result<Page<FundAllocation>> {
        let mut select = fund_allocations::Entity::find();
        if let Some(year) = fiscal_year {
            select = select.filter(fund_allocations::Column::FiscalYear.eq(year));
        }
        Ok(page
            .fetch(&self.db, select, fund_allocations::Column::Id, |row| {
                row.id.clone()
            })
            .await?
            .map(allocation_to_domain))
    }

    /// A page of the payments of a case the caller may see, oldest first.
    pub async fn list_disbursements(
        &self,
        scope: &Scope,
        case: &AssistanceCaseName,
        page: &Keyset,
    ) -> Result<Page<Disbursement>> {
        find_case(&self.db, scope, case, false).await?;
        let select = disbursements::Entity::find()
            .filter(disbursements::Column::CaseId.eq(case.case.as_str()));
        page.fetch(&self.db, select, disbursements::Column::Id, |row| {
            row.id.clone()
        })
        .await?
        .try_map(disbursement_to_domain)
    }

    /// Up to `limit` cases whose personal data is sealed with key `key_id` (a key's check
    /// against what it sealed).
    pub async fn personal_data_sealed_with(
        &self,
        key_id: &str,
        limit: u64,
    ) -> Result<Vec<SealedCase>> {
        let rows = assistance_cases::Entity::find()
            .filter(assistance_cases::Column::PersonalDataKey.eq(key_id))
            .order_by_asc(assistance_cases::Column::Id)
            .limit(limit)
            .all(&self.db)
            .await?;
        Ok(rows.iter().map(sealed_case_of).collect())
    }

    /// How many cases exist and which key ids seal personal data (start-up checks).
    pub async fn personal_data_keys_in_use(&self) -> Result<KeysInUse> {
        let cases = assistance_cases::Entity::find().count(&self.db).await?;
        let key_ids: Vec<String> = assistance_cases::Entity::find()
            .select_only()
            .column(assistance_cases::Column::PersonalDataKey)
            .filter(assistance_cases::Column::PersonalDataKey.is_not_null())
            .distinct()
            .into_tuple::<String>()
            .all(&self.db)
            .await?;
        Ok(KeysInUse { cases, key_ids })
    }
}

/// The columns of a case row that hold what the domain decides (everything but its identity).
fn case_columns(case: &AssistanceCase, row: &mut assistance_cases::ActiveModel) -> Result<()> {
    row.country_code = Set(case.referral.country_code.clone());
    row.victim_sex = Set(case.referral.victim.sex.code().into());
    row.victim_age_group = Set(case.referral.victim.age_group.code().into());
    row.victim_nationality = Set(case.referral.victim.nationality.clone());
    row.trafficking_form = Set(case.referral.victim.trafficking_form.code().into());
    row.urgency = Set(case.referral.urgency.code().into());
    row.consent_to_services = Set(case.referral.consent_to_services);
    row.consent_to_statistics = Set(case.referral.consent_to_statistics);
    row.needs = Set(to_json_column(&case.referral.needs)?);
    row.state = Set(case.state.code().into());
    row.decision_time = Set(case.decision_time);
    row.first_payment_time = Set(case.first_payment_time);
    row.close_time = Set(case.close_time);
    row.state_reason = Set(case.state_reason.clone());
    row.outcome = Set(case.outcome.clone());
    row.reviewer = Set(case.handlers.reviewer.clone());
    row.decider = Set(case.handlers.decider.clone());
    row.reviewer_owner = Set(case.handlers.reviewer_owner.clone());
    row.decider_owner = Set(case.handlers.decider_owner.clone());
    row.requested_amount = Set(case.requested().0);
    row.approved_amount = Set(case.approved().0);
    row.paid_amount = Set(case.paid().0);
    Ok(())
}

fn sealed_columns(sealed: &SealedPersonalData, row: &mut assistance_cases::ActiveModel) {
    let value = |field: PersonalField| {
        sealed
            .values
            .iter()
            .find(|(present, _)| *present == field)
            .map(|(_, value)| value.clone())
    };
    row.full_name_sealed = Set(value(PersonalField::FullName));
    row.contact_sealed = Set(value(PersonalField::Contact));
    row.notes_sealed = Set(value(PersonalField::Notes));
    row.personal_data_key = Set(if sealed.values.is_empty() {
        None
    } else {
        sealed.key_id.clone()
    });
}

impl Tx {
    /// The fund of `year`, created empty when new, locked until commit. Take it after the
    /// case's lock, never before: every transaction locks in that order, so none waits in a circle.
    pub async fn fund_year_for_update(&self, year: i32) -> Result<FundYear> {
        self.ensure_fund_year(year).await?;
        fund_years::Entity::find_by_id(year)
            .lock_exclusive()
            .one(&self.txn)
            .await?
            .map(fund_to_domain)
            .ok_or_else(|| Error::Internal(format!("fund year {year} just written is missing")))
    }

    /// The funding account the fund of `year` draws on: that of its allocations (they all
    /// share one); `None` before its first allocation.
    pub async fn fund_year_account(&self, year: i32) -> Result<Option<String>> {
        fund_year_account(&self.txn, year).await
    }

    /// Inserts the empty fund of `year` unless it exists (two transactions meet at its key).
    async fn ensure_fund_year(&self, year: i32) -> Result<()> {
        fund_years::Entity::insert(fund_years::ActiveModel {
            fiscal_year: Set(year),
            allocated: Set(0),
            committed: Set(0),
            paid: Set(0),
            // No longer counted: case numbers are random (the column stays for old databases).
            case_sequence: Set(0),
            update_time: Set(now()),
        })
        .on_conflict(
            OnConflict::column(fund_years::Column::FiscalYear)
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(&self.txn)
        .await?;
        Ok(())
    }

    /// Stores the locked fund's new money.
    pub async fn save_fund_year(&self, fund: &FundYear) -> Result<()> {
        fund_years::ActiveModel {
            fiscal_year: Unchanged(fund.fiscal_year),
            allocated: Set(fund.allocated.0),
            committed: Set(fund.committed.0),
            paid: Set(fund.paid.0),
            update_time: Set(now()),
            ..Default::default()
        }
        .update(&self.txn)
        .await?;
        Ok(())
    }

    /// Whether a case already has the number `case_number` (a new number is drawn at random).
    pub async fn case_number_taken(&self, case_number: &str) -> Result<bool> {
        Ok(assistance_cases::Entity::find()
            .filter(assistance_cases::Column::CaseNumber.eq(case_number))
            .count(&self.txn)
            .await?
            > 0)
    }

    /// Records an allocation and the fund after it (the fund was locked and checked by the domain).
    pub async fn create_fund_allocation(
        &mut self,
        new: NewAllocation,
        fund_after: &FundYear,
    ) -> Result<FundAllocation> {
        let allocation = FundAllocation {
            id: new_id(),
            fiscal_year: new.fiscal_year,
            account_code: new.account_code,
            amount: new.amount,
            allocation_date: new.allocation_date,
            note: new.note,
            creator: self.call.actor.resource_name(),
            create_time: now(),
        };
        fund_allocations::ActiveModel {
            id: Set(allocation.id.clone()),
            fiscal_year: Set(allocation.fiscal_year),
            amount: Set(allocation.amount.0),
            note: Set(allocation.note.clone()),
            creator: Set(allocation.creator.clone()),
            create_time: Set(allocation.create_time),
            account_code: Set(allocation.account_code.clone()),
            allocation_date: Set(Some(allocation.allocation_date)),
        }
        .insert(&self.txn)
        .await?;
        self.save_fund_year(fund_after).await?;
        let mut view = crate::domain::audit::Audited::audit_view(&allocation)?;
        if let Some(map) = view.as_object_mut() {
            map.insert(
                "year_allocated_amount".into(),
                serde_json::json!(fund_after.allocated.0),
            );
        }
        self.audit_views(&allocation.resource_name(), None, Some(&view));
        Ok(allocation)
    }

    /// Stores a new case (REFERRED) with its sealed personal data.
    #[allow(clippy::too_many_arguments)]
    pub async fn create_assistance_case(
        &mut self,
        id: String,
        case_number: String,
        fiscal_year: i32,
        referral: Referral,
        referral_time: DateTime<Utc>,
        sealed: &SealedPersonalData,
    ) -> Result<AssistanceCase> {
        let case = AssistanceCase {
            personal_data_fields: sealed.values.iter().map(|(field, _)| *field).collect(),
            ..AssistanceCase::referred(
                id,
                case_number,
                fiscal_year,
                referral,
                referral_time,
                (
                    self.call.actor.resource_name(),
                    self.call.actor.owner.clone(),
                ),
                Stamps::new(now()),
            )
        };
        let mut row = assistance_cases::ActiveModel {
            id: Set(case.id.clone()),
            case_number: Set(case.case_number.clone()),
            fiscal_year: Set(case.fiscal_year),
            referring_organization_id: Set(case.referral.referring_organization_id.clone()),
            referral_time: Set(case.referral_time),
            referrer: Set(case.handlers.referrer.clone()),
            referrer_owner: Set(case.handlers.referrer_owner.clone()),
            ..Stamped::created(case.stamps)
        };
        case_columns(&case, &mut row)?;
        sealed_columns(sealed, &mut row);
        row.insert(&self.txn).await?;
        let mut case = case;
        case.personal_data_fields.sort();
        self.audit(&case.resource_name(), None, Some(&case))?;
        Ok(case)
    }

    /// Reads a case for a change and locks it until commit; checks `etag` when given.
    pub async fn case_for_update(
        &self,
        scope: &Scope,
        name: &AssistanceCaseName,
        etag: Option<i64>,
    ) -> Result<AssistanceCase> {
        let case = case_to_domain(find_case(&self.txn, scope, name, true).await?)?;
        version::check_etag(&case.resource_name(), case.stamps.revision, etag)?;
        Ok(case)
    }

    /// The sealed personal data of a case read (and locked) in this transaction.
    pub async fn sealed_personal_data(&self, case: &AssistanceCase) -> Result<SealedPersonalData> {
        let row = find_case(&self.txn, &Scope::All, &case.name(), true).await?;
        Ok(sealed_of(&row))
    }

    /// Writes `after` over `before` with the next revision; `sealed` replaces the personal
    /// data when given.
    async fn write_case(
        &self,
        before: &AssistanceCase,
        mut after: AssistanceCase,
        sealed: Option<&SealedPersonalData>,
    ) -> Result<AssistanceCase> {
        after.stamps = before.stamps.next(now());
        let mut row = assistance_cases::ActiveModel {
            id: Unchanged(before.id.clone()),
            ..Stamped::revised(after.stamps)
        };
        case_columns(&after, &mut row)?;
        if let Some(sealed) = sealed {
            sealed_columns(sealed, &mut row);
            after.personal_data_fields = sealed.values.iter().map(|(field, _)| *field).collect();
            after.personal_data_fields.sort();
        }
        row.update(&self.txn).await?;
        Ok(after)
    }

    /// Saves `after` over `before`, moving the revision, and records the change. `sealed`
    /// replaces the personal data when given. `fund` is the locked fund after the change, when money moved.
    pub async fn save_assistance_case(
        &mut self,
        before: &AssistanceCase,
        after: AssistanceCase,
        sealed: Option<&SealedPersonalData>,
        fund: Option<&FundYear>,
    ) -> Result<AssistanceCase> {
        let after = self.write_case(before, after, sealed).await?;
        if let Some(fund) = fund {
            self.save_fund_year(fund).await?;
        }
        self.audit(&after.resource_name(), Some(before), Some(&after))?;
        Ok(after)
    }

    /// Records a payment, the case and the fund after it; the payment is the call's audit event.
    pub async fn create_disbursement(
        &mut self,
        before: &AssistanceCase,
        after: AssistanceCase,
        payment: NewDisbursement,
        fund: &FundYear,
    ) -> Result<(Disbursement, AssistanceCase)> {
        let disbursement = Disbursement {
            id: new_id(),
            case_id: before.id.clone(),
            need_number: payment.need_number,
            need_kind: payment.need_kind,
            amount: payment.amount,
            payment_time: payment.payment_time,
            reference: payment.reference,
            creator: self.call.actor.resource_name(),
            create_time: now(),
        };
        disbursements::ActiveModel {
            id: Set(disbursement.id.clone()),
            case_id: Set(disbursement.case_id.clone()),
            need_number: Set(disbursement.need_number),
            need_kind: Set(disbursement.need_kind.code().into()),
            amount: Set(disbursement.amount.0),
            payment_time: Set(disbursement.payment_time),
            reference: Set(disbursement.reference.clone()),
            creator: Set(disbursement.creator.clone()),
            create_time: Set(disbursement.create_time),
        }
        .insert(&self.txn)
        .await?;
        let after = self.write_case(before, after, None).await?;
        self.save_fund_year(fund).await?;
        let mut view = crate::domain::audit::Audited::audit_view(&disbursement)?;
        if let Some(map) = view.as_object_mut() {
            map.insert("case_paid_amount".into(), serde_json::json!(after.paid().0));
        }
        self.audit_views(&disbursement.resource_name(), None, Some(&view));
        Ok((disbursement, after))
    }

    /// Records that the caller read `fields` of a case's personal data: who, which case, which
    /// fields; never the values.
    pub fn record_personal_data_read(&mut self, case: &AssistanceCase, fields: &[PersonalField]) {
        let fields: Vec<&str> = fields.iter().map(|field| field.code()).collect();
        self.audit_with_diff(
            &case.resource_name(),
            serde_json::json!({ "personal_data_read": fields }),
        );
    }

    /// Records that the caller exported the cases of `from_year..=to_year` (each bound optional)
    /// as HTCDS records holding `fields` of their profiles: who, which cases, which fields, as a
    /// read of personal data is recorded; never a value, never a count.
    pub fn record_case_records_export(
        &mut self,
        from_year: Option<i32>,
        to_year: Option<i32>,
        fields: &[&str],
    ) {
        self.audit_with_diff(
            "assistanceCases",
            serde_json::json!({ "htcds_export": {
                "from_fiscal_year": from_year,
                "to_fiscal_year": to_year,
                "fields": fields,
            }}),
        );
    }

    /// Up to `limit` cases whose personal data is sealed with another key than `active`, locked.
    pub async fn personal_data_sealed_with_other_keys(
        &self,
        active: &str,
        limit: u64,
    ) -> Result<Vec<SealedCase>> {
        let rows = assistance_cases::Entity::find()
            .filter(assistance_cases::Column::PersonalDataKey.is_not_null())
            .filter(assistance_cases::Column::PersonalDataKey.ne(active))
            .order_by_asc(assistance_cases::Column::Id)
            .limit(limit)
            .lock_exclusive()
            .all(&self.txn)
            .await?;
        Ok(rows.iter().map(sealed_case_of).collect())
    }

    /// Replaces a case's sealed values with ones sealed by `new_key`, and records the rotation
    /// (the key ids only).
    pub async fn reseal_personal_data(
        &mut self,
        case_id: &str,
        old_key: Option<&str>,
        new_key: &str,
        values: Vec<(PersonalField, String)>,
    ) -> Result<()> {
        let sealed = SealedPersonalData {
            key_id: Some(new_key.to_string()),
            values,
        };
        let mut row = assistance_cases::ActiveModel {
            id: Unchanged(case_id.to_string()),
            ..Default::default()
        };
        sealed_columns(&sealed, &mut row);
        row.update(&self.txn).await?;
        self.audit_with_diff(
            &AssistanceCaseName::new(case_id).to_string(),
            serde_json::json!({"personal_data_key": {"before": old_key, "after": new_key}}),
        );
        Ok(())
    }
}
