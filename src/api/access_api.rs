//! `tipgrants.v1.AccessService`: API tokens.

use std::sync::Arc;

use chrono::Utc;
use tonic::{Request, Response, Status};

use super::auth::Authenticator;
use super::enums::*;
use super::paging;
use super::{Idempotency, call_context, from_timestamp, parse_name, timestamp, with_request_id};
use crate::domain::access::{ApiToken, Role, TokenInput};
use crate::error::{Error, Result};
use crate::pb::v1 as pb;
use crate::pb::v1::access_service_server::AccessService;
use crate::store::Store;
use crate::store::tokens::TokenFilter;

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
        role: role_to_proto(token.role),
        organization: token
            .organization_id
            .as_ref()
            .map(|id| format!("organizations/{id}"))
            .unwrap_or_default(),
        expire_time: Some(timestamp(token.expire_time)),
        revoke_time: token.revoke_time.map(timestamp),
        create_time: Some(timestamp(token.create_time)),
        secret_prefix: token.secret_prefix.clone(),
    }
}

fn parse_filter(filter: &str) -> Result<TokenFilter> {
    let mut parsed = TokenFilter::default();
    for (field, value) in paging::parse_filter(filter, &["role", "organization", "owner"])? {
        match field.as_str() {
            "role" => {
                parsed.role = Some(Role::from_code(value.trim_start_matches("ROLE_")).ok_or_else(|| {
                    Error::invalid("filter", format!("role {value:?} is not ADMIN, PROGRAM_OFFICER, CASE_WORKER, AUDITOR or GRANTEE"))
                })?)
            }
            "organization" => parsed.organization_id = Some(parse_name("filter", &value, "organizations")?.to_string()),
            _ => parsed.owner = Some(value),
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
        let call = call_context(&request)?;
        let request = request.into_inner();
        let idempotency = Idempotency::of(&request.request_id, &request)?;
        let token = request
            .api_token
            .as_ref()
            .ok_or_else(|| Error::invalid("api_token", "is required"))?;
        let expire_time = token
            .expire_time
            .as_ref()
            .map(|time| from_timestamp("api_token.expire_time", time))
            .transpose()?;
        let organization_id = if token.organization.is_empty() {
            Ok(None)
        } else {
            parse_name(
                "api_token.organization",
                &token.organization,
                "organizations",
            )
            .map(|id| Some(id.to_string()))
            .map_err(|error| error.to_string())
        };
        let new = TokenInput {
            display_name: &token.display_name,
            owner: &token.owner,
            role: role_from_proto(token.role),
            organization_id,
            expire_time,
        }
        .validate("api_token", Utc::now())?;

        // The secret exists only in the first answer: the remembered replay carries the token without it.
        let mut secret = String::new();
        let call = with_request_id(call, &request.request_id);
        let replay = Idempotency::write(&idempotency, &self.store, &call, async |tx| {
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
        call_context(&request)?;
        let id = parse_name("name", &request.get_ref().name, "apiTokens")?;
        Ok(Response::new(to_proto(&self.store.get_token(id).await?)))
    }

    async fn list_api_tokens(
        &self,
        request: Request<pb::ListApiTokensRequest>,
    ) -> Result<Response<pb::ListApiTokensResponse>, Status> {
        call_context(&request)?;
        let request = request.get_ref();
        let mut filter = parse_filter(&request.filter)?;
        filter.show_inactive = request.show_inactive;
        let query = format!("{}|{}", request.filter, request.show_inactive);
        let after = paging::decode_token(&request.page_token, &query)?;
        let size = paging::page_size(request.page_size)?;
        let page = self.store.list_tokens(&filter, after, size).await?;
        Ok(Response::new(pb::ListApiTokensResponse {
            api_tokens: page.items.iter().map(to_proto).collect(),
            next_page_token: paging::encode_token(page.next_after, &query),
        }))
    }

    async fn revoke_api_token(
        &self,
        request: Request<pb::RevokeApiTokenRequest>,
    ) -> Result<Response<pb::ApiToken>, Status> {
        let call = call_context(&request)?;
        let request = request.into_inner();
        let idempotency = Idempotency::of(&request.request_id, &request)?;
        let id = parse_name("name", &request.name, "apiTokens")?;
        // Once committed, this replica forgets the token at once (others within the cache lifetime).
        let mut revoked_hash = None;
        let call = with_request_id(call, &request.request_id);
        let answer = Idempotency::write(&idempotency, &self.store, &call, async |tx| {
            let (revoked, secret_hash) = tx.revoke_token(id).await?;
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
