//! gRPC adapters: one `*_api.rs` per service. A handler reads like a
//! paragraph: who is asking (the `CallContext` the auth layer put on the
//! request), what they asked for (parsed into domain types, with field
//! violations), the decision, the write with its audit event in one
//! transaction, the answer. No SeaORM here.

pub mod access_api;
pub mod audit_api;
pub mod auth;
pub mod deadline;
pub mod grant_api;
pub mod organization_api;
pub mod paging;
pub mod permissions;
pub mod project_api;
pub mod reference_data_api;
pub mod streaming;
pub mod tip_report_api;

use chrono::{DateTime, Utc};
use prost::Message;
use sha2::{Digest, Sha256};
use tonic::Request;

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

/// The id in a resource name `{collection}/{id}`; the error names `field`.
pub fn parse_name<'a>(field: &str, name: &'a str, collection: &str) -> Result<&'a str> {
    let id = name
        .strip_prefix(collection)
        .and_then(|rest| rest.strip_prefix('/'))
        .filter(|id| !id.is_empty() && !id.contains('/') && id.len() <= 100);
    id.ok_or_else(|| {
        if name.is_empty() {
            Error::invalid(
                field,
                format!("is required: a resource name such as {collection}/..."),
            )
        } else {
            Error::invalid(
                field,
                format!("{name:?} is not a resource name of the form {collection}/{{id}}"),
            )
        }
    })
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

/// The paths of an update mask, checked against the fields that may change.
/// `*` stands for all of them; an empty mask is refused, so nothing changes by accident.
pub fn mask_paths(mask: Option<&prost_types::FieldMask>, allowed: &[&str]) -> Result<Vec<String>> {
    let paths = mask.map(|mask| mask.paths.clone()).unwrap_or_default();
    if paths.is_empty() {
        return Err(Error::invalid(
            "update_mask",
            format!(
                "is required: name the fields to change ({})",
                allowed.join(", ")
            ),
        ));
    }
    if paths.iter().any(|path| path == "*") {
        return Ok(allowed.iter().map(|path| path.to_string()).collect());
    }
    let mut violations = validate::Violations::new();
    for path in &paths {
        if !allowed.contains(&path.as_str()) {
            violations.add(
                "update_mask",
                format!(
                    "{path:?} cannot be changed; fields that can: {}",
                    allowed.join(", ")
                ),
            );
        }
    }
    violations.finish()?;
    Ok(paths)
}

/// An idempotent call's key: the caller's `request_id` and a hash of the request.
pub struct Idempotency {
    request_id: String,
    request_hash: String,
}

impl Idempotency {
    /// `None` when the request carries no `request_id`.
    pub fn of<M: Message>(request_id: &str, request: &M) -> Result<Option<Idempotency>> {
        let request_id =
            validate::request_id(request_id).map_err(|v| Error::invalid(v.field, v.description))?;
        Ok(request_id.map(|request_id| Idempotency {
            request_id,
            request_hash: hex::encode(Sha256::digest(request.encode_to_vec())),
        }))
    }

    /// The first answer, when this key was used before by the same caller for the same method.
    async fn replay<R: Message + Default>(key: &Option<Idempotency>, tx: &Tx) -> Result<Option<R>> {
        let Some(key) = key else { return Ok(None) };
        match tx.replay(&key.request_id, &key.request_hash).await? {
            Some(bytes) => R::decode(bytes.as_slice()).map(Some).map_err(|error| {
                Error::Internal(format!("stored answer does not decode: {error}"))
            }),
            None => Ok(None),
        }
    }

    /// Stores `answer` in `tx`, to be replayed to retries.
    async fn remember<R: Message>(key: &Option<Idempotency>, tx: &Tx, answer: &R) -> Result<()> {
        match key {
            Some(key) => {
                tx.remember(&key.request_id, &key.request_hash, answer.encode_to_vec())
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

/// A `CallContext` with the request's own `request_id` when it has one (it wins over `x-request-id`).
pub fn with_request_id(mut call: CallContext, request_id: &str) -> CallContext {
    if !request_id.trim().is_empty() {
        call.request_id = request_id.trim().chars().take(100).collect();
    }
    call
}

/// Converts between a proto enum (`PREFIX_CODE`) and a domain `code_enum!`
/// (`CODE`) by name, so the two cannot drift apart silently: the round-trip
/// test in `enum_conversions` covers every domain value.
macro_rules! proto_enum {
    ($from:ident, $to:ident, $proto:ty, $domain:ty, $prefix:literal) => {
        /// The domain value of a proto enum number (`None` for unspecified or unknown).
        pub fn $from(value: i32) -> Option<$domain> {
            let name = <$proto>::try_from(value).ok()?.as_str_name();
            <$domain>::from_code(name.strip_prefix($prefix)?)
        }

        /// The proto enum number of a domain value.
        pub fn $to(value: $domain) -> i32 {
            <$proto>::from_str_name(&format!("{}{}", $prefix, value.code()))
                .map(|proto| proto as i32)
                .unwrap_or_default()
        }
    };
}

/// Proto <-> domain enums of grants and projects.
pub mod enums {
    use crate::domain::access::Role;
    use crate::domain::grant::{
        GrantApproach, GrantInstrument, GrantState, ObligationKind, ReportingCadence,
    };
    use crate::domain::organization::OrganizationKind;
    use crate::domain::pillar::Pillar;
    use crate::domain::project::{ActivityKind, OutcomeKind, ProjectState};
    use crate::pb::v1 as pb;

    proto_enum!(
        instrument_from_proto,
        instrument_to_proto,
        pb::GrantInstrument,
        GrantInstrument,
        "GRANT_INSTRUMENT_"
    );
    proto_enum!(
        approach_from_proto,
        approach_to_proto,
        pb::GrantApproach,
        GrantApproach,
        "GRANT_APPROACH_"
    );
    proto_enum!(
        cadence_from_proto,
        cadence_to_proto,
        pb::ReportingCadence,
        ReportingCadence,
        "REPORTING_CADENCE_"
    );
    proto_enum!(
        grant_state_from_proto,
        grant_state_to_proto,
        pb::GrantState,
        GrantState,
        "GRANT_STATE_"
    );
    proto_enum!(
        obligation_kind_from_proto,
        obligation_kind_to_proto,
        pb::ObligationKind,
        ObligationKind,
        "OBLIGATION_KIND_"
    );
    proto_enum!(
        activity_from_proto,
        activity_to_proto,
        pb::ActivityKind,
        ActivityKind,
        "ACTIVITY_KIND_"
    );
    proto_enum!(
        project_state_from_proto,
        project_state_to_proto,
        pb::ProjectState,
        ProjectState,
        "PROJECT_STATE_"
    );
    proto_enum!(
        outcome_kind_from_proto,
        outcome_kind_to_proto,
        pb::OutcomeKind,
        OutcomeKind,
        "OUTCOME_KIND_"
    );

    proto_enum!(
        organization_kind_from_proto,
        organization_kind_to_proto,
        pb::OrganizationKind,
        OrganizationKind,
        "ORGANIZATION_KIND_"
    );
    proto_enum!(role_from_proto, role_to_proto, pb::Role, Role, "ROLE_");
    proto_enum!(
        pillar_from_proto,
        pillar_to_proto,
        pb::Pillar,
        Pillar,
        "PILLAR_"
    );

    #[cfg(test)]
    mod enum_conversions {
        use super::*;

        macro_rules! round_trip {
            ($domain:ty, $from:ident, $to:ident) => {
                for value in <$domain>::ALL.iter().copied() {
                    assert_eq!($from($to(value)), Some(value), "{value:?}");
                }
                assert_eq!($from(0), None);
            };
        }

        #[test]
        fn every_domain_value_has_its_proto_value() {
            round_trip!(GrantInstrument, instrument_from_proto, instrument_to_proto);
            round_trip!(GrantApproach, approach_from_proto, approach_to_proto);
            round_trip!(ReportingCadence, cadence_from_proto, cadence_to_proto);
            round_trip!(GrantState, grant_state_from_proto, grant_state_to_proto);
            round_trip!(
                ObligationKind,
                obligation_kind_from_proto,
                obligation_kind_to_proto
            );
            round_trip!(ActivityKind, activity_from_proto, activity_to_proto);
            round_trip!(
                ProjectState,
                project_state_from_proto,
                project_state_to_proto
            );
            round_trip!(OutcomeKind, outcome_kind_from_proto, outcome_kind_to_proto);
            round_trip!(
                OrganizationKind,
                organization_kind_from_proto,
                organization_kind_to_proto
            );
            round_trip!(Pillar, pillar_from_proto, pillar_to_proto);
            for role in Role::ALL {
                assert_eq!(role_from_proto(role_to_proto(role)), Some(role), "{role:?}");
            }
        }
    }
}

/// A filter value naming a code enum, with or without its proto prefix; the error names `filter`.
pub fn filter_code<T>(
    value: &str,
    prefix: &str,
    parse: fn(&str) -> Option<T>,
    what: &str,
) -> Result<T> {
    let code = value.trim().to_ascii_uppercase();
    parse(code.strip_prefix(prefix).unwrap_or(&code))
        .ok_or_else(|| Error::invalid("filter", format!("{value:?} is not a {what}")))
}

/// A filter value that must be a whole number (e.g. a fiscal year).
pub fn filter_number(field: &str, value: &str) -> Result<i32> {
    value
        .trim()
        .parse()
        .map_err(|_| Error::invalid("filter", format!("{field} {value:?} is not a number")))
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
        store.get_country(country).await.map_err(|error| {
            unknown(
                error,
                format!("country {country:?} is not a known ISO 3166-1 alpha-2 code"),
            )
        })?;
    }
    if let Some(region) = region {
        store.get_region(region).await.map_err(|error| {
            unknown(
                error,
                format!("region {region:?} is not a region code such as AF or WHA"),
            )
        })?;
    }
    Ok(())
}
