//! Grants, their obligations and revisions. A grantee's scope is the grants
//! of its own organisation. Every change to a grant (terms, state, money)
//! takes the grant's row lock, moves its revision and stores a revision
//! so "what were the terms on date D?" has an exact answer.

use chrono::{DateTime, NaiveDate, Utc};
use sea_orm::sea_query::{IntoCondition, Query, SelectStatement};
use sea_orm::{
    ActiveModelTrait,
    ActiveValue::{Set, Unchanged},
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, JoinType, QueryFilter, QueryOrder,
    QuerySelect, RelationDef, Select,
};

use super::entities::{
    countries, grant_revisions, grants, indicators, obligations, project_countries,
    project_pillars, projects,
};
use super::{Keyset, Page, Stamped, Store, Tx, decode_code, new_id, now};
use crate::domain::access::Scope;
use crate::domain::audit::Audited;
use crate::domain::budget::Budget;
use crate::domain::grant::{
    self, Grant, GrantApproach, GrantInstrument, GrantRevision, GrantState, GrantTerms,
    NewObligation, Obligation, ObligationKind, ReportingCadence,
};
use crate::domain::money::Cents;
use crate::domain::names::{GrantName, ObligationName, ProjectName};
use crate::domain::pillar::Pillar;
use crate::domain::version::{self, Stamps};
use crate::error::{Error, Result};

/// What to list.
#[derive(Debug, Clone, Default)]
pub struct GrantFilter {
    pub organization_id: Option<String>,
    pub account_code: Option<String>,
    pub fiscal_year: Option<i32>,
    /// Grants whose period of performance overlaps these dates (a fiscal year).
    pub performance_period: Option<(NaiveDate, NaiveDate)>,
    pub state: Option<GrantState>,
    pub country_code: Option<String>,
    pub region_code: Option<String>,
    pub pillar: Option<Pillar>,
    /// Grants still under way (not closed or terminated) whose period of performance ended
    /// before this day: the closeouts in progress.
    pub open_and_ended_before: Option<NaiveDate>,
    /// Only grants still under way (not closed or terminated).
    pub open: bool,
    /// One grant.
    pub grant_id: Option<String>,
    pub program_officer: Option<String>,
}

/// What to list of a grant's obligations.
#[derive(Debug, Clone, Default)]
pub struct ObligationFilter {
    pub account_code: Option<String>,
    pub fiscal_year: Option<i32>,
    pub kind: Option<ObligationKind>,
}

pub(super) fn scoped(scope: &Scope) -> Select<grants::Entity> {
    let select = grants::Entity::find();
    match scope {
        Scope::All => select,
        Scope::Organization(id) => select.filter(grants::Column::OrganizationId.eq(id.as_str())),
    }
}

/// The ids of the grants that meet `condition` (a grantee's, a program
/// officer's), for a `grant_id IN (...)` filter on a grant's children.
pub(super) fn grant_ids_where(condition: impl IntoCondition) -> SelectStatement {
    Query::select()
        .column(grants::Column::Id)
        .from(grants::Entity)
        .cond_where(condition)
        .to_owned()
}

/// `select` limited to the rows whose `grant_id` column is a grant `scope` may see.
pub(super) fn within_scope<E: EntityTrait>(
    select: Select<E>,
    grant_id: E::Column,
    scope: &Scope,
) -> Select<E> {
    match scope {
        Scope::All => select,
        Scope::Organization(organization) => select.filter(grant_id.in_subquery(grant_ids_where(
            grants::Column::OrganizationId.eq(organization.as_str()),
        ))),
    }
}

fn obligation_to_domain(row: obligations::Model) -> Result<Obligation> {
    let kind = decode_code::<ObligationKind>("obligations.kind", &row.id, &row.kind)?;
    Ok(Obligation {
        id: row.id,
        grant_id: row.grant_id,
        fields: NewObligation {
            kind,
            account_code: row.account_code,
            fiscal_year: row.fiscal_year,
            amount: Cents(row.amount_cents),
            obligation_date: row.obligation_date,
            note: row.note,
        },
        create_time: row.create_time,
    })
}

fn to_domain(row: grants::Model, obligations: &[Obligation]) -> Result<Grant> {
    let own: Vec<Obligation> = obligations
        .iter()
        .filter(|o| o.grant_id == row.id)
        .cloned()
        .collect();
    Ok(Grant {
        terms: GrantTerms {
            award_number: row.award_number.clone(),
            title: row.title.clone(),
            organization_id: row.organization_id.clone(),
            instrument: decode_code::<GrantInstrument>(
                "grants.instrument",
                &row.id,
                &row.instrument,
            )?,
            approach: decode_code::<GrantApproach>("grants.approach", &row.id, &row.approach)?,
            start_date: row.start_date,
            end_date: row.end_date,
            reporting_cadence: decode_code::<ReportingCadence>(
                "grants.reporting_cadence",
                &row.id,
                &row.reporting_cadence,
            )?,
            program_officer: row.program_officer.clone(),
        },
        state: decode_code::<GrantState>("grants.state", &row.id, &row.state)?,
        state_reason: row.state_reason.clone(),
        totals: grant::totals(&own)?,
        budget: serde_json::from_str(&row.budget)
            .map_err(|error| Error::Internal(format!("grants.budget of {}: {error}", row.id)))?,
        stamps: row.stamps(),
        id: row.id,
    })
}

/// The columns of `grant` that may change after its creation (its terms but the award
/// number and the grantee, and its state), over `key` (the row's key and stamps).
fn changing_columns(grant: &Grant, key: grants::ActiveModel) -> Result<grants::ActiveModel> {
    let budget = serde_json::to_string(&grant.budget)
        .map_err(|error| Error::Internal(format!("grant budget: {error}")))?;
    Ok(grants::ActiveModel {
        budget: Set(budget),
        title: Set(grant.terms.title.clone()),
        instrument: Set(grant.terms.instrument.code().into()),
        approach: Set(grant.terms.approach.code().into()),
        start_date: Set(grant.terms.start_date),
        end_date: Set(grant.terms.end_date),
        reporting_cadence: Set(grant.terms.reporting_cadence.code().into()),
        program_officer: Set(grant.terms.program_officer.clone()),
        state: Set(grant.state.code().into()),
        state_reason: Set(grant.state_reason.clone()),
        ..key
    })
}

/// The obligations of some grants, in recording order.
async fn obligations_of(
    conn: &impl ConnectionTrait,
    grant_ids: &[String],
) -> Result<Vec<Obligation>> {
    if grant_ids.is_empty() {
        return Ok(Vec::new());
    }
    obligations::Entity::find()
        .filter(obligations::Column::GrantId.is_in(grant_ids.iter().map(String::as_str)))
        .order_by_asc(obligations::Column::Id)
        .all(conn)
        .await?
        .into_iter()
        .map(obligation_to_domain)
        .collect()
}

/// Grants with their money, one query for all their obligations.
async fn with_money(conn: &impl ConnectionTrait, rows: Vec<grants::Model>) -> Result<Vec<Grant>> {
    let ids: Vec<String> = rows.iter().map(|row| row.id.clone()).collect();
    let obligations = obligations_of(conn, &ids).await?;
    rows.into_iter()
        .map(|row| to_domain(row, &obligations))
        .collect()
}

/// Checks that the caller may see grant `id` (one row read, nothing else); NOT_FOUND otherwise.
pub(super) async fn require_visible(
    conn: &impl ConnectionTrait,
    scope: &Scope,
    id: &str,
) -> Result<()> {
    scoped(scope)
        .filter(grants::Column::Id.eq(id))
        .one(conn)
        .await?
        .map(|_| ())
        .ok_or_else(|| Error::not_found(GrantName::new(id)))
}

/// One grant with its obligations, in one query (a left join): one round trip, not two.
async fn find(conn: &impl ConnectionTrait, scope: &Scope, id: &str) -> Result<Grant> {
    let obligations_of_grant = obligations::Entity::belongs_to(grants::Entity)
        .from(obligations::Column::GrantId)
        .to(grants::Column::Id);
    let mut rows = scoped(scope)
        .filter(grants::Column::Id.eq(id))
        .join(
            JoinType::LeftJoin,
            RelationDef::from(obligations_of_grant).rev(),
        )
        .select_also(obligations::Entity)
        .order_by_asc(obligations::Column::Id)
        .all(conn)
        .await?
        .into_iter();
    let (row, first) = rows
        .next()
        .ok_or_else(|| Error::not_found(GrantName::new(id)))?;
    let obligations = first
        .into_iter()
        .chain(rows.filter_map(|(_, obligation)| obligation))
        .map(obligation_to_domain)
        .collect::<Result<Vec<_>>>()?;
    to_domain(row, &obligations)
}

/// Grants with a project in a country matching `countries`.
fn grants_with_project_country(countries: Condition) -> sea_orm::sea_query::SelectStatement {
    Query::select()
        .column(projects::Column::GrantId)
        .from(projects::Entity)
        .and_where(
            projects::Column::Id.in_subquery(
                Query::select()
                    .column(project_countries::Column::ProjectId)
                    .from(project_countries::Entity)
                    .cond_where(countries)
                    .to_owned(),
            ),
        )
        .to_owned()
}

/// Countries of a region.
pub(super) fn countries_of_region(region: &str) -> sea_orm::sea_query::SelectStatement {
    Query::select()
        .column(countries::Column::Alpha2)
        .from(countries::Entity)
        .and_where(countries::Column::RegionCode.eq(region))
        .to_owned()
}

impl Store {
    /// One grant the caller may see.
    pub async fn get_grant(&self, scope: &Scope, name: &GrantName) -> Result<Grant> {
        find(&self.db, scope, &name.grant).await
    }

    /// A page of the grants the caller may see, oldest first.
    pub async fn list_grants(
        &self,
        scope: &Scope,
        filter: &GrantFilter,
        page: &Keyset,
    ) -> Result<Page<Grant>> {
        let mut select = scoped(scope);
        if let Some(organization) = &filter.organization_id {
            select = select.filter(grants::Column::OrganizationId.eq(organization.as_str()));
        }
        if let Some(state) = filter.state {
            select = select.filter(grants::Column::State.eq(state.code()));
        }
        if let Some(grant) = &filter.grant_id {
            select = select.filter(grants::Column::Id.eq(grant.as_str()));
        }
        if filter.open {
            select = select.filter(
                grants::Column::State.is_in(GrantState::open_states().map(GrantState::code)),
            );
        }
        if let Some(officer) = &filter.program_officer {
            select = select.filter(grants::Column::ProgramOfficer.eq(officer.as_str()));
        }
        if let Some(day) = filter.open_and_ended_before {
            select = select.filter(grants::Column::EndDate.lt(day)).filter(
                grants::Column::State.is_in(GrantState::open_states().map(GrantState::code)),
            );
        }
        if let Some((start, end)) = filter.performance_period {
            select = select
                .filter(grants::Column::StartDate.lte(end))
                .filter(grants::Column::EndDate.gte(start));
        }
        if filter.account_code.is_some() || filter.fiscal_year.is_some() {
            let mut funded = Query::select()
                .column(obligations::Column::GrantId)
                .from(obligations::Entity)
                .to_owned();
            if let Some(account) = &filter.account_code {
                funded.and_where(obligations::Column::AccountCode.eq(account.as_str()));
            }
            if let Some(year) = filter.fiscal_year {
                funded.and_where(obligations::Column::FiscalYear.eq(year));
            }
            select = select.filter(grants::Column::Id.in_subquery(funded));
        }
        if let Some(country) = &filter.country_code {
            let countries =
                Condition::all().add(project_countries::Column::CountryCode.eq(country.as_str()));
            select = select
                .filter(grants::Column::Id.in_subquery(grants_with_project_country(countries)));
        }
        if let Some(region) = &filter.region_code {
            let countries = Condition::all().add(
                project_countries::Column::CountryCode.in_subquery(countries_of_region(region)),
            );
            select = select
                .filter(grants::Column::Id.in_subquery(grants_with_project_country(countries)));
        }
        if let Some(pillar) = filter.pillar {
            let with_pillar = Query::select()
                .column(projects::Column::GrantId)
                .from(projects::Entity)
                .and_where(
                    projects::Column::Id.in_subquery(
                        Query::select()
                            .column(project_pillars::Column::ProjectId)
                            .from(project_pillars::Entity)
                            .and_where(project_pillars::Column::Pillar.eq(pillar.code()))
                            .to_owned(),
                    ),
                )
                .to_owned();
            select = select.filter(grants::Column::Id.in_subquery(with_pillar));
        }
        page.fetch(&self.db, select, grants::Column::Id, |row| row.id.clone())
            .await?
            .try_map_all(async |rows| with_money(&self.db, rows).await)
            .await
    }

    /// One obligation of a grant the caller may see.
    pub async fn get_obligation(&self, scope: &Scope, name: &ObligationName) -> Result<Obligation> {
        require_visible(&self.db, scope, &name.grant).await?;
        obligations::Entity::find_by_id(name.obligation.as_str())
            .filter(obligations::Column::GrantId.eq(name.grant.as_str()))
            .one(&self.db)
            .await?
            .ok_or_else(|| Error::not_found(name))
            .and_then(obligation_to_domain)
    }

    /// A page of a grant's obligations in recording order.
    pub async fn list_obligations(
        &self,
        scope: &Scope,
        grant_id: &str,
        filter: &ObligationFilter,
        page: &Keyset,
    ) -> Result<Page<Obligation>> {
        require_visible(&self.db, scope, grant_id).await?;
        let mut select =
            obligations::Entity::find().filter(obligations::Column::GrantId.eq(grant_id));
        if let Some(account) = &filter.account_code {
            select = select.filter(obligations::Column::AccountCode.eq(account.as_str()));
        }
        if let Some(year) = filter.fiscal_year {
            select = select.filter(obligations::Column::FiscalYear.eq(year));
        }
        if let Some(kind) = filter.kind {
            select = select.filter(obligations::Column::Kind.eq(kind.code()));
        }
        page.fetch(&self.db, select, obligations::Column::Id, |row| {
            row.id.clone()
        })
        .await?
        .try_map(obligation_to_domain)
    }

    /// A page of a grant's revisions, oldest first; with `as_of`, only the one in effect then.
    pub async fn list_grant_revisions(
        &self,
        scope: &Scope,
        grant_id: &str,
        as_of: Option<DateTime<Utc>>,
        page: &Keyset,
    ) -> Result<Page<GrantRevision>> {
        require_visible(&self.db, scope, grant_id).await?;
        let select =
            grant_revisions::Entity::find().filter(grant_revisions::Column::GrantId.eq(grant_id));
        let rows = match as_of {
            Some(time) => Page {
                items: select
                    .filter(grant_revisions::Column::RevisionTime.lte(time))
                    .order_by_desc(grant_revisions::Column::Revision)
                    .one(&self.db)
                    .await?
                    .into_iter()
                    .collect(),
                next_after: None,
            },
            None => {
                page.fetch_numbered(&self.db, select, grant_revisions::Column::Revision, |row| {
                    row.revision
                })
                .await?
            }
        };
        rows.try_map(|row| {
            let grant: Grant = serde_json::from_value(row.terms).map_err(|error| {
                Error::Internal(format!(
                    "grant_revisions of {grant_id}/{}: {error}",
                    row.revision
                ))
            })?;
            Ok(GrantRevision {
                grant_id: row.grant_id,
                revision: row.revision,
                revision_time: row.revision_time,
                actor: row.actor,
                method: row.method,
                grant,
            })
        })
    }
}

impl Tx {
    /// Reads a grant for a change and locks it until commit; checks `etag` when given.
    pub async fn grant_for_update(
        &self,
        scope: &Scope,
        name: &GrantName,
        etag: Option<i64>,
    ) -> Result<Grant> {
        Ok(self
            .grant_and_obligations_for_update(scope, name, etag)
            .await?
            .0)
    }

    /// Like [`Tx::grant_for_update`], also answering the obligations it read (one query for both uses).
    pub async fn grant_and_obligations_for_update(
        &self,
        scope: &Scope,
        name: &GrantName,
        etag: Option<i64>,
    ) -> Result<(Grant, Vec<Obligation>)> {
        let id = &name.grant;
        let row = scoped(scope)
            .filter(grants::Column::Id.eq(id))
            .lock_exclusive()
            .one(&self.txn)
            .await?
            .ok_or_else(|| Error::not_found(GrantName::new(id)))?;
        let obligations = obligations_of(&self.txn, std::slice::from_ref(&row.id)).await?;
        let grant = to_domain(row, &obligations)?;
        version::check_etag(&grant.resource_name(), grant.stamps.revision, etag)?;
        Ok((grant, obligations))
    }

    /// What a state change of the grant needs to know about its projects.
    pub async fn grant_project_facts(&self, grant_id: &str) -> Result<grant::ProjectFacts> {
        use crate::domain::project::ProjectState;
        use sea_orm::PaginatorTrait;
        let open_projects = projects::Entity::find()
            .filter(projects::Column::GrantId.eq(grant_id))
            .filter(
                projects::Column::State.is_in(ProjectState::open_states().map(ProjectState::code)),
            )
            .count(&self.txn)
            .await?;
        Ok(grant::ProjectFacts {
            has_indicator_target: self.grant_has_indicator_target(grant_id).await?,
            open_projects,
        })
    }

    /// How many grants of an organisation are still under way (not closed or terminated).
    pub async fn open_grants_of(&self, organization_id: &str) -> Result<u64> {
        use sea_orm::PaginatorTrait;
        Ok(grants::Entity::find()
            .filter(grants::Column::OrganizationId.eq(organization_id))
            .filter(grants::Column::State.is_in(GrantState::open_states().map(GrantState::code)))
            .count(&self.txn)
            .await?)
    }

    /// Whether some live (not cancelled) project of the grant has a live indicator with a target.
    async fn grant_has_indicator_target(&self, grant_id: &str) -> Result<bool> {
        let live_projects = Query::select()
            .column(projects::Column::Id)
            .from(projects::Entity)
            .and_where(projects::Column::GrantId.eq(grant_id))
            .and_where(
                projects::Column::State.ne(crate::domain::project::ProjectState::Cancelled.code()),
            )
            .to_owned();
        // One row at most: `targets` is a JSON array, empty when the indicator has no target.
        let with_target = indicators::Entity::find()
            .select_only()
            .column(indicators::Column::Id)
            .filter(indicators::Column::ProjectId.in_subquery(live_projects))
            .filter(indicators::Column::DeleteTime.is_null())
            .filter(sea_orm::sea_query::Expr::cust(
                "CAST(targets AS TEXT) <> '[]'",
            ))
            .into_tuple::<String>()
            .one(&self.txn)
            .await?;
        Ok(with_target.is_some())
    }

    /// The grant that already has award number `award_number`, if any.
    pub async fn grant_with_award_number(&self, award_number: &str) -> Result<Option<GrantName>> {
        Ok(grants::Entity::find()
            .filter(grants::Column::AwardNumber.eq(award_number))
            .one(&self.txn)
            .await?
            .map(|row| GrantName::new(row.id)))
    }

    /// A project of the grant whose period would fall outside `start`..`end`, if any.
    pub async fn project_outside(
        &self,
        grant_id: &str,
        start: NaiveDate,
        end: NaiveDate,
    ) -> Result<Option<grant::ProjectPeriod>> {
        Ok(projects::Entity::find()
            .filter(projects::Column::GrantId.eq(grant_id))
            .filter(
                Condition::any()
                    .add(projects::Column::StartDate.lt(start))
                    .add(projects::Column::EndDate.gt(end)),
            )
            .one(&self.txn)
            .await?
            .map(|row| grant::ProjectPeriod {
                project: ProjectName::new(row.grant_id, row.id),
                start_date: row.start_date,
                end_date: row.end_date,
            }))
    }

    /// Creates a grant in DRAFT, revision 1.
    pub async fn create_grant(&mut self, terms: GrantTerms, budget: Budget) -> Result<Grant> {
        let grant = Grant {
            id: new_id(),
            terms,
            state: GrantState::Draft,
            state_reason: String::new(),
            totals: Vec::new(),
            budget,
            stamps: Stamps::new(now()),
        };
        let key = grants::ActiveModel {
            id: Set(grant.id.clone()),
            award_number: Set(grant.terms.award_number.clone()),
            organization_id: Set(grant.terms.organization_id.clone()),
            ..Stamped::created(grant.stamps)
        };
        changing_columns(&grant, key)?.insert(&self.txn).await?;
        self.write_revision(&grant).await?;
        self.audit(&grant.resource_name(), None, Some(&grant))?;
        Ok(grant)
    }

    /// Saves `after` (new terms or state, as the domain decided) over `current`
    /// at its next revision, and records the change.
    pub async fn save_grant(&mut self, current: Grant, after: Grant) -> Result<Grant> {
        self.write_grant(&current, after, true).await
    }

    /// Saves `after` over `before` (terms, state, money), moves the revision and records it.
    /// `audit`: whether this change is the call's audit event (an obligation records its own).
    async fn write_grant(
        &mut self,
        before: &Grant,
        mut after: Grant,
        audit: bool,
    ) -> Result<Grant> {
        after.stamps = before.stamps.next(now());
        // The row is locked and known: update it by key, without reading it again.
        let key = grants::ActiveModel {
            id: Unchanged(before.id.clone()),
            ..Stamped::revised(after.stamps)
        };
        changing_columns(&after, key)?.update(&self.txn).await?;
        self.write_revision(&after).await?;
        if audit {
            self.audit(&after.resource_name(), Some(before), Some(&after))?;
        }
        Ok(after)
    }

    async fn write_revision(&self, grant: &Grant) -> Result<()> {
        let terms = serde_json::to_value(grant)
            .map_err(|error| Error::Internal(format!("grant snapshot: {error}")))?;
        grant_revisions::ActiveModel {
            grant_id: Set(grant.id.clone()),
            revision: Set(grant.stamps.revision),
            revision_time: Set(grant.stamps.update_time),
            actor: Set(self.call.actor.resource_name()),
            method: Set(self.call.method.clone()),
            terms: Set(terms),
        }
        .insert(&self.txn)
        .await?;
        Ok(())
    }

    /// Replaces the terms and budget of `current`.
    pub async fn update_grant(
        &mut self,
        current: Grant,
        terms: GrantTerms,
        budget: Budget,
    ) -> Result<Grant> {
        let mut after = current.clone();
        after.terms = terms;
        after.budget = budget;
        self.save_grant(current, after).await
    }

    /// Records an obligation on the locked grant `current`, whose obligations so far are
    /// `existing` (already checked by the domain).
    pub async fn create_obligation(
        &mut self,
        current: Grant,
        mut existing: Vec<Obligation>,
        new: NewObligation,
    ) -> Result<(Obligation, Grant)> {
        let obligation = Obligation {
            id: new_id(),
            grant_id: current.id.clone(),
            fields: new,
            create_time: now(),
        };
        obligations::ActiveModel {
            id: Set(obligation.id.clone()),
            grant_id: Set(obligation.grant_id.clone()),
            kind: Set(obligation.fields.kind.code().into()),
            account_code: Set(obligation.fields.account_code.clone()),
            fiscal_year: Set(obligation.fields.fiscal_year),
            amount_cents: Set(obligation.fields.amount.0),
            obligation_date: Set(obligation.fields.obligation_date),
            note: Set(obligation.fields.note.clone()),
            create_time: Set(obligation.create_time),
        }
        .insert(&self.txn)
        .await?;
        let mut after = current.clone();
        existing.push(obligation.clone());
        after.totals = grant::totals(&existing)?;
        let grant = self.write_grant(&current, after, false).await?;
        let mut view = obligation.fields.audit_view()?;
        if let Some(map) = view.as_object_mut() {
            map.insert(
                "grant_obligated_amount".into(),
                serde_json::json!(grant.obligated().0),
            );
        }
        self.audit_views(&obligation.resource_name(), None, Some(&view));
        Ok((obligation, grant))
    }
}
