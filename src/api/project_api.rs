//! `tipgrants.v1.ProjectService`: projects and their indicators.

use tonic::{Request, Response, Status};

use super::paging;
use super::{
    ProtoEnum, StateChange, StateChangeRequest, accept_delete, accept_list, accept_name,
    accept_update, accept_write, etag, filter_code, required, timestamp,
};
use crate::domain::fiscal_year::FiscalCalendar;
use crate::domain::grant::ReportingCadence;
use crate::domain::names::{
    GrantName, IndicatorName, ProjectName, ResourceName, TipRecommendationName, parse_parent,
};
use crate::domain::outcome::{self, ReportingRules};
use crate::domain::pillar::Pillar;
use crate::domain::project::{
    self, ActivityKind, Indicator, IndicatorFields, IndicatorInput, OutcomeKind, Project,
    ProjectInput, ProjectState, ProjectTransition,
};
use crate::domain::reference;
use crate::error::Result;
use crate::pb::v1 as pb;
use crate::pb::v1::project_service_server::ProjectService;
use crate::store::projects::ProjectFilter;
use crate::store::{Store, Tx};

/// Serves projects and indicators.
pub struct ProjectApi {
    store: Store,
    calendar: FiscalCalendar,
    /// To move open outcome reports when a project's period changes.
    rules: ReportingRules,
}

/// After `project`'s period changed (an update, or its grant's extension): its open reports
/// follow the new schedule of the grant's `cadence`; submitted ones keep theirs.
pub(super) async fn reschedule_open_reports(
    tx: &mut Tx,
    rules: &ReportingRules,
    cadence: ReportingCadence,
    project: &Project,
) -> Result<()> {
    let schedule = outcome::schedule(
        rules,
        cadence,
        project.fields.start_date,
        project.fields.end_date,
    );
    for report in tx.reports_of_project(project).await? {
        if let Some(after) = outcome::rescheduled(&report, &schedule) {
            tx.save_outcome_report(&report, after).await?;
        }
    }
    Ok(())
}

impl ProjectApi {
    pub fn new(store: Store, rules: ReportingRules) -> Self {
        Self {
            store,
            calendar: rules.calendar,
            rules,
        }
    }
}

code_enum! {
    /// The fields of a project an update may change (the paths of its mask).
    pub enum ProjectField {
        Title => "title",
        Summary => "summary",
        CountryCodes => "country_codes",
        Pillars => "pillars",
        ActivityKinds => "activity_kinds",
        StartDate => "start_date",
        EndDate => "end_date",
        TipRecommendations => "tip_recommendations",
    }
}

code_enum! {
    /// The fields of an indicator an update may change (the paths of its mask).
    pub enum IndicatorField {
        DisplayName => "display_name",
        Unit => "unit",
        OutcomeKind => "outcome_kind",
        Baseline => "baseline",
        Targets => "targets",
    }
}

code_enum! {
    /// The fields a filter of projects may name.
    pub enum ProjectFilterField {
        Country => "country",
        Region => "region",
        Pillar => "pillar",
        State => "state",
    }
}

named_requests!(
    pb::GetProjectRequest,
    pb::GetIndicatorRequest;
    with etag: pb::DeleteIndicatorRequest
);
write_requests!(pb::CreateProjectRequest, pb::CreateIndicatorRequest,);
list_requests!(
    pb::ListProjectsRequest;
    without filter: pb::ListIndicatorsRequest
);
list_responses!(
    pb::ListProjectsResponse => projects: pb::Project,
    pb::ListIndicatorsResponse => indicators: pb::Indicator,
);
update_requests!(
    pb::UpdateProjectRequest => project: pb::Project [ProjectName, ProjectField],
    pb::UpdateIndicatorRequest => indicator: pb::Indicator [IndicatorName, IndicatorField],
);

state_change_requests!(
    pb::StartProjectRequest,
    pb::CompleteProjectRequest,
    pb::CancelProjectRequest
);

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
            .map(|pillar| pillar.to_proto())
            .collect(),
        activity_kinds: project
            .fields
            .activity_kinds
            .iter()
            .map(|kind| kind.to_proto())
            .collect(),
        start_date: project.fields.start_date.to_string(),
        end_date: project.fields.end_date.to_string(),
        state: project.state.to_proto(),
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
                TipRecommendationName::new(country, id).to_string()
            })
            .collect(),
        create_time: Some(timestamp(project.stamps.create_time)),
        update_time: Some(timestamp(project.stamps.update_time)),
        etag: etag(project.stamps.revision),
    }
}

fn indicator_to_proto(indicator: &Indicator) -> pb::Indicator {
    pb::Indicator {
        name: indicator.resource_name(),
        display_name: indicator.fields.display_name.clone(),
        unit: indicator.fields.unit.clone(),
        outcome_kind: indicator.fields.outcome_kind.to_proto(),
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
        create_time: Some(timestamp(indicator.stamps.create_time)),
        update_time: Some(timestamp(indicator.stamps.update_time)),
        delete_time: indicator.delete_time.map(timestamp),
        etag: etag(indicator.stamps.revision),
    }
}

fn project_input(project: &pb::Project) -> ProjectInput<'_> {
    ProjectInput {
        title: &project.title,
        summary: &project.summary,
        country_codes: &project.country_codes,
        pillars: project
            .pillars
            .iter()
            .map(|value| Pillar::from_proto(*value))
            .collect(),
        activity_kinds: project
            .activity_kinds
            .iter()
            .map(|value| ActivityKind::from_proto(*value))
            .collect(),
        start_date: &project.start_date,
        end_date: &project.end_date,
        tip_recommendations: &project.tip_recommendations,
    }
}

fn indicator_input(indicator: &pb::Indicator) -> IndicatorInput<'_> {
    IndicatorInput {
        display_name: &indicator.display_name,
        unit: &indicator.unit,
        outcome_kind: OutcomeKind::from_proto(indicator.outcome_kind),
        baseline: indicator.baseline,
        targets: indicator
            .targets
            .iter()
            .map(|target| (target.fiscal_year, target.period.as_str(), target.value))
            .collect(),
    }
}

impl ProjectApi {
    /// The answer for a project: its recommendations named with their countries.
    fn answer(&self, project: &Project, names: &[String]) -> pb::Project {
        let known: Vec<(String, String)> = names
            .iter()
            .filter_map(|name| name.parse::<TipRecommendationName>().ok())
            .map(|name| (name.country, name.recommendation))
            .collect();
        to_proto(project, &known)
    }

    /// The one path of every project state change: they differ only by `transition`.
    async fn change_state(
        &self,
        request: Request<impl StateChangeRequest>,
        transition: ProjectTransition,
    ) -> Result<Response<pb::Project>, Status> {
        let change = StateChange::<ProjectName>::parse(request)?;
        let scope = change.call.actor.scope();
        let name = &change.name;
        let answer = change
            .write
            .run(&self.store, async |tx| {
                let grant = tx.grant_for_update(&scope, &name.grant(), None).await?;
                let current = tx.project_for_update(&scope, name, change.expected).await?;
                let after = project::decide_project_transition(&current, &grant, transition)?;
                let changed = tx.save_project(current, after).await?;
                let names = tx
                    .recommendation_names(&changed.fields.recommendation_ids)
                    .await?;
                Ok(self.answer(&changed, &names))
            })
            .await?;
        Ok(Response::new(answer))
    }

    /// Checks what the store knows about a project's references: its
    /// countries exist and the recommendations it cites are live and filed under them.
    async fn check_references(tx: &Tx, project: &pb::Project, countries: &[String]) -> Result<()> {
        let unknown = tx.unknown_countries(countries).await?;
        reference::check_known_countries("project.country_codes", countries, &unknown)?;
        let live = tx
            .tip_recommendations_for(&project::recommendation_ids(&project.tip_recommendations))
            .await?;
        project::check_recommendations_live(
            "project.tip_recommendations",
            &project.tip_recommendations,
            &live,
        )
    }

    /// The locked, open grant and project of a change to the project or its
    /// indicators; `expected` is the caller's etag of the project, if any.
    async fn open_project(
        tx: &Tx,
        call: &crate::store::CallContext,
        name: &ProjectName,
        expected: Option<i64>,
    ) -> Result<(crate::domain::grant::Grant, Project)> {
        let scope = call.actor.scope();
        let grant = tx.grant_for_update(&scope, &name.grant(), None).await?;
        grant.check_open()?;
        let project = tx.project_for_update(&scope, name, expected).await?;
        project.check_open()?;
        Ok((grant, project))
    }

    /// Checks an indicator's targets against its project's period and its grant's cadence.
    fn check_targets(
        &self,
        fields: &IndicatorFields,
        grant: &crate::domain::grant::Grant,
        project: &Project,
    ) -> Result<()> {
        project::check_targets(
            "indicator",
            fields,
            project,
            grant.terms.reporting_cadence,
            &self.calendar,
        )
    }

    /// Begins a change of an indicator: the transaction, the indicator's grant
    /// and project (locked and open) and the indicator (live, at `expected`).
    async fn begin_indicator_change(
        &self,
        call: &crate::store::CallContext,
        name: &IndicatorName,
        expected: Option<i64>,
    ) -> Result<(Tx, crate::domain::grant::Grant, Project, Indicator)> {
        let tx = self.store.begin(call).await?;
        let (grant, project) = Self::open_project(&tx, call, &name.project(), None).await?;
        let indicator = tx
            .indicator_for_update(&project, &name.indicator, expected)
            .await?;
        Ok((tx, grant, project, indicator))
    }
}

#[tonic::async_trait]
impl ProjectService for ProjectApi {
    async fn get_project(
        &self,
        request: Request<pb::GetProjectRequest>,
    ) -> Result<Response<pb::Project>, Status> {
        let (call, name) = accept_name::<_, ProjectName>(request)?;
        let project = self.store.get_project(&call.actor.scope(), &name).await?;
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
        let (call, request, page) = accept_list(request)?;
        let parent = parse_parent::<GrantName>("parent", &request.parent)?;
        let mut filter = ProjectFilter {
            grant_id: parent.map(|name| name.grant),
            ..Default::default()
        };
        for (field, value) in paging::parse_filter::<ProjectFilterField>(&request.filter)? {
            match field {
                ProjectFilterField::Country => {
                    filter.country_code = Some(value.to_ascii_uppercase())
                }
                ProjectFilterField::Region => {
                    filter.region_code = Some(paging::region_filter(&value))
                }
                ProjectFilterField::Pillar => {
                    filter.pillar = Some(filter_code::<Pillar>(&value, "pillar")?)
                }
                ProjectFilterField::State => {
                    filter.state = Some(filter_code::<ProjectState>(&value, "project state")?)
                }
            }
        }
        super::check_filter_places(
            &self.store,
            filter.country_code.as_deref(),
            filter.region_code.as_deref(),
        )
        .await?;
        let found = self
            .store
            .list_projects(&call.actor.scope(), &filter, &page.keyset)
            .await?;
        let ids: Vec<String> = found
            .items
            .iter()
            .flat_map(|project| project.fields.recommendation_ids.clone())
            .collect();
        let names = self.store.recommendation_names(&ids).await?;
        Ok(page.respond(found, |project| self.answer(project, &names)))
    }

    async fn create_project(
        &self,
        request: Request<pb::CreateProjectRequest>,
    ) -> Result<Response<pb::Project>, Status> {
        let (call, write, request) = accept_write(request)?;
        let parent = GrantName::parse("parent", &request.parent)?;
        let project = required("project", &request.project)?;

        let answer = write
            .run(&self.store, async |tx| {
                let grant = tx
                    .grant_for_update(&call.actor.scope(), &parent, None)
                    .await?;
                grant.check_open()?;
                let fields = project_input(project).validate("project", &grant)?;
                Self::check_references(tx, project, &fields.country_codes).await?;
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
        let update = accept_update(request)?;

        let mut tx = self.store.begin(&update.call).await?;
        let (grant, current) =
            Self::open_project(&tx, &update.call, &update.name, update.expected).await?;
        let current_names = tx
            .recommendation_names(&current.fields.recommendation_ids)
            .await?;
        let mut merged = self.answer(&current, &current_names);
        for field in update.fields {
            match field {
                ProjectField::Title => merged.title = update.changes.title.clone(),
                ProjectField::Summary => merged.summary = update.changes.summary.clone(),
                ProjectField::CountryCodes => {
                    merged.country_codes = update.changes.country_codes.clone()
                }
                ProjectField::Pillars => merged.pillars = update.changes.pillars.clone(),
                ProjectField::ActivityKinds => {
                    merged.activity_kinds = update.changes.activity_kinds.clone()
                }
                ProjectField::StartDate => merged.start_date = update.changes.start_date.clone(),
                ProjectField::EndDate => merged.end_date = update.changes.end_date.clone(),
                ProjectField::TipRecommendations => {
                    merged.tip_recommendations = update.changes.tip_recommendations.clone()
                }
            }
        }
        let fields = project_input(&merged).validate("project", &grant)?;
        Self::check_references(&tx, &merged, &fields.country_codes).await?;
        let mut after = current.clone();
        after.fields = fields;
        let updated = tx.save_project(current, after).await?;
        reschedule_open_reports(
            &mut tx,
            &self.rules,
            grant.terms.reporting_cadence,
            &updated,
        )
        .await?;
        let answer = self.answer(&updated, &merged.tip_recommendations);
        tx.commit().await?;
        Ok(Response::new(answer))
    }

    async fn start_project(
        &self,
        request: Request<pb::StartProjectRequest>,
    ) -> Result<Response<pb::Project>, Status> {
        self.change_state(request, ProjectTransition::Start).await
    }

    async fn complete_project(
        &self,
        request: Request<pb::CompleteProjectRequest>,
    ) -> Result<Response<pb::Project>, Status> {
        self.change_state(request, ProjectTransition::Complete)
            .await
    }

    async fn cancel_project(
        &self,
        request: Request<pb::CancelProjectRequest>,
    ) -> Result<Response<pb::Project>, Status> {
        self.change_state(request, ProjectTransition::Cancel).await
    }

    async fn create_indicator(
        &self,
        request: Request<pb::CreateIndicatorRequest>,
    ) -> Result<Response<pb::Indicator>, Status> {
        let (call, write, request) = accept_write(request)?;
        let parent = ProjectName::parse("parent", &request.parent)?;
        let indicator = required("indicator", &request.indicator)?;
        let fields = indicator_input(indicator).validate("indicator")?;

        let answer = write
            .run(&self.store, async |tx| {
                let (grant, project) = Self::open_project(tx, &call, &parent, None).await?;
                self.check_targets(&fields, &grant, &project)?;
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
        let (call, name) = accept_name::<_, IndicatorName>(request)?;
        let indicator = self.store.get_indicator(&call.actor.scope(), &name).await?;
        Ok(Response::new(indicator_to_proto(&indicator)))
    }

    async fn list_indicators(
        &self,
        request: Request<pb::ListIndicatorsRequest>,
    ) -> Result<Response<pb::ListIndicatorsResponse>, Status> {
        let (call, request, page) = accept_list(request)?;
        let parent = ProjectName::parse("parent", &request.parent)?;
        let found = self
            .store
            .list_indicators(
                &call.actor.scope(),
                &parent.grant,
                &parent.project,
                request.show_deleted,
                &page.keyset,
            )
            .await?;
        Ok(page.respond(found, indicator_to_proto))
    }

    async fn update_indicator(
        &self,
        request: Request<pb::UpdateIndicatorRequest>,
    ) -> Result<Response<pb::Indicator>, Status> {
        let update = accept_update(request)?;

        let (mut tx, grant, project, current) = self
            .begin_indicator_change(&update.call, &update.name, update.expected)
            .await?;
        let mut merged = indicator_to_proto(&current);
        for field in update.fields {
            match field {
                IndicatorField::DisplayName => {
                    merged.display_name = update.changes.display_name.clone()
                }
                IndicatorField::Unit => merged.unit = update.changes.unit.clone(),
                IndicatorField::OutcomeKind => merged.outcome_kind = update.changes.outcome_kind,
                IndicatorField::Baseline => merged.baseline = update.changes.baseline,
                IndicatorField::Targets => merged.targets = update.changes.targets.clone(),
            }
        }
        let fields = indicator_input(&merged).validate("indicator")?;
        self.check_targets(&fields, &grant, &project)?;
        let updated = tx.save_indicator(current, fields, false).await?;
        tx.commit().await?;
        Ok(Response::new(indicator_to_proto(&updated)))
    }

    async fn delete_indicator(
        &self,
        request: Request<pb::DeleteIndicatorRequest>,
    ) -> Result<Response<pb::Indicator>, Status> {
        let (call, name, expected) = accept_delete::<_, IndicatorName>(request)?;
        let (mut tx, _grant, _project, current) =
            self.begin_indicator_change(&call, &name, expected).await?;
        let fields = current.fields.clone();
        let deleted = tx.save_indicator(current, fields, true).await?;
        tx.commit().await?;
        Ok(Response::new(indicator_to_proto(&deleted)))
    }
}
