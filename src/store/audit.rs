//! The audit log: recorded in the transaction of each change, chained in
//! order, read in chain order, verified end to end.
//!
//! Chaining takes the row lock on `audit_head`, so chainers link one after
//! another instead of forking the chain. On SQLite (one writer) a change
//! chains its events in its own transaction ([`append`]). On PostgreSQL, where
//! several replicas write at once, a change only queues its events
//! (`audit_pending`, in its transaction: a committed change always has its
//! events) and holds no lock for them; after the commit it waits for the
//! server's [`Appender`], which chains everything queued, from every caller
//! and replica, in one short transaction under the head's lock, and takes the
//! rows out of the queue in that same transaction. A call's events are in the
//! chain when it answers; events a stopped server left queued are chained by
//! the next pass of any replica (one per second at least).
//! The tails of creates and saves live here too (`Tx::insert_audited`,
//! `Tx::update_audited`): a row written through them always gets its event.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, Order, Query};
use sea_orm::{
    ActiveModelBehavior, ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait,
    DatabaseConnection, DatabaseTransaction, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder,
    QuerySelect, TransactionTrait,
};
use tokio::sync::{mpsc, oneshot};

use super::entities::{audit_events, audit_head, audit_pending};
use super::{Keyset, Page, Store, Tx};
use crate::domain::audit::{self, AuditEvent, Audited, ChainCheck, EventActor, PendingEvent};
use crate::domain::version::Versioned;
use crate::error::{Error, Result};

/// What to list.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub resource: Option<String>,
    pub actor: Option<String>,
    pub method: Option<String>,
    pub start_time: Option<DateTime<Utc>>,
    pub end_time: Option<DateTime<Utc>>,
}

/// The result of verifying the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainVerification {
    pub check: ChainCheck,
    pub head_sequence: i64,
    pub head_hash: String,
}

/// Chains `events` (each with the time it happened) after the head and stores them, inside
/// `txn`.
pub(super) async fn append(
    txn: &DatabaseTransaction,
    events: Vec<(DateTime<Utc>, PendingEvent)>,
) -> Result<()> {
    if events.is_empty() {
        return Ok(());
    }
    let head = locked_head(txn).await?;
    extend(txn, head, events).await
}

/// Links `events` after `head`, whose row lock `txn` holds, stores them and moves the head past
/// them: the one place where events get their sequence and hash.
async fn extend(
    txn: &DatabaseTransaction,
    (mut sequence, mut hash): (i64, String),
    events: Vec<(DateTime<Utc>, PendingEvent)>,
) -> Result<()> {
    let mut rows = Vec::with_capacity(events.len());
    for (event_time, event) in events {
        let linked = audit::link(sequence, &hash, event_time, event);
        sequence = linked.sequence;
        hash = linked.hash.clone();
        rows.push(audit_events::ActiveModel {
            sequence: Set(linked.sequence),
            event_time: Set(linked.event_time),
            actor: Set(linked.body.actor.token),
            actor_role: Set(linked.body.actor.role),
            actor_owner: Set(linked.body.actor.owner),
            method: Set(linked.body.method),
            resource: Set(linked.body.resource),
            request_id: Set(linked.body.request_id),
            diff: Set(linked.body.diff),
            previous_hash: Set(linked.previous_hash),
            hash: Set(linked.hash),
        });
    }
    audit_events::Entity::insert_many(rows).exec(txn).await?;
    audit_head::Entity::update_many()
        .col_expr(audit_head::Column::Sequence, Expr::value(sequence))
        .col_expr(audit_head::Column::Hash, Expr::value(hash))
        .filter(audit_head::Column::Id.eq(1))
        .exec(txn)
        .await?;
    Ok(())
}

/// The head of the chain, with its row lock held until `txn` ends. SELECT ... FOR UPDATE reads
/// it and takes the lock in one round trip (PostgreSQL); SQLite has one writer and no row
/// locks (the clause is left out).
async fn locked_head(txn: &DatabaseTransaction) -> Result<(i64, String)> {
    let head = audit_head::Entity::find_by_id(1)
        .lock_exclusive()
        .one(txn)
        .await?
        .ok_or_else(|| Error::Internal("audit_head row is missing".into()))?;
    Ok((head.sequence, head.hash))
}

/// Queues `events` for the [`Appender`], inside the change's transaction `txn` (PostgreSQL).
pub(super) async fn queue(
    txn: &DatabaseTransaction,
    events: Vec<(DateTime<Utc>, PendingEvent)>,
) -> Result<()> {
    if events.is_empty() {
        return Ok(());
    }
    let rows = events
        .into_iter()
        .map(|(event_time, event)| audit_pending::ActiveModel {
            event_time: Set(event_time),
            actor: Set(event.actor.token),
            actor_role: Set(event.actor.role),
            actor_owner: Set(event.actor.owner),
            method: Set(event.method),
            resource: Set(event.resource),
            request_id: Set(event.request_id),
            diff: Set(event.diff),
            ..Default::default()
        });
    audit_pending::Entity::insert_many(rows).exec(txn).await?;
    Ok(())
}

/// How many queued events one chaining transaction takes.
const CHAIN_BATCH: u64 = 1000;
/// How often the appender looks for events left queued (by a server that stopped before it
/// chained them) when no call asks it to.
const SWEEP_EVERY: Duration = Duration::from_secs(1);
/// Calls waiting for the appender at most; beyond, a call waits to be queued (admission bounds them anyway).
const WAITING_CALLS: usize = 1024;

/// Chains what is queued, oldest first, in transactions of [`CHAIN_BATCH`] events. Under the
/// head's lock (taken first, so replicas chain one after another) each transaction takes the
/// oldest events out of the queue and chains them; if it fails, they are back in the queue.
async fn chain_queued(writer: &DatabaseConnection) -> Result<()> {
    loop {
        let txn = writer.begin().await?;
        let head = locked_head(&txn).await?;
        // Read and taken out in one round trip (DELETE ... RETURNING, in no given order).
        let oldest = Query::select()
            .column(audit_pending::Column::Id)
            .from(audit_pending::Entity)
            .order_by(audit_pending::Column::Id, Order::Asc)
            .limit(CHAIN_BATCH)
            .to_owned();
        let mut queued = audit_pending::Entity::delete_many()
            .filter(audit_pending::Column::Id.in_subquery(oldest))
            .exec_with_returning(&txn)
            .await?;
        if queued.is_empty() {
            txn.commit().await?;
            return Ok(());
        }
        queued.sort_unstable_by_key(|row| row.id);
        let taken = queued.len() as u64;
        let events = queued
            .into_iter()
            .map(|row| {
                let event = PendingEvent {
                    actor: EventActor {
                        token: row.actor,
                        role: row.actor_role,
                        owner: row.actor_owner,
                    },
                    method: row.method,
                    resource: row.resource,
                    request_id: row.request_id,
                    diff: row.diff,
                };
                (row.event_time, event)
            })
            .collect();
        extend(&txn, head, events).await?;
        txn.commit().await?;
        if taken < CHAIN_BATCH {
            return Ok(());
        }
    }
}

/// The one task of a server that chains queued audit events (PostgreSQL): callers that
/// committed ask it, and each pass chains every event committed before it began, for all the
/// callers waiting at once. Ends when the store's last handle is dropped.
#[derive(Clone)]
pub(super) struct Appender {
    calls: mpsc::Sender<oneshot::Sender<()>>,
}

impl Appender {
    /// Starts the appender on `writer`.
    pub(super) fn start(writer: DatabaseConnection) -> Appender {
        let (calls, mut waiting) = mpsc::channel::<oneshot::Sender<()>>(WAITING_CALLS);
        tokio::spawn(async move {
            // The first sweep a period after the start: a server migrates first.
            let start = tokio::time::Instant::now() + SWEEP_EVERY;
            let mut sweep = tokio::time::interval_at(start, SWEEP_EVERY);
            sweep.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                let mut answer = Vec::new();
                tokio::select! {
                    call = waiting.recv() => match call {
                        Some(call) => answer.push(call),
                        None => break,
                    },
                    _ = sweep.tick() => {}
                }
                while let Ok(call) = waiting.try_recv() {
                    answer.push(call);
                }
                match chain_queued(&writer).await {
                    // The events stay queued, committed; the next pass chains them.
                    Err(error) if !answer.is_empty() => {
                        tracing::warn!(%error, "audit events stay queued: chaining them failed");
                    }
                    // A sweep finds nothing to do while the database is away or not migrated yet.
                    Err(error) => tracing::debug!(%error, "audit sweep failed"),
                    Ok(()) => {}
                }
                for call in answer {
                    let _gone = call.send(());
                }
            }
        });
        Appender { calls }
    }

    /// Waits for a pass that began after this call: the events committed before it are then
    /// chained (or still queued, when the pass failed: logged, and chained by a later pass).
    pub(super) async fn chained(&self) {
        let (answer, answered) = oneshot::channel();
        if self.calls.send(answer).await.is_ok() {
            let _stopped = answered.await;
        }
    }
}

impl Tx {
    /// Inserts a new `row`, reads it back as a record and records its
    /// creation: the one tail of every create. `record` answers the record's
    /// resource name and its audited view (its fields, never its bookkeeping).
    pub(super) async fn insert_audited<Row, Record>(
        &mut self,
        row: Row,
        read: impl FnOnce(<Row::Entity as EntityTrait>::Model) -> Result<Record>,
        record: impl for<'a> FnOnce(&'a Record) -> (String, &'a dyn Audited),
    ) -> Result<Record>
    where
        Row: ActiveModelTrait + ActiveModelBehavior + Send,
        <Row::Entity as EntityTrait>::Model: IntoActiveModel<Row>,
    {
        let created = read(row.insert(&self.txn).await?)?;
        let (resource, view) = record(&created);
        let view = view.audit_view()?;
        self.audit_views(&resource, None, Some(&view));
        Ok(created)
    }

    /// Updates `row` (a revision of `current`), reads it back and records the
    /// change: its soft deletion when the saved record is deleted, else its
    /// audited view (`view`) before and after. The one tail of every save.
    pub(super) async fn update_audited<Row, Record>(
        &mut self,
        row: Row,
        current: &Record,
        read: impl FnOnce(<Row::Entity as EntityTrait>::Model) -> Result<Record>,
        view: impl for<'a> Fn(&'a Record) -> &'a dyn Audited,
    ) -> Result<Record>
    where
        Row: ActiveModelTrait + ActiveModelBehavior + Send,
        <Row::Entity as EntityTrait>::Model: IntoActiveModel<Row>,
        Record: Versioned,
    {
        let saved = read(row.update(&self.txn).await?)?;
        match saved.delete_time() {
            Some(time) => self.audit_delete(&saved.resource(), time),
            None => {
                let before = view(current).audit_view()?;
                let after = view(&saved).audit_view()?;
                self.audit_views(&saved.resource(), Some(&before), Some(&after));
            }
        }
        Ok(saved)
    }
}

fn to_domain(row: audit_events::Model) -> AuditEvent {
    AuditEvent {
        sequence: row.sequence,
        event_time: row.event_time,
        body: PendingEvent {
            actor: EventActor {
                token: row.actor,
                role: row.actor_role,
                owner: row.actor_owner,
            },
            method: row.method,
            resource: row.resource,
            request_id: row.request_id,
            diff: row.diff,
        },
        previous_hash: row.previous_hash,
        hash: row.hash,
    }
}

/// How many events verification reads per round trip.
const VERIFY_BATCH: u64 = 1000;

impl Store {
    /// Lists events in chain order after `after` (a sequence number).
    pub async fn list_audit_events(
        &self,
        filter: &AuditFilter,
        page: &Keyset,
    ) -> Result<Page<AuditEvent>> {
        let mut select = audit_events::Entity::find();
        if let Some(resource) = &filter.resource {
            select = select.filter(audit_events::Column::Resource.eq(resource.as_str()));
        }
        if let Some(actor) = &filter.actor {
            select = select.filter(audit_events::Column::Actor.eq(actor.as_str()));
        }
        if let Some(method) = &filter.method {
            select = select.filter(audit_events::Column::Method.eq(method.as_str()));
        }
        if let Some(start) = filter.start_time {
            select = select.filter(audit_events::Column::EventTime.gte(start));
        }
        if let Some(end) = filter.end_time {
            select = select.filter(audit_events::Column::EventTime.lt(end));
        }
        page.fetch_numbered(&self.db, select, audit_events::Column::Sequence, |row| {
            row.sequence
        })
        .await?
        .try_map(|row| Ok(to_domain(row)))
    }

    /// Recomputes the whole chain, in batches, against the recorded head and
    /// the caller's `anchor`, inside one read-only snapshot: events committed
    /// meanwhile are not half-seen. Every row counts, from the lowest sequence.
    pub async fn verify_audit_chain(
        &self,
        anchor: Option<(i64, String)>,
    ) -> Result<ChainVerification> {
        // What is committed and still queued is chained first, so it is verified too.
        if let Some(appender) = &self.appender {
            appender.chained().await;
        }
        let snapshot = self.snapshot().await?;
        let head = audit_head::Entity::find_by_id(1)
            .one(&snapshot)
            .await?
            .ok_or_else(|| Error::Internal("audit_head row is missing".into()))?;
        let mut check = ChainCheck {
            anchor,
            ..ChainCheck::default()
        };
        let mut after: Option<i64> = None;
        loop {
            let mut select = audit_events::Entity::find();
            if let Some(after) = after {
                select = select.filter(audit_events::Column::Sequence.gt(after));
            }
            let rows = select
                .order_by_asc(audit_events::Column::Sequence)
                .limit(VERIFY_BATCH)
                .all(&snapshot)
                .await?;
            let Some(last) = rows.last() else { break };
            after = Some(last.sequence);
            for row in rows {
                check.check(&to_domain(row));
            }
            if check.broken.is_some() {
                break;
            }
        }
        check.finish(head.sequence, &head.hash);
        snapshot.rollback().await?;
        Ok(ChainVerification {
            check,
            head_sequence: head.sequence,
            head_hash: head.hash,
        })
    }

    /// The recorded head of the chain: (sequence, hash), to keep elsewhere as an anchor.
    pub async fn audit_head(&self) -> Result<(i64, String)> {
        let head = audit_head::Entity::find_by_id(1)
            .one(&self.db)
            .await?
            .ok_or_else(|| Error::Internal("audit_head row is missing".into()))?;
        Ok((head.sequence, head.hash))
    }
}

/// Counts events (tests and tools).
pub async fn count_events(conn: &impl ConnectionTrait) -> Result<u64> {
    use sea_orm::PaginatorTrait;
    Ok(audit_events::Entity::find().count(conn).await?)
}
