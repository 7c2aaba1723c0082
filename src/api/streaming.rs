//! Server streams, one way: a producer task sends into a bounded channel and
//! the client reads a `ReceiverStream`. Memory stays flat (the producer waits
//! while the client is slow), and the stream's own limits hold: it ends with
//! `DEADLINE_EXCEEDED` past its deadline (`server.stream_max_duration_seconds`
//! or the client's `grpc-timeout`, whichever comes first) or when it delivers
//! nothing for `server.stream_idle_timeout_seconds`. When the client goes
//! away the producer is dropped at once, which stops its query. A producer
//! that panics ends its stream with `INTERNAL`, and the panic is logged.
//! Streams running and messages sent are counted (`telemetry::metrics`).

use std::any::Any;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use futures_util::FutureExt;
use tokio::sync::{Notify, mpsc};
use tokio::time::Instant;
use tokio_stream::wrappers::ReceiverStream;
use tonic::Status;
use tracing::Instrument;

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
        Status::cancelled("the stream was closed")
    }
}

/// What a producer sends with.
pub struct StreamSender<T> {
    channel: mpsc::Sender<Result<T, Status>>,
    delivered: Arc<Notify>,
    sent: metrics::Counter,
}

impl<T> StreamSender<T> {
    /// Sends one message, waiting while the channel is full (the client is slow).
    /// `Err(StreamClosed)` when nobody will read it: return, and the query stops.
    pub async fn send(&self, message: T) -> Result<(), StreamClosed> {
        self.channel
            .send(Ok(message))
            .await
            .map_err(|_| StreamClosed)?;
        self.delivered.notify_one();
        self.sent.increment(1);
        Ok(())
    }
}

/// Spawns `producer` and returns the stream the client reads. The producer
/// sends messages with its [`StreamSender`]; returning `Err(status)` ends the
/// stream with that status after the messages already sent. `capacity` bounds
/// how many messages wait in memory.
pub fn spawn_stream<T, P, F>(
    budget: StreamBudget,
    capacity: usize,
    producer: P,
) -> ReceiverStream<Result<T, Status>>
where
    T: Send + 'static,
    P: FnOnce(StreamSender<T>) -> F,
    F: Future<Output = Result<(), Status>> + Send + 'static,
{
    let (channel, receiver) = mpsc::channel(capacity.max(1));
    let delivered = Arc::new(Notify::new());
    let producing = producer(StreamSender {
        channel: channel.clone(),
        delivered: delivered.clone(),
        sent: crate::telemetry::metrics::stream_messages_sent(),
    });
    let running = crate::telemetry::metrics::StreamRunning::start();
    // In the call's span: the producer's queries are children of the call in its trace.
    tokio::spawn(supervise(budget, channel, delivered, producing, running).in_current_span());
    ReceiverStream::new(receiver)
}

/// Runs the producer within the budget and ends the stream with its final status.
async fn supervise<T, F>(
    budget: StreamBudget,
    channel: mpsc::Sender<Result<T, Status>>,
    delivered: Arc<Notify>,
    producing: F,
    _running: crate::telemetry::metrics::StreamRunning,
) where
    F: Future<Output = Result<(), Status>> + Send,
{
    let idle = budget.limits.idle;
    let mut producing = Box::pin(AssertUnwindSafe(producing).catch_unwind());
    let past_deadline = tokio::time::sleep_until(budget.deadline);
    let idle_for_too_long = tokio::time::sleep(idle);
    tokio::pin!(past_deadline, idle_for_too_long);
    let end = loop {
        tokio::select! {
            outcome = &mut producing => break match outcome {
                Ok(Ok(())) => None,
                Ok(Err(status)) => Some(status),
                Err(panic) => {
                    tracing::error!(panic = panic_message(panic.as_ref()), "a stream's producer panicked; the stream ends with INTERNAL");
                    Some(Status::internal("internal error"))
                }
            },
            () = channel.closed() => {
                tracing::debug!("the client went away; the stream's producer stops");
                return;
            }
            () = &mut past_deadline => {
                break Some(Status::deadline_exceeded("the stream ran past its deadline"));
            }
            () = &mut idle_for_too_long => {
                break Some(Status::deadline_exceeded(format!(
                    "the stream delivered nothing for {} s",
                    idle.as_secs_f64()
                )));
            }
            () = delivered.notified() => idle_for_too_long.as_mut().reset(Instant::now() + idle),
        }
    };
    // Stop the producer (and its query) before the final word.
    drop(producing);
    if let Some(status) = end {
        // A client that reads nothing more within the idle limit does not get it either.
        let _sent = tokio::time::timeout(idle, channel.send(Err(status))).await;
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

    async fn outcome(stream: ReceiverStream<Result<u32, Status>>) -> (Vec<u32>, Option<Code>) {
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

        let stream = spawn_stream(budget, 4, |sender| async move {
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

        let finished = spawn_stream(budget, 1, |sender| async move {
            for message in 0..5 {
                sender.send(message).await?;
            }
            Ok(())
        });
        let refused = spawn_stream(budget, 1, |sender| async move {
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

        let stream = spawn_stream(budget, 4, |sender| async move {
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
            send_every_second,
        );
        let (own_messages, own_end) = outcome(own).await;
        let own_lasted = started.elapsed();
        let client = spawn_stream(
            StreamBudget::starting_now(limits, Some(Duration::from_millis(10_500))),
            1,
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
        let (stopped, producer_dropped) = tokio::sync::oneshot::channel::<()>();
        struct SignalOnDrop(Option<tokio::sync::oneshot::Sender<()>>);
        impl Drop for SignalOnDrop {
            fn drop(&mut self) {
                if let Some(stopped) = self.0.take() {
                    let _sent = stopped.send(());
                }
            }
        }

        let mut stream = spawn_stream(budget, 1, move |sender| async move {
            let _guard = SignalOnDrop(Some(stopped));
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
