//! Connections to the API port: how many may be open, and when one is closed.
//!
//! - At most `server.max_connections` are open at once; one more is closed as soon as it is
//!   accepted (the client sees its connection reset, and retries elsewhere or later).
//! - A connection with no call for `server.connection_idle_timeout_seconds` is closed: a socket
//!   that never completes its handshake, or one a client keeps open and unused, does not hold
//!   its place for ever (hyper bounds an HTTP/1.1 request's headers to 30 s, nothing bounds an
//!   HTTP/2 connection that sends nothing).
//! - A connection whose client leaves an answer untaken for `server.client_read_timeout_seconds`
//!   is closed. hyper holds a chunk of an answer while the client's HTTP/2 window is shut (or
//!   its socket is full) and does not poll the rest; no API resets that one HTTP/2 stream, so
//!   the connection goes, and with it every buffer and stream it held. A client that reads,
//!   however slowly, keeps taking chunks and is never cut.
//!
//! How: [`watch_connections`] wraps each accepted socket in a [`WatchedConnection`], whose reads
//! and writes check those rules on a timer and fail once one is broken, which makes hyper drop
//! the connection. Each call's answer reports to its connection ([`WatchCalls`], the outermost
//! layer): which calls are open, and since when an answer waits for its client.

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::{Instant, Sleep};
use tokio_stream::{Stream, StreamExt};
use tonic::body::Body;
use tonic::transport::server::{Connected, TcpConnectInfo};

use crate::api::middleware::{Answer, Inner, Middleware};
use crate::body_watch::{Polled, Watch, watch};
use crate::settings::ServerSettings;

/// The rules of connections, from `[server]`.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    pub max_connections: usize,
    pub idle_timeout: Duration,
    pub read_timeout: Duration,
}

impl ConnectionLimits {
    pub fn from_settings(settings: &ServerSettings) -> ConnectionLimits {
        ConnectionLimits {
            max_connections: settings.max_connections,
            idle_timeout: Duration::from_secs(settings.connection_idle_timeout_seconds),
            read_timeout: Duration::from_secs(settings.client_read_timeout_seconds),
        }
    }

    /// How often a connection checks its rules: often enough that a rule is enforced within a
    /// quarter of its time, rarely enough to cost nothing (every 15 s by default).
    fn check_every(&self) -> Duration {
        (self.idle_timeout.min(self.read_timeout) / 4).max(Duration::from_millis(50))
    }
}

/// The accepted sockets of `incoming`, each watched; beyond `max_connections` open at once, a
/// socket is closed as soon as it is accepted.
pub fn watch_connections<I>(
    incoming: I,
    limits: ConnectionLimits,
) -> impl Stream<Item = io::Result<WatchedConnection>>
where
    I: Stream<Item = io::Result<TcpStream>>,
{
    let places = Arc::new(Semaphore::new(limits.max_connections));
    incoming.filter_map(move |accepted| match accepted {
        Err(error) => Some(Err(error)),
        Ok(socket) => match places.clone().try_acquire_owned() {
            Ok(place) => Some(Ok(WatchedConnection::new(socket, place, limits))),
            Err(_) => {
                crate::telemetry::metrics::count_closed_connection("limit");
                tracing::debug!(
                    max_connections = limits.max_connections,
                    "a connection beyond server.max_connections is closed"
                );
                None
            }
        },
    })
}

/// What a connection and the answers of its calls share.
pub struct ConnectionState {
    opened: Instant,
    limits: ConnectionLimits,
    /// The answers of the calls in progress.
    answers: Mutex<Vec<Arc<AnswerClock>>>,
    /// When the last call ended, in milliseconds since `opened` (0: none has yet).
    idle_since: AtomicU64,
}

/// When one answer began to wait for its client: milliseconds since its connection opened,
/// plus one; 0 while it does not wait (it is being taken, or waits for the server).
#[derive(Default)]
struct AnswerClock {
    waiting_since: AtomicU64,
}

fn lock(answers: &Mutex<Vec<Arc<AnswerClock>>>) -> MutexGuard<'_, Vec<Arc<AnswerClock>>> {
    // A list of clocks stays usable whatever panicked while it was held.
    answers.lock().unwrap_or_else(PoisonError::into_inner)
}

impl ConnectionState {
    fn now(&self) -> u64 {
        u64::try_from(self.opened.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Whether a rule is broken now, and which.
    fn broken_rule(&self) -> Option<&'static str> {
        let now = self.now();
        let answers = lock(&self.answers);
        if answers.is_empty() {
            let idle_for = now.saturating_sub(self.idle_since.load(Ordering::Relaxed));
            return (idle_for >= millis(self.limits.idle_timeout)).then_some("idle");
        }
        let read_timeout = millis(self.limits.read_timeout);
        answers
            .iter()
            .map(|answer| answer.waiting_since.load(Ordering::Relaxed))
            .any(|since| since != 0 && now.saturating_sub(since - 1) >= read_timeout)
            .then_some("unread")
    }
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// The connection-info of a watched connection, in every request's extensions (tonic puts it
/// there): the peer's addresses, and the connection its calls report to.
#[derive(Clone)]
pub struct ConnectionInfo {
    pub tcp: TcpConnectInfo,
    state: Arc<ConnectionState>,
}

/// An accepted socket under the rules of the module documentation.
pub struct WatchedConnection {
    socket: TcpStream,
    state: Arc<ConnectionState>,
    check: Pin<Box<Sleep>>,
    /// Once a rule is broken, every read and write fails.
    broken: Option<&'static str>,
    _place: OwnedSemaphorePermit,
    _open: crate::telemetry::metrics::ConnectionOpen,
}

impl WatchedConnection {
    fn new(
        socket: TcpStream,
        place: OwnedSemaphorePermit,
        limits: ConnectionLimits,
    ) -> WatchedConnection {
        WatchedConnection {
            socket,
            state: Arc::new(ConnectionState {
                opened: Instant::now(),
                limits,
                answers: Mutex::new(Vec::new()),
                idle_since: AtomicU64::new(0),
            }),
            check: Box::pin(tokio::time::sleep(limits.check_every())),
            broken: None,
            _place: place,
            _open: crate::telemetry::metrics::ConnectionOpen::start(),
        }
    }

    /// Checks the rules when the timer says so (the timer wakes the connection's task, which
    /// reads or writes again and so comes here); an error once one is broken.
    fn check_rules(&mut self, context: &mut Context<'_>) -> io::Result<()> {
        if let Some(rule) = self.broken {
            return Err(io::Error::new(io::ErrorKind::TimedOut, rule));
        }
        while self.check.as_mut().poll(context).is_ready() {
            if let Some(rule) = self.state.broken_rule() {
                self.broken = Some(rule);
                crate::telemetry::metrics::count_closed_connection(rule);
                let peer = self.socket.peer_addr().ok();
                match rule {
                    "unread" => tracing::info!(
                        ?peer,
                        seconds = self.state.limits.read_timeout.as_secs(),
                        "closing a connection whose client left an answer unread"
                    ),
                    _ => tracing::debug!(?peer, "closing an idle connection"),
                }
                return Err(io::Error::new(io::ErrorKind::TimedOut, rule));
            }
            let next = Instant::now() + self.state.limits.check_every();
            self.check.as_mut().reset(next);
        }
        Ok(())
    }
}

impl Connected for WatchedConnection {
    type ConnectInfo = ConnectionInfo;

    fn connect_info(&self) -> ConnectionInfo {
        ConnectionInfo {
            tcp: self.socket.connect_info(),
            state: self.state.clone(),
        }
    }
}

impl AsyncRead for WatchedConnection {
    fn poll_read(
        mut self: Pin<&mut Self>,
        context: &mut Context<'_>,
        buffer: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        self.check_rules(context)?;
        Pin::new(&mut self.socket).poll_read(context, buffer)
    }
}

impl AsyncWrite for WatchedConnection {
    fn poll_write(
        mut self: Pin<&mut Self>,
        context: &mut Context<'_>,
        buffer: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.check_rules(context)?;
        Pin::new(&mut self.socket).poll_write(context, buffer)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        context: &mut Context<'_>,
        buffers: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.check_rules(context)?;
        Pin::new(&mut self.socket).poll_write_vectored(context, buffers)
    }

    fn is_write_vectored(&self) -> bool {
        self.socket.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.check_rules(context)?;
        Pin::new(&mut self.socket).poll_flush(context)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.socket).poll_shutdown(context)
    }
}

/// The outermost layer: each call reports to its connection while it is open, and its answer
/// says when it waits for the client. Requests from elsewhere (unit tests) pass untouched.
#[derive(Clone, Copy, Default)]
pub struct WatchCalls;

impl Middleware for WatchCalls {
    fn serve<S: Inner>(&self, mut inner: S, request: http::Request<Body>) -> Answer<S::Error> {
        let Some(connection) = request.extensions().get::<ConnectionInfo>() else {
            return Box::pin(inner.call(request));
        };
        let call = OpenCall::start(connection.state.clone());
        Box::pin(async move {
            let response = inner.call(request).await?;
            Ok(response.map(|body| watch(body, AnswerWatch { call })))
        })
    }
}

/// One call of a connection, from its arrival until its answer is taken or dropped.
struct OpenCall {
    connection: Arc<ConnectionState>,
    clock: Arc<AnswerClock>,
}

impl OpenCall {
    fn start(connection: Arc<ConnectionState>) -> OpenCall {
        let clock = Arc::new(AnswerClock::default());
        lock(&connection.answers).push(clock.clone());
        OpenCall { connection, clock }
    }

    fn waiting_for_the_client(&self, waiting: bool) {
        let since = if waiting {
            self.connection.now() + 1
        } else {
            0
        };
        self.clock.waiting_since.store(since, Ordering::Relaxed);
    }
}

impl Drop for OpenCall {
    fn drop(&mut self) {
        let mut answers = lock(&self.connection.answers);
        if let Some(index) = answers
            .iter()
            .position(|clock| Arc::ptr_eq(clock, &self.clock))
        {
            answers.swap_remove(index);
        }
        if answers.is_empty() {
            let now = self.connection.now();
            self.connection.idle_since.store(now, Ordering::Relaxed);
        }
    }
}

/// An answer that tells its connection when it waits for the client: from the moment it hands
/// hyper a chunk until hyper comes back for the next (hyper comes back at once while the client
/// takes what it is sent, and not at all while it does not).
struct AnswerWatch {
    call: OpenCall,
}

impl Watch for AnswerWatch {
    fn saw(&mut self, polled: &Polled, _body: &Body) {
        let handed_data = matches!(
            polled,
            Poll::Ready(Some(Ok(frame))) if frame.data_ref().is_some_and(|data| !data.is_empty())
        );
        self.call.waiting_for_the_client(handed_data);
    }
}
