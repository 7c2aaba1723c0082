//! `tipgrants.v1.OrganizationService`.

use tonic::{Request, Response, Status};

use super::paging;
use super::{
    ProtoEnum, accept_delete, accept_list, accept_name, accept_update, accept_write, etag,
    filter_code, required, timestamp,
};
use crate::domain::names::OrganizationName;
use crate::domain::organization::{self, Organization, OrganizationInput, OrganizationKind};
use crate::domain::reference;
use crate::error::Result;
use crate::pb::v1 as pb;
use crate::pb::v1::organization_service_server::OrganizationService;
use crate::store::Store;
use crate::store::Tx;
use crate::store::organizations::OrganizationFilter;

/// Serves organisations.
pub struct OrganizationApi {
    store: Store,
    /// Forgets the tokens of a deleted organisation at once.
    authenticator: std::sync::Arc<super::auth::Authenticator>,
}

impl OrganizationApi {
    pub fn new(store: Store, authenticator: std::sync::Arc<super::auth::Authenticator>) -> Self {
        Self {
            store,
            authenticator,
        }
    }
}

code_enum! {
    /// The fields of an organisation an update may change (the paths of its mask).
    pub enum OrganizationField {
        DisplayName => "display_name",
        Kind => "kind",
        CountryCode => "country_code",
        Identifiers => "identifiers",
    }
}

code_enum! {
    /// The fields a filter of organisations may name.
    pub enum OrganizationFilterField {
        Kind => "kind",
        CountryCode => "country_code",
    }
}

named_requests!(
    pb::GetOrganizationRequest;
    with etag: pb::DeleteOrganizationRequest
);
write_requests!(pb::CreateOrganizationRequest,);
list_requests!(pb::ListOrganizationsRequest,);
list_responses!(
    pb::ListOrganizationsResponse => organizations: pb::Organization,
);
update_requests!(pb::UpdateOrganizationRequest => organization: pb::Organization [OrganizationName, OrganizationField]);

/// Checks what the store knows about an organisation's references: its country exists.
async fn check_references(tx: &Tx, country_code: &str) -> Result<()> {
    let unknown = tx.unknown_countries(&[country_code.to_string()]).await?;
    Ok(reference::check_known_country(
        "organization.country_code",
        country_code,
        &unknown,
    )?)
}

/// The proto form of an organisation.
pub fn to_proto(organization: &Organization) -> pb::Organization {
    pb::Organization {
        name: organization.resource_name(),
        display_name: organization.fields.display_name.clone(),
        kind: organization.fields.kind.to_proto(),
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
        create_time: Some(timestamp(organization.stamps.create_time)),
        update_time: Some(timestamp(organization.stamps.update_time)),
        delete_time: organization.delete_time.map(timestamp),
        etag: etag(organization.stamps.revision),
    }
}

fn input(organization: &pb::Organization) -> OrganizationInput<'_> {
    OrganizationInput {
        display_name: &organization.display_name,
        kind: OrganizationKind::from_proto(organization.kind),
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
    for (field, value) in paging::parse_filter::<OrganizationFilterField>(filter)? {
        match field {
            OrganizationFilterField::Kind => {
                parsed.kind = Some(filter_code::<OrganizationKind>(
                    &value,
                    "kind: NGO, INTERNATIONAL_ORGANIZATION, UNIVERSITY, GOVERNMENT or PRIVATE_FIRM",
                )?)
            }
            OrganizationFilterField::CountryCode => {
                parsed.country_code = Some(value.to_ascii_uppercase())
            }
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
        let (call, name) = accept_name::<_, OrganizationName>(request)?;
        let organization = self
            .store
            .get_organization(&call.actor.scope(), &name)
            .await?;
        Ok(Response::new(to_proto(&organization)))
    }

    async fn list_organizations(
        &self,
        request: Request<pb::ListOrganizationsRequest>,
    ) -> Result<Response<pb::ListOrganizationsResponse>, Status> {
        let (call, request, page) = accept_list(request)?;
        let mut filter = parse_filter(&request.filter)?;
        filter.show_deleted = request.show_deleted;
        let found = self
            .store
            .list_organizations(&call.actor.scope(), &filter, &page.keyset)
            .await?;
        Ok(page.respond(found, to_proto))
    }

    async fn create_organization(
        &self,
        request: Request<pb::CreateOrganizationRequest>,
    ) -> Result<Response<pb::Organization>, Status> {
        let (_, write, request) = accept_write(request)?;
        let organization = required("organization", &request.organization)?;
        let fields = input(organization).validate("organization")?;

        let answer = write
            .run(&self.store, async |tx| {
                check_references(tx, &fields.country_code).await?;
                Ok(to_proto(&tx.create_organization(fields).await?))
            })
            .await?;
        Ok(Response::new(answer))
    }

    async fn update_organization(
        &self,
        request: Request<pb::UpdateOrganizationRequest>,
    ) -> Result<Response<pb::Organization>, Status> {
        let update = accept_update(request)?;

        let mut tx = self.store.begin(&update.call).await?;
        let current = tx
            .organization_for_update(&update.call.actor.scope(), &update.name, update.expected)
            .await?;
        let mut merged = to_proto(&current);
        for field in update.fields {
            match field {
                OrganizationField::DisplayName => {
                    merged.display_name = update.changes.display_name.clone()
                }
                OrganizationField::Kind => merged.kind = update.changes.kind,
                OrganizationField::CountryCode => {
                    merged.country_code = update.changes.country_code.clone()
                }
                OrganizationField::Identifiers => {
                    merged.identifiers = update.changes.identifiers.clone()
                }
            }
        }
        let fields = input(&merged).validate("organization")?;
        if fields.country_code != current.fields.country_code {
            check_references(&tx, &fields.country_code).await?;
        }
        let updated = tx.update_organization(current, fields).await?;
        tx.commit().await?;
        Ok(Response::new(to_proto(&updated)))
    }

    async fn delete_organization(
        &self,
        request: Request<pb::DeleteOrganizationRequest>,
    ) -> Result<Response<pb::Organization>, Status> {
        let (call, name, expected) = accept_delete::<_, OrganizationName>(request)?;
        let mut tx = self.store.begin(&call).await?;
        let current = tx
            .organization_for_update(&call.actor.scope(), &name, expected)
            .await?;
        let open_grants = tx.open_grants_of(&current.id).await?;
        organization::check_deletable(&current, open_grants)?;
        let deleted = tx.delete_organization(current).await?;
        // Its grantee tokens die with it, in the same transaction, each revocation audited.
        let revoked = tx.revoke_tokens_of_organization(&deleted.id).await?;
        tx.commit().await?;
        for secret_hash in revoked {
            self.authenticator.forget(&secret_hash).await;
        }
        Ok(Response::new(to_proto(&deleted)))
    }
}
