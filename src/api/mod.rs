//! gRPC adapters: one `*_api.rs` per service. A handler reads like a
//! paragraph: who is asking (the `CallContext` the auth layer put on the
//! request), what they asked for (parsed into domain types, with field
//! violations), the decision, the write with its audit event in one
//! transaction, the answer. No SeaORM here.

use chrono::{DateTime, Utc};
use prost::Message;
use sha2::{Digest, Sha256};
use tonic::Request;

use crate::domain::CodeEnum;
use crate::domain::idempotency::RequestFingerprint;
use crate::domain::names::{CountryName, RegionName, ResourceName};
use crate::domain::validate;
use crate::error::{Error, Result};
use crate::store::{CallContext, Store, Tx};

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

/// Implements [`WriteRequest`]: `write_requests!(pb::CreateGrantRequest)`.
macro_rules! write_requests {
    ($($request:ty),+ $(,)?) => {
        $(
            impl $crate::api::WriteRequest for $request {
                fn request_id(&self) -> &str {
                    &self.request_id
                }
            }
        )+
    };
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

/// Implements [`UpdateRequest`]: the field that holds the resource, its
/// message, and in brackets its name and the enum of its mask's fields:
/// `update_requests!(pb::UpdateGrantRequest => grant: pb::Grant [GrantName, GrantField])`.
macro_rules! update_requests {
    ($($request:ty => $field:ident: $resource:ty [$name:ty, $fields:ty]),+ $(,)?) => {
        $(
            impl $crate::api::UpdateRequest for $request {
                const RESOURCE: &'static str = stringify!($field);
                type Resource = $resource;
                type Name = $name;
                type Field = $fields;

                fn into_parts(self) -> (Option<$resource>, Option<prost_types::FieldMask>) {
                    (self.$field, self.update_mask)
                }

                fn name_and_etag(resource: &$resource) -> (&str, &str) {
                    (&resource.name, &resource.etag)
                }
            }
        )+
    };
}

/// Implements [`paging::ListResponse`]: `list_responses!(pb::ListGrantsResponse => grants: pb::Grant)`.
macro_rules! list_responses {
    ($($response:ty => $field:ident: $item:ty),+ $(,)?) => {
        $(
            impl $crate::api::paging::ListResponse for $response {
                type Item = $item;

                fn of(items: Vec<$item>, next_page_token: String) -> Self {
                    Self { $field: items, next_page_token }
                }
            }
        )+
    };
}

/// Implements [`paging::ListRequest`]:
/// `list_requests!(pb::ListGrantsRequest; without filter: pb::ListIndicatorsRequest)`.
macro_rules! list_requests {
    ($($request:ty),* $(; without filter: $($no_filter:ty),+)? $(,)?) => {
        $(list_requests!(@impl $request, |request| Some(&mut request.filter));)*
        $($(list_requests!(@impl $no_filter, |_request| None);)+)?
    };
    (@impl $request:ty, |$this:ident| $filter:expr) => {
        impl $crate::api::paging::ListRequest for $request {
            fn page_fields(&mut self) -> (&mut String, &mut i32, Option<&mut String>) {
                let $this = self;
                (&mut $this.page_token, &mut $this.page_size, $filter)
            }
        }
    };
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

/// Implements [`NamedRequest`] (and [`DeleteRequest`] for those after `with etag:`):
/// `named_requests!(pb::GetIndicatorRequest; with etag: pb::DeleteIndicatorRequest)`.
macro_rules! named_requests {
    ($($request:ty),* $(; with etag: $($with_etag:ty),+)? $(,)?) => {
        $(
            impl $crate::api::NamedRequest for $request {
                fn name(&self) -> &str {
                    &self.name
                }
            }
        )*
        $($(
            impl $crate::api::NamedRequest for $with_etag {
                fn name(&self) -> &str {
                    &self.name
                }
            }

            impl $crate::api::DeleteRequest for $with_etag {
                fn etag(&self) -> &str {
                    &self.etag
                }
            }
        )+)?
    };
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

/// An idempotent call's key: the caller's `request_id` and what identifies the request.
pub struct Idempotency {
    request_id: String,
    request: RequestFingerprint,
}

impl Idempotency {
    /// `None` when the request carries no `request_id`.
    pub fn of<M: Message>(request_id: &str, request: &M) -> Result<Option<Idempotency>> {
        Self::of_digest(
            request_id,
            Sha256::digest(request.encode_to_vec()).as_slice(),
        )
    }

    /// The key of a request whose SHA-256 `digest` the caller computed (a client stream, message by message).
    pub fn of_digest(request_id: &str, digest: &[u8]) -> Result<Option<Idempotency>> {
        let request_id = validate::request_id(request_id)?;
        Ok(request_id.map(|request_id| Idempotency {
            request_id,
            request: RequestFingerprint::of_hash(hex::encode(digest)),
        }))
    }

    /// The first answer, when this key was used before by the same caller for the same method.
    async fn replay<R: Message + Default>(key: &Option<Idempotency>, tx: &Tx) -> Result<Option<R>> {
        let Some(key) = key else { return Ok(None) };
        match tx.replay(&key.request_id, &key.request).await? {
            Some(bytes) => {
                crate::telemetry::metrics::count_idempotent_replay();
                R::decode(bytes.as_slice()).map(Some).map_err(|error| {
                    Error::Internal(format!("stored answer does not decode: {error}"))
                })
            }
            None => Ok(None),
        }
    }

    /// Stores `answer` in `tx`, to be replayed to retries.
    async fn remember<R: Message>(key: &Option<Idempotency>, tx: &Tx, answer: &R) -> Result<()> {
        match key {
            Some(key) => {
                tx.remember(&key.request_id, &key.request, answer.encode_to_vec())
                    .await
            }
            None => Ok(()),
        }
    }
}

impl Idempotency {
    /// Runs one idempotent write for `call`: a retry with the same `request_id` gets the first
    /// answer back and writes nothing; otherwise `write` runs in one transaction, and its answer
    /// is remembered with it and committed together with its audit events.
    pub async fn write<R: Message + Default>(
        key: &Option<Idempotency>,
        store: &Store,
        call: &CallContext,
        write: impl AsyncFnOnce(&mut Tx) -> Result<R>,
    ) -> Result<R> {
        let mut tx = store.begin(call).await?;
        if let Some(answer) = Self::replay(key, &tx).await? {
            return Ok(answer);
        }
        let answer = write(&mut tx).await?;
        Self::remember(key, &tx, &answer).await?;
        tx.commit().await?;
        Ok(answer)
    }
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

/// Implements [`StateChangeRequest`] (and [`WriteRequest`]) for requests
/// with `name`, `etag`, `request_id`, and (after `with reason:`) a `reason`.
macro_rules! state_change_requests {
    ($($request:ty),* $(; with reason: $($with_reason:ty),*)?) => {
        write_requests!($($request,)* $($($with_reason,)*)?);
        $(
            impl $crate::api::StateChangeRequest for $request {
                fn name(&self) -> &str { &self.name }
                fn etag(&self) -> &str { &self.etag }
            }
        )*
        $($(
            impl $crate::api::StateChangeRequest for $with_reason {
                fn name(&self) -> &str { &self.name }
                fn etag(&self) -> &str { &self.etag }
                fn reason(&self) -> &str { &self.reason }
            }
        )*)?
    };
}

/// A `CallContext` with the request's own `request_id` when it has one (it wins over `x-request-id`).
fn with_request_id(mut call: CallContext, request_id: &str) -> CallContext {
    if !request_id.trim().is_empty() {
        call.request_id = request_id.trim().chars().take(100).collect();
    }
    call
}

/// An idempotent write, prepared from its request: the key (`request_id`
/// and a hash of the request) and the call that the audit events name.
pub struct Write {
    key: Option<Idempotency>,
    call: CallContext,
}

impl Write {
    /// The write of `request`, whose `request_id` may be empty.
    pub fn of<M: Message>(call: &CallContext, request_id: &str, request: &M) -> Result<Write> {
        Ok(Write {
            key: Idempotency::of(request_id, request)?,
            call: with_request_id(call.clone(), request_id),
        })
    }

    /// This write, whose request also carries personal data, known only by its keyed
    /// `digests` (`{key_id}:{hex}`, the active key's first): a retry with other personal data
    /// is a different request.
    pub fn with_personal_data_digests(mut self, digests: Vec<String>) -> Write {
        if let Some(key) = self.key.as_mut() {
            key.request.personal_data_digests = digests;
        }
        self
    }

    /// The write of a client stream whose messages hash to `digest`.
    pub fn of_stream(call: &CallContext, request_id: &str, digest: &[u8]) -> Result<Write> {
        Ok(Write {
            key: Idempotency::of_digest(request_id, digest)?,
            call: with_request_id(call.clone(), request_id),
        })
    }

    /// Runs `write` in one transaction with its audit events; a retry with
    /// the same `request_id` answers the first result and writes nothing.
    pub async fn run<R: Message + Default>(
        &self,
        store: &Store,
        write: impl AsyncFnOnce(&mut Tx) -> Result<R>,
    ) -> Result<R> {
        Idempotency::write(&self.key, store, &self.call, write).await
    }
}

/// A domain `code_enum!` with a proto twin whose value names are one of
/// `PREFIXES` followed by the domain code (`GRANT_STATE_ACTIVE` for
/// `ACTIVE`). The conversion goes by name, so the two cannot drift apart
/// silently: the round-trip test in `enums` covers every domain value.
pub trait ProtoEnum: CodeEnum {
    /// The prefixes of the proto value names, longest first.
    const PREFIXES: &'static [&'static str];

    /// The proto value name of a number, if it is one.
    fn proto_name(value: i32) -> Option<&'static str>;

    /// The domain value of a proto number (`None` for unspecified or unknown).
    fn from_proto(value: i32) -> Option<Self> {
        let name = Self::proto_name(value)?;
        Self::PREFIXES
            .iter()
            .find_map(|prefix| Self::from_code(name.strip_prefix(prefix)?))
    }

    /// The proto number of a domain value.
    fn to_proto(self) -> i32;

    /// A filter value: the code or the proto name, any case (`active`, `GRANT_STATE_ACTIVE`).
    fn from_filter(value: &str) -> Option<Self> {
        let upper = value.trim().to_ascii_uppercase();
        Self::from_code(&upper).or_else(|| {
            Self::PREFIXES
                .iter()
                .find_map(|prefix| Self::from_code(upper.strip_prefix(prefix)?))
        })
    }
}

/// Implements [`ProtoEnum`] for a domain enum and its proto twin.
macro_rules! proto_enum {
    ($domain:ty, $proto:ty, [$($prefix:literal),+]) => {
        impl ProtoEnum for $domain {
            const PREFIXES: &'static [&'static str] = &[$($prefix),+];

            fn proto_name(value: i32) -> Option<&'static str> {
                <$proto>::try_from(value).ok().map(|proto| proto.as_str_name())
            }

            fn to_proto(self) -> i32 {
                // Proto numbers are small: the table of every named value is built once.
                static TABLE: std::sync::OnceLock<Vec<($domain, i32)>> = std::sync::OnceLock::new();
                TABLE
                    .get_or_init(|| {
                        (1..=i32::from(u8::MAX))
                            .filter_map(|number| Some((<$domain>::from_proto(number)?, number)))
                            .collect()
                    })
                    .iter()
                    .find(|(value, _)| *value == self)
                    .map(|(_, number)| *number)
                    .unwrap_or_default()
            }
        }
    };
}

/// Proto <-> domain enums, one line each.
pub mod enums {
    use super::ProtoEnum;
    use crate::domain::access::Role;
    use crate::domain::assistance::{
        AgeGroup, CaseState, CaseUrgency, NeedKind, TraffickingForm, VictimSex,
    };
    use crate::domain::grant::{
        GrantApproach, GrantInstrument, GrantState, ObligationKind, ReportingCadence,
    };
    use crate::domain::organization::OrganizationKind;
    use crate::domain::outcome::{OutcomeReportState, ReportingStatus};
    use crate::domain::pillar::Pillar;
    use crate::domain::project::{ActivityKind, OutcomeKind, ProjectState};
    use crate::domain::report::Grouping;
    use crate::domain::tip_report::TipTier;
    use crate::pb::v1 as pb;

    proto_enum!(GrantInstrument, pb::GrantInstrument, ["GRANT_INSTRUMENT_"]);
    proto_enum!(GrantApproach, pb::GrantApproach, ["GRANT_APPROACH_"]);
    proto_enum!(
        ReportingCadence,
        pb::ReportingCadence,
        ["REPORTING_CADENCE_"]
    );
    proto_enum!(GrantState, pb::GrantState, ["GRANT_STATE_"]);
    proto_enum!(ObligationKind, pb::ObligationKind, ["OBLIGATION_KIND_"]);
    proto_enum!(ActivityKind, pb::ActivityKind, ["ACTIVITY_KIND_"]);
    proto_enum!(ProjectState, pb::ProjectState, ["PROJECT_STATE_"]);
    proto_enum!(OutcomeKind, pb::OutcomeKind, ["OUTCOME_KIND_"]);
    proto_enum!(
        OrganizationKind,
        pb::OrganizationKind,
        ["ORGANIZATION_KIND_"]
    );
    proto_enum!(Role, pb::Role, ["ROLE_"]);
    proto_enum!(Pillar, pb::Pillar, ["PILLAR_"]);
    // `TIP_TIER_1` is `TIER_1`, but `TIP_TIER_SPECIAL_CASE` is `SPECIAL_CASE`.
    proto_enum!(TipTier, pb::TipTier, ["TIP_TIER_", "TIP_"]);
    proto_enum!(
        OutcomeReportState,
        pb::OutcomeReportState,
        ["OUTCOME_REPORT_STATE_"]
    );
    proto_enum!(
        ReportingStatus,
        pb::ReportingPeriodStatus,
        ["REPORTING_PERIOD_STATUS_"]
    );
    proto_enum!(
        CaseState,
        pb::AssistanceCaseState,
        ["ASSISTANCE_CASE_STATE_"]
    );
    proto_enum!(CaseUrgency, pb::CaseUrgency, ["CASE_URGENCY_"]);
    proto_enum!(VictimSex, pb::VictimSex, ["VICTIM_SEX_"]);
    proto_enum!(AgeGroup, pb::AgeGroup, ["AGE_GROUP_"]);
    proto_enum!(TraffickingForm, pb::TraffickingForm, ["TRAFFICKING_FORM_"]);
    proto_enum!(NeedKind, pb::NeedKind, ["NEED_KIND_"]);
    proto_enum!(Grouping, pb::ReportGrouping, ["REPORT_GROUPING_"]);

    /// Every domain value has its proto value, and back.
    #[cfg(test)]
    fn round_trip<T: ProtoEnum>() {
        for value in T::ALL.iter().copied() {
            assert_eq!(T::from_proto(value.to_proto()), Some(value), "{value:?}");
            assert_eq!(T::from_filter(value.code()), Some(value), "{value:?}");
        }
        assert_eq!(T::from_proto(0), None);
    }

    #[test]
    fn every_domain_value_has_its_proto_value() {
        round_trip::<GrantInstrument>();
        round_trip::<GrantApproach>();
        round_trip::<ReportingCadence>();
        round_trip::<GrantState>();
        round_trip::<ObligationKind>();
        round_trip::<ActivityKind>();
        round_trip::<ProjectState>();
        round_trip::<OutcomeKind>();
        round_trip::<OrganizationKind>();
        round_trip::<Role>();
        round_trip::<Pillar>();
        round_trip::<TipTier>();
        round_trip::<OutcomeReportState>();
        round_trip::<ReportingStatus>();
        round_trip::<CaseState>();
        round_trip::<CaseUrgency>();
        round_trip::<VictimSex>();
        round_trip::<AgeGroup>();
        round_trip::<TraffickingForm>();
        round_trip::<NeedKind>();
        round_trip::<Grouping>();
        assert_eq!(
            TipTier::from_filter("TIP_TIER_SPECIAL_CASE"),
            Some(TipTier::SpecialCase)
        );
        assert_eq!(
            TipTier::from_filter("tip_tier_2_watch_list"),
            Some(TipTier::Tier2WatchList)
        );
        assert_eq!(Role::from_filter("ROLE_GRANTEE"), Some(Role::Grantee));
    }
}

/// A filter value naming an enum value, by code or proto name; the error names `filter`.
pub fn filter_code<T: ProtoEnum>(value: &str, what: &str) -> Result<T> {
    T::from_filter(value).ok_or_else(|| {
        Error::invalid(
            "filter",
            format!("{} is not a {what}", crate::domain::names::excerpt(value)),
        )
    })
}

/// A filter value that must be a whole number (e.g. a fiscal year).
pub fn filter_number(field: &str, value: &str) -> Result<i32> {
    value.trim().parse().map_err(|_| {
        Error::invalid(
            "filter",
            format!(
                "{field} {} is not a number",
                crate::domain::names::excerpt(value)
            ),
        )
    })
}

/// Refuses a filter on a country or region that does not exist, rather than answering an empty list.
pub async fn check_filter_places(
    store: &crate::store::Store,
    country: Option<&str>,
    region: Option<&str>,
) -> Result<()> {
    let unknown = |error: Error, message: String| match error {
        Error::NotFound { .. } => Error::invalid("filter", message),
        other => other,
    };
    if let Some(country) = country {
        store
            .get_country(&CountryName::new(country))
            .await
            .map_err(|error| {
                unknown(
                    error,
                    format!(
                        "country {} is not a known ISO 3166-1 alpha-2 code",
                        crate::domain::names::excerpt(country)
                    ),
                )
            })?;
    }
    if let Some(region) = region {
        store
            .get_region(&RegionName::new(region))
            .await
            .map_err(|error| {
                unknown(
                    error,
                    format!(
                        "region {} is not a region code such as AF or WHA",
                        crate::domain::names::excerpt(region)
                    ),
                )
            })?;
    }
    Ok(())
}

// The service modules come after the macros above, which they use.
pub mod access_api;
pub mod admission;
pub mod assistance_api;
pub mod audit_api;
pub mod auth;
pub mod deadline;
pub mod grant_api;
pub mod middleware;
pub mod organization_api;
pub mod outcome_report_api;
pub mod outcome_upload;
pub mod paging;
pub mod permissions;
pub mod project_api;
pub mod reference_data_api;
pub mod report_api;
pub mod shares;
pub mod spool;
pub mod streaming;
pub mod tip_report_api;
pub mod upload_limits;
pub mod web_bodies;
