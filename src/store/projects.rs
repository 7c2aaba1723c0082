//! Projects (with their countries, pillars and TIP Report recommendations)
//! and indicators. A project is reached through its grant, so a grantee's
//! scope (its own grants) applies to both.

use std::collections::HashMap;

use sea_orm::sea_query::Query;
use sea_orm::{
    ActiveModelTrait,
    ActiveValue::{Set, Unchanged},
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect, Select,
};

use super::entities::{
    indicators, project_countries, project_pillars, project_recommendations, projects,
};
use super::grants::countries_of_region;
use super::{Keyset, Page, SoftDeletable, Stamped, Store, Tx, decode_code, new_id, now};
use crate::domain::access::Scope;
use crate::domain::grant::Grant;
use crate::domain::names::{IndicatorName, ProjectName};
use crate::domain::pillar::Pillar;
use crate::domain::project::{
    ActivityKind, Indicator, IndicatorFields, OutcomeKind, Project, ProjectFields, ProjectState,
};
use crate::domain::version::{self, Stamps, Versioned};
use crate::error::{Error, Result};

/// What to list.
#[derive(Debug, Clone, Default)]
pub struct ProjectFilter {
    /// One grant's projects, or all grants' when `None`.
    pub grant_id: Option<String>,
    pub country_code: Option<String>,
    pub region_code: Option<String>,
    pub pillar: Option<Pillar>,
    pub state: Option<ProjectState>,
}

pub(super) fn scoped(scope: &Scope) -> Select<projects::Entity> {
    super::grants::within_scope(projects::Entity::find(), projects::Column::GrantId, scope)
}

/// The country, pillar and recommendation rows of some projects, by project id.
struct Children {
    countries: HashMap<String, Vec<String>>,
    pillars: HashMap<String, Vec<Pillar>>,
    recommendations: HashMap<String, Vec<String>>,
}

async fn children(conn: &impl ConnectionTrait, ids: &[String]) -> Result<Children> {
    let ids = || ids.iter().map(String::as_str);
    let mut children = Children {
        countries: HashMap::new(),
        pillars: HashMap::new(),
        recommendations: HashMap::new(),
    };
    if ids().next().is_none() {
        return Ok(children);
    }
    for row in project_countries::Entity::find()
        .filter(project_countries::Column::ProjectId.is_in(ids()))
        .all(conn)
        .await?
    {
        children
            .countries
            .entry(row.project_id)
            .or_default()
            .push(row.country_code);
    }
    for row in project_pillars::Entity::find()
        .filter(project_pillars::Column::ProjectId.is_in(ids()))
        .all(conn)
        .await?
    {
        let pillar = decode_code::<Pillar>("project_pillars.pillar", &row.project_id, &row.pillar)?;
        children
            .pillars
            .entry(row.project_id)
            .or_default()
            .push(pillar);
    }
    for row in project_recommendations::Entity::find()
        .filter(project_recommendations::Column::ProjectId.is_in(ids()))
        .all(conn)
        .await?
    {
        children
            .recommendations
            .entry(row.project_id)
            .or_default()
            .push(row.recommendation_id);
    }
    Ok(children)
}

fn to_domain(row: projects::Model, children: &Children) -> Result<Project> {
    let activity_codes: Vec<String> =
        serde_json::from_value(row.activity_kinds.clone()).map_err(|error| {
            Error::Internal(format!("projects.activity_kinds of {}: {error}", row.id))
        })?;
    let activity_kinds = activity_codes
        .iter()
        .map(|code| decode_code::<ActivityKind>("projects.activity_kinds", &row.id, code))
        .collect::<Result<Vec<_>>>()?;
    let mut country_codes = children.countries.get(&row.id).cloned().unwrap_or_default();
    country_codes.sort();
    let mut pillars = children.pillars.get(&row.id).cloned().unwrap_or_default();
    pillars.sort();
    let mut recommendation_ids = children
        .recommendations
        .get(&row.id)
        .cloned()
        .unwrap_or_default();
    recommendation_ids.sort();
    Ok(Project {
        stamps: row.stamps(),
        state: decode_code::<ProjectState>("projects.state", &row.id, &row.state)?,
        fields: ProjectFields {
            title: row.title,
            summary: row.summary,
            country_codes,
            pillars,
            activity_kinds,
            start_date: row.start_date,
            end_date: row.end_date,
            recommendation_ids,
        },
        id: row.id,
        grant_id: row.grant_id,
    })
}

/// The columns of `project` that may change after its creation (its own fields and its
/// state; its countries, pillars and recommendations are rows of their own), over `key`
/// (the row's key and stamps).
fn changing_columns(
    project: &Project,
    key: projects::ActiveModel,
) -> Result<projects::ActiveModel> {
    Ok(projects::ActiveModel {
        title: Set(project.fields.title.clone()),
        summary: Set(project.fields.summary.clone()),
        start_date: Set(project.fields.start_date),
        end_date: Set(project.fields.end_date),
        state: Set(project.state.code().into()),
        activity_kinds: Set(super::to_json_column(&project.fields.activity_kinds)?),
        ..key
    })
}

pub(super) async fn with_children(
    conn: &impl ConnectionTrait,
    rows: Vec<projects::Model>,
) -> Result<Vec<Project>> {
    let ids: Vec<String> = rows.iter().map(|row| row.id.clone()).collect();
    let children = children(conn, &ids).await?;
    rows.into_iter()
        .map(|row| to_domain(row, &children))
        .collect()
}

/// Checks that the caller may see the project (one row read, no children); NOT_FOUND otherwise.
async fn require_visible(
    conn: &impl ConnectionTrait,
    scope: &Scope,
    grant_id: &str,
    id: &str,
) -> Result<()> {
    scoped(scope)
        .filter(projects::Column::Id.eq(id))
        .filter(projects::Column::GrantId.eq(grant_id))
        .one(conn)
        .await?
        .map(|_| ())
        .ok_or_else(|| Error::not_found(ProjectName::new(grant_id, id)))
}

pub(super) async fn find(
    conn: &impl ConnectionTrait,
    scope: &Scope,
    grant_id: &str,
    id: &str,
    lock: bool,
) -> Result<Project> {
    let mut select = scoped(scope)
        .filter(projects::Column::Id.eq(id))
        .filter(projects::Column::GrantId.eq(grant_id));
    if lock {
        select = select.lock_exclusive();
    }
    let row = select
        .one(conn)
        .await?
        .ok_or_else(|| Error::not_found(ProjectName::new(grant_id, id)))?;
    with_children(conn, vec![row])
        .await?
        .pop()
        .ok_or_else(|| Error::not_found(ProjectName::new(grant_id, id)))
}

pub(super) fn indicator_to_domain(row: indicators::Model, grant_id: &str) -> Result<Indicator> {
    let outcome_kind =
        decode_code::<OutcomeKind>("indicators.outcome_kind", &row.id, &row.outcome_kind)?;
    let targets = serde_json::from_value(row.targets.clone())
        .map_err(|error| Error::Internal(format!("indicators.targets of {}: {error}", row.id)))?;
    Ok(Indicator {
        stamps: row.stamps(),
        grant_id: grant_id.to_string(),
        project_id: row.project_id,
        fields: IndicatorFields {
            display_name: row.display_name,
            unit: row.unit,
            outcome_kind,
            baseline: row.baseline,
            targets,
        },
        delete_time: row.delete_time,
        id: row.id,
    })
}

impl Store {
    /// One project the caller may see.
    pub async fn get_project(&self, scope: &Scope, name: &ProjectName) -> Result<Project> {
        find(&self.db, scope, &name.grant, &name.project, false).await
    }

    /// A page of the projects the caller may see, oldest first.
    pub async fn list_projects(
        &self,
        scope: &Scope,
        filter: &ProjectFilter,
        page: &Keyset,
    ) -> Result<Page<Project>> {
        let mut select = scoped(scope);
        if let Some(grant_id) = &filter.grant_id {
            super::grants::require_visible(&self.db, scope, grant_id).await?;
            select = select.filter(projects::Column::GrantId.eq(grant_id.as_str()));
        }
        if let Some(state) = filter.state {
            select = select.filter(projects::Column::State.eq(state.code()));
        }
        let in_countries = |countries: sea_orm::Condition| {
            projects::Column::Id.in_subquery(
                Query::select()
                    .column(project_countries::Column::ProjectId)
                    .from(project_countries::Entity)
                    .cond_where(countries)
                    .to_owned(),
            )
        };
        if let Some(country) = &filter.country_code {
            select = select
                .filter(in_countries(sea_orm::Condition::all().add(
                    project_countries::Column::CountryCode.eq(country.as_str()),
                )));
        }
        if let Some(region) = &filter.region_code {
            select = select.filter(in_countries(sea_orm::Condition::all().add(
                project_countries::Column::CountryCode.in_subquery(countries_of_region(region)),
            )));
        }
        if let Some(pillar) = filter.pillar {
            select = select.filter(
                projects::Column::Id.in_subquery(
                    Query::select()
                        .column(project_pillars::Column::ProjectId)
                        .from(project_pillars::Entity)
                        .and_where(project_pillars::Column::Pillar.eq(pillar.code()))
                        .to_owned(),
                ),
            );
        }
        page.fetch(&self.db, select, projects::Column::Id, |row| row.id.clone())
            .await?
            .try_map_all(async |rows| with_children(&self.db, rows).await)
            .await
    }

    /// One indicator of a project the caller may see, deleted or not.
    pub async fn get_indicator(&self, scope: &Scope, name: &IndicatorName) -> Result<Indicator> {
        require_visible(&self.db, scope, &name.grant, &name.project).await?;
        indicators::Entity::find_by_id(name.indicator.as_str())
            .filter(indicators::Column::ProjectId.eq(name.project.as_str()))
            .one(&self.db)
            .await?
            .ok_or_else(|| Error::not_found(name))
            .and_then(|row| indicator_to_domain(row, &name.grant))
    }

    /// A page of a project's indicators, oldest first.
    pub async fn list_indicators(
        &self,
        scope: &Scope,
        grant_id: &str,
        project_id: &str,
        show_deleted: bool,
        page: &Keyset,
    ) -> Result<Page<Indicator>> {
        require_visible(&self.db, scope, grant_id, project_id).await?;
        let mut select =
            indicators::Entity::find().filter(indicators::Column::ProjectId.eq(project_id));
        if !show_deleted {
            select = select.filter(indicators::Column::DeleteTime.is_null());
        }
        page.fetch(&self.db, select, indicators::Column::Id, |row| {
            row.id.clone()
        })
        .await?
        .try_map(|row| indicator_to_domain(row, grant_id))
    }
}

impl Tx {
    /// Reads a project for a change and locks it until commit; checks `etag` when given.
    pub async fn project_for_update(
        &self,
        scope: &Scope,
        name: &ProjectName,
        etag: Option<i64>,
    ) -> Result<Project> {
        let project = find(&self.txn, scope, &name.grant, &name.project, true).await?;
        version::check_etag(&project.resource_name(), project.stamps.revision, etag)?;
        Ok(project)
    }

    async fn write_children(&self, project_id: &str, fields: &ProjectFields) -> Result<()> {
        project_countries::Entity::delete_many()
            .filter(project_countries::Column::ProjectId.eq(project_id))
            .exec(&self.txn)
            .await?;
        project_pillars::Entity::delete_many()
            .filter(project_pillars::Column::ProjectId.eq(project_id))
            .exec(&self.txn)
            .await?;
        project_recommendations::Entity::delete_many()
            .filter(project_recommendations::Column::ProjectId.eq(project_id))
            .exec(&self.txn)
            .await?;
        // Bounded by validation (at most 60 countries, 4 pillars): far under any bind limit.
        if !fields.country_codes.is_empty() {
            project_countries::Entity::insert_many(fields.country_codes.iter().map(|code| {
                project_countries::ActiveModel {
                    project_id: Set(project_id.to_string()),
                    country_code: Set(code.clone()),
                }
            }))
            .exec_without_returning(&self.txn)
            .await?;
        }
        if !fields.pillars.is_empty() {
            project_pillars::Entity::insert_many(fields.pillars.iter().map(|pillar| {
                project_pillars::ActiveModel {
                    project_id: Set(project_id.to_string()),
                    pillar: Set(pillar.code().to_string()),
                }
            }))
            .exec_without_returning(&self.txn)
            .await?;
        }
        if !fields.recommendation_ids.is_empty() {
            project_recommendations::Entity::insert_many(fields.recommendation_ids.iter().map(
                |id| project_recommendations::ActiveModel {
                    project_id: Set(project_id.to_string()),
                    recommendation_id: Set(id.clone()),
                },
            ))
            .exec_without_returning(&self.txn)
            .await?;
        }
        Ok(())
    }

    /// Creates a project in PLANNED under the locked `grant`.
    pub async fn create_project(
        &mut self,
        grant: &Grant,
        fields: ProjectFields,
    ) -> Result<Project> {
        let project = Project {
            id: new_id(),
            grant_id: grant.id.clone(),
            fields,
            state: ProjectState::Planned,
            stamps: Stamps::new(now()),
        };
        let key = projects::ActiveModel {
            id: Set(project.id.clone()),
            grant_id: Set(project.grant_id.clone()),
            ..Stamped::created(project.stamps)
        };
        changing_columns(&project, key)?.insert(&self.txn).await?;
        self.write_children(&project.id, &project.fields).await?;
        self.audit(&project.resource_name(), None, Some(&project))?;
        Ok(project)
    }

    /// The grant's projects still PLANNED or ACTIVE whose period ends on `end_date`, locked
    /// until commit (the projects an extension of the grant's period carries along).
    pub async fn open_projects_ending_on(
        &self,
        grant_id: &str,
        end_date: chrono::NaiveDate,
    ) -> Result<Vec<Project>> {
        let rows = projects::Entity::find()
            .filter(projects::Column::GrantId.eq(grant_id))
            .filter(projects::Column::EndDate.eq(end_date))
            .filter(
                projects::Column::State
                    .is_in([ProjectState::Planned, ProjectState::Active].map(ProjectState::code)),
            )
            .lock_exclusive()
            .all(&self.txn)
            .await?;
        let ids: Vec<String> = rows.iter().map(|row| row.id.clone()).collect();
        let children = children(&self.txn, &ids).await?;
        rows.into_iter()
            .map(|row| to_domain(row, &children))
            .collect()
    }

    /// Saves `saved` (new fields or state) over `current`, at its next revision.
    pub async fn save_project(&mut self, current: Project, mut saved: Project) -> Result<Project> {
        saved.stamps = current.stamps.next(now());
        let key = projects::ActiveModel {
            id: Unchanged(current.id.clone()),
            ..Stamped::revised(saved.stamps)
        };
        changing_columns(&saved, key)?.update(&self.txn).await?;
        if saved.fields != current.fields {
            self.write_children(&saved.id, &saved.fields).await?;
        }
        self.audit(&saved.resource_name(), Some(&current), Some(&saved))?;
        Ok(saved)
    }

    /// Reads an indicator for a change; it must be live, and at `etag` when one is given.
    pub async fn indicator_for_update(
        &self,
        project: &Project,
        id: &str,
        etag: Option<i64>,
    ) -> Result<Indicator> {
        let indicator = indicators::Entity::find_by_id(id)
            .filter(indicators::Column::ProjectId.eq(project.id.as_str()))
            .one(&self.txn)
            .await?
            .ok_or_else(|| Error::not_found(IndicatorName::new(&project.grant_id, &project.id, id)))
            .and_then(|row| indicator_to_domain(row, &project.grant_id))?;
        indicator.writable(etag)
    }

    /// Adds an indicator to `project`.
    pub async fn create_indicator(
        &mut self,
        project: &Project,
        fields: IndicatorFields,
    ) -> Result<Indicator> {
        let row = indicators::ActiveModel {
            id: Set(new_id()),
            project_id: Set(project.id.clone()),
            display_name: Set(fields.display_name.clone()),
            unit: Set(fields.unit.clone()),
            outcome_kind: Set(fields.outcome_kind.code().into()),
            baseline: Set(fields.baseline),
            targets: Set(super::to_json_column(&fields.targets)?),
            ..Stamped::created(Stamps::new(now()))
        };
        self.insert_audited(
            row,
            |row| indicator_to_domain(row, &project.grant_id),
            |created| (created.resource_name(), &created.fields),
        )
        .await
    }

    /// Replaces the fields of `current`; `delete` soft-deletes it instead.
    pub async fn save_indicator(
        &mut self,
        current: Indicator,
        fields: IndicatorFields,
        delete: bool,
    ) -> Result<Indicator> {
        let row = indicators::ActiveModel {
            id: Unchanged(current.id.clone()),
            display_name: Set(fields.display_name.clone()),
            unit: Set(fields.unit.clone()),
            outcome_kind: Set(fields.outcome_kind.code().into()),
            baseline: Set(fields.baseline),
            targets: Set(super::to_json_column(&fields.targets)?),
            ..SoftDeletable::saved(current.stamps.next(now()), delete)
        };
        let grant_id = current.grant_id.clone();
        self.update_audited(
            row,
            &current,
            |row| indicator_to_domain(row, &grant_id),
            |indicator| &indicator.fields,
        )
        .await
    }
}

impl Store {
    /// Resource names of recommendations by id, deleted ones included (a project keeps citing them).
    pub async fn recommendation_names(&self, ids: &[String]) -> Result<Vec<String>> {
        let found = super::tip_report::recommendations_among(&self.db, ids, true).await?;
        Ok(found
            .iter()
            .map(|recommendation| recommendation.resource_name())
            .collect())
    }
}

impl Tx {
    /// Like [`Store::recommendation_names`], inside the transaction.
    pub async fn recommendation_names(&self, ids: &[String]) -> Result<Vec<String>> {
        let found = super::tip_report::recommendations_among(&self.txn, ids, true).await?;
        Ok(found
            .iter()
            .map(|recommendation| recommendation.resource_name())
            .collect())
    }
}
