//! `tipgrants.v1.GrantService`: grants, obligations, revisions.

use tonic::{Request, Response, Status};

use super::enums::*;
use super::paging;
use super::{
    Idempotency, call_context, etag, filter_code, filter_number, from_timestamp, mask_paths,
    parse_etag, parse_name, timestamp, with_request_id,
};
use crate::domain::fiscal_year::FiscalCalendar;
use crate::domain::grant::{
    self, Grant, GrantInput, GrantRevision, GrantState, Obligation, ObligationInput,
    ObligationKind, Transition,
};
use crate::domain::pillar::Pillar;
use crate::error::{Error, Result};
use crate::pb::v1 as pb;
use crate::pb::v1::grant_service_server::GrantService;
use crate::store::grants::{GrantFilter, ObligationFilter};
use crate::store::{CallContext, Store};

/// Serves grants.
pub struct GrantApi {
    store: Store,
    calendar: FiscalCalendar,
}

impl GrantApi {
    pub fn new(store: Store, calendar: FiscalCalendar) -> Self {
        Self { store, calendar }
    }
}

const UPDATABLE: &[&str] = &[
    "title",
    "instrument",
    "approach",
    "start_date",
    "end_date",
    "reporting_cadence",
    "program_officer",
];

/// The proto form of a grant.
pub fn to_proto(grant: &Grant) -> pb::Grant {
    pb::Grant {
        name: grant.resource_name(),
        award_number: grant.terms.award_number.clone(),
        title: grant.terms.title.clone(),
        grantee: format!("organizations/{}", grant.terms.organization_id),
        instrument: instrument_to_proto(grant.terms.instrument),
        approach: approach_to_proto(grant.terms.approach),
        start_date: grant.terms.start_date.to_string(),
        end_date: grant.terms.end_date.to_string(),
        reporting_cadence: cadence_to_proto(grant.terms.reporting_cadence),
        program_officer: grant.terms.program_officer.clone(),
        state: grant_state_to_proto(grant.state),
        state_reason: grant.state_reason.clone(),
        obligated_amount: grant.obligated().0,
        obligation_totals: grant
            .totals
            .iter()
            .map(|total| pb::ObligationTotal {
                funding_account: format!("fundingAccounts/{}", total.account_code),
                fiscal_year: total.fiscal_year,
                amount: total.amount.0,
            })
            .collect(),
        create_time: Some(timestamp(grant.create_time)),
        update_time: Some(timestamp(grant.update_time)),
        etag: etag(grant.revision),
        revision: grant.revision,
    }
}

fn obligation_to_proto(obligation: &Obligation) -> pb::Obligation {
    pb::Obligation {
        name: obligation.resource_name(),
        kind: obligation_kind_to_proto(obligation.fields.kind),
        funding_account: format!("fundingAccounts/{}", obligation.fields.account_code),
        fiscal_year: obligation.fields.fiscal_year,
        amount: obligation.fields.amount.0,
        obligation_date: obligation.fields.obligation_date.to_string(),
        note: obligation.fields.note.clone(),
        create_time: Some(timestamp(obligation.create_time)),
    }
}

fn revision_to_proto(revision: &GrantRevision) -> pb::GrantRevision {
    pb::GrantRevision {
        name: format!(
            "grants/{}/revisions/{}",
            revision.grant_id, revision.revision
        ),
        revision: revision.revision,
        revision_time: Some(timestamp(revision.revision_time)),
        actor: revision.actor.clone(),
        method: revision.method.clone(),
        grant: Some(to_proto(&revision.grant)),
    }
}

fn input(grant: &pb::Grant) -> GrantInput<'_> {
    GrantInput {
        award_number: &grant.award_number,
        title: &grant.title,
        organization_id: parse_name("grant.grantee", &grant.grantee, "organizations")
            .map_err(description),
        instrument: instrument_from_proto(grant.instrument),
        approach: approach_from_proto(grant.approach),
        start_date: &grant.start_date,
        end_date: &grant.end_date,
        reporting_cadence: cadence_from_proto(grant.reporting_cadence),
        program_officer: &grant.program_officer,
    }
}

/// The description of a single-field violation (to re-home it under another field path).
fn description(error: Error) -> String {
    match error {
        Error::InvalidArgument(violations) => violations
            .into_iter()
            .map(|v| v.description)
            .collect::<Vec<_>>()
            .join("; "),
        other => other.to_string(),
    }
}

/// A funding account code from `ESF` or `fundingAccounts/ESF`.
fn account_code(value: &str) -> String {
    value
        .trim()
        .trim_start_matches("fundingAccounts/")
        .to_ascii_uppercase()
}

impl GrantApi {
    fn parse_filter(&self, filter: &str) -> Result<GrantFilter> {
        let fields = [
            "grantee",
            "funding_account",
            "fiscal_year",
            "performance_fiscal_year",
            "state",
            "country",
            "region",
            "pillar",
        ];
        let mut parsed = GrantFilter::default();
        for (field, value) in paging::parse_filter(filter, &fields)? {
            match field.as_str() {
                "grantee" => {
                    parsed.organization_id =
                        Some(parse_name("filter", &value, "organizations")?.to_string())
                }
                "funding_account" => parsed.account_code = Some(account_code(&value)),
                "fiscal_year" => parsed.fiscal_year = Some(filter_number("fiscal_year", &value)?),
                "performance_fiscal_year" => {
                    let year = filter_number("performance_fiscal_year", &value)?;
                    grant_fiscal_year(year)?;
                    parsed.performance_period = self.calendar.bounds(year);
                }
                "state" => {
                    parsed.state = Some(filter_code(
                        &value,
                        "GRANT_STATE_",
                        GrantState::from_code,
                        "grant state",
                    )?)
                }
                "country" => parsed.country_code = Some(value.to_ascii_uppercase()),
                "region" => {
                    parsed.region_code =
                        Some(value.trim_start_matches("regions/").to_ascii_uppercase())
                }
                _ => {
                    parsed.pillar =
                        Some(filter_code(&value, "PILLAR_", Pillar::from_code, "pillar")?)
                }
            }
        }
        Ok(parsed)
    }

    /// The shared path of the four state changes.
    async fn change_state(
        &self,
        call: CallContext,
        request: &impl prost::Message,
        change: StateChange<'_>,
        transition: Transition,
    ) -> Result<pb::Grant> {
        let StateChange {
            name,
            etag,
            reason,
            request_id,
        } = change;
        let idempotency = Idempotency::of(request_id, request)?;
        let id = parse_name("name", name, "grants")?;
        let expected = parse_etag("etag", etag)?;
        let write_call = with_request_id(call.clone(), request_id);
        let answer = Idempotency::write(&idempotency, &self.store, &write_call, async |tx| {
            let current = tx
                .grant_for_update(&call.actor.scope(), id, expected)
                .await?;
            let facts = tx.grant_project_facts(&current.id).await?;
            let (state, reason) = grant::decide_transition(&current, transition, reason, facts)?;
            let changed = tx.set_grant_state(current, state, reason).await?;
            Ok(to_proto(&changed))
        })
        .await?;
        Ok(answer)
    }
}

/// The fields every grant state change carries.
struct StateChange<'a> {
    name: &'a str,
    etag: &'a str,
    reason: &'a str,
    request_id: &'a str,
}

fn grant_fiscal_year(year: i32) -> Result<i32> {
    crate::domain::fiscal_year::check_fiscal_year(year)
        .map_err(|description| Error::invalid("filter", description))
}

#[tonic::async_trait]
impl GrantService for GrantApi {
    async fn get_grant(
        &self,
        request: Request<pb::GetGrantRequest>,
    ) -> Result<Response<pb::Grant>, Status> {
        let call = call_context(&request)?;
        let id = parse_name("name", &request.get_ref().name, "grants")?;
        let grant = self.store.get_grant(&call.actor.scope(), id).await?;
        Ok(Response::new(to_proto(&grant)))
    }

    async fn list_grants(
        &self,
        request: Request<pb::ListGrantsRequest>,
    ) -> Result<Response<pb::ListGrantsResponse>, Status> {
        let call = call_context(&request)?;
        let request = request.get_ref();
        let filter = self.parse_filter(&request.filter)?;
        super::check_filter_places(
            &self.store,
            filter.country_code.as_deref(),
            filter.region_code.as_deref(),
        )
        .await?;
        let after = paging::decode_token(&request.page_token, &request.filter)?;
        let size = paging::page_size(request.page_size)?;
        let page = self
            .store
            .list_grants(&call.actor.scope(), &filter, after, size)
            .await?;
        Ok(Response::new(pb::ListGrantsResponse {
            grants: page.items.iter().map(to_proto).collect(),
            next_page_token: paging::encode_token(page.next_after, &request.filter),
        }))
    }

    async fn create_grant(
        &self,
        request: Request<pb::CreateGrantRequest>,
    ) -> Result<Response<pb::Grant>, Status> {
        let call = call_context(&request)?;
        let request = request.into_inner();
        let idempotency = Idempotency::of(&request.request_id, &request)?;
        let grant = request
            .grant
            .as_ref()
            .ok_or_else(|| Error::invalid("grant", "is required"))?;
        let terms = input(grant).validate("grant")?;

        let write_call = with_request_id(call, &request.request_id);
        let answer = Idempotency::write(&idempotency, &self.store, &write_call, async |tx| {
            let created = tx.create_grant(terms).await?;
            Ok(to_proto(&created))
        })
        .await?;
        Ok(Response::new(answer))
    }

    async fn update_grant(
        &self,
        request: Request<pb::UpdateGrantRequest>,
    ) -> Result<Response<pb::Grant>, Status> {
        let call = call_context(&request)?;
        let request = request.into_inner();
        let changes = request
            .grant
            .ok_or_else(|| Error::invalid("grant", "is required"))?;
        let id = parse_name("grant.name", &changes.name, "grants")?;
        let expected = parse_etag("grant.etag", &changes.etag)?;
        let paths = mask_paths(request.update_mask.as_ref(), UPDATABLE)?;

        let mut tx = self.store.begin(&call).await?;
        let current = tx
            .grant_for_update(&call.actor.scope(), id, expected)
            .await?;
        current.check_open()?;
        let mut merged = to_proto(&current);
        for path in &paths {
            match path.as_str() {
                "title" => merged.title = changes.title.clone(),
                "instrument" => merged.instrument = changes.instrument,
                "approach" => merged.approach = changes.approach,
                "start_date" => merged.start_date = changes.start_date.clone(),
                "end_date" => merged.end_date = changes.end_date.clone(),
                "reporting_cadence" => merged.reporting_cadence = changes.reporting_cadence,
                _ => merged.program_officer = changes.program_officer.clone(),
            }
        }
        let terms = input(&merged).validate("grant")?;
        let updated = tx.update_grant(current, terms).await?;
        tx.commit().await?;
        Ok(Response::new(to_proto(&updated)))
    }

    async fn activate_grant(
        &self,
        request: Request<pb::ActivateGrantRequest>,
    ) -> Result<Response<pb::Grant>, Status> {
        let call = call_context(&request)?;
        let r = request.get_ref();
        let answer = self
            .change_state(
                call,
                r,
                StateChange {
                    name: &r.name,
                    etag: &r.etag,
                    reason: &r.reason,
                    request_id: &r.request_id,
                },
                Transition::Activate,
            )
            .await?;
        Ok(Response::new(answer))
    }

    async fn suspend_grant(
        &self,
        request: Request<pb::SuspendGrantRequest>,
    ) -> Result<Response<pb::Grant>, Status> {
        let call = call_context(&request)?;
        let r = request.get_ref();
        let answer = self
            .change_state(
                call,
                r,
                StateChange {
                    name: &r.name,
                    etag: &r.etag,
                    reason: &r.reason,
                    request_id: &r.request_id,
                },
                Transition::Suspend,
            )
            .await?;
        Ok(Response::new(answer))
    }

    async fn close_grant(
        &self,
        request: Request<pb::CloseGrantRequest>,
    ) -> Result<Response<pb::Grant>, Status> {
        let call = call_context(&request)?;
        let r = request.get_ref();
        let answer = self
            .change_state(
                call,
                r,
                StateChange {
                    name: &r.name,
                    etag: &r.etag,
                    reason: &r.reason,
                    request_id: &r.request_id,
                },
                Transition::Close,
            )
            .await?;
        Ok(Response::new(answer))
    }

    async fn terminate_grant(
        &self,
        request: Request<pb::TerminateGrantRequest>,
    ) -> Result<Response<pb::Grant>, Status> {
        let call = call_context(&request)?;
        let r = request.get_ref();
        let answer = self
            .change_state(
                call,
                r,
                StateChange {
                    name: &r.name,
                    etag: &r.etag,
                    reason: &r.reason,
                    request_id: &r.request_id,
                },
                Transition::Terminate,
            )
            .await?;
        Ok(Response::new(answer))
    }

    async fn create_obligation(
        &self,
        request: Request<pb::CreateObligationRequest>,
    ) -> Result<Response<pb::Obligation>, Status> {
        let call = call_context(&request)?;
        let request = request.into_inner();
        let idempotency = Idempotency::of(&request.request_id, &request)?;
        let grant_id = parse_name("parent", &request.parent, "grants")?;
        let obligation = request
            .obligation
            .as_ref()
            .ok_or_else(|| Error::invalid("obligation", "is required"))?;
        let new = ObligationInput {
            kind: obligation_kind_from_proto(obligation.kind),
            account_code: if obligation.funding_account.trim().is_empty() {
                Err("is required, e.g. fundingAccounts/ESF".to_string())
            } else {
                Ok(obligation
                    .funding_account
                    .trim()
                    .trim_start_matches("fundingAccounts/"))
            },
            fiscal_year: obligation.fiscal_year,
            amount: obligation.amount,
            obligation_date: &obligation.obligation_date,
            note: &obligation.note,
        }
        .validate("obligation", &self.calendar)?;

        let write_call = with_request_id(call.clone(), &request.request_id);
        let answer = Idempotency::write(&idempotency, &self.store, &write_call, async |tx| {
            let (grant, existing) = tx
                .grant_and_obligations_for_update(&call.actor.scope(), grant_id, None)
                .await?;
            grant::check_obligation(&grant, &existing, &new, "obligation")?;
            let (created, _grant) = tx.create_obligation(grant, existing, new).await?;
            Ok(obligation_to_proto(&created))
        })
        .await?;
        Ok(Response::new(answer))
    }

    async fn get_obligation(
        &self,
        request: Request<pb::GetObligationRequest>,
    ) -> Result<Response<pb::Obligation>, Status> {
        let call = call_context(&request)?;
        let (grant_id, id) = parse_child("name", &request.get_ref().name, "obligations")?;
        let obligation = self
            .store
            .get_obligation(&call.actor.scope(), grant_id, id)
            .await?;
        Ok(Response::new(obligation_to_proto(&obligation)))
    }

    async fn list_obligations(
        &self,
        request: Request<pb::ListObligationsRequest>,
    ) -> Result<Response<pb::ListObligationsResponse>, Status> {
        let call = call_context(&request)?;
        let request = request.get_ref();
        let grant_id = parse_name("parent", &request.parent, "grants")?;
        let mut filter = ObligationFilter::default();
        for (field, value) in
            paging::parse_filter(&request.filter, &["funding_account", "fiscal_year", "kind"])?
        {
            match field.as_str() {
                "funding_account" => filter.account_code = Some(account_code(&value)),
                "fiscal_year" => filter.fiscal_year = Some(filter_number("fiscal_year", &value)?),
                _ => {
                    filter.kind = Some(filter_code(
                        &value,
                        "OBLIGATION_KIND_",
                        ObligationKind::from_code,
                        "obligation kind",
                    )?)
                }
            }
        }
        let query = format!("{}|{}", request.parent, request.filter);
        let after = paging::decode_token(&request.page_token, &query)?;
        let size = paging::page_size(request.page_size)?;
        let page = self
            .store
            .list_obligations(&call.actor.scope(), grant_id, &filter, after, size)
            .await?;
        Ok(Response::new(pb::ListObligationsResponse {
            obligations: page.items.iter().map(obligation_to_proto).collect(),
            next_page_token: paging::encode_token(page.next_after, &query),
        }))
    }

    async fn list_grant_revisions(
        &self,
        request: Request<pb::ListGrantRevisionsRequest>,
    ) -> Result<Response<pb::ListGrantRevisionsResponse>, Status> {
        let call = call_context(&request)?;
        let request = request.get_ref();
        let grant_id = parse_name("parent", &request.parent, "grants")?;
        let as_of = request
            .as_of_time
            .as_ref()
            .map(|time| from_timestamp("as_of_time", time))
            .transpose()?;
        let query = format!("{}|{:?}", request.parent, as_of);
        let after = paging::decode_token(&request.page_token, &query)?
            .map(|after| {
                after
                    .parse::<i64>()
                    .map_err(|_| Error::invalid("page_token", "is not a page token of this list"))
            })
            .transpose()?;
        let size = paging::page_size(request.page_size)?;
        let page = self
            .store
            .list_grant_revisions(&call.actor.scope(), grant_id, as_of, after, size)
            .await?;
        Ok(Response::new(pb::ListGrantRevisionsResponse {
            revisions: page.items.iter().map(revision_to_proto).collect(),
            next_page_token: paging::encode_token(page.next_after, &query),
        }))
    }
}

/// `grants/{grant}/{collection}/{id}` -> (grant, id); the error names `field`.
pub fn parse_child<'a>(field: &str, name: &'a str, collection: &str) -> Result<(&'a str, &'a str)> {
    let parts: Vec<&str> = name.split('/').collect();
    match parts.as_slice() {
        ["grants", grant, child, id]
            if *child == collection && !grant.is_empty() && !id.is_empty() =>
        {
            Ok((grant, id))
        }
        _ => Err(Error::invalid(
            field,
            format!(
                "{name:?} is not a resource name of the form grants/{{grant}}/{collection}/{{id}}"
            ),
        )),
    }
}
