//! Appropriations and what is drawn on them. An obligation that draws on an
//! appropriation locks its row until commit, so two grants obligating the
//! same account's money at once never take more than was appropriated.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::{Set, Unchanged},
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect,
};

use super::assistance::allocation_day;
use super::entities::{appropriations, fund_allocations, obligations};
use super::spending::spent_on;
use super::{Keyset, Page, Stamped, Store, Tx, now};
use crate::domain::funds::{Appropriation, AppropriationFields, AppropriationFilter, Drawn};
use crate::domain::grant::ObligationKind;
use crate::domain::money::Cents;
use crate::domain::names::AppropriationName;
use crate::domain::version::{self, Stamps};
use crate::error::{Error, Result};

/// The key of an appropriation's row: `{account}/{fiscal_year}`, in listing order.
fn row_id(account_code: &str, fiscal_year: i32) -> String {
    format!("{account_code}/{fiscal_year:04}")
}

fn to_domain(row: appropriations::Model) -> Appropriation {
    Appropriation {
        stamps: row.stamps(),
        account_code: row.account_code,
        fiscal_year: row.fiscal_year,
        fields: AppropriationFields {
            amount: Cents(row.amount_cents),
            availability_years: row.availability_years,
            note: row.note,
        },
    }
}

/// An allocation as `drawn_on` reads it: account, fiscal year, signed cents, its day (if
/// recorded) and when it was recorded.
type AllocationRow = (String, i32, i64, Option<NaiveDate>, DateTime<Utc>);

/// What was drawn on each of `appropriations`: three queries (awards and increments summed by
/// the database; de-obligations, which are few, one by one; the emergency fund's allocations,
/// a few a year, one by one: positive ones draw like awards, reductions give back like
/// de-obligations), whatever their number.
async fn drawn_on(
    conn: &impl ConnectionTrait,
    appropriations: &[Appropriation],
) -> Result<Vec<Drawn>> {
    if appropriations.is_empty() {
        return Ok(Vec::new());
    }
    let mut of = Condition::any();
    for appropriation in appropriations {
        of = of.add(
            Condition::all()
                .add(obligations::Column::AccountCode.eq(appropriation.account_code.as_str()))
                .add(obligations::Column::FiscalYear.eq(appropriation.fiscal_year)),
        );
    }
    let deobligation = ObligationKind::Deobligation.code();
    let obligated: Vec<(String, i32, i64)> = obligations::Entity::find()
        .select_only()
        .column(obligations::Column::AccountCode)
        .column(obligations::Column::FiscalYear)
        .column_as(Expr::cust("CAST(SUM(amount_cents) AS BIGINT)"), "obligated")
        .filter(of.clone())
        .filter(obligations::Column::Kind.ne(deobligation))
        .group_by(obligations::Column::AccountCode)
        .group_by(obligations::Column::FiscalYear)
        .into_tuple()
        .all(conn)
        .await?;
    let deobligations: Vec<(String, i32, NaiveDate, i64)> = obligations::Entity::find()
        .select_only()
        .column(obligations::Column::AccountCode)
        .column(obligations::Column::FiscalYear)
        .column(obligations::Column::ObligationDate)
        .column(obligations::Column::AmountCents)
        .filter(of)
        .filter(obligations::Column::Kind.eq(deobligation))
        .into_tuple()
        .all(conn)
        .await?;
    let mut allocated_to = Condition::any();
    for appropriation in appropriations {
        allocated_to = allocated_to.add(
            Condition::all()
                .add(fund_allocations::Column::AccountCode.eq(appropriation.account_code.as_str()))
                .add(fund_allocations::Column::FiscalYear.eq(appropriation.fiscal_year)),
        );
    }
    let allocations: Vec<AllocationRow> = fund_allocations::Entity::find()
        .select_only()
        .column(fund_allocations::Column::AccountCode)
        .column(fund_allocations::Column::FiscalYear)
        .column(fund_allocations::Column::Amount)
        .column(fund_allocations::Column::AllocationDate)
        .column(fund_allocations::Column::CreateTime)
        .filter(allocated_to)
        .into_tuple()
        .all(conn)
        .await?;
    let mut drawn: HashMap<(String, i32), Drawn> = HashMap::new();
    for (account, year, amount, date, create_time) in allocations {
        let entry = drawn.entry((account, year)).or_default();
        if amount >= 0 {
            entry.obligated += Cents(amount);
        } else {
            let day = allocation_day(date, create_time);
            entry
                .deobligations
                .push((day, Cents(amount.saturating_abs())));
        }
    }
    for (account, year, amount) in obligated {
        drawn.entry((account, year)).or_default().obligated += Cents(amount);
    }
    for (account, year, date, amount) in deobligations {
        drawn
            .entry((account, year))
            .or_default()
            .deobligations
            .push((date, Cents(amount)));
    }
    Ok(appropriations
        .iter()
        .map(|appropriation| {
            drawn
                .remove(&(
                    appropriation.account_code.clone(),
                    appropriation.fiscal_year,
                ))
                .unwrap_or_default()
        })
        .collect())
}

/// `appropriations` with what was drawn on each, and what was expended and paid from each:
/// the funds-status view.
async fn with_spending(
    conn: &impl ConnectionTrait,
    appropriations: Vec<Appropriation>,
) -> Result<Vec<(Appropriation, Drawn)>> {
    let drawn = drawn_on(conn, &appropriations).await?;
    let spent = spent_on(conn, &appropriations).await?;
    Ok(appropriations
        .into_iter()
        .zip(drawn.into_iter().zip(spent))
        .map(|(appropriation, (drawn, (expended, paid)))| {
            (
                appropriation,
                Drawn {
                    expended,
                    paid,
                    ..drawn
                },
            )
        })
        .collect())
}

impl Store {
    /// One appropriation with what is drawn on it, expended and paid.
    pub async fn get_appropriation(
        &self,
        name: &AppropriationName,
    ) -> Result<(Appropriation, Drawn)> {
        let year: i32 = name
            .fiscal_year
            .parse()
            .map_err(|_| Error::not_found(name))?;
        let appropriation = appropriations::Entity::find_by_id(row_id(&name.code, year))
            .one(&self.db)
            .await?
            .map(to_domain)
            .ok_or_else(|| Error::not_found(name))?;
        let mut found = with_spending(&self.db, vec![appropriation]).await?;
        found
            .pop()
            .ok_or_else(|| Error::Internal("an appropriation read went missing".into()))
    }

    /// A page of appropriations by account and fiscal year, with what is drawn on each.
    pub async fn list_appropriations(
        &self,
        filter: &AppropriationFilter,
        page: &Keyset,
    ) -> Result<Page<(Appropriation, Drawn)>> {
        let mut select = appropriations::Entity::find();
        if let Some(account) = &filter.account_code {
            select = select.filter(appropriations::Column::AccountCode.eq(account.as_str()));
        }
        if let Some(year) = filter.fiscal_year {
            select = select.filter(appropriations::Column::FiscalYear.eq(year));
        }
        page.fetch(&self.db, select, appropriations::Column::Id, |row| {
            row.id.clone()
        })
        .await?
        .try_map_all(async |rows| {
            with_spending(&self.db, rows.into_iter().map(to_domain).collect()).await
        })
        .await
    }
}

impl Tx {
    /// The appropriation of `account_code` and `fiscal_year`, locked until commit, with what is
    /// drawn on it; `None` when none is recorded. `etag`, when given, must match.
    pub async fn appropriation_for_update(
        &self,
        account_code: &str,
        fiscal_year: i32,
        etag: Option<i64>,
    ) -> Result<Option<(Appropriation, Drawn)>> {
        self.appropriation(account_code, fiscal_year, etag, true)
            .await
    }

    /// Like [`Tx::appropriation_for_update`] without the lock, for a check that only reads it
    /// (a payment's): payments on many grants never queue behind one account's row.
    pub async fn appropriation_read(
        &self,
        account_code: &str,
        fiscal_year: i32,
    ) -> Result<Option<(Appropriation, Drawn)>> {
        self.appropriation(account_code, fiscal_year, None, false)
            .await
    }

    async fn appropriation(
        &self,
        account_code: &str,
        fiscal_year: i32,
        etag: Option<i64>,
        lock: bool,
    ) -> Result<Option<(Appropriation, Drawn)>> {
        let mut select = appropriations::Entity::find_by_id(row_id(account_code, fiscal_year));
        if lock {
            select = select.lock_exclusive();
        }
        let Some(row) = select.one(&self.txn).await? else {
            return Ok(None);
        };
        let appropriation = to_domain(row);
        version::check_etag(
            &appropriation.resource_name(),
            appropriation.stamps.revision,
            etag,
        )?;
        let drawn = drawn_on(&self.txn, std::slice::from_ref(&appropriation))
            .await?
            .pop()
            .unwrap_or_default();
        Ok(Some((appropriation, drawn)))
    }

    /// Records an appropriation; ALREADY_EXISTS when the account's year has one.
    pub async fn create_appropriation(
        &mut self,
        account_code: &str,
        fiscal_year: i32,
        fields: AppropriationFields,
    ) -> Result<Appropriation> {
        let id = row_id(account_code, fiscal_year);
        if appropriations::Entity::find_by_id(id.as_str())
            .one(&self.txn)
            .await?
            .is_some()
        {
            let name = AppropriationName::new(account_code, fiscal_year.to_string());
            return Err(Error::AlreadyExists {
                resource: name.to_string(),
                message: format!("{name} already exists: change it with UpdateAppropriation"),
            });
        }
        let row = appropriations::ActiveModel {
            id: Set(id),
            account_code: Set(account_code.to_string()),
            fiscal_year: Set(fiscal_year),
            amount_cents: Set(fields.amount.0),
            availability_years: Set(fields.availability_years),
            note: Set(fields.note),
            ..Stamped::created(Stamps::new(now()))
        };
        self.insert_audited(
            row,
            |row| Ok(to_domain(row)),
            |created| (created.resource_name(), &created.fields),
        )
        .await
    }

    /// Replaces the fields of `current` (locked and checked by the domain).
    pub async fn save_appropriation(
        &mut self,
        current: Appropriation,
        fields: AppropriationFields,
    ) -> Result<Appropriation> {
        let row = appropriations::ActiveModel {
            id: Unchanged(row_id(&current.account_code, current.fiscal_year)),
            amount_cents: Set(fields.amount.0),
            availability_years: Set(fields.availability_years),
            note: Set(fields.note),
            ..Stamped::revised(current.stamps.next(now()))
        };
        self.update_audited(
            row,
            &current,
            |row| Ok(to_domain(row)),
            |appropriation| &appropriation.fields,
        )
        .await
    }
}
