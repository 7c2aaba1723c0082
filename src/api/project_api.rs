//! `tipgrants.v1.ProjectService`: projects and their indicators.

use tonic::{Request, Response, Status};

use super::enums::*;
use super::grant_api::parse_child;
use super::paging;
use super::{
    Idempotency, call_context, etag, filter_code, mask_paths, parse_etag, parse_name, timestamp,
    with_request_id,
};
use crate::domain::fiscal_year::FiscalCalendar;
use crate::domain::pillar::Pillar;
use crate::domain::project::{
    self, Indicator, IndicatorInput, Project, ProjectInput, ProjectState, ProjectTransition,
};
use crate::domain::tip_report::parse_recommendation_name;
use crate::error::{Error, Result};
use crate::pb::v1 as pb;
use crate::pb::v1::project_service_server::ProjectService;
use crate::store::projects::ProjectFilter;
use crate::store::{CallContext, Store};

/// Serves projects and indicators.
pub struct ProjectApi {
    store: Store,
    calendar: FiscalCalendar,
}

impl ProjectApi {
    pub fn new(store: Store, calendar: FiscalCalendar) -> Self {
        Self { store, calendar }
    }
}

const PROJECT_UPDATABLE: &[&str] = &[
    "title",
    "summary",
    "country_codes",
    "pillars",
    "activity_kinds",
    "start_date",
    "end_date",
    "tip_recommendations",
];
const INDICATOR_UPDATABLE: &[&str] = &[
    "display_name",
    "unit",
    "outcome_kind",
    "baseline",
    "targets",
];

fn to_proto(project: &Project, recommendation_countries: &[(String, String)]) -> pb::Project {
    pb::Project {
        name: project.resource_name(),
        title: project.fields.title.clone(),
        summary: project.fields.summary.clone(),
        country_codes: project.fields.country_codes.clone(),
        pillars: project
            .fields
            .pillars
            .iter()
            .map(|pillar| pillar_to_proto(*pillar))
            .collect(),
        activity_kinds: project
            .fields
            .activity_kinds
            .iter()
            .map(|kind| activity_to_proto(*kind))
            .collect(),
        start_date: project.fields.start_date.to_string(),
        end_date: project.fields.end_date.to_string(),
        state: project_state_to_proto(project.state),
        tip_recommendations: project
            .fields
            .recommendation_ids
            .iter()
            .map(|id| {
                let country = recommendation_countries
                    .iter()
                    .find(|(_, known)| known == id)
                    .map(|(country, _)| country.as_str())
                    .unwrap_or("-");
                format!("countries/{country}/tipRecommendations/{id}")
            })
            .collect(),
        create_time: Some(timestamp(project.create_time)),
        update_time: Some(timestamp(project.update_time)),
        etag: etag(project.revision),
    }
}

fn indicator_to_proto(indicator: &Indicator) -> pb::Indicator {
    pb::Indicator {
        name: indicator.resource_name(),
        display_name: indicator.fields.display_name.clone(),
        unit: indicator.fields.unit.clone(),
        outcome_kind: outcome_kind_to_proto(indicator.fields.outcome_kind),
        baseline: indicator.fields.baseline,
        targets: indicator
            .fields
            .targets
            .iter()
            .map(|target| pb::IndicatorTarget {
                fiscal_year: target.fiscal_year,
                period: target.period.clone(),
                value: target.value,
            })
            .collect(),
        create_time: Some(timestamp(indicator.create_time)),
        update_time: Some(timestamp(indicator.update_time)),
        delete_time: indicator.delete_time.map(timestamp),
        etag: etag(indicator.revision),
    }
}

/// `countries/{country}/tipRecommendations/{id}` -> (country, id), or why the name is wrong.
fn parse_recommendation(name: &str) -> std::result::Result<(String, String), String> {
    parse_recommendation_name("tip_recommendations", name)
        .map_err(|violation| violation.description)
}

fn project_input(project: &pb::Project) -> ProjectInput<'_> {
    ProjectInput {
        title: &project.title,
        summary: &project.summary,
        country_codes: &project.country_codes,
        pillars: project
            .pillars
            .iter()
            .map(|value| pillar_from_proto(*value))
            .collect(),
        activity_kinds: project
            .activity_kinds
            .iter()
            .map(|value| activity_from_proto(*value))
            .collect(),
        start_date: &project.start_date,
        end_date: &project.end_date,
        recommendations: project
            .tip_recommendations
            .iter()
            .map(|name| parse_recommendation(name))
            .collect(),
    }
}

fn indicator_input(indicator: &pb::Indicator) -> IndicatorInput<'_> {
    IndicatorInput {
        display_name: &indicator.display_name,
        unit: &indicator.unit,
        outcome_kind: outcome_kind_from_proto(indicator.outcome_kind),
        baseline: indicator.baseline,
        targets: indicator
            .targets
            .iter()
            .map(|target| (target.fiscal_year, target.period.as_str(), target.value))
            .collect(),
    }
}

/// `grants/{grant}/projects/{project}/indicators/{indicator}` -> (grant, project, indicator).
fn parse_indicator_name<'a>(field: &str, name: &'a str) -> Result<(&'a str, &'a str, &'a str)> {
    match name.split('/').collect::<Vec<_>>().as_slice() {
        ["grants", grant, "projects", project, "indicators", id]
            if !grant.is_empty() && !project.is_empty() && !id.is_empty() =>
        {
            Ok((grant, project, id))
        }
        _ => Err(Error::invalid(
            field,
            format!(
                "{name:?} is not a resource name of the form grants/{{grant}}/projects/{{project}}/indicators/{{indicator}}"
            ),
        )),
    }
}

impl ProjectApi {
    /// The answer for a project: its recommendations named with their countries.
    fn answer(&self, project: &Project, names: &[String]) -> pb::Project {
        let known: Vec<(String, String)> = names
            .iter()
            .filter_map(|name| parse_recommendation(name).ok())
            .collect();
        to_proto(project, &known)
    }

    async fn change_state(
        &self,
        call: CallContext,
        name: &str,
        etag: &str,
        request_id: &str,
        request: &impl prost::Message,
        transition: ProjectTransition,
    ) -> Result<pb::Project> {
        let idempotency = Idempotency::of(request_id, request)?;
        let (grant_id, id) = parse_child("name", name, "projects")?;
        let expected = parse_etag("etag", etag)?;
        let write_call = with_request_id(call.clone(), request_id);
        let answer = Idempotency::write(&idempotency, &self.store, &write_call, async |tx| {
            let grant = tx
                .grant_for_update(&call.actor.scope(), grant_id, None)
                .await?;
            let current = tx
                .project_for_update(&call.actor.scope(), grant_id, id, expected)
                .await?;
            let state = project::decide_project_transition(&current, &grant, transition)?;
            let fields = current.fields.clone();
            let changed = tx.save_project(current, fields, state).await?;
            let names = tx
                .recommendation_names(&changed.fields.recommendation_ids)
                .await?;
            Ok(self.answer(&changed, &names))
        })
        .await?;
        Ok(answer)
    }
}

#[tonic::async_trait]
impl ProjectService for ProjectApi {
    async fn get_project(
        &self,
        request: Request<pb::GetProjectRequest>,
    ) -> Result<Response<pb::Project>, Status> {
        let call = call_context(&request)?;
        let (grant_id, id) = parse_child("name", &request.get_ref().name, "projects")?;
        let project = self
            .store
            .get_project(&call.actor.scope(), grant_id, id)
            .await?;
        let names = self
            .store
            .recommendation_names(&project.fields.recommendation_ids)
            .await?;
        Ok(Response::new(self.answer(&project, &names)))
    }

    async fn list_projects(
        &self,
        request: Request<pb::ListProjectsRequest>,
    ) -> Result<Response<pb::ListProjectsResponse>, Status> {
        let call = call_context(&request)?;
        let request = request.get_ref();
        let grant_id = match request.parent.as_str() {
            "grants/-" => None,
            parent => Some(parse_name("parent", parent, "grants")?.to_string()),
        };
        let mut filter = ProjectFilter {
            grant_id,
            ..Default::default()
        };
        for (field, value) in
            paging::parse_filter(&request.filter, &["country", "region", "pillar", "state"])?
        {
            match field.as_str() {
                "country" => filter.country_code = Some(value.to_ascii_uppercase()),
                "region" => {
                    filter.region_code =
                        Some(value.trim_start_matches("regions/").to_ascii_uppercase())
                }
                "pillar" => {
                    filter.pillar =
                        Some(filter_code(&value, "PILLAR_", Pillar::from_code, "pillar")?)
                }
                _ => {
                    filter.state = Some(filter_code(
                        &value,
                        "PROJECT_STATE_",
                        ProjectState::from_code,
                        "project state",
                    )?)
                }
            }
        }
        super::check_filter_places(
            &self.store,
            filter.country_code.as_deref(),
            filter.region_code.as_deref(),
        )
        .await?;
        let query = format!("{}|{}", request.parent, request.filter);
        let after = paging::decode_token(&request.page_token, &query)?;
        let size = paging::page_size(request.page_size)?;
        let page = self
            .store
            .list_projects(&call.actor.scope(), &filter, after, size)
            .await?;
        let ids: Vec<String> = page
            .items
            .iter()
            .flat_map(|project| project.fields.recommendation_ids.clone())
            .collect();
        let names = self.store.recommendation_names(&ids).await?;
        Ok(Response::new(pb::ListProjectsResponse {
            projects: page
                .items
                .iter()
                .map(|project| self.answer(project, &names))
                .collect(),
            next_page_token: paging::encode_token(page.next_after, &query),
        }))
    }

    async fn create_project(
        &self,
        request: Request<pb::CreateProjectRequest>,
    ) -> Result<Response<pb::Project>, Status> {
        let call = call_context(&request)?;
        let request = request.into_inner();
        let idempotency = Idempotency::of(&request.request_id, &request)?;
        let grant_id = parse_name("parent", &request.parent, "grants")?;
        let project = request
            .project
            .as_ref()
            .ok_or_else(|| Error::invalid("project", "is required"))?;

        let write_call = with_request_id(call.clone(), &request.request_id);
        let answer = Idempotency::write(&idempotency, &self.store, &write_call, async |tx| {
            let grant = tx
                .grant_for_update(&call.actor.scope(), grant_id, None)
                .await?;
            grant.check_open()?;
            let fields = project_input(project).validate("project", &grant)?;
            tx.require_recommendations("project.tip_recommendations", &project.tip_recommendations)
                .await?;
            let created = tx.create_project(&grant, fields).await?;
            Ok(self.answer(&created, &project.tip_recommendations))
        })
        .await?;
        Ok(Response::new(answer))
    }

    async fn update_project(
        &self,
        request: Request<pb::UpdateProjectRequest>,
    ) -> Result<Response<pb::Project>, Status> {
        let call = call_context(&request)?;
        let request = request.into_inner();
        let changes = request
            .project
            .ok_or_else(|| Error::invalid("project", "is required"))?;
        let (grant_id, id) = parse_child("project.name", &changes.name, "projects")?;
        let expected = parse_etag("project.etag", &changes.etag)?;
        let paths = mask_paths(request.update_mask.as_ref(), PROJECT_UPDATABLE)?;

        let mut tx = self.store.begin(&call).await?;
        let grant = tx
            .grant_for_update(&call.actor.scope(), grant_id, None)
            .await?;
        grant.check_open()?;
        let current = tx
            .project_for_update(&call.actor.scope(), grant_id, id, expected)
            .await?;
        current.check_open()?;
        let current_names = tx
            .recommendation_names(&current.fields.recommendation_ids)
            .await?;
        let mut merged = self.answer(&current, &current_names);
        for path in &paths {
            match path.as_str() {
                "title" => merged.title = changes.title.clone(),
                "summary" => merged.summary = changes.summary.clone(),
                "country_codes" => merged.country_codes = changes.country_codes.clone(),
                "pillars" => merged.pillars = changes.pillars.clone(),
                "activity_kinds" => merged.activity_kinds = changes.activity_kinds.clone(),
                "start_date" => merged.start_date = changes.start_date.clone(),
                "end_date" => merged.end_date = changes.end_date.clone(),
                _ => merged.tip_recommendations = changes.tip_recommendations.clone(),
            }
        }
        let fields = project_input(&merged).validate("project", &grant)?;
        tx.require_recommendations("project.tip_recommendations", &merged.tip_recommendations)
            .await?;
        let state = current.state;
        let updated = tx.save_project(current, fields, state).await?;
        let answer = self.answer(&updated, &merged.tip_recommendations);
        tx.commit().await?;
        Ok(Response::new(answer))
    }

    async fn start_project(
        &self,
        request: Request<pb::StartProjectRequest>,
    ) -> Result<Response<pb::Project>, Status> {
        let call = call_context(&request)?;
        let r = request.get_ref();
        Ok(Response::new(
            self.change_state(
                call,
                &r.name,
                &r.etag,
                &r.request_id,
                r,
                ProjectTransition::Start,
            )
            .await?,
        ))
    }

    async fn complete_project(
        &self,
        request: Request<pb::CompleteProjectRequest>,
    ) -> Result<Response<pb::Project>, Status> {
        let call = call_context(&request)?;
        let r = request.get_ref();
        Ok(Response::new(
            self.change_state(
                call,
                &r.name,
                &r.etag,
                &r.request_id,
                r,
                ProjectTransition::Complete,
            )
            .await?,
        ))
    }

    async fn cancel_project(
        &self,
        request: Request<pb::CancelProjectRequest>,
    ) -> Result<Response<pb::Project>, Status> {
        let call = call_context(&request)?;
        let r = request.get_ref();
        Ok(Response::new(
            self.change_state(
                call,
                &r.name,
                &r.etag,
                &r.request_id,
                r,
                ProjectTransition::Cancel,
            )
            .await?,
        ))
    }

    async fn create_indicator(
        &self,
        request: Request<pb::CreateIndicatorRequest>,
    ) -> Result<Response<pb::Indicator>, Status> {
        let call = call_context(&request)?;
        let request = request.into_inner();
        let idempotency = Idempotency::of(&request.request_id, &request)?;
        let (grant_id, project_id) = parse_child("parent", &request.parent, "projects")?;
        let indicator = request
            .indicator
            .as_ref()
            .ok_or_else(|| Error::invalid("indicator", "is required"))?;
        let fields = indicator_input(indicator).validate("indicator")?;

        let write_call = with_request_id(call.clone(), &request.request_id);
        let answer = Idempotency::write(&idempotency, &self.store, &write_call, async |tx| {
            let grant = tx
                .grant_for_update(&call.actor.scope(), grant_id, None)
                .await?;
            grant.check_open()?;
            let project = tx
                .project_for_update(&call.actor.scope(), grant_id, project_id, None)
                .await?;
            project.check_open()?;
            project::check_targets(
                "indicator",
                &fields,
                &project,
                grant.terms.reporting_cadence,
                &self.calendar,
            )?;
            let created = tx.create_indicator(&project, fields).await?;
            Ok(indicator_to_proto(&created))
        })
        .await?;
        Ok(Response::new(answer))
    }

    async fn get_indicator(
        &self,
        request: Request<pb::GetIndicatorRequest>,
    ) -> Result<Response<pb::Indicator>, Status> {
        let call = call_context(&request)?;
        let (grant_id, project_id, id) = parse_indicator_name("name", &request.get_ref().name)?;
        let indicator = self
            .store
            .get_indicator(&call.actor.scope(), grant_id, project_id, id)
            .await?;
        Ok(Response::new(indicator_to_proto(&indicator)))
    }

    async fn list_indicators(
        &self,
        request: Request<pb::ListIndicatorsRequest>,
    ) -> Result<Response<pb::ListIndicatorsResponse>, Status> {
        let call = call_context(&request)?;
        let request = request.get_ref();
        let (grant_id, project_id) = parse_child("parent", &request.parent, "projects")?;
        let query = format!("{}|{}", request.parent, request.show_deleted);
        let after = paging::decode_token(&request.page_token, &query)?;
        let size = paging::page_size(request.page_size)?;
        let page = self
            .store
            .list_indicators(
                &call.actor.scope(),
                grant_id,
                project_id,
                request.show_deleted,
                after,
                size,
            )
            .await?;
        Ok(Response::new(pb::ListIndicatorsResponse {
            indicators: page.items.iter().map(indicator_to_proto).collect(),
            next_page_token: paging::encode_token(page.next_after, &query),
        }))
    }

    async fn update_indicator(
        &self,
        request: Request<pb::UpdateIndicatorRequest>,
    ) -> Result<Response<pb::Indicator>, Status> {
        let call = call_context(&request)?;
        let request = request.into_inner();
        let changes = request
            .indicator
            .ok_or_else(|| Error::invalid("indicator", "is required"))?;
        let (grant_id, project_id, id) = parse_indicator_name("indicator.name", &changes.name)?;
        let expected = parse_etag("indicator.etag", &changes.etag)?;
        let paths = mask_paths(request.update_mask.as_ref(), INDICATOR_UPDATABLE)?;

        let mut tx = self.store.begin(&call).await?;
        let grant = tx
            .grant_for_update(&call.actor.scope(), grant_id, None)
            .await?;
        grant.check_open()?;
        let project = tx
            .project_for_update(&call.actor.scope(), grant_id, project_id, None)
            .await?;
        project.check_open()?;
        let current = tx.indicator_for_update(&project, id, expected).await?;
        let mut merged = indicator_to_proto(&current);
        for path in &paths {
            match path.as_str() {
                "display_name" => merged.display_name = changes.display_name.clone(),
                "unit" => merged.unit = changes.unit.clone(),
                "outcome_kind" => merged.outcome_kind = changes.outcome_kind,
                "baseline" => merged.baseline = changes.baseline,
                _ => merged.targets = changes.targets.clone(),
            }
        }
        let fields = indicator_input(&merged).validate("indicator")?;
        project::check_targets(
            "indicator",
            &fields,
            &project,
            grant.terms.reporting_cadence,
            &self.calendar,
        )?;
        let updated = tx.save_indicator(current, fields, false).await?;
        tx.commit().await?;
        Ok(Response::new(indicator_to_proto(&updated)))
    }

    async fn delete_indicator(
        &self,
        request: Request<pb::DeleteIndicatorRequest>,
    ) -> Result<Response<pb::Indicator>, Status> {
        let call = call_context(&request)?;
        let request = request.get_ref();
        let (grant_id, project_id, id) = parse_indicator_name("name", &request.name)?;
        let expected = parse_etag("etag", &request.etag)?;
        let mut tx = self.store.begin(&call).await?;
        let grant = tx
            .grant_for_update(&call.actor.scope(), grant_id, None)
            .await?;
        grant.check_open()?;
        let project = tx
            .project_for_update(&call.actor.scope(), grant_id, project_id, None)
            .await?;
        project.check_open()?;
        let current = tx.indicator_for_update(&project, id, expected).await?;
        let fields = current.fields.clone();
        let deleted = tx.save_indicator(current, fields, true).await?;
        tx.commit().await?;
        Ok(Response::new(indicator_to_proto(&deleted)))
    }
}
