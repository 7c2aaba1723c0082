//! API tokens: found by the hash of their secret, never stored in clear.

use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel,
    PaginatorTrait, QueryFilter, QuerySelect,
};

use super::entities::api_tokens;
use super::{Keyset, Page, Store, Tx, decode_code, new_id, now};
use crate::domain::access::{self, ApiToken, NewToken, Role};
use crate::domain::names::ApiTokenName;
use crate::error::{Error, Result};

/// What to list.
#[derive(Debug, Clone, Default)]
pub struct TokenFilter {
    pub role: Option<Role>,
    pub organization_id: Option<String>,
    pub owner: Option<String>,
    pub show_inactive: bool,
}

fn to_domain(row: api_tokens::Model) -> Result<ApiToken> {
    let role: Role = decode_code("api_tokens.role", &row.id, &row.role)?;
    Ok(ApiToken {
        id: row.id,
        display_name: row.display_name,
        owner: row.owner,
        role,
        organization_id: row.organization_id,
        expire_time: row.expire_time,
        revoke_time: row.revoke_time,
        create_time: row.create_time,
        secret_prefix: row.secret_prefix,
    })
}

/// One token by id; NOT_FOUND when there is none.
async fn find(conn: &impl ConnectionTrait, id: &str) -> Result<ApiToken> {
    api_tokens::Entity::find_by_id(id)
        .one(conn)
        .await?
        .ok_or_else(|| Error::not_found(ApiTokenName::new(id)))
        .and_then(to_domain)
}

impl Store {
    /// The token whose secret hashes to `secret_hash`, active or not.
    pub async fn find_token_by_secret_hash(&self, secret_hash: &str) -> Result<Option<ApiToken>> {
        api_tokens::Entity::find()
            .filter(api_tokens::Column::SecretHash.eq(secret_hash))
            .one(&self.db)
            .await?
            .map(to_domain)
            .transpose()
    }

    /// How many tokens exist (bootstrap runs when none does).
    pub async fn count_tokens(&self) -> Result<u64> {
        Ok(api_tokens::Entity::find().count(&self.db).await?)
    }

    /// One token.
    pub async fn get_token(&self, name: &ApiTokenName) -> Result<ApiToken> {
        find(&self.db, &name.token).await
    }

    /// The stored secret hash of a token (tests check that no clear secret is kept).
    pub async fn token_secret_hash(&self, id: &str) -> Result<String> {
        api_tokens::Entity::find_by_id(id)
            .one(&self.db)
            .await?
            .map(|row| row.secret_hash)
            .ok_or_else(|| Error::not_found(ApiTokenName::new(id)))
    }

    /// A page of tokens, oldest first.
    pub async fn list_tokens(&self, filter: &TokenFilter, page: &Keyset) -> Result<Page<ApiToken>> {
        let mut select = api_tokens::Entity::find();
        if let Some(role) = filter.role {
            select = select.filter(api_tokens::Column::Role.eq(role.code()));
        }
        if let Some(organization) = &filter.organization_id {
            select = select.filter(api_tokens::Column::OrganizationId.eq(organization.as_str()));
        }
        if let Some(owner) = &filter.owner {
            select = select.filter(api_tokens::Column::Owner.eq(owner.as_str()));
        }
        if !filter.show_inactive {
            select = select
                .filter(api_tokens::Column::RevokeTime.is_null())
                .filter(api_tokens::Column::ExpireTime.gt(Utc::now()));
        }
        page.fetch(&self.db, select, api_tokens::Column::Id, |row| {
            row.id.clone()
        })
        .await?
        .try_map(to_domain)
    }
}

impl Tx {
    /// Creates a token and returns it with its secret (the only time the secret exists).
    /// `id` is server-generated unless given (the bootstrap token's fixed id makes a second bootstrap impossible).
    pub async fn create_token(
        &mut self,
        new: NewToken,
        id: Option<&str>,
    ) -> Result<(ApiToken, String)> {
        let secret = access::generate_secret();
        let row = api_tokens::ActiveModel {
            id: Set(id.map(str::to_string).unwrap_or_else(new_id)),
            display_name: Set(new.display_name.clone()),
            owner: Set(new.owner.clone()),
            role: Set(new.role.code().to_string()),
            organization_id: Set(new.organization_id.clone()),
            secret_hash: Set(access::hash_secret(&secret)),
            secret_prefix: Set(access::secret_display_prefix(&secret)),
            expire_time: Set(new.expire_time),
            revoke_time: Set(None),
            create_time: Set(now()),
        }
        .insert(&self.txn)
        .await?;
        let token = to_domain(row)?;
        self.audit(&token.resource_name(), None, Some(&token))?;
        Ok((token, secret))
    }

    /// One token, read inside the transaction.
    pub async fn get_token_in(&self, name: &ApiTokenName) -> Result<ApiToken> {
        find(&self.txn, &name.token).await
    }

    /// How many live (unrevoked, unexpired) admin tokens there are besides `id`;
    /// they stay locked until commit, so two revocations cannot both take the last two.
    pub async fn other_live_admin_tokens(&self, id: &str) -> Result<u64> {
        let others = api_tokens::Entity::find()
            .filter(api_tokens::Column::Role.eq(Role::Admin.code()))
            .filter(api_tokens::Column::RevokeTime.is_null())
            .filter(api_tokens::Column::ExpireTime.gt(now()))
            .filter(api_tokens::Column::Id.ne(id))
            .lock_exclusive()
            .all(&self.txn)
            .await?;
        Ok(others.len() as u64)
    }

    /// Revokes every live grantee token of an organisation (it was deleted), each audited;
    /// returns their secret hashes so caches can drop them.
    pub async fn revoke_tokens_of_organization(
        &mut self,
        organization_id: &str,
    ) -> Result<Vec<String>> {
        let ids: Vec<String> = api_tokens::Entity::find()
            .filter(api_tokens::Column::OrganizationId.eq(organization_id))
            .filter(api_tokens::Column::RevokeTime.is_null())
            .all(&self.txn)
            .await?
            .into_iter()
            .map(|row| row.id)
            .collect();
        let mut hashes = Vec::with_capacity(ids.len());
        for id in ids {
            let (_, hash) = self.revoke_token(&id).await?;
            hashes.push(hash);
        }
        Ok(hashes)
    }

    /// Revokes a token; returns it with the secret hash (so this server's cache can drop it), and
    /// on PostgreSQL notifies every server of it at commit (`token_events`).
    pub async fn revoke_token(&mut self, id: &str) -> Result<(ApiToken, String)> {
        let row = api_tokens::Entity::find_by_id(id)
            .one(&self.txn)
            .await?
            .ok_or_else(|| Error::not_found(ApiTokenName::new(id)))?;
        let before = to_domain(row.clone())?;
        before.check_revocable()?;
        let secret_hash = row.secret_hash.clone();
        let mut active = row.into_active_model();
        active.revoke_time = Set(Some(now()));
        let after = to_domain(active.update(&self.txn).await?)?;
        self.audit(&after.resource_name(), Some(&before), Some(&after))?;
        // Delivered to every server at commit: their caches drop the token at once.
        super::token_events::announce_revocation(&self.txn, &after.id).await?;
        Ok((after, secret_hash))
    }
}
