//! `tipgrants.v1.ReferenceDataService`: funding accounts, countries, regions.

use tonic::{Request, Response, Status};

use super::paging;
use super::{
    accept_delete, accept_list, accept_name, accept_update, accept_write, call_context, etag,
    required, timestamp,
};
use crate::domain::names::{CountryName, FundingAccountName, RegionName};
use crate::domain::reference::{self, Country, FundingAccount, Region};
use crate::error::Result;
use crate::pb::v1 as pb;
use crate::pb::v1::reference_data_service_server::ReferenceDataService;
use crate::store::Store;

/// Serves reference data.
pub struct ReferenceDataApi {
    store: Store,
}

impl ReferenceDataApi {
    pub fn new(store: Store) -> Self {
        Self { store }
    }
}

/// The proto form of a funding account.
pub fn account_to_proto(account: &FundingAccount) -> pb::FundingAccount {
    pb::FundingAccount {
        name: account.resource_name(),
        code: account.code.clone(),
        display_name: account.fields.display_name.clone(),
        description: account.fields.description.clone(),
        create_time: Some(timestamp(account.stamps.create_time)),
        update_time: Some(timestamp(account.stamps.update_time)),
        delete_time: account.delete_time.map(timestamp),
        etag: etag(account.stamps.revision),
    }
}

fn country_to_proto(country: &Country) -> pb::Country {
    pb::Country {
        name: CountryName::new(&country.alpha2).to_string(),
        alpha2_code: country.alpha2.clone(),
        alpha3_code: country.alpha3.clone(),
        numeric_code: country.numeric.clone(),
        display_name: country.display_name.clone(),
        region: RegionName::new(&country.region_code).to_string(),
    }
}

fn region_to_proto(region: &Region) -> pb::Region {
    pb::Region {
        name: RegionName::new(&region.code).to_string(),
        code: region.code.clone(),
        display_name: region.display_name.clone(),
    }
}

code_enum! {
    /// The fields of a funding account an update may change (the paths of its mask).
    pub enum FundingAccountField {
        DisplayName => "display_name",
        Description => "description",
    }
}

code_enum! {
    /// The fields a filter of countries may name.
    pub enum CountryFilterField {
        Region => "region",
    }
}

named_requests!(
    pb::GetFundingAccountRequest,
    pb::GetCountryRequest,
    pb::GetRegionRequest;
    with etag: pb::DeleteFundingAccountRequest
);
write_requests!(pb::CreateFundingAccountRequest,);
list_requests!(
    pb::ListCountriesRequest;
    without filter: pb::ListFundingAccountsRequest
);
list_responses!(
    pb::ListFundingAccountsResponse => funding_accounts: pb::FundingAccount,
    pb::ListCountriesResponse => countries: pb::Country,
);
update_requests!(pb::UpdateFundingAccountRequest => funding_account: pb::FundingAccount [FundingAccountName, FundingAccountField]);

#[tonic::async_trait]
impl ReferenceDataService for ReferenceDataApi {
    async fn get_funding_account(
        &self,
        request: Request<pb::GetFundingAccountRequest>,
    ) -> Result<Response<pb::FundingAccount>, Status> {
        let (_, name) = accept_name::<_, FundingAccountName>(request)?;
        let account = self.store.get_funding_account(&name).await?;
        Ok(Response::new(account_to_proto(&account)))
    }

    async fn list_funding_accounts(
        &self,
        request: Request<pb::ListFundingAccountsRequest>,
    ) -> Result<Response<pb::ListFundingAccountsResponse>, Status> {
        let (_, request, page) = accept_list(request)?;
        let found = self
            .store
            .list_funding_accounts(request.show_deleted, &page.keyset)
            .await?;
        Ok(page.respond(found, account_to_proto))
    }

    async fn create_funding_account(
        &self,
        request: Request<pb::CreateFundingAccountRequest>,
    ) -> Result<Response<pb::FundingAccount>, Status> {
        let (_, write, request) = accept_write(request)?;
        let account = required("funding_account", &request.funding_account)?;
        let (code, fields) = reference::new_funding_account(
            &request.funding_account_id,
            &account.display_name,
            &account.description,
        )?;

        let answer = write
            .run(&self.store, async |tx| {
                let created = tx.create_funding_account(&code, fields).await?;
                Ok(account_to_proto(&created))
            })
            .await?;
        Ok(Response::new(answer))
    }

    async fn update_funding_account(
        &self,
        request: Request<pb::UpdateFundingAccountRequest>,
    ) -> Result<Response<pb::FundingAccount>, Status> {
        let update = accept_update(request)?;

        let mut tx = self.store.begin(&update.call).await?;
        let current = tx
            .funding_account_for_update(&update.name, update.expected)
            .await?;
        let mut merged = current.fields.clone();
        for field in update.fields {
            match field {
                FundingAccountField::DisplayName => {
                    merged.display_name = update.changes.display_name.clone()
                }
                FundingAccountField::Description => {
                    merged.description = update.changes.description.clone()
                }
            }
        }
        let fields = reference::funding_account_fields(
            "funding_account",
            &merged.display_name,
            &merged.description,
        )?;
        let updated = tx.save_funding_account(current, fields, false).await?;
        tx.commit().await?;
        Ok(Response::new(account_to_proto(&updated)))
    }

    async fn delete_funding_account(
        &self,
        request: Request<pb::DeleteFundingAccountRequest>,
    ) -> Result<Response<pb::FundingAccount>, Status> {
        let (call, name, expected) = accept_delete::<_, FundingAccountName>(request)?;
        let mut tx = self.store.begin(&call).await?;
        let current = tx.funding_account_for_update(&name, expected).await?;
        let fields = current.fields.clone();
        let deleted = tx.save_funding_account(current, fields, true).await?;
        tx.commit().await?;
        Ok(Response::new(account_to_proto(&deleted)))
    }

    async fn get_country(
        &self,
        request: Request<pb::GetCountryRequest>,
    ) -> Result<Response<pb::Country>, Status> {
        let (_, name) = accept_name::<_, CountryName>(request)?;
        let country = self.store.get_country(&name).await?;
        Ok(Response::new(country_to_proto(&country)))
    }

    async fn list_countries(
        &self,
        request: Request<pb::ListCountriesRequest>,
    ) -> Result<Response<pb::ListCountriesResponse>, Status> {
        let (_, request, page) = accept_list(request)?;
        let region = paging::parse_filter::<CountryFilterField>(&request.filter)?
            .into_iter()
            .next()
            .map(|(CountryFilterField::Region, value)| paging::region_filter(&value));
        let found = self
            .store
            .list_countries(region.as_deref(), &page.keyset)
            .await?;
        Ok(page.respond(found, country_to_proto))
    }

    async fn get_region(
        &self,
        request: Request<pb::GetRegionRequest>,
    ) -> Result<Response<pb::Region>, Status> {
        let (_, name) = accept_name::<_, RegionName>(request)?;
        let region = self.store.get_region(&name).await?;
        Ok(Response::new(region_to_proto(&region)))
    }

    async fn list_regions(
        &self,
        request: Request<pb::ListRegionsRequest>,
    ) -> Result<Response<pb::ListRegionsResponse>, Status> {
        call_context(&request)?;
        let regions = self.store.list_regions().await?;
        Ok(Response::new(pb::ListRegionsResponse {
            regions: regions.iter().map(region_to_proto).collect(),
        }))
    }
}
