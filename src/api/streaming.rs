//! Server streams, one way: a producer task sends into a bounded channel and
//! the client reads a [`MessageStream`]. Memory stays flat (the producer waits
//! while the client is slow), and the stream's own limits hold: it ends with
//! `DEADLINE_EXCEEDED` past its deadline (`server.stream_max_duration_seconds`
//! or the client's `grpc-timeout`, whichever comes first, reason `STREAM_DEADLINE`)
//! or when its client takes no message for `server.stream_idle_timeout_seconds`
//! (reason `STREAM_IDLE`).
//!
//! The idle time is measured where the client takes messages, not where the
//! producer puts them: a client that stops reading (an HTTP/2 window it never
//! opens) fills the channel, the producer waits, and nothing is taken. hyper
//! does not poll a response body while its stream has no send capacity, so the
//! timer cannot live in the body: a supervisor task keeps it. When a stream
//! ends early (idle, deadline) the supervisor drops the producer (its query,
//! transaction and database connection), frees the messages waiting in the
//! channel and gives back what the stream holds (its report slot); the client
//! gets the final status if it ever reads again. What hyper itself still holds
//! for an unread stream (one encoded chunk) goes with the connection: see
//! `crate::connections`. When the client goes away the producer is dropped at
//! once. A producer that panics ends its stream with `INTERNAL`, and the panic
//! is logged. Streams running and messages sent are counted (`telemetry::metrics`).

use std::any::Any;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use futures_util::FutureExt;
use tokio::sync::{Notify, mpsc};
use tokio::time::Instant;
use tokio_stream::Stream;
use tonic::Status;
use tracing::Instrument;

use crate::error::Error;
use crate::settings::ServerSettings;

/// The limits of every server stream, from `[server]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamLimits {
    /// A stream that delivers no message for this long ends.
    pub idle: Duration,
    /// No stream runs longer than this.
    pub max_duration: Duration,
}

impl StreamLimits {
    /// The limits set in `settings`.
    pub fn from_settings(settings: &ServerSettings) -> StreamLimits {
        StreamLimits {
            idle: Duration::from_secs(settings.stream_idle_timeout_seconds),
            max_duration: Duration::from_secs(settings.stream_max_duration_seconds),
        }
    }
}

impl Default for StreamLimits {
    /// The embedded defaults (`config/default.toml`; a test keeps the two equal).
    fn default() -> StreamLimits {
        StreamLimits {
            idle: Duration::from_secs(30),
            max_duration: Duration::from_secs(900),
        }
    }
}

/// One stream's limits, with the deadline fixed when its call arrived. The
/// deadline layer puts it in the request's extensions of every streaming method.
#[derive(Debug, Clone, Copy)]
pub struct StreamBudget {
    limits: StreamLimits,
    deadline: Instant,
}

impl StreamBudget {
    /// A budget starting now: `limits`, and the client's deadline when it set one.
    pub fn starting_now(limits: StreamLimits, client_timeout: Option<Duration>) -> StreamBudget {
        let allowed = client_timeout.map_or(limits.max_duration, |client| {
            client.min(limits.max_duration)
        });
        StreamBudget {
            limits,
            deadline: Instant::now() + allowed,
        }
    }

    /// The budget of `request`: set by the deadline layer, or (outside the server) the
    /// default limits and the client's `grpc-timeout`.
    pub fn of<R>(request: &tonic::Request<R>) -> StreamBudget {
        request
            .extensions()
            .get::<StreamBudget>()
            .copied()
            .unwrap_or_else(|| {
                let client_timeout = request
                    .metadata()
                    .get("grpc-timeout")
                    .and_then(|value| value.to_str().ok())
                    .and_then(parse_grpc_timeout);
                StreamBudget::starting_now(StreamLimits::default(), client_timeout)
            })
    }

    /// When the stream must have ended.
    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// How long until the deadline (zero when past).
    pub fn remaining(&self) -> Duration {
        self.deadline.saturating_duration_since(Instant::now())
    }

    /// The limits it was made from.
    pub fn limits(&self) -> StreamLimits {
        self.limits
    }
}

/// Parses a `grpc-timeout` value: at most 8 digits and a unit (`H`, `M`, `S`,
/// `m`, `u`, `n`). `None` when it is malformed.
pub fn parse_grpc_timeout(value: &str) -> Option<Duration> {
    let unit_at = value.len().checked_sub(1)?;
    let (digits, unit) = value.split_at(unit_at);
    if digits.is_empty() || digits.len() > 8 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let amount: u64 = digits.parse().ok()?;
    match unit {
        "H" => Some(Duration::from_secs(amount * 3600)),
        "M" => Some(Duration::from_secs(amount * 60)),
        "S" => Some(Duration::from_secs(amount)),
        "m" => Some(Duration::from_millis(amount)),
        "u" => Some(Duration::from_micros(amount)),
        "n" => Some(Duration::from_nanos(amount)),
        _ => None,
    }
}

/// The client has gone away (or the stream has ended): stop producing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamClosed;

impl From<StreamClosed> for Status {
    fn from(_: StreamClosed) -> Status {
        Error::Cancelled {
            reason: "STREAM_CLOSED",
            message: "the stream was closed".into(),
        }
        .into()
    }
}

/// What a producer sends with.
pub struct StreamSender<T> {
    channel: mpsc::Sender<T>,
    sent: metrics::Counter,
}

impl<T> StreamSender<T> {
    /// Sends one message, waiting while the channel is full (the client is slow).
    /// `Err(StreamClosed)` when nobody will read it: return, and the query stops.
    pub async fn send(&self, message: T) -> Result<(), StreamClosed> {
        self.channel.send(message).await.map_err(|_| StreamClosed)?;
        self.sent.increment(1);
        Ok(())
    }
}

/// What the client's side and the supervisor share.
struct Delivery<T> {
    /// The messages waiting for the client.
    messages: mpsc::Receiver<T>,
    /// How the stream ends once its messages are taken: `None` while its producer runs.
    end: Option<Result<(), Status>>,
    /// Messages the client has taken.
    taken: u64,
    /// The client has taken the end.
    finished: bool,
    /// The client's side was dropped.
    gone: bool,
    /// Wakes the client when the supervisor ends the stream early.
    client: Option<Waker>,
}

impl<T> Delivery<T> {
    /// Ends the stream with `end` unless its client has taken the end already: the messages
    /// still waiting are dropped, and the client's next read gets `end`.
    fn end_early(&mut self, end: Status) {
        if self.finished || self.gone {
            return;
        }
        self.drop_waiting();
        self.end = Some(Err(end));
        if let Some(client) = self.client.take() {
            client.wake();
        }
    }

    /// Closes the channel and frees what waits in it.
    fn drop_waiting(&mut self) {
        self.messages.close();
        while self.messages.try_recv().is_ok() {}
    }
}

type SharedDelivery<T> = Arc<Mutex<Delivery<T>>>;

fn lock<T>(delivery: &Mutex<Delivery<T>>) -> MutexGuard<'_, Delivery<T>> {
    // Every change under this lock is one step: a panic elsewhere leaves it consistent.
    delivery.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The stream the client reads: the producer's messages, then its final status.
pub struct MessageStream<T> {
    delivery: SharedDelivery<T>,
    /// Tells the supervisor the client took a message, took the end, or left.
    events: Arc<Notify>,
}

impl<T> Stream for MessageStream<T> {
    type Item = Result<T, Status>;

    fn poll_next(self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let mut delivery = lock(&self.delivery);
        if delivery.finished {
            return Poll::Ready(None);
        }
        match delivery.messages.poll_recv(context) {
            Poll::Ready(Some(message)) => {
                delivery.taken += 1;
                drop(delivery);
                self.events.notify_one();
                Poll::Ready(Some(Ok(message)))
            }
            Poll::Ready(None) => {
                delivery.finished = true;
                // The supervisor sets the end before the channel closes; without one it died.
                let end = delivery.end.take().unwrap_or_else(|| {
                    Err(Error::Internal("a stream ended without its end".into()).into())
                });
                drop(delivery);
                self.events.notify_one();
                Poll::Ready(end.err().map(Err))
            }
            Poll::Pending => {
                delivery.client = Some(context.waker().clone());
                Poll::Pending
            }
        }
    }
}

impl<T> Drop for MessageStream<T> {
    fn drop(&mut self) {
        let mut delivery = lock(&self.delivery);
        delivery.gone = true;
        delivery.drop_waiting();
        drop(delivery);
        self.events.notify_one();
    }
}

/// Spawns `producer` and returns the stream the client reads. The producer
/// sends messages with its [`StreamSender`]; returning `Err(status)` ends the
/// stream with that status after the messages already sent. `capacity` bounds
/// how many messages wait in memory. `held` (a report slot) is kept until the
/// client has taken every message and the end, or the stream ended early, or
/// the client left: never longer, whatever becomes of the connection.
pub fn spawn_stream<T, H, P, F>(
    budget: StreamBudget,
    capacity: usize,
    held: H,
    producer: P,
) -> MessageStream<T>
where
    T: Send + 'static,
    H: Send + 'static,
    P: FnOnce(StreamSender<T>) -> F,
    F: Future<Output = Result<(), Status>> + Send + 'static,
{
    let (channel, messages) = mpsc::channel(capacity.max(1));
    let delivery = Arc::new(Mutex::new(Delivery {
        messages,
        end: None,
        taken: 0,
        finished: false,
        gone: false,
        client: None,
    }));
    let events = Arc::new(Notify::new());
    let producing = producer(StreamSender {
        channel: channel.clone(),
        sent: crate::telemetry::metrics::stream_messages_sent(),
    });
    let supervisor = Supervisor {
        budget,
        delivery: delivery.clone(),
        events: events.clone(),
        channel: Some(channel),
        _held: Box::new(held),
        _running: crate::telemetry::metrics::StreamRunning::start(),
    };
    // In the call's span: the producer's queries are children of the call in its trace.
    tokio::spawn(supervisor.run(producing).in_current_span());
    MessageStream { delivery, events }
}

/// Keeps one stream's limits; see the module documentation.
struct Supervisor<T> {
    budget: StreamBudget,
    delivery: SharedDelivery<T>,
    events: Arc<Notify>,
    /// Keeps the channel open until the end is set.
    channel: Option<mpsc::Sender<T>>,
    _held: Box<dyn Send>,
    _running: crate::telemetry::metrics::StreamRunning,
}

/// What the client did, as the supervisor sees it.
enum Client {
    Reading { taken: u64 },
    Finished,
    Gone,
}

impl<T> Supervisor<T> {
    fn client(&self) -> Client {
        let delivery = lock(&self.delivery);
        if delivery.gone {
            Client::Gone
        } else if delivery.finished {
            Client::Finished
        } else {
            Client::Reading {
                taken: delivery.taken,
            }
        }
    }

    /// Runs the producer within the budget, then watches the delivery of what it sent.
    async fn run<F>(mut self, producing: F)
    where
        F: Future<Output = Result<(), Status>> + Send,
    {
        let idle = self.budget.limits.idle;
        let mut producing = Some(Box::pin(AssertUnwindSafe(producing).catch_unwind()));
        let past_deadline = tokio::time::sleep_until(self.budget.deadline);
        let idle_for_too_long = tokio::time::sleep(idle);
        tokio::pin!(past_deadline, idle_for_too_long);
        let mut taken = 0;
        let early_end = loop {
            tokio::select! {
                outcome = async { producing.as_mut().expect("polled only while producing").await }, if producing.is_some() => {
                    // The producer and its query are done: only the delivery is left to watch.
                    producing = None;
                    let end = match outcome {
                        Ok(end) => end,
                        Err(panic) => {
                            tracing::error!(panic = panic_message(panic.as_ref()), "a stream's producer panicked; the stream ends with INTERNAL");
                            Err(Error::Internal("a stream's producer panicked".into()).into())
                        }
                    };
                    lock(&self.delivery).end = Some(end);
                    // The channel closes once the client has taken what waits in it.
                    self.channel = None;
                }
                () = self.events.notified() => match self.client() {
                    Client::Gone => {
                        tracing::debug!("the client went away; the stream's producer stops");
                        return;
                    }
                    Client::Finished => return,
                    Client::Reading { taken: now } if now != taken => {
                        taken = now;
                        idle_for_too_long.as_mut().reset(Instant::now() + idle);
                    }
                    Client::Reading { .. } => {}
                },
                () = &mut past_deadline => break Error::DeadlineExceeded {
                    reason: "STREAM_DEADLINE",
                    message: "the stream ran past its deadline".into(),
                },
                () = &mut idle_for_too_long => break Error::DeadlineExceeded {
                    reason: "STREAM_IDLE",
                    message: format!(
                        "the stream's client took no message for {} s",
                        idle.as_secs_f64()
                    ),
                },
            }
        };
        // Stop the producer (and its query) before the final word; the slot goes with `self`.
        drop(producing);
        lock(&self.delivery).end_early(early_end.into());
    }
}

fn panic_message(panic: &(dyn Any + Send)) -> &str {
    panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(not a string)")
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio_stream::StreamExt;
    use tonic::Code;

    fn limits(idle_seconds: u64, max_seconds: u64) -> StreamLimits {
        StreamLimits {
            idle: Duration::from_secs(idle_seconds),
            max_duration: Duration::from_secs(max_seconds),
        }
    }

    async fn outcome(stream: MessageStream<u32>) -> (Vec<u32>, Option<Code>) {
        let results: Vec<_> = stream.collect().await;
        let mut messages = Vec::new();
        let mut end = None;
        for result in results {
            match result {
                Ok(message) => messages.push(message),
                Err(status) => end = Some(status.code()),
            }
        }
        (messages, end)
    }

    #[tokio::test]
    async fn a_producer_that_panics_ends_its_stream_with_internal_after_what_it_sent() {
        let budget = StreamBudget::starting_now(limits(30, 900), None);

        let stream = spawn_stream(budget, 4, (), |sender| async move {
            sender.send(1).await?;
            sender.send(2).await?;
            panic!("a bug in the producer");
        });

        assert_eq!(outcome(stream).await, (vec![1, 2], Some(Code::Internal)));
    }

    #[tokio::test]
    async fn a_producer_that_finishes_ends_its_stream_cleanly_and_an_error_ends_it_with_its_status()
    {
        let budget = StreamBudget::starting_now(limits(30, 900), None);

        let finished = spawn_stream(budget, 1, (), |sender| async move {
            for message in 0..5 {
                sender.send(message).await?;
            }
            Ok(())
        });
        let refused = spawn_stream(budget, 1, (), |sender| async move {
            sender.send(7).await?;
            Err(Status::failed_precondition("no more"))
        });

        assert_eq!(outcome(finished).await, (vec![0, 1, 2, 3, 4], None));
        assert_eq!(
            outcome(refused).await,
            (vec![7], Some(Code::FailedPrecondition))
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_stream_that_delivers_nothing_for_the_idle_limit_ends_with_deadline_exceeded() {
        let budget = StreamBudget::starting_now(limits(30, 900), None);

        let stream = spawn_stream(budget, 4, (), |sender| async move {
            sender.send(1).await?;
            std::future::pending::<()>().await;
            Ok(())
        });

        assert_eq!(
            outcome(stream).await,
            (vec![1], Some(Code::DeadlineExceeded))
        );
    }

    /// Sends a message every second, forever.
    async fn send_every_second(sender: StreamSender<u32>) -> Result<(), Status> {
        loop {
            sender.send(0).await?;
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_stream_ends_at_its_deadline_however_busy_and_the_client_deadline_wins_when_shorter()
    {
        let limits = StreamLimits {
            idle: Duration::from_secs(30),
            max_duration: Duration::from_millis(100_500),
        };
        let started = Instant::now();

        let own = spawn_stream(
            StreamBudget::starting_now(limits, None),
            1,
            (),
            send_every_second,
        );
        let (own_messages, own_end) = outcome(own).await;
        let own_lasted = started.elapsed();
        let client = spawn_stream(
            StreamBudget::starting_now(limits, Some(Duration::from_millis(10_500))),
            1,
            (),
            send_every_second,
        );
        let (client_messages, client_end) = outcome(client).await;

        assert_eq!(own_end, Some(Code::DeadlineExceeded));
        assert_eq!(client_end, Some(Code::DeadlineExceeded));
        // Paused test time: these are the virtual seconds the budgets allow, not wall-clock.
        assert_eq!(own_lasted, Duration::from_millis(100_500));
        assert_eq!(
            own_messages.len(),
            101,
            "one at each whole second from 0 to 100"
        );
        assert_eq!(client_messages.len(), 11);
    }

    #[tokio::test]
    async fn when_the_client_goes_away_the_producer_is_stopped() {
        let budget = StreamBudget::starting_now(limits(30, 900), None);
        let (guard, producer_dropped) = signal_on_drop();

        let mut stream = spawn_stream(budget, 1, (), move |sender| async move {
            let _guard = guard;
            sender.send(1).await?;
            // A long query that never sends again: only the client's leaving can stop it.
            std::future::pending::<()>().await;
            Ok(())
        });
        let first = stream.next().await;
        drop(stream);

        assert_eq!(first.map(|result| result.ok()), Some(Some(1)));
        let dropped = tokio::time::timeout(Duration::from_secs(60), producer_dropped)
            .await
            .expect("the producer is dropped when the client goes away");
        assert_eq!(dropped, Ok(()));
    }

    /// Signals when dropped: what a stream held (its producer, its slot) is gone.
    struct SignalOnDrop(Option<tokio::sync::oneshot::Sender<()>>);

    impl Drop for SignalOnDrop {
        fn drop(&mut self) {
            if let Some(signal) = self.0.take() {
                let _sent = signal.send(());
            }
        }
    }

    fn signal_on_drop() -> (SignalOnDrop, tokio::sync::oneshot::Receiver<()>) {
        let (signal, dropped) = tokio::sync::oneshot::channel();
        (SignalOnDrop(Some(signal)), dropped)
    }

    #[tokio::test(start_paused = true)]
    async fn a_client_that_takes_nothing_loses_its_stream_at_the_idle_limit_and_frees_what_it_held()
    {
        let budget = StreamBudget::starting_now(limits(30, 900), None);
        let (slot, slot_freed) = signal_on_drop();
        let (query, query_stopped) = signal_on_drop();

        // The client holds its stream and never reads it, as hyper holds an unread body.
        let mut stream = spawn_stream(budget, 2, slot, move |sender| async move {
            let _query = query;
            for message in 0.. {
                sender.send(message).await?;
            }
            Ok(())
        });
        let slot_freed = tokio::time::timeout(Duration::from_secs(60), slot_freed).await;
        let query_stopped = tokio::time::timeout(Duration::from_secs(1), query_stopped).await;
        let taken_after = stream.next().await;

        assert_eq!(slot_freed.map(|dropped| dropped.is_ok()), Ok(true));
        assert_eq!(query_stopped.map(|dropped| dropped.is_ok()), Ok(true));
        // The waiting messages were freed; a late read gets the final status only.
        assert_eq!(
            taken_after.map(|result| result.map_err(|status| status.code())),
            Some(Err(Code::DeadlineExceeded))
        );
        assert!(stream.next().await.is_none());
    }

    #[tokio::test(start_paused = true)]
    async fn a_stream_read_to_its_end_frees_its_slot_and_a_slow_reader_keeps_its_stream() {
        let budget = StreamBudget::starting_now(limits(30, 900), None);
        let (slot, mut slot_freed) = signal_on_drop();

        let mut stream = spawn_stream(budget, 1, slot, |sender| async move {
            for message in 0..3 {
                sender.send(message).await?;
            }
            Ok(())
        });
        let mut messages = Vec::new();
        while let Some(Ok(message)) = stream.next().await {
            messages.push(message);
            // Slower than the producer, well within the idle limit each time.
            tokio::time::sleep(Duration::from_secs(20)).await;
            assert!(
                slot_freed.try_recv().is_err(),
                "held while messages are due"
            );
        }
        let freed = tokio::time::timeout(Duration::from_secs(1), slot_freed).await;

        assert_eq!(messages, vec![0, 1, 2]);
        assert_eq!(freed.map(|dropped| dropped.is_ok()), Ok(true));
    }

    #[test]
    fn the_default_limits_are_the_embedded_defaults() {
        let settings = crate::settings::Settings::load_from(None, Vec::new()).expect("defaults");

        assert_eq!(
            StreamLimits::from_settings(&settings.server),
            StreamLimits::default()
        );
    }

    #[test]
    fn grpc_timeouts_parse_in_every_unit_and_malformed_ones_are_ignored() {
        assert_eq!(parse_grpc_timeout("2H"), Some(Duration::from_secs(7200)));
        assert_eq!(parse_grpc_timeout("3M"), Some(Duration::from_secs(180)));
        assert_eq!(parse_grpc_timeout("5S"), Some(Duration::from_secs(5)));
        assert_eq!(parse_grpc_timeout("250m"), Some(Duration::from_millis(250)));
        assert_eq!(parse_grpc_timeout("7u"), Some(Duration::from_micros(7)));
        assert_eq!(parse_grpc_timeout("9n"), Some(Duration::from_nanos(9)));
        for malformed in ["", "S", "5", "5s", "123456789S", "-1S", "1.5S"] {
            assert_eq!(parse_grpc_timeout(malformed), None, "{malformed:?}");
        }
    }
}
