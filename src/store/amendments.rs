//! Amendments of awards. A grantee's scope is its own grants' amendments.
//! A decision is written after the grant's row lock is taken, so the grant it
//! changes is the grant it was checked against.

use sea_orm::{
    ActiveValue::{Set, Unchanged},
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect,
};

use super::entities::amendments;
use super::grants::within_scope;
use super::{Keyset, Page, Stamped, Store, Tx, decode_code, new_id, now};
use crate::domain::access::Scope;
use crate::domain::amendment::{
    Amendment, AmendmentKind, AmendmentMoney, AmendmentState, AmendmentTerms,
};
use crate::domain::budget::{BudgetCategory, Changes};
use crate::domain::money::Cents;
use crate::domain::names::AmendmentName;
use crate::domain::version::{self, Stamps};
use crate::error::{Error, Result};

/// What to list.
#[derive(Debug, Clone, Default)]
pub struct AmendmentFilter {
    /// One grant, or every visible grant.
    pub grant_id: Option<String>,
    pub state: Option<AmendmentState>,
    pub kind: Option<AmendmentKind>,
}

fn to_domain(row: amendments::Model) -> Result<Amendment> {
    let kind = decode_code::<AmendmentKind>("amendments.kind", &row.id, &row.kind)?;
    let changes: Vec<(BudgetCategory, i64)> =
        serde_json::from_str(&row.budget_changes).map_err(|error| {
            Error::Internal(format!("amendments.budget_changes of {}: {error}", row.id))
        })?;
    let money = matches!(
        kind,
        AmendmentKind::Supplement | AmendmentKind::Deobligation
    )
    .then(|| AmendmentMoney {
        account_code: row.account_code.clone(),
        fiscal_year: row.fiscal_year,
        amount: Cents(row.amount_cents),
        obligation_date: row.obligation_date,
    });
    Ok(Amendment {
        terms: AmendmentTerms {
            kind,
            justification: row.justification.clone(),
            end_date: row.end_date,
            money,
            budget_changes: Changes(
                changes
                    .into_iter()
                    .map(|(category, amount)| (category, Cents(amount)))
                    .collect(),
            ),
        },
        moved: Cents(row.moved_cents),
        prior_approval_required: row.prior_approval_required,
        state: decode_code::<AmendmentState>("amendments.state", &row.id, &row.state)?,
        stamps: row.stamps(),
        state_reason: row.state_reason,
        requester: row.requester,
        requester_owner: row.requester_owner,
        decider: row.decider,
        decider_owner: row.decider_owner,
        obligation_id: row.obligation_id,
        grant_revision: row.grant_revision,
        grant_id: row.grant_id,
        id: row.id,
    })
}

/// The columns a decision changes.
fn changing_columns(amendment: &Amendment) -> amendments::ActiveModel {
    amendments::ActiveModel {
        id: Unchanged(amendment.id.clone()),
        state: Set(amendment.state.code().into()),
        state_reason: Set(amendment.state_reason.clone()),
        decider: Set(amendment.decider.clone()),
        decider_owner: Set(amendment.decider_owner.clone()),
        obligation_id: Set(amendment.obligation_id.clone()),
        grant_revision: Set(amendment.grant_revision),
        ..Stamped::revised(amendment.stamps)
    }
}

async fn find(
    conn: &impl ConnectionTrait,
    scope: &Scope,
    name: &AmendmentName,
    lock: bool,
) -> Result<Amendment> {
    let mut select = within_scope(
        amendments::Entity::find_by_id(name.amendment.as_str())
            .filter(amendments::Column::GrantId.eq(name.grant.as_str())),
        amendments::Column::GrantId,
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
    /// One amendment the caller may see.
    pub async fn get_amendment(&self, scope: &Scope, name: &AmendmentName) -> Result<Amendment> {
        find(&self.db, scope, name, false).await
    }

    /// A page of the amendments the caller may see, oldest first.
    pub async fn list_amendments(
        &self,
        scope: &Scope,
        filter: &AmendmentFilter,
        page: &Keyset,
    ) -> Result<Page<Amendment>> {
        if let Some(grant) = &filter.grant_id {
            super::grants::require_visible(&self.db, scope, grant).await?;
        }
        let mut select = within_scope(
            amendments::Entity::find(),
            amendments::Column::GrantId,
            scope,
        );
        if let Some(grant) = &filter.grant_id {
            select = select.filter(amendments::Column::GrantId.eq(grant.as_str()));
        }
        if let Some(state) = filter.state {
            select = select.filter(amendments::Column::State.eq(state.code()));
        }
        if let Some(kind) = filter.kind {
            select = select.filter(amendments::Column::Kind.eq(kind.code()));
        }
        page.fetch(&self.db, select, amendments::Column::Id, |row| {
            row.id.clone()
        })
        .await?
        .try_map(to_domain)
    }
}

impl Tx {
    /// An amendment for a decision, locked until commit; checks `etag` when given.
    /// Take the grant's lock first ([`Tx::grant_for_update`]), as every change of money does.
    pub async fn amendment_for_update(
        &self,
        scope: &Scope,
        name: &AmendmentName,
        etag: Option<i64>,
    ) -> Result<Amendment> {
        let amendment = find(&self.txn, scope, name, true).await?;
        version::check_etag(&amendment.resource_name(), amendment.stamps.revision, etag)?;
        Ok(amendment)
    }

    /// Records a new amendment of the caller on grant `grant_id`, in `state` (REQUESTED, or
    /// APPROVED when it needed no prior approval: then with the grant revision it made).
    pub async fn create_amendment(
        &mut self,
        grant_id: &str,
        terms: AmendmentTerms,
        moved: Cents,
        prior_approval_required: bool,
        state: AmendmentState,
        grant_revision: i64,
    ) -> Result<Amendment> {
        let actor = &self.call.actor;
        let changes: Vec<(BudgetCategory, i64)> = terms
            .budget_changes
            .0
            .iter()
            .map(|(category, amount)| (*category, amount.0))
            .collect();
        let changes = serde_json::to_string(&changes)
            .map_err(|error| Error::Internal(format!("amendment budget changes: {error}")))?;
        let money = terms.money.as_ref();
        let row = amendments::ActiveModel {
            id: Set(new_id()),
            grant_id: Set(grant_id.to_string()),
            kind: Set(terms.kind.code().into()),
            justification: Set(terms.justification.clone()),
            end_date: Set(terms.end_date),
            account_code: Set(money.map(|m| m.account_code.clone()).unwrap_or_default()),
            fiscal_year: Set(money.map(|m| m.fiscal_year).unwrap_or_default()),
            amount_cents: Set(money.map(|m| m.amount.0).unwrap_or_default()),
            obligation_date: Set(money.and_then(|m| m.obligation_date)),
            budget_changes: Set(changes),
            moved_cents: Set(moved.0),
            prior_approval_required: Set(prior_approval_required),
            state: Set(state.code().into()),
            state_reason: Set(String::new()),
            requester: Set(actor.resource_name()),
            requester_owner: Set(actor.owner.clone()),
            decider: Set(String::new()),
            decider_owner: Set(String::new()),
            obligation_id: Set(String::new()),
            grant_revision: Set(grant_revision),
            ..Stamped::created(Stamps::new(now()))
        };
        self.insert_audited(row, to_domain, |created| (created.resource_name(), created))
            .await
    }

    /// Saves `after` (a decision, as the domain decided) over `current`.
    pub async fn save_amendment(
        &mut self,
        current: Amendment,
        mut after: Amendment,
    ) -> Result<Amendment> {
        after.stamps = current.stamps.next(now());
        let row = changing_columns(&after);
        self.update_audited(row, &current, to_domain, |amendment| amendment)
            .await
    }
}
