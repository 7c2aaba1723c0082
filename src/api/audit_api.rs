//! `tipgrants.v1.AuditService`: read and verify the audit chain.

use tonic::{Request, Response, Status};

use super::paging;
use super::{ProtoEnum, accept_list, call_context, from_timestamp, timestamp};
use crate::domain::access::Role;
use crate::domain::audit::AuditEvent;
use crate::domain::names::AuditEventName;
use crate::error::{Error, Result};
use crate::pb::v1 as pb;
use crate::pb::v1::audit_service_server::AuditService;
use crate::store::Store;
use crate::store::audit::AuditFilter;

code_enum! {
    /// The fields a filter of audit events may name.
    pub enum AuditFilterField {
        Resource => "resource",
        Actor => "actor",
        Method => "method",
    }
}

list_requests!(pb::ListAuditEventsRequest,);
list_responses!(
    pb::ListAuditEventsResponse => audit_events: pb::AuditEvent,
);

/// Serves the audit log.
pub struct AuditApi {
    store: Store,
}

impl AuditApi {
    pub fn new(store: Store) -> Self {
        Self { store }
    }
}

/// JSON to `google.protobuf.Value`.
fn json_to_value(json: &serde_json::Value) -> prost_types::Value {
    use prost_types::value::Kind;
    let kind = match json {
        serde_json::Value::Null => Kind::NullValue(0),
        serde_json::Value::Bool(flag) => Kind::BoolValue(*flag),
        // Protobuf JSON numbers are doubles; amounts in cents stay exact below 2^53.
        serde_json::Value::Number(number) => Kind::NumberValue(number.as_f64().unwrap_or_default()),
        serde_json::Value::String(text) => Kind::StringValue(text.clone()),
        serde_json::Value::Array(items) => Kind::ListValue(prost_types::ListValue {
            values: items.iter().map(json_to_value).collect(),
        }),
        serde_json::Value::Object(map) => Kind::StructValue(json_to_struct(map)),
    };
    prost_types::Value { kind: Some(kind) }
}

fn json_to_struct(map: &serde_json::Map<String, serde_json::Value>) -> prost_types::Struct {
    prost_types::Struct {
        fields: map
            .iter()
            .map(|(key, value)| (key.clone(), json_to_value(value)))
            .collect(),
    }
}

fn to_proto(event: &AuditEvent) -> pb::AuditEvent {
    pb::AuditEvent {
        name: AuditEventName::new(event.sequence.to_string()).to_string(),
        sequence: event.sequence,
        event_time: Some(timestamp(event.event_time)),
        actor: event.body.actor.token.clone(),
        actor_role: Role::from_code(&event.body.actor.role)
            .map(Role::to_proto)
            .unwrap_or_default(),
        actor_owner: event.body.actor.owner.clone(),
        method: event.body.method.clone(),
        resource: event.body.resource.clone(),
        request_id: event.body.request_id.clone(),
        diff: event.body.diff.as_object().map(json_to_struct),
        previous_hash: event.previous_hash.clone(),
        hash: event.hash.clone(),
    }
}

fn parse_filter(request: &pb::ListAuditEventsRequest) -> Result<AuditFilter> {
    let mut filter = AuditFilter::default();
    for (field, value) in paging::parse_filter::<AuditFilterField>(&request.filter)? {
        match field {
            AuditFilterField::Resource => filter.resource = Some(value),
            AuditFilterField::Actor => filter.actor = Some(value),
            AuditFilterField::Method => filter.method = Some(value),
        }
    }
    filter.start_time = request
        .start_time
        .as_ref()
        .map(|time| from_timestamp("start_time", time))
        .transpose()?;
    filter.end_time = request
        .end_time
        .as_ref()
        .map(|time| from_timestamp("end_time", time))
        .transpose()?;
    if let (Some(start), Some(end)) = (filter.start_time, filter.end_time)
        && end <= start
    {
        return Err(Error::invalid("end_time", "must be after start_time"));
    }
    Ok(filter)
}

#[tonic::async_trait]
impl AuditService for AuditApi {
    async fn list_audit_events(
        &self,
        request: Request<pb::ListAuditEventsRequest>,
    ) -> Result<Response<pb::ListAuditEventsResponse>, Status> {
        let (_, request, page) = accept_list(request)?;
        let filter = parse_filter(&request)?;
        let found = self.store.list_audit_events(&filter, &page.keyset).await?;
        Ok(page.respond(found, to_proto))
    }

    async fn verify_audit_chain(
        &self,
        request: Request<pb::VerifyAuditChainRequest>,
    ) -> Result<Response<pb::VerifyAuditChainResponse>, Status> {
        call_context(&request)?;
        let request = request.get_ref();
        let anchor = match (
            request.expected_head_sequence,
            request.expected_head_hash.trim(),
        ) {
            (0, "") => None,
            (sequence, hash)
                if sequence >= 1
                    && hash.len() == 64
                    && hash.chars().all(|c| c.is_ascii_hexdigit()) =>
            {
                Some((sequence, hash.to_ascii_lowercase()))
            }
            _ => {
                return Err(crate::error::Error::invalid(
                    "expected_head_sequence",
                    "an anchor is a sequence of at least 1 with its 64-hex-digit expected_head_hash",
                )
                .into());
            }
        };
        let verification = self.store.verify_audit_chain(anchor).await?;
        let (first_broken_sequence, problem) =
            verification.check.broken.clone().unwrap_or_default();
        Ok(Response::new(pb::VerifyAuditChainResponse {
            valid: verification.check.broken.is_none(),
            events_checked: verification.check.checked,
            first_broken_sequence,
            problem,
            head_sequence: verification.head_sequence,
            head_hash: verification.head_hash,
        }))
    }
}
