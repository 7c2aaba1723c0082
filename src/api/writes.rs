//! Idempotent writes: a request's `request_id` and a hash of the request
//! make the key; a retry with the same key answers the first result (read in
//! the same transaction) and writes nothing twice.

use prost::Message;
use sha2::{Digest, Sha256};

use crate::domain::idempotency::RequestFingerprint;
use crate::domain::validate;
use crate::error::{Error, Result};
use crate::store::{CallContext, Store, Tx};

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
