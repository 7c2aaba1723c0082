//! `tipgrants.v1.AccessService`: API tokens.

use std::sync::Arc;

use chrono::Utc;
use tonic::{Request, Response, Status};

use super::auth::Authenticator;
use super::paging;
use super::{
    ProtoEnum, accept_list, accept_name, accept_write, filter_code, from_timestamp, required,
    timestamp,
};
use crate::domain::access::{ApiToken, Role, TokenInput};
use crate::domain::names::{ApiTokenName, OrganizationName, ResourceName};
use crate::error::Result;
use crate::pb::v1 as pb;
use crate::pb::v1::access_service_server::AccessService;
use crate::store::Store;
use crate::store::tokens::TokenFilter;

code_enum! {
    /// The fields a filter of API tokens may name.
    pub enum TokenFilterField {
        Role => "role",
        Organization => "organization",
        Owner => "owner",
    }
}

named_requests!(pb::GetApiTokenRequest,);
write_requests!(pb::CreateApiTokenRequest, pb::RevokeApiTokenRequest,);
list_requests!(pb::ListApiTokensRequest,);
list_responses!(
    pb::ListApiTokensResponse => api_tokens: pb::ApiToken,
);

/// Serves API tokens.
pub struct AccessApi {
    store: Store,
    authenticator: Arc<Authenticator>,
}

impl AccessApi {
    pub fn new(store: Store, authenticator: Arc<Authenticator>) -> Self {
        Self {
            store,
            authenticator,
        }
    }
}

fn to_proto(token: &ApiToken) -> pb::ApiToken {
    pb::ApiToken {
        name: token.resource_name(),
        display_name: token.display_name.clone(),
        owner: token.owner.clone(),
        role: token.role.to_proto(),
        organization: token
            .organization_id
            .as_ref()
            .map(|id| OrganizationName::new(id).to_string())
            .unwrap_or_default(),
        expire_time: Some(timestamp(token.expire_time)),
        revoke_time: token.revoke_time.map(timestamp),
        create_time: Some(timestamp(token.create_time)),
        secret_prefix: token.secret_prefix.clone(),
    }
}

fn parse_filter(filter: &str) -> Result<TokenFilter> {
    let mut parsed = TokenFilter::default();
    for (field, value) in paging::parse_filter::<TokenFilterField>(filter)? {
        match field {
            TokenFilterField::Role => {
                parsed.role = Some(filter_code::<Role>(
                    &value,
                    "role: ADMIN, PROGRAM_OFFICER, CASE_WORKER, AUDITOR or GRANTEE",
                )?)
            }
            TokenFilterField::Organization => {
                parsed.organization_id =
                    Some(OrganizationName::parse("filter", &value)?.organization)
            }
            TokenFilterField::Owner => parsed.owner = Some(value),
        }
    }
    Ok(parsed)
}

#[tonic::async_trait]
impl AccessService for AccessApi {
    async fn create_api_token(
        &self,
        request: Request<pb::CreateApiTokenRequest>,
    ) -> Result<Response<pb::CreateApiTokenResponse>, Status> {
        let (_, write, request) = accept_write(request)?;
        let token = required("api_token", &request.api_token)?;
        let expire_time = token
            .expire_time
            .as_ref()
            .map(|time| from_timestamp("api_token.expire_time", time))
            .transpose()?;
        let new = TokenInput {
            display_name: &token.display_name,
            owner: &token.owner,
            role: Role::from_proto(token.role),
            organization: &token.organization,
            expire_time,
        }
        .validate("api_token", Utc::now())?;

        // The secret exists only in the first answer: the remembered replay carries the token without it.
        let mut secret = String::new();
        let replay = write
            .run(&self.store, async |tx| {
                if let Some(organization) = &new.organization_id {
                    tx.organization_presence(organization).await?.require_live(
                        "api_token.organization",
                        &OrganizationName::new(organization),
                    )?;
                }
                let (created, new_secret) = tx.create_token(new, None).await?;
                secret = new_secret;
                Ok(pb::CreateApiTokenResponse {
                    api_token: Some(to_proto(&created)),
                    secret: String::new(),
                })
            })
            .await?;
        Ok(Response::new(pb::CreateApiTokenResponse {
            secret,
            ..replay
        }))
    }

    async fn get_api_token(
        &self,
        request: Request<pb::GetApiTokenRequest>,
    ) -> Result<Response<pb::ApiToken>, Status> {
        let (_, name) = accept_name::<_, ApiTokenName>(request)?;
        Ok(Response::new(to_proto(&self.store.get_token(&name).await?)))
    }

    async fn list_api_tokens(
        &self,
        request: Request<pb::ListApiTokensRequest>,
    ) -> Result<Response<pb::ListApiTokensResponse>, Status> {
        let (_, request, page) = accept_list(request)?;
        let mut filter = parse_filter(&request.filter)?;
        filter.show_inactive = request.show_inactive;
        let found = self.store.list_tokens(&filter, &page.keyset).await?;
        Ok(page.respond(found, to_proto))
    }

    async fn revoke_api_token(
        &self,
        request: Request<pb::RevokeApiTokenRequest>,
    ) -> Result<Response<pb::ApiToken>, Status> {
        let (_, write, request) = accept_write(request)?;
        let name = ApiTokenName::parse("name", &request.name)?;
        // Once committed, this replica forgets the token at once (others within the cache lifetime).
        let mut revoked_hash = None;
        let answer = write
            .run(&self.store, async |tx| {
                let token = tx.get_token_in(&name).await?;
                let other_admins = tx.other_live_admin_tokens(&token.id).await?;
                token.check_not_last_admin(other_admins)?;
                let (revoked, secret_hash) = tx.revoke_token(&name.token).await?;
                revoked_hash = Some(secret_hash);
                Ok(to_proto(&revoked))
            })
            .await?;
        if let Some(secret_hash) = revoked_hash {
            self.authenticator.forget(&secret_hash).await;
        }
        Ok(Response::new(answer))
    }
}
