//! Each grant's money by the account and fiscal year of its funds, as the
//! reports and the funds status count it: obligations and payments summed by
//! the database, the latest accepted SF-425 of each grant read for its
//! expenditure (attributed by `domain::spending`). Three queries whatever the
//! number of grants; the caller's connection, so a report reads them from its
//! snapshot.

use std::collections::{BTreeMap, HashMap};

use chrono::NaiveDate;
use sea_orm::sea_query::{Expr, Query, SelectStatement};
use sea_orm::{ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect};

use super::entities::{
    financial_reports, fund_allocations, fund_years, grants, obligations, payment_requests,
};
use super::grants::grant_ids_where;
use crate::domain::access::Scope;
use crate::domain::financial_report::FinancialReportState;
use crate::domain::funds::Appropriation;
use crate::domain::grant::ObligationKind;
use crate::domain::money::Cents;
use crate::domain::payment::PaymentRequestState;
use crate::domain::spending::{MoneyLine, attribute_expenditure};
use crate::error::Result;

/// The grants whose money lines to read: every grant, or those whose ids a subquery selects.
pub(super) type GrantIds = Option<SelectStatement>;

/// The grants `scope` may see.
pub(super) fn grants_in(scope: &Scope) -> GrantIds {
    match scope {
        Scope::All => None,
        Scope::Organization(organization) => Some(grant_ids_where(
            grants::Column::OrganizationId.eq(organization.as_str()),
        )),
    }
}

/// The ids of the grants with money of any of `appropriations` (for the funds status).
pub(super) fn grants_drawing_on(appropriations: &[Appropriation]) -> SelectStatement {
    let mut of = Condition::any();
    for appropriation in appropriations {
        of = of.add(
            Condition::all()
                .add(obligations::Column::AccountCode.eq(appropriation.account_code.as_str()))
                .add(obligations::Column::FiscalYear.eq(appropriation.fiscal_year)),
        );
    }
    Query::select()
        .distinct()
        .column(obligations::Column::GrantId)
        .from(obligations::Entity)
        .cond_where(of)
        .to_owned()
}

/// `select` kept to the grants `grants` names.
fn of_grants<E: EntityTrait>(
    select: sea_orm::Select<E>,
    column: E::Column,
    grants: &GrantIds,
) -> sea_orm::Select<E> {
    match grants {
        Some(ids) => select.filter(column.in_subquery(ids.clone())),
        None => select,
    }
}

/// The money lines of `grants`, by grant, account and fiscal year, in that order.
pub(super) async fn money_lines(
    conn: &impl ConnectionTrait,
    grants: &GrantIds,
) -> Result<Vec<MoneyLine>> {
    let deobligation = ObligationKind::Deobligation.code();
    let obligated: Vec<(String, String, i32, i64, i64)> = of_grants(
        obligations::Entity::find(),
        obligations::Column::GrantId,
        grants,
    )
    .select_only()
    .column(obligations::Column::GrantId)
    .column(obligations::Column::AccountCode)
    .column(obligations::Column::FiscalYear)
    .column_as(
        Expr::cust(format!(
            "CAST(SUM(CASE WHEN kind = '{deobligation}' THEN -amount_cents ELSE amount_cents END) AS BIGINT)"
        )),
        "net",
    )
    .column_as(
        Expr::cust(format!(
            "CAST(SUM(CASE WHEN kind = '{deobligation}' THEN amount_cents ELSE 0 END) AS BIGINT)"
        )),
        "deobligated",
    )
    .group_by(obligations::Column::GrantId)
    .group_by(obligations::Column::AccountCode)
    .group_by(obligations::Column::FiscalYear)
    .into_tuple()
    .all(conn)
    .await?;
    let paid: Vec<(String, String, i32, i64)> = of_grants(
        payment_requests::Entity::find(),
        payment_requests::Column::GrantId,
        grants,
    )
    .select_only()
    .column(payment_requests::Column::GrantId)
    .column(payment_requests::Column::AccountCode)
    .column(payment_requests::Column::FiscalYear)
    .column_as(Expr::cust("CAST(SUM(amount_cents) AS BIGINT)"), "paid")
    .filter(payment_requests::Column::State.eq(PaymentRequestState::Paid.code()))
    .group_by(payment_requests::Column::GrantId)
    .group_by(payment_requests::Column::AccountCode)
    .group_by(payment_requests::Column::FiscalYear)
    .into_tuple()
    .all(conn)
    .await?;
    // Every accepted SF-425 (a few per grant): the latest period's cumulative figure counts.
    let reported: Vec<(String, NaiveDate, i64)> = of_grants(
        financial_reports::Entity::find(),
        financial_reports::Column::GrantId,
        grants,
    )
    .select_only()
    .column(financial_reports::Column::GrantId)
    .column(financial_reports::Column::PeriodEndDate)
    .column(financial_reports::Column::FederalExpenditures)
    .filter(financial_reports::Column::State.eq(FinancialReportState::Accepted.code()))
    .into_tuple()
    .all(conn)
    .await?;

    let mut lines: BTreeMap<(String, String, i32), MoneyLine> = BTreeMap::new();
    for (grant_id, account_code, fiscal_year, net, deobligated) in obligated {
        lines.insert(
            (grant_id.clone(), account_code.clone(), fiscal_year),
            MoneyLine {
                grant_id,
                account_code,
                fiscal_year,
                obligated: Cents(net),
                deobligated: Cents(deobligated),
                ..MoneyLine::default()
            },
        );
    }
    for (grant_id, account_code, fiscal_year, amount) in paid {
        // A payment draws on an obligation of its grant, so its line exists.
        if let Some(line) = lines.get_mut(&(grant_id, account_code, fiscal_year)) {
            line.paid = Cents(amount);
        }
    }
    let mut latest: HashMap<String, (NaiveDate, i64)> = HashMap::new();
    for (grant_id, period_end, expended) in reported {
        let entry = latest.entry(grant_id).or_insert((period_end, expended));
        if period_end > entry.0 {
            *entry = (period_end, expended);
        }
    }
    let mut lines: Vec<MoneyLine> = lines.into_values().collect();
    for grant_lines in lines.chunk_by_mut(|a, b| a.grant_id == b.grant_id) {
        if let Some((_, expended)) = latest.get(&grant_lines[0].grant_id) {
            attribute_expenditure(grant_lines, Cents(*expended));
        }
    }
    Ok(lines)
}

/// What was expended and paid from each of `appropriations`, in their order: the money lines
/// of the grants drawing on them (every line of those grants is read, as attribution needs a
/// grant's whole money), and the emergency fund's payments of the years whose allocations draw
/// on them (the fund spends what it pays).
pub(super) async fn spent_on(
    conn: &impl ConnectionTrait,
    appropriations: &[Appropriation],
) -> Result<Vec<(Cents, Cents)>> {
    if appropriations.is_empty() {
        return Ok(Vec::new());
    }
    let mut spent: HashMap<(String, i32), (Cents, Cents)> = HashMap::new();
    let grants = Some(grants_drawing_on(appropriations));
    for line in money_lines(conn, &grants).await? {
        let entry = spent
            .entry((line.account_code, line.fiscal_year))
            .or_default();
        entry.0 += line.expended;
        entry.1 += line.paid;
    }
    let years: Vec<i32> = appropriations.iter().map(|a| a.fiscal_year).collect();
    let funds: Vec<(String, i32)> = fund_allocations::Entity::find()
        .select_only()
        .distinct()
        .column(fund_allocations::Column::AccountCode)
        .column(fund_allocations::Column::FiscalYear)
        .filter(fund_allocations::Column::FiscalYear.is_in(years.clone()))
        .into_tuple()
        .all(conn)
        .await?;
    let fund_paid: HashMap<i32, i64> = fund_years::Entity::find()
        .select_only()
        .column(fund_years::Column::FiscalYear)
        .column(fund_years::Column::Paid)
        .filter(fund_years::Column::FiscalYear.is_in(years))
        .into_tuple::<(i32, i64)>()
        .all(conn)
        .await?
        .into_iter()
        .collect();
    for (account, year) in funds {
        if let Some(paid) = fund_paid.get(&year) {
            let entry = spent.entry((account, year)).or_default();
            entry.0 += Cents(*paid);
            entry.1 += Cents(*paid);
        }
    }
    Ok(appropriations
        .iter()
        .map(|appropriation| {
            spent
                .get(&(
                    appropriation.account_code.clone(),
                    appropriation.fiscal_year,
                ))
                .copied()
                .unwrap_or_default()
        })
        .collect())
}
