//! `tipgrants.v1.OrganizationService`.

use tonic::{Request, Response, Status};

use super::enums::*;
use super::paging;
use super::{
    Idempotency, call_context, etag, filter_code, mask_paths, parse_etag, parse_name, timestamp,
    with_request_id,
};
use crate::domain::organization::{self, Organization, OrganizationInput, OrganizationKind};
use crate::error::{Error, Result};
use crate::pb::v1 as pb;
use crate::pb::v1::organization_service_server::OrganizationService;
use crate::store::Store;
use crate::store::organizations::OrganizationFilter;

/// Serves organisations.
pub struct OrganizationApi {
    store: Store,
}

impl OrganizationApi {
    pub fn new(store: Store) -> Self {
        Self { store }
    }
}

const UPDATABLE: &[&str] = &["display_name", "kind", "country_code", "identifiers"];

/// The proto form of an organisation.
pub fn to_proto(organization: &Organization) -> pb::Organization {
    pb::Organization {
        name: organization.resource_name(),
        display_name: organization.fields.display_name.clone(),
        kind: organization_kind_to_proto(organization.fields.kind),
        country_code: organization.fields.country_code.clone(),
        identifiers: organization
            .fields
            .identifiers
            .iter()
            .map(|identifier| pb::OrganizationIdentifier {
                scheme: identifier.scheme.clone(),
                value: identifier.value.clone(),
            })
            .collect(),
        create_time: Some(timestamp(organization.create_time)),
        update_time: Some(timestamp(organization.update_time)),
        delete_time: organization.delete_time.map(timestamp),
        etag: etag(organization.revision),
    }
}

fn input(organization: &pb::Organization) -> OrganizationInput<'_> {
    OrganizationInput {
        display_name: &organization.display_name,
        kind: organization_kind_from_proto(organization.kind),
        country_code: &organization.country_code,
        identifiers: organization
            .identifiers
            .iter()
            .map(|identifier| (identifier.scheme.as_str(), identifier.value.as_str()))
            .collect(),
    }
}

fn parse_filter(filter: &str) -> Result<OrganizationFilter> {
    let mut parsed = OrganizationFilter::default();
    for (field, value) in paging::parse_filter(filter, &["kind", "country_code"])? {
        match field.as_str() {
            "kind" => {
                parsed.kind = Some(filter_code(
                    &value,
                    "ORGANIZATION_KIND_",
                    OrganizationKind::from_code,
                    "kind: NGO, INTERNATIONAL_ORGANIZATION, UNIVERSITY, GOVERNMENT or PRIVATE_FIRM",
                )?)
            }
            _ => parsed.country_code = Some(value.to_ascii_uppercase()),
        }
    }
    Ok(parsed)
}

#[tonic::async_trait]
impl OrganizationService for OrganizationApi {
    async fn get_organization(
        &self,
        request: Request<pb::GetOrganizationRequest>,
    ) -> Result<Response<pb::Organization>, Status> {
        let call = call_context(&request)?;
        let id = parse_name("name", &request.get_ref().name, "organizations")?;
        let organization = self.store.get_organization(&call.actor.scope(), id).await?;
        Ok(Response::new(to_proto(&organization)))
    }

    async fn list_organizations(
        &self,
        request: Request<pb::ListOrganizationsRequest>,
    ) -> Result<Response<pb::ListOrganizationsResponse>, Status> {
        let call = call_context(&request)?;
        let request = request.get_ref();
        let mut filter = parse_filter(&request.filter)?;
        filter.show_deleted = request.show_deleted;
        let query = format!("{}|{}", request.filter, request.show_deleted);
        let after = paging::decode_token(&request.page_token, &query)?;
        let size = paging::page_size(request.page_size)?;
        let page = self
            .store
            .list_organizations(&call.actor.scope(), &filter, after, size)
            .await?;
        Ok(Response::new(pb::ListOrganizationsResponse {
            organizations: page.items.iter().map(to_proto).collect(),
            next_page_token: paging::encode_token(page.next_after, &query),
        }))
    }

    async fn create_organization(
        &self,
        request: Request<pb::CreateOrganizationRequest>,
    ) -> Result<Response<pb::Organization>, Status> {
        let call = call_context(&request)?;
        let request = request.into_inner();
        let idempotency = Idempotency::of(&request.request_id, &request)?;
        let organization = request
            .organization
            .as_ref()
            .ok_or_else(|| Error::invalid("organization", "is required"))?;
        let fields = input(organization).validate("organization")?;

        let call = with_request_id(call, &request.request_id);
        let answer = Idempotency::write(&idempotency, &self.store, &call, async |tx| {
            Ok(to_proto(&tx.create_organization(fields).await?))
        })
        .await?;
        Ok(Response::new(answer))
    }

    async fn update_organization(
        &self,
        request: Request<pb::UpdateOrganizationRequest>,
    ) -> Result<Response<pb::Organization>, Status> {
        let call = call_context(&request)?;
        let request = request.into_inner();
        let changes = request
            .organization
            .ok_or_else(|| Error::invalid("organization", "is required"))?;
        let id = parse_name("organization.name", &changes.name, "organizations")?;
        let expected = parse_etag("organization.etag", &changes.etag)?;
        let paths = mask_paths(request.update_mask.as_ref(), UPDATABLE)?;

        let mut tx = self.store.begin(&call).await?;
        let current = tx
            .organization_for_update(&call.actor.scope(), id, expected)
            .await?;
        let mut merged = to_proto(&current);
        for path in &paths {
            match path.as_str() {
                "display_name" => merged.display_name = changes.display_name.clone(),
                "kind" => merged.kind = changes.kind,
                "country_code" => merged.country_code = changes.country_code.clone(),
                _ => merged.identifiers = changes.identifiers.clone(),
            }
        }
        let fields = input(&merged).validate("organization")?;
        let updated = tx.update_organization(current, fields).await?;
        tx.commit().await?;
        Ok(Response::new(to_proto(&updated)))
    }

    async fn delete_organization(
        &self,
        request: Request<pb::DeleteOrganizationRequest>,
    ) -> Result<Response<pb::Organization>, Status> {
        let call = call_context(&request)?;
        let request = request.get_ref();
        let id = parse_name("name", &request.name, "organizations")?;
        let expected = parse_etag("etag", &request.etag)?;
        let mut tx = self.store.begin(&call).await?;
        let current = tx
            .organization_for_update(&call.actor.scope(), id, expected)
            .await?;
        let open_grants = tx.open_grants_of(&current.id).await?;
        organization::check_deletable(&current, open_grants)?;
        let deleted = tx.delete_organization(current).await?;
        tx.commit().await?;
        Ok(Response::new(to_proto(&deleted)))
    }
}
