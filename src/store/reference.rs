//! Reference data: countries and regions (read-only, shipped with the
//! migrations) and funding accounts (admin-managed).

use sea_orm::{
    ActiveValue::{Set, Unchanged},
    ColumnTrait, EntityTrait, QueryFilter, QueryOrder,
};

use super::entities::{countries, funding_accounts, regions};
use super::{Keyset, Page, SoftDeletable, Stamped, Store, Tx, now};
use crate::domain::names::{CountryName, FundingAccountName, RegionName};
use crate::domain::reference::{Country, FundingAccount, FundingAccountFields, Region};
use crate::domain::version::Presence;
use crate::domain::version::{Stamps, Versioned};
use crate::error::{Error, Result};

fn country(row: countries::Model) -> Country {
    Country {
        alpha2: row.alpha2,
        alpha3: row.alpha3,
        numeric: row.numeric,
        display_name: row.display_name,
        region_code: row.region_code,
    }
}

fn region(row: regions::Model) -> Region {
    Region {
        code: row.code,
        display_name: row.display_name,
    }
}

fn account(row: funding_accounts::Model) -> FundingAccount {
    FundingAccount {
        stamps: row.stamps(),
        code: row.code,
        fields: FundingAccountFields {
            display_name: row.display_name,
            description: row.description,
        },
        delete_time: row.delete_time,
    }
}

impl Store {
    /// One country by alpha-2 code.
    pub async fn get_country(&self, name: &CountryName) -> Result<Country> {
        countries::Entity::find_by_id(&name.country)
            .one(&self.db)
            .await?
            .map(country)
            .ok_or_else(|| Error::not_found(name))
    }

    /// A page of countries by code, optionally of one region.
    pub async fn list_countries(
        &self,
        region_code: Option<&str>,
        page: &Keyset,
    ) -> Result<Page<Country>> {
        let mut select = countries::Entity::find();
        if let Some(region_code) = region_code {
            select = select.filter(countries::Column::RegionCode.eq(region_code));
        }
        Ok(page
            .fetch(&self.db, select, countries::Column::Alpha2, |row| {
                row.alpha2.clone()
            })
            .await?
            .map(country))
    }

    /// One region by code.
    pub async fn get_region(&self, name: &RegionName) -> Result<Region> {
        regions::Entity::find_by_id(&name.region)
            .one(&self.db)
            .await?
            .map(region)
            .ok_or_else(|| Error::not_found(name))
    }

    /// All regions by code (a handful).
    pub async fn list_regions(&self) -> Result<Vec<Region>> {
        let rows = regions::Entity::find()
            .order_by_asc(regions::Column::Code)
            .all(&self.db)
            .await?;
        Ok(rows.into_iter().map(region).collect())
    }

    /// One funding account, deleted or not.
    pub async fn get_funding_account(&self, name: &FundingAccountName) -> Result<FundingAccount> {
        funding_accounts::Entity::find_by_id(&name.code)
            .one(&self.db)
            .await?
            .map(account)
            .ok_or_else(|| Error::not_found(name))
    }

    /// A page of funding accounts by code.
    pub async fn list_funding_accounts(
        &self,
        show_deleted: bool,
        page: &Keyset,
    ) -> Result<Page<FundingAccount>> {
        let mut select = funding_accounts::Entity::find();
        if !show_deleted {
            select = select.filter(funding_accounts::Column::DeleteTime.is_null());
        }
        Ok(page
            .fetch(&self.db, select, funding_accounts::Column::Code, |row| {
                row.code.clone()
            })
            .await?
            .map(account))
    }
}

impl Tx {
    /// Which of `codes` are not ISO 3166-1 country codes.
    pub async fn unknown_countries(&self, codes: &[String]) -> Result<Vec<String>> {
        let known: Vec<String> = countries::Entity::find()
            .filter(countries::Column::Alpha2.is_in(codes.iter().map(String::as_str)))
            .all(&self.txn)
            .await?
            .into_iter()
            .map(|row| row.alpha2)
            .collect();
        Ok(codes
            .iter()
            .filter(|code| !known.contains(code))
            .cloned()
            .collect())
    }

    /// Whether funding account `code` exists and is live.
    pub async fn funding_account_presence(&self, code: &str) -> Result<Presence> {
        let row = funding_accounts::Entity::find_by_id(code)
            .one(&self.txn)
            .await?;
        Ok(Presence::of(row.map(|row| row.delete_time)))
    }

    /// Creates a funding account with a caller-chosen code.
    pub async fn create_funding_account(
        &mut self,
        code: &str,
        fields: FundingAccountFields,
    ) -> Result<FundingAccount> {
        if funding_accounts::Entity::find_by_id(code)
            .one(&self.txn)
            .await?
            .is_some()
        {
            return Err(Error::AlreadyExists {
                resource: FundingAccountName::new(code).to_string(),
                message: format!("{} already exists", FundingAccountName::new(code)),
            });
        }
        let row = funding_accounts::ActiveModel {
            code: Set(code.to_string()),
            display_name: Set(fields.display_name.clone()),
            description: Set(fields.description.clone()),
            ..Stamped::created(Stamps::new(now()))
        };
        self.insert_audited(
            row,
            |row| Ok(account(row)),
            |created| (created.resource_name(), &created.fields),
        )
        .await
    }

    /// Reads a funding account for a change: it must be live, and at `etag` when one is given.
    pub async fn funding_account_for_update(
        &self,
        name: &FundingAccountName,
        etag: Option<i64>,
    ) -> Result<FundingAccount> {
        let current = funding_accounts::Entity::find_by_id(&name.code)
            .one(&self.txn)
            .await?
            .map(account)
            .ok_or_else(|| Error::not_found(name))?;
        current.writable(etag)
    }

    /// Replaces the fields of `current`; `delete` soft-deletes it instead.
    pub async fn save_funding_account(
        &mut self,
        current: FundingAccount,
        fields: FundingAccountFields,
        delete: bool,
    ) -> Result<FundingAccount> {
        let row = funding_accounts::ActiveModel {
            code: Unchanged(current.code.clone()),
            display_name: Set(fields.display_name.clone()),
            description: Set(fields.description.clone()),
            ..SoftDeletable::saved(current.stamps.next(now()), delete)
        };
        self.update_audited(
            row,
            &current,
            |row| Ok(account(row)),
            |account| &account.fields,
        )
        .await
    }
}
