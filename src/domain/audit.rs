//! The audit chain: each event's hash covers the previous event's hash and a
//! canonical encoding of the event, so changing, deleting or reordering a
//! stored event breaks the chain from that point on. Diffs are field-level.
//! An event names the token that acted and the person who owns it; events
//! written before owners were kept have none, and their encoding (hence
//! their hash) is what it was.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

/// A record whose changes the audit log shows: the fields an event may show,
/// listed one by one (`audited!`), so personal data never reaches the log by default.
pub trait Audited {
    /// The fields an audit event shows; an error when one does not serialise.
    fn audit_view(&self) -> crate::error::Result<Value>;
}

/// One field of an audit view as JSON; a value that does not serialise is an error, never `null`.
pub fn to_json<T: serde::Serialize>(value: &T) -> crate::error::Result<Value> {
    serde_json::to_value(value)
        .map_err(|error| crate::error::Error::Internal(format!("audit view: {error}")))
}

/// The `previous_hash` of the first event.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Who acted, as an event records it.
#[derive(Debug, Clone, PartialEq)]
pub struct EventActor {
    /// The token's resource name, `apiTokens/{id}`.
    pub token: String,
    /// The code of the token's role.
    pub role: String,
    /// The owner of the token: the person who acted (empty on old events).
    pub owner: String,
}

/// An audit event before it is chained.
#[derive(Debug, Clone, PartialEq)]
pub struct PendingEvent {
    pub actor: EventActor,
    pub method: String,
    pub resource: String,
    pub request_id: String,
    pub diff: Value,
}

/// A chained audit event, as stored: the pending event with its place in the chain.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEvent {
    pub sequence: i64,
    pub event_time: DateTime<Utc>,
    /// Who did what to which resource: what the hash covers with the sequence and time.
    pub body: PendingEvent,
    pub previous_hash: String,
    pub hash: String,
}

/// The canonical encoding of an event: JSON with sorted keys (serde_json's
/// default map is ordered) and the time in RFC 3339 with microseconds (what
/// both databases keep).
fn canonical_encoding(sequence: i64, event_time: DateTime<Utc>, event: &PendingEvent) -> String {
    let mut encoding = json!({
        "sequence": sequence,
        "event_time": event_time.to_rfc3339_opts(SecondsFormat::Micros, true),
        "actor": event.actor.token,
        "actor_role": event.actor.role,
        "method": event.method,
        "resource": event.resource,
        "request_id": event.request_id,
        "diff": event.diff,
    });
    // The owner is covered once it is kept; events from before keep the encoding they were chained with.
    if !event.actor.owner.is_empty()
        && let Some(fields) = encoding.as_object_mut()
    {
        fields.insert("actor_owner".into(), json!(event.actor.owner));
    }
    encoding.to_string()
}

/// The hash of an event linked after `previous_hash`.
pub fn chain_hash(
    previous_hash: &str,
    sequence: i64,
    event_time: DateTime<Utc>,
    event: &PendingEvent,
) -> String {
    let mut hasher = Sha256::new();
    hasher.update(previous_hash.as_bytes());
    hasher.update(b"\n");
    hasher.update(canonical_encoding(sequence, event_time, event).as_bytes());
    hex::encode(hasher.finalize())
}

/// Chains a pending event after (`previous_sequence`, `previous_hash`).
pub fn link(
    previous_sequence: i64,
    previous_hash: &str,
    event_time: DateTime<Utc>,
    event: PendingEvent,
) -> AuditEvent {
    let sequence = previous_sequence + 1;
    let hash = chain_hash(previous_hash, sequence, event_time, &event);
    AuditEvent {
        sequence,
        event_time,
        previous_hash: previous_hash.to_string(),
        hash,
        body: event,
    }
}

/// Verification state over a run of events in sequence order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainCheck {
    pub checked: i64,
    pub last_sequence: i64,
    pub last_hash: String,
    /// An anchor kept elsewhere: (sequence, hash) the chain must still contain.
    pub anchor: Option<(i64, String)>,
    /// The first broken event and why.
    pub broken: Option<(i64, String)>,
}

impl Default for ChainCheck {
    fn default() -> Self {
        Self {
            checked: 0,
            anchor: None,
            last_sequence: 0,
            last_hash: GENESIS_HASH.to_string(),
            broken: None,
        }
    }
}

impl ChainCheck {
    /// Checks the next event; stops checking after the first broken link.
    pub fn check(&mut self, event: &AuditEvent) {
        if self.broken.is_some() {
            return;
        }
        self.checked += 1;
        let expected_sequence = self.last_sequence + 1;
        let problem = if event.sequence != expected_sequence {
            Some(format!(
                "sequence gap: expected {expected_sequence}, found {}",
                event.sequence
            ))
        } else if event.previous_hash != self.last_hash {
            Some("previous_hash does not match the hash of the event before".to_string())
        } else {
            let recomputed = chain_hash(
                &event.previous_hash,
                event.sequence,
                event.event_time,
                &event.body,
            );
            (recomputed != event.hash).then(|| "hash mismatch: the event was changed".to_string())
        };
        let problem = problem.or_else(|| match &self.anchor {
            Some((sequence, hash)) if *sequence == event.sequence && *hash != event.hash => Some(
                "the event differs from the anchor kept for it: the log was rewritten".to_string(),
            ),
            _ => None,
        });
        match problem {
            Some(problem) => self.broken = Some((expected_sequence.min(event.sequence), problem)),
            None => {
                self.last_sequence = event.sequence;
                self.last_hash = event.hash.clone();
            }
        }
    }

    /// Checks that the chain ends at the recorded head.
    pub fn finish(&mut self, head_sequence: i64, head_hash: &str) {
        if self.broken.is_some() {
            return;
        }
        if let Some((sequence, _)) = &self.anchor
            && *sequence > self.last_sequence
        {
            self.broken = Some((
                self.last_sequence + 1,
                format!(
                    "the chain ends at event {} but the anchor kept is event {sequence}: events were removed",
                    self.last_sequence
                ),
            ));
            return;
        }
        if self.last_sequence != head_sequence || self.last_hash != head_hash {
            self.broken = Some((
                self.last_sequence + 1,
                format!(
                    "the chain ends at event {} but the recorded head is event {head_sequence}: events are missing",
                    self.last_sequence
                ),
            ));
        }
    }
}

/// Field-level difference between two JSON snapshots of a record:
/// `{field: {"before": old, "after": new}}` for each top-level field that
/// changed. A missing snapshot (creation) counts as all fields null.
pub fn diff(before: Option<&Value>, after: Option<&Value>) -> Value {
    let empty = Map::new();
    let before = before.and_then(Value::as_object).unwrap_or(&empty);
    let after = after.and_then(Value::as_object).unwrap_or(&empty);
    let mut changes = Map::new();
    for key in before.keys().chain(after.keys()) {
        if changes.contains_key(key) {
            continue;
        }
        let old = before.get(key).unwrap_or(&Value::Null);
        let new = after.get(key).unwrap_or(&Value::Null);
        if old != new {
            changes.insert(key.clone(), json!({"before": old, "after": new}));
        }
    }
    Value::Object(changes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(resource: &str) -> PendingEvent {
        PendingEvent {
            actor: EventActor {
                token: "apiTokens/a".into(),
                role: "ADMIN".into(),
                owner: "ana@example.org".into(),
            },
            method: "/m".into(),
            resource: resource.into(),
            request_id: String::new(),
            diff: json!({"x": {"before": null, "after": 1}}),
        }
    }

    fn chain(count: usize) -> Vec<AuditEvent> {
        let mut events: Vec<AuditEvent> = Vec::new();
        for index in 0..count {
            let (sequence, hash) = events
                .last()
                .map(|last| (last.sequence, last.hash.clone()))
                .unwrap_or((0, GENESIS_HASH.to_string()));
            events.push(link(
                sequence,
                &hash,
                Utc::now(),
                event(&format!("r/{index}")),
            ));
        }
        events
    }

    fn verify(events: &[AuditEvent]) -> ChainCheck {
        let mut check = ChainCheck::default();
        for event in events {
            check.check(event);
        }
        let head = &chain_head(events);
        check.finish(head.0, &head.1);
        check
    }

    fn chain_head(events: &[AuditEvent]) -> (i64, String) {
        events
            .iter()
            .map(|e| (e.sequence, e.hash.clone()))
            .max()
            .unwrap_or((0, GENESIS_HASH.into()))
    }

    #[test]
    fn an_untouched_chain_verifies() {
        assert_eq!(verify(&chain(5)).broken, None);
    }

    #[test]
    fn a_changed_event_is_found() {
        let mut events = chain(5);
        events[2].body.resource = "r/other".into();
        assert_eq!(verify(&events).broken.map(|b| b.0), Some(3));
    }

    #[test]
    fn the_owner_is_chained_and_an_event_without_one_keeps_its_old_encoding() {
        let time = DateTime::parse_from_rfc3339("2014-03-01T08:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let mut without_owner = event("r/1");
        without_owner.actor.owner = String::new();
        let mut events = chain(3);
        events[1].body.actor.owner = "ben@example.org".into();

        assert_eq!(
            canonical_encoding(1, time, &without_owner),
            "{\"actor\":\"apiTokens/a\",\"actor_role\":\"ADMIN\",\"diff\":{\"x\":{\"after\":1,\"before\":null}},\
             \"event_time\":\"2014-03-01T08:00:00.000000Z\",\"method\":\"/m\",\"request_id\":\"\",\
             \"resource\":\"r/1\",\"sequence\":1}"
        );
        assert!(
            canonical_encoding(1, time, &event("r/1"))
                .contains("\"actor_owner\":\"ana@example.org\"")
        );
        assert_eq!(
            verify(&events).broken.map(|b| b.0),
            Some(2),
            "a changed owner is found"
        );
    }

    #[test]
    fn swapped_events_are_found() {
        let mut events = chain(5);
        events.swap(1, 2);
        assert_eq!(verify(&events).broken.map(|b| b.0), Some(2));
    }

    #[test]
    fn diff_names_only_changed_fields() {
        let before = json!({"a": 1, "b": "x"});
        let after = json!({"a": 2, "b": "x", "c": true});
        assert_eq!(
            diff(Some(&before), Some(&after)),
            json!({"a": {"before": 1, "after": 2}, "c": {"before": null, "after": true}})
        );
    }
}
