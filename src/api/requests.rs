//! Reading a request: who asks (the `CallContext` the auth layer put on it),
//! the traits the generated messages implement (write, update, named, delete,
//! state change; see `macros.rs`), the fields every handler reads the same
//! way (required fields, etags, timestamps, update masks).

use chrono::{DateTime, Utc};
use prost::Message;
use tonic::Request;

use super::paging;
use super::writes::Write;
use crate::domain::CodeEnum;
use crate::domain::names::ResourceName;
use crate::domain::validate;
use crate::error::{Error, Result};
use crate::store::CallContext;

/// The call context the auth layer attached to `request`.
pub fn call_context<T>(request: &Request<T>) -> Result<CallContext> {
    request
        .extensions()
        .get::<CallContext>()
        .cloned()
        .ok_or(Error::Unauthenticated)
}

/// The caller and the message of a request.
pub fn accept<T>(request: Request<T>) -> Result<(CallContext, T)> {
    let call = call_context(&request)?;
    Ok((call, request.into_inner()))
}

/// Reads a list request: the caller, the message, and its page.
pub fn accept_list<R: paging::ListRequest>(
    request: Request<R>,
) -> Result<(CallContext, R, paging::PageRequest)> {
    let (call, request) = accept(request)?;
    let page = paging::PageRequest::of(&request)?;
    Ok((call, request, page))
}

/// A request that writes, with the caller's `request_id`: empty, or the key
/// that makes a retry answer the first result.
pub trait WriteRequest: Message + Send + 'static {
    fn request_id(&self) -> &str;
}

/// Reads a request that writes: the caller, the idempotent write it makes, and the message.
pub fn accept_write<R: WriteRequest>(request: Request<R>) -> Result<(CallContext, Write, R)> {
    let (call, request) = accept(request)?;
    let write = Write::of(&call, request.request_id(), &request)?;
    Ok((call, write, request))
}

/// A message field the request must carry.
pub fn required<'a, T>(field: &str, value: &'a Option<T>) -> Result<&'a T> {
    value
        .as_ref()
        .ok_or_else(|| Error::invalid(field, "is required"))
}

/// An update request (`UpdateGrantRequest`, ...): the changed resource,
/// which carries its `name` and `etag`, and the update mask.
pub trait UpdateRequest: Send + 'static {
    /// The request field that holds the resource, e.g. `grant`.
    const RESOURCE: &'static str;
    /// The resource message.
    type Resource: Send;
    /// The resource's name.
    type Name: ResourceName;
    /// The fields an update may change (the paths of its mask).
    type Field: CodeEnum;
    fn into_parts(self) -> (Option<Self::Resource>, Option<prost_types::FieldMask>);
    fn name_and_etag(resource: &Self::Resource) -> (&str, &str);
}

/// An update request, read.
pub struct Update<R, N, F> {
    /// Who asks.
    pub call: CallContext,
    /// The resource as the caller sent it: only the fields of the mask count.
    pub changes: R,
    /// The record it names.
    pub name: N,
    /// The caller's etag, if any.
    pub expected: Option<i64>,
    /// The fields of the mask, each once.
    pub fields: Vec<F>,
}

/// Reads an update request; the resource, its name and its mask are required.
pub fn accept_update<R: UpdateRequest>(
    request: Request<R>,
) -> Result<Update<R::Resource, R::Name, R::Field>> {
    let (call, request) = accept(request)?;
    let (resource, mask) = request.into_parts();
    let changes = resource.ok_or_else(|| Error::invalid(R::RESOURCE, "is required"))?;
    let (name, etag) = R::name_and_etag(&changes);
    let name = R::Name::parse(&format!("{}.name", R::RESOURCE), name)?;
    let expected = parse_etag(&format!("{}.etag", R::RESOURCE), etag)?;
    let fields = mask_fields(mask.as_ref())?;
    Ok(Update {
        call,
        changes,
        name,
        expected,
        fields,
    })
}

/// A request that names one record in its `name` field (`GetGrantRequest`, ...).
pub trait NamedRequest: Send + 'static {
    fn name(&self) -> &str;
}

/// A delete request: the `name` of the record and the caller's `etag`.
pub trait DeleteRequest: NamedRequest {
    fn etag(&self) -> &str;
}

/// Reads a request for one record: the caller and the record's name (`N`).
pub fn accept_name<R: NamedRequest, N: ResourceName>(
    request: Request<R>,
) -> Result<(CallContext, N)> {
    let (call, request) = accept(request)?;
    Ok((call, N::parse("name", request.name())?))
}

/// Reads a delete request: the caller, the record it names (`N`) and the caller's etag.
pub fn accept_delete<R: DeleteRequest, N: ResourceName>(
    request: Request<R>,
) -> Result<(CallContext, N, Option<i64>)> {
    let (call, request) = accept(request)?;
    let name = N::parse("name", request.name())?;
    Ok((call, name, parse_etag("etag", request.etag())?))
}

/// The revision an etag stands for; empty means "no check".
pub fn parse_etag(field: &str, etag: &str) -> Result<Option<i64>> {
    if etag.trim().is_empty() {
        return Ok(None);
    }
    etag.trim()
        .trim_matches('"')
        .parse::<i64>()
        .map(Some)
        .map_err(|_| Error::invalid(field, "is not an etag this server gave out"))
}

/// The etag of a revision.
pub fn etag(revision: i64) -> String {
    revision.to_string()
}

/// A protobuf timestamp.
pub fn timestamp(time: DateTime<Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: time.timestamp(),
        nanos: time.timestamp_subsec_nanos() as i32,
    }
}

/// A time from a protobuf timestamp; the error names `field`.
pub fn from_timestamp(field: &str, value: &prost_types::Timestamp) -> Result<DateTime<Utc>> {
    u32::try_from(value.nanos)
        .ok()
        .and_then(|nanos| DateTime::from_timestamp(value.seconds, nanos))
        .ok_or_else(|| Error::invalid(field, "is not a valid timestamp"))
}

/// The fields named by an update mask, as the resource's own enum of
/// updatable fields (a `code_enum!` whose codes are the paths), so a merge
/// matches every field by name and an unknown path is an error, never a
/// silent write. `*` stands for all of them; an empty mask is refused, so
/// nothing changes by accident.
pub fn mask_fields<F: CodeEnum>(mask: Option<&prost_types::FieldMask>) -> Result<Vec<F>> {
    let allowed = || {
        F::ALL
            .iter()
            .map(|field| field.code())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let paths = mask.map(|mask| mask.paths.as_slice()).unwrap_or_default();
    if paths.is_empty() {
        return Err(Error::invalid(
            "update_mask",
            format!("is required: name the fields to change ({})", allowed()),
        ));
    }
    if paths.iter().any(|path| path == "*") {
        return Ok(F::ALL.to_vec());
    }
    let mut violations = validate::Violations::new();
    let mut fields = Vec::new();
    for path in paths {
        match F::from_code(path) {
            Some(field) if !fields.contains(&field) => fields.push(field),
            Some(_) => {}
            None => violations.add(
                "update_mask",
                format!(
                    "{} cannot be changed; fields that can: {}",
                    crate::domain::names::excerpt(path),
                    allowed()
                ),
            ),
        }
    }
    violations.finish()?;
    Ok(fields)
}

/// The fields every state-change request carries (`ActivateGrant`,
/// `StartProject`, ...): the handlers of one resource's state changes share
/// one path and differ only by the transition.
pub trait StateChangeRequest: WriteRequest + Default + Sync {
    fn name(&self) -> &str;
    fn etag(&self) -> &str;
    /// Why (required by some transitions); empty when the request has no reason.
    fn reason(&self) -> &str {
        ""
    }
}

/// A state-change request, read: who asks, the write (with its
/// `request_id`), the record's name, the caller's etag, and the reason.
pub struct StateChange<N> {
    pub call: CallContext,
    pub write: Write,
    pub name: N,
    pub expected: Option<i64>,
    pub reason: String,
}

impl<N: ResourceName> StateChange<N> {
    /// Reads a state-change request.
    pub fn parse<R: StateChangeRequest>(request: Request<R>) -> Result<Self> {
        let (call, write, request) = accept_write(request)?;
        Ok(StateChange {
            write,
            name: N::parse("name", request.name())?,
            expected: parse_etag("etag", request.etag())?,
            reason: request.reason().to_string(),
            call,
        })
    }
}
