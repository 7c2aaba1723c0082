//! The access log of streams, in a test binary of its own: captured logs are
//! per thread, and the API binary runs many servers at once, under which the
//! capture of this one missed lines on a loaded machine.

#[path = "api/helpers.rs"]
#[allow(dead_code)]
mod helpers;

use futures_util::StreamExt;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

use helpers::*;
use tonic::Code;

#[tokio::test]
async fn the_access_log_records_each_stream_with_the_status_it_ended_with() {
    use tonic_reflection::pb::v1::ServerReflectionRequest;
    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
    const WATCH: &str = "/grpc.health.v1.Health/Watch";
    const REFLECTION: &str = "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo";
    let logs = capture_logs();
    let app = spawn_app().await;
    let mut health = HealthClient::new(app.channel());

    // A stream the client leaves after its first message: on a connection of its own,
    // which the client then closes, so the server sees the end whatever else runs.
    let own_connection = tonic::transport::Channel::from_shared(format!("http://{}", app.address))
        .expect("uri")
        .connect()
        .await
        .expect("connected");
    let mut leaving = HealthClient::new(own_connection);
    let mut watch = leaving
        .watch(HealthCheckRequest {
            service: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    let first = watch.next().await;
    drop(watch);
    drop(leaving);
    let left = eventually("the abandoned Watch is logged", || async {
        let codes = logs.finished_codes(WATCH);
        (!codes.is_empty()).then_some(codes)
    })
    .await;
    // A stream refused before its first message (trailers-only).
    let refused = health
        .watch(HealthCheckRequest {
            service: "no.such.Service".into(),
        })
        .await;
    // A stream that runs to its end: one question, one answer, OK in the trailers.
    let mut reflection = ServerReflectionClient::new(app.channel());
    let answers: Vec<_> = reflection
        .server_reflection_info(tokio_stream::iter(vec![ServerReflectionRequest {
            host: String::new(),
            message_request: Some(MessageRequest::ListServices(String::new())),
        }]))
        .await
        .unwrap()
        .into_inner()
        .collect()
        .await;
    let ended = eventually("the finished reflection stream is logged", || async {
        let codes = logs.finished_codes(REFLECTION);
        (!codes.is_empty()).then_some(codes)
    })
    .await;

    assert!(first.is_some_and(|message| message.is_ok()));
    assert_eq!(left, vec!["Cancelled"]);
    expect_code(refused, Code::NotFound);
    assert_eq!(logs.finished_codes(WATCH), vec!["Cancelled", "NotFound"]);
    assert_eq!(answers.len(), 1);
    assert_eq!(ended, vec!["Ok"]);
}

/// JSON log lines written on this thread while it lives. A `#[tokio::test]` runs on one
/// thread, with the server it spawns: its lines are the server's lines.
pub struct CapturedLogs {
    written: std::sync::Arc<std::sync::Mutex<Vec<u8>>>,
    _guard: tracing::subscriber::DefaultGuard,
}

#[derive(Clone)]
struct SharedBuffer(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for SharedBuffer {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .map_err(|_| std::io::Error::other("log buffer poisoned"))?
            .extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Starts capturing this thread's logs (info and above, as JSON lines).
pub fn capture_logs() -> CapturedLogs {
    let written = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let buffer = SharedBuffer(written.clone());
    let subscriber = tracing_subscriber::fmt()
        .json()
        .with_max_level(tracing::Level::INFO)
        .with_writer(move || buffer.clone())
        .finish();
    let guard = tracing::subscriber::set_default(subscriber);
    // Callsites first seen by another test's thread (with no subscriber) may have cached
    // "not interested"; recompute their interest now that this thread has one.
    tracing::callsite::rebuild_interest_cache();
    CapturedLogs {
        written,
        _guard: guard,
    }
}

impl CapturedLogs {
    /// The `code` of every "rpc finished" line of `method` so far, in order.
    pub fn finished_codes(&self, method: &str) -> Vec<String> {
        let written = self
            .written
            .lock()
            .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
            .unwrap_or_default();
        written
            .lines()
            .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
            .filter(|line| line["fields"]["message"] == "rpc finished")
            .filter(|line| line["span"]["method"] == method)
            .map(|line| {
                line["span"]["code"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string()
            })
            .collect()
    }
}
