//! The fingerprints that bind each id of a key of victims' personal data to
//! its key (`privacy_keys`, append-only): recorded once per key id, never
//! changed, so a key id can never come back with other material unnoticed.
//! The store keeps fingerprints only; `crate::privacy` computes and compares them.

use std::collections::BTreeMap;

use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, EntityTrait};

use super::entities::privacy_keys;
use super::{Store, Tx, now};
use crate::error::{Error, Result};

/// The resource name of a key id in audit events.
fn resource_name(key_id: &str) -> String {
    format!("privacyKeys/{key_id}")
}

impl Store {
    /// The fingerprint recorded for each key id.
    pub async fn privacy_key_fingerprints(&self) -> Result<BTreeMap<String, String>> {
        Ok(privacy_keys::Entity::find()
            .all(&self.db)
            .await?
            .into_iter()
            .map(|row| (row.key_id, row.fingerprint))
            .collect())
    }
}

impl Tx {
    /// Records `fingerprint` for `key_id` unless the id has one, and answers the fingerprint the
    /// id has now: this one, or the one recorded before (by an earlier start, or a concurrent
    /// one). A new record is audited (the key id and its fingerprint).
    pub async fn record_privacy_key(&mut self, key_id: &str, fingerprint: &str) -> Result<String> {
        let inserted = privacy_keys::Entity::insert(privacy_keys::ActiveModel {
            key_id: Set(key_id.to_string()),
            fingerprint: Set(fingerprint.to_string()),
            create_time: Set(now()),
        })
        .on_conflict(
            OnConflict::column(privacy_keys::Column::KeyId)
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(&self.txn)
        .await?;
        if inserted == 1 {
            self.audit_with_diff(
                &resource_name(key_id),
                serde_json::json!({
                    "key_id": {"before": null, "after": key_id},
                    "fingerprint": {"before": null, "after": fingerprint},
                }),
            );
        }
        privacy_keys::Entity::find_by_id(key_id)
            .one(&self.txn)
            .await?
            .map(|row| row.fingerprint)
            .ok_or_else(|| {
                Error::Internal(format!(
                    "the fingerprint of key {key_id:?} just written is missing"
                ))
            })
    }
}
