//! Organisations. A grantee's scope is its own organisation.

use sea_orm::{
    ActiveValue::{Set, Unchanged},
    ColumnTrait, EntityTrait, QueryFilter, Select,
};

use super::entities::organizations;
use super::{Keyset, Page, SoftDeletable, Stamped, Store, Tx, decode_code, new_id, now};
use crate::domain::access::Scope;
use crate::domain::names::OrganizationName;
use crate::domain::organization::{Identifier, Organization, OrganizationFields, OrganizationKind};
use crate::domain::version::{Presence, Stamps, Versioned};
use crate::error::{Error, Result};

/// What to list.
#[derive(Debug, Clone, Default)]
pub struct OrganizationFilter {
    pub kind: Option<OrganizationKind>,
    pub country_code: Option<String>,
    pub show_deleted: bool,
}

fn scoped(scope: &Scope) -> Select<organizations::Entity> {
    let select = organizations::Entity::find();
    match scope {
        Scope::All => select,
        Scope::Organization(id) => select.filter(organizations::Column::Id.eq(id.as_str())),
    }
}

fn to_domain(row: organizations::Model) -> Result<Organization> {
    let stamps = row.stamps();
    let identifiers: Vec<Identifier> =
        serde_json::from_value(row.identifiers).map_err(|error| {
            Error::Internal(format!("organizations.identifiers of {}: {error}", row.id))
        })?;
    let kind: OrganizationKind = decode_code("organizations.kind", &row.id, &row.kind)?;
    Ok(Organization {
        stamps,
        id: row.id,
        fields: OrganizationFields {
            display_name: row.display_name,
            kind,
            country_code: row.country_code,
            identifiers,
        },
        delete_time: row.delete_time,
    })
}

async fn find(
    conn: &impl sea_orm::ConnectionTrait,
    scope: &Scope,
    id: &str,
) -> Result<organizations::Model> {
    scoped(scope)
        .filter(organizations::Column::Id.eq(id))
        .one(conn)
        .await?
        .ok_or_else(|| Error::not_found(OrganizationName::new(id)))
}

impl Store {
    /// One organisation the caller may see.
    pub async fn get_organization(
        &self,
        scope: &Scope,
        name: &OrganizationName,
    ) -> Result<Organization> {
        to_domain(find(&self.db, scope, &name.organization).await?)
    }

    /// A page of the organisations the caller may see, oldest first.
    pub async fn list_organizations(
        &self,
        scope: &Scope,
        filter: &OrganizationFilter,
        page: &Keyset,
    ) -> Result<Page<Organization>> {
        let mut select = scoped(scope);
        if let Some(kind) = filter.kind {
            select = select.filter(organizations::Column::Kind.eq(kind.code()));
        }
        if let Some(country) = &filter.country_code {
            select = select.filter(organizations::Column::CountryCode.eq(country.as_str()));
        }
        if !filter.show_deleted {
            select = select.filter(organizations::Column::DeleteTime.is_null());
        }
        page.fetch(&self.db, select, organizations::Column::Id, |row| {
            row.id.clone()
        })
        .await?
        .try_map(to_domain)
    }
}

impl Tx {
    /// Whether organisation `id` exists and is live.
    pub async fn organization_presence(&self, id: &str) -> Result<Presence> {
        let row = organizations::Entity::find_by_id(id).one(&self.txn).await?;
        Ok(Presence::of(row.map(|row| row.delete_time)))
    }

    /// Creates an organisation.
    pub async fn create_organization(
        &mut self,
        fields: OrganizationFields,
    ) -> Result<Organization> {
        let row = organizations::ActiveModel {
            id: Set(new_id()),
            display_name: Set(fields.display_name.clone()),
            kind: Set(fields.kind.code().to_string()),
            country_code: Set(fields.country_code.clone()),
            identifiers: Set(super::to_json_column(&fields.identifiers)?),
            ..Stamped::created(Stamps::new(now()))
        };
        self.insert_audited(row, to_domain, |created| {
            (created.resource_name(), &created.fields)
        })
        .await
    }

    /// Reads an organisation for a change: it must be visible, live, and at `etag` when one is given.
    pub async fn organization_for_update(
        &self,
        scope: &Scope,
        name: &OrganizationName,
        etag: Option<i64>,
    ) -> Result<Organization> {
        let current = to_domain(find(&self.txn, scope, &name.organization).await?)?;
        current.writable(etag)
    }

    /// Replaces the fields of `current` with `fields`.
    pub async fn update_organization(
        &mut self,
        current: Organization,
        fields: OrganizationFields,
    ) -> Result<Organization> {
        let row = organizations::ActiveModel {
            id: Unchanged(current.id.clone()),
            display_name: Set(fields.display_name.clone()),
            kind: Set(fields.kind.code().to_string()),
            country_code: Set(fields.country_code.clone()),
            identifiers: Set(super::to_json_column(&fields.identifiers)?),
            ..Stamped::revised(current.stamps.next(now()))
        };
        self.update_audited(row, &current, to_domain, |organization| {
            &organization.fields
        })
        .await
    }

    /// Soft-deletes `current`.
    pub async fn delete_organization(&mut self, current: Organization) -> Result<Organization> {
        let stamps = current.stamps.next(now());
        let row = organizations::ActiveModel {
            id: Unchanged(current.id.clone()),
            ..SoftDeletable::saved(stamps, true)
        };
        self.update_audited(row, &current, to_domain, |organization| {
            &organization.fields
        })
        .await
    }
}
