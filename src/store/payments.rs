//! Payment requests. A grantee's scope is its own grants' requests. Every
//! decision and payment is written after the grant's row lock is taken, so
//! the amounts committed against one obligation are summed and checked by one
//! writer at a time.

use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::{Set, Unchanged},
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect,
};

use super::entities::payment_requests;
use super::grants::within_scope;
use super::{Keyset, Page, Stamped, Store, Tx, decode_code, new_id, now};
use crate::domain::access::Scope;
use crate::domain::money::Cents;
use crate::domain::names::PaymentRequestName;
use crate::domain::payment::{PaymentKind, PaymentRequest, PaymentRequestState, PaymentTerms};
use crate::domain::version::{self, Stamps};
use crate::error::{Error, Result};

/// What to list.
#[derive(Debug, Clone, Default)]
pub struct PaymentRequestFilter {
    /// One grant, or every visible grant.
    pub grant_id: Option<String>,
    pub state: Option<PaymentRequestState>,
}

fn to_domain(row: payment_requests::Model) -> Result<PaymentRequest> {
    Ok(PaymentRequest {
        terms: PaymentTerms {
            kind: decode_code::<PaymentKind>("payment_requests.kind", &row.id, &row.kind)?,
            account_code: row.account_code.clone(),
            fiscal_year: row.fiscal_year,
            amount: Cents(row.amount_cents),
            period_start_date: row.period_start_date,
            period_end_date: row.period_end_date,
            description: row.description.clone(),
        },
        state: decode_code::<PaymentRequestState>("payment_requests.state", &row.id, &row.state)?,
        stamps: row.stamps(),
        state_reason: row.state_reason,
        requester: row.requester,
        requester_owner: row.requester_owner,
        decider: row.decider,
        decider_owner: row.decider_owner,
        payment_date: row.payment_date,
        payment_reference: row.payment_reference,
        excess_cash_note: row.excess_cash_note,
        grant_id: row.grant_id,
        id: row.id,
    })
}

/// The columns a decision or payment changes.
fn changing_columns(request: &PaymentRequest) -> payment_requests::ActiveModel {
    payment_requests::ActiveModel {
        id: Unchanged(request.id.clone()),
        state: Set(request.state.code().into()),
        state_reason: Set(request.state_reason.clone()),
        decider: Set(request.decider.clone()),
        decider_owner: Set(request.decider_owner.clone()),
        payment_date: Set(request.payment_date),
        payment_reference: Set(request.payment_reference.clone()),
        ..Stamped::revised(request.stamps)
    }
}

async fn find(
    conn: &impl ConnectionTrait,
    scope: &Scope,
    name: &PaymentRequestName,
    lock: bool,
) -> Result<PaymentRequest> {
    let mut select = within_scope(
        payment_requests::Entity::find_by_id(name.payment_request.as_str())
            .filter(payment_requests::Column::GrantId.eq(name.grant.as_str())),
        payment_requests::Column::GrantId,
        scope,
    );
    if lock {
        select = select.lock_exclusive();
    }
    select
        .one(conn)
        .await?
        .ok_or_else(|| Error::not_found(name))
        .and_then(to_domain)
}

impl Store {
    /// One payment request the caller may see.
    pub async fn get_payment_request(
        &self,
        scope: &Scope,
        name: &PaymentRequestName,
    ) -> Result<PaymentRequest> {
        find(&self.db, scope, name, false).await
    }

    /// A page of the payment requests the caller may see, oldest first.
    pub async fn list_payment_requests(
        &self,
        scope: &Scope,
        filter: &PaymentRequestFilter,
        page: &Keyset,
    ) -> Result<Page<PaymentRequest>> {
        if let Some(grant) = &filter.grant_id {
            super::grants::require_visible(&self.db, scope, grant).await?;
        }
        let mut select = within_scope(
            payment_requests::Entity::find(),
            payment_requests::Column::GrantId,
            scope,
        );
        if let Some(grant) = &filter.grant_id {
            select = select.filter(payment_requests::Column::GrantId.eq(grant.as_str()));
        }
        if let Some(state) = filter.state {
            select = select.filter(payment_requests::Column::State.eq(state.code()));
        }
        page.fetch(&self.db, select, payment_requests::Column::Id, |row| {
            row.id.clone()
        })
        .await?
        .try_map(to_domain)
    }
}

impl Tx {
    /// A payment request for a decision, locked until commit; checks `etag` when given.
    /// Take the grant's lock first ([`Tx::grant_for_update`]), as every money change does.
    pub async fn payment_request_for_update(
        &self,
        scope: &Scope,
        name: &PaymentRequestName,
        etag: Option<i64>,
    ) -> Result<PaymentRequest> {
        let request = find(&self.txn, scope, name, true).await?;
        version::check_etag(&request.resource_name(), request.stamps.revision, etag)?;
        Ok(request)
    }

    /// What approved and paid requests commit against a grant's obligation of one account and
    /// fiscal year, or (`None`) against all its obligations.
    pub async fn committed_payments(
        &self,
        grant_id: &str,
        obligation: Option<(&str, i32)>,
    ) -> Result<Cents> {
        let mut select = payment_requests::Entity::find()
            .select_only()
            .column_as(Expr::cust("CAST(SUM(amount_cents) AS BIGINT)"), "committed")
            .filter(payment_requests::Column::GrantId.eq(grant_id))
            .filter(
                payment_requests::Column::State
                    .is_in(PaymentRequestState::COMMITTED.map(PaymentRequestState::code)),
            );
        if let Some((account_code, fiscal_year)) = obligation {
            select = select
                .filter(payment_requests::Column::AccountCode.eq(account_code))
                .filter(payment_requests::Column::FiscalYear.eq(fiscal_year));
        }
        let sum: Option<Option<i64>> = select.into_tuple().one(&self.txn).await?;
        Ok(Cents(sum.flatten().unwrap_or(0)))
    }

    /// Records a new request of the caller on grant `grant_id`, SUBMITTED, with the advance
    /// flag's note (empty when not flagged).
    pub async fn create_payment_request(
        &mut self,
        grant_id: &str,
        terms: PaymentTerms,
        excess_cash_note: String,
    ) -> Result<PaymentRequest> {
        let actor = &self.call.actor;
        let row = payment_requests::ActiveModel {
            id: Set(new_id()),
            grant_id: Set(grant_id.to_string()),
            kind: Set(terms.kind.code().into()),
            account_code: Set(terms.account_code),
            fiscal_year: Set(terms.fiscal_year),
            amount_cents: Set(terms.amount.0),
            period_start_date: Set(terms.period_start_date),
            period_end_date: Set(terms.period_end_date),
            description: Set(terms.description),
            state: Set(PaymentRequestState::Submitted.code().into()),
            state_reason: Set(String::new()),
            requester: Set(actor.resource_name()),
            requester_owner: Set(actor.owner.clone()),
            decider: Set(String::new()),
            decider_owner: Set(String::new()),
            payment_date: Set(None),
            payment_reference: Set(String::new()),
            excess_cash_note: Set(excess_cash_note),
            ..Stamped::created(Stamps::new(now()))
        };
        self.insert_audited(row, to_domain, |created| (created.resource_name(), created))
            .await
    }

    /// Saves `after` (a decision or payment, as the domain decided) over `current`.
    pub async fn save_payment_request(
        &mut self,
        current: PaymentRequest,
        mut after: PaymentRequest,
    ) -> Result<PaymentRequest> {
        after.stamps = current.stamps.next(now());
        let row = changing_columns(&after);
        self.update_audited(row, &current, to_domain, |request| request)
            .await
    }
}
