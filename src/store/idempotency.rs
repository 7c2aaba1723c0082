//! Idempotency keys: the first answer to a `request_id`, stored in the same
//! transaction as the write it answers. A retry replays it; a different
//! request under the same key is refused (`RequestFingerprint::check_same`).
//! A referral's personal data is kept only as a keyed digest beside the hash.

use sea_orm::{ActiveValue::Set, EntityTrait};

use super::entities::idempotency_keys;
use super::{Tx, now};
use crate::domain::idempotency::RequestFingerprint;
use crate::error::{Error, Result};

impl Tx {
    /// The stored answer to (`method`, `request_id`) of this caller, if any, when `request`
    /// is the request that got it; a different request under the same key is refused.
    pub async fn replay(
        &self,
        request_id: &str,
        request: &RequestFingerprint,
    ) -> Result<Option<Vec<u8>>> {
        let key = (
            self.call.actor.token_id.clone(),
            self.call.method.clone(),
            request_id.to_string(),
        );
        let Some(row) = idempotency_keys::Entity::find_by_id(key)
            .one(&self.txn)
            .await?
        else {
            return Ok(None);
        };
        request.check_same(
            request_id,
            &row.request_hash,
            row.personal_data_digest.as_deref(),
        )?;
        Ok(Some(row.response))
    }

    /// Stores the answer to (`method`, `request_id`) of this caller.
    pub async fn remember(
        &self,
        request_id: &str,
        request: &RequestFingerprint,
        response: Vec<u8>,
    ) -> Result<()> {
        let row = idempotency_keys::ActiveModel {
            principal: Set(self.call.actor.token_id.clone()),
            method: Set(self.call.method.clone()),
            request_id: Set(request_id.to_string()),
            request_hash: Set(request.request_hash.clone()),
            personal_data_digest: Set(request.stored_digest().map(str::to_string)),
            response: Set(response),
            create_time: Set(now()),
        };
        idempotency_keys::Entity::insert(row)
            .exec_without_returning(&self.txn)
            .await
            .map_err(|error| match Error::from(error) {
                // Another call with the same key committed first: this one rolls back.
                Error::AlreadyExists { .. } => Error::Aborted {
                    reason: "REQUEST_IN_PROGRESS",
                    message: format!(
                        "another call with request_id {request_id} finished first; retry to get its answer"
                    ),
                },
                other => other,
            })?;
        Ok(())
    }
}
