//! `UploadOutcomes`: a client stream of a header naming a draft report, then
//! up to 100,000 outcomes, written all or nothing.
//!
//! How an upload keeps memory flat and never blocks other callers' writes:
//!
//! 1. Each outcome is checked as it arrives (against the report's period and
//!    its project, the error naming its position and field, `outcomes[17].country_code`)
//!    and appended to a [`Spool`]: an unnamed temporary file, not memory.
//!    No transaction is open and no database connection is held while the
//!    client sends, however slowly.
//! 2. When the stream ends without a bad item, one transaction reads the
//!    spool back in batches of at most `BATCH_ROWS` outcomes or `BATCH_BYTES`
//!    of text, checks each again against the report and project it has locked
//!    (they may have changed meanwhile), links milestones, and writes each
//!    batch as multi-row INSERTs; with the idempotency record and one audit
//!    event for the upload, it commits at the end. Its length is set by the
//!    upload's size and the database's speed, never by the client's.
//!
//! Why not write batches inside one transaction as they arrive (the rule for
//! client streams in ARCHITECTURE.md)? That transaction would stay open for as
//! long as the client takes to send, up to `server.stream_max_duration_seconds`:
//! on SQLite it would hold the one writer connection, so one grantee trickling
//! an upload would stop every other caller's writes for up to 15 minutes; on
//! PostgreSQL it would hold a pooled connection and the report's row lock
//! while waiting on the network. A temporary file costs disk instead, which
//! is bounded: per upload by `uploads.max_bytes` (the spool is never larger
//! than what the client sent), and in all by the upload slots,
//! `uploads.max_concurrent` across the server and
//! `uploads.max_concurrent_per_principal` per grantee organisation (or staff
//! token). A slot, its spool and any transaction are freed as soon as the
//! call ends: finished, refused, or dropped because the client went away.
//! Outcomes are aggregate figures about a project, never personal data, so a
//! temporary file of them discloses nothing about a person.

use std::collections::HashSet;

use futures_util::StreamExt;
use prost::Message;
use sha2::{Digest, Sha256};
use tonic::{Request, Status, Streaming};

use super::outcome_report_api::{OutcomeReportApi, live_indicator_ids, outcome_input};
use super::spool::Spool;
use super::{Write, call_context};
use crate::domain::names::{MilestoneName, OutcomeReportName, ResourceName};
use crate::domain::outcome::{OutcomeContext, OutcomeFields};
use crate::domain::validate;
use crate::error::{Error, Result};
use crate::pb::v1 as pb;
use crate::pb::v1::upload_outcomes_request::Item;

/// Most outcomes one upload may carry.
pub const MAX_UPLOAD: usize = 100_000;
/// Most item errors one refused upload collects (an answer lists at most 50 of them: `src/error.rs`).
const MAX_UPLOAD_VIOLATIONS: usize = 50;
/// Outcomes written per batch at most...
const BATCH_ROWS: usize = 1_000;
/// ...and bytes of their text (descriptions, links): a batch of long descriptions is shorter.
/// Measured (benches/upload.rs): 1 MiB batches added 36-40 MiB to the server while it wrote
/// 100 MB, 256 KiB about 10 (the allocator keeps what each batch's statement took).
const BATCH_BYTES: usize = 256 * 1024;
/// The gRPC framing of each message on the wire (a flag and a 4-byte length), counted as sent.
const FRAME_BYTES: u64 = 5;

/// What the stream carried so far: its count, its bytes as sent, and the digest that
/// identifies it for idempotency.
#[derive(Default)]
struct Received {
    messages: usize,
    bytes: u64,
    digest: Sha256,
}

impl Received {
    /// Counts one message, `encoded_len` bytes long, whose `identity` goes into the digest;
    /// refuses the upload once it carries more than the limits allow.
    fn count(&mut self, encoded_len: usize, identity: &[u8], max_bytes: u64) -> Result<()> {
        self.digest.update(identity);
        self.messages += 1;
        self.bytes += encoded_len as u64 + FRAME_BYTES;
        // The header is not an outcome.
        if self.messages > MAX_UPLOAD + 1 {
            return Err(Error::invalid(
                "outcomes",
                format!("an upload carries at most {MAX_UPLOAD} outcomes: split the file"),
            ));
        }
        if self.bytes > max_bytes {
            return Err(Error::invalid(
                "outcomes",
                format!(
                    "an upload carries at most {} MiB: split the file",
                    max_bytes / (1024 * 1024)
                ),
            ));
        }
        Ok(())
    }
}

/// The milestones an upload linked to, each once, in the order first linked.
#[derive(Default)]
struct Linked {
    names: Vec<String>,
    seen: HashSet<String>,
}

impl Linked {
    fn add(&mut self, fields: &OutcomeFields) {
        if let Some(id) = &fields.milestone_id
            && self.seen.insert(id.clone())
        {
            self.names.push(MilestoneName::new(id).to_string());
        }
    }
}

impl OutcomeReportApi {
    /// Serves `UploadOutcomes`; see the module documentation.
    pub(super) async fn upload(
        &self,
        request: Request<Streaming<pb::UploadOutcomesRequest>>,
    ) -> Result<pb::UploadOutcomesResponse, Status> {
        let call = call_context(&request)?;
        let mut stream = request.into_inner();
        let mut received = Received::default();
        let first = stream.next().await.transpose()?;
        let encoded_len = first.as_ref().map_or(0, Message::encoded_len);
        let Some(Item::Header(header)) = first.and_then(|message| message.item) else {
            return Err(Error::invalid(
                "header",
                "the first message must be the header naming the report",
            )
            .into());
        };
        // The header alone identifies the start of the stream (as it always has for retries).
        received.count(
            encoded_len,
            &header.encode_to_vec(),
            self.uploads.max_bytes(),
        )?;
        let name = OutcomeReportName::parse("header.outcome_report", &header.outcome_report)?;
        let _slot = self.uploads.take_slot(&call.actor)?;
        let scope = call.actor.scope();
        let report = self.store.get_outcome_report(&scope, &name).await?;
        report.check_editable()?;
        let project = self.store.get_project(&scope, &name.project()).await?;
        let context = OutcomeContext {
            report: &report,
            project: &project,
        };
        let mut spool = Spool::create(self.uploads.spool_directory()).await?;
        let mut violations = validate::Violations::new();
        while let Some(message) = stream.next().await.transpose()? {
            let index = received.messages - 1;
            let encoded = message.encode_to_vec();
            received.count(encoded.len(), &encoded, self.uploads.max_bytes())?;
            let Some(Item::Outcome(outcome)) = message.item else {
                if violations.len() < MAX_UPLOAD_VIOLATIONS {
                    violations.add(
                        "header",
                        format!(
                            "message {} is a second header: only the first message is one",
                            index + 1
                        ),
                    );
                }
                continue;
            };
            match outcome_input(&outcome).validate(&format!("outcomes[{index}]"), &context) {
                // Once one item is bad nothing is written: keep checking, stop keeping.
                Ok(_) if violations.is_empty() => spool.push(&outcome).await?,
                Ok(_) => {}
                Err(error) => {
                    if violations.len() < MAX_UPLOAD_VIOLATIONS {
                        violations.check::<(), _>(Err(error));
                    }
                }
            }
        }
        violations.finish()?;
        let write = Write::of_stream(&call, &header.request_id, &received.digest.finalize())?;
        let mut outcomes = spool.into_reader().await?;
        let answer = write
            .run(&self.store, async |tx| {
                let (report, project) = Self::report_and_project(tx, &call, &name, None).await?;
                report.check_editable()?;
                let context = OutcomeContext {
                    report: &report,
                    project: &project,
                };
                let live = live_indicator_ids(tx, &project).await?;
                let mut linked = Linked::default();
                let mut batch = Vec::new();
                let mut batch_bytes = 0;
                let mut added = 0;
                let mut index = 0;
                while let Some(outcome) = outcomes.next::<pb::Outcome>().await? {
                    let prefix = format!("outcomes[{index}]");
                    let mut fields = outcome_input(&outcome).validate(&prefix, &context)?;
                    let fiscal_year = self.link(tx, &live, &mut fields, &prefix).await?;
                    linked.add(&fields);
                    batch_bytes += fields.description.len() + fields.evidence_uri.len();
                    batch.push((fields, fiscal_year));
                    if batch.len() == BATCH_ROWS || batch_bytes >= BATCH_BYTES {
                        added += tx
                            .insert_outcomes(&report, std::mem::take(&mut batch))
                            .await?;
                        batch_bytes = 0;
                    }
                    index += 1;
                }
                added += tx.insert_outcomes(&report, batch).await?;
                tx.record_upload(&report, added).await?;
                Ok(pb::UploadOutcomesResponse {
                    outcome_report: report.resource_name(),
                    outcome_count: added as i64,
                    milestones: linked.names,
                })
            })
            .await?;
        Ok(answer)
    }
}
