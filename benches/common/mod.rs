//! Helpers the benchmarks share (each bench is its own crate and uses some of them).
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::process::{Child, Command};
use tonic::metadata::MetadataValue;
use tonic::transport::Channel;

/// `message` with `authorization: Bearer {token}`.
pub fn bearer<T>(token: &str, message: T) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    let value = MetadataValue::try_from(format!("Bearer {token}")).expect("ascii token");
    request.metadata_mut().insert("authorization", value);
    request
}

/// The median of `samples`.
pub fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

/// A memory figure in KiB from a `/proc/.../status` file, e.g. `VmRSS:` or `VmHWM:`; 0 if unreadable.
pub fn status_kib(status_file: &Path, field: &str) -> u64 {
    std::fs::read_to_string(status_file)
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|line| line.starts_with(field))
                .and_then(|line| line.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// This process's resident memory in KiB.
pub fn resident_kib() -> u64 {
    status_kib(Path::new("/proc/self/status"), "VmRSS:")
}

/// `psql`: `$PSQL`, else the newest of Debian's `/usr/lib/postgresql/*/bin/psql`, else the PATH's.
pub fn psql_path() -> PathBuf {
    if let Some(path) = std::env::var_os("PSQL") {
        return path.into();
    }
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| entry.path().join("bin/psql"))
        .filter(|path| path.is_file())
        .collect();
    found.sort_by_key(|path| {
        path.components()
            .nth(4)
            .and_then(|version| version.as_os_str().to_str()?.parse::<u32>().ok())
    });
    found.pop().unwrap_or_else(|| "psql".into())
}

/// A server process of the release binary, so that its memory is its own (a server in the
/// benchmark's process would count the client's memory too). Killed when dropped.
pub struct Server {
    child: Child,
    pub channel: Channel,
    pub token: String,
}

impl Server {
    /// Starts `tipgrants serve` with `environment` (the database's settings) on a free port,
    /// its bootstrap token written into `directory`; waits until it answers.
    pub async fn start(environment: &[(&str, &str)], directory: &Path) -> Server {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a free port")
            .port();
        let token_file = directory.join("admin-token");
        let child = Command::new(env!("CARGO_BIN_EXE_tipgrants"))
            .arg("serve")
            .envs(environment.iter().copied())
            .env(
                "TIPGRANTS__SERVER__LISTEN_ADDRESS",
                format!("127.0.0.1:{port}"),
            )
            .env("TIPGRANTS__AUTH__BOOTSTRAP_TOKEN_FILE", &token_file)
            .env("TIPGRANTS__TELEMETRY__FILTER", "warn")
            .stdout(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("start the server");
        let address = format!("http://127.0.0.1:{port}");
        let started = Instant::now();
        let channel = loop {
            if let Ok(channel) = Channel::from_shared(address.clone())
                .expect("uri")
                .connect()
                .await
                && token_file.exists()
            {
                break channel;
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "the server did not start"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        let token = std::fs::read_to_string(&token_file)
            .expect("the bootstrap token")
            .trim()
            .to_string();
        Server {
            child,
            channel,
            token,
        }
    }

    /// `message` with the server's admin token.
    pub fn authorized<T>(&self, message: T) -> tonic::Request<T> {
        bearer(&self.token, message)
    }

    /// The server's `/proc/PID/status`.
    fn status_file(&self) -> PathBuf {
        let pid = self.child.id().expect("the server runs");
        PathBuf::from(format!("/proc/{pid}/status"))
    }

    /// The server's peak resident memory so far, in KiB.
    pub fn peak_kib(&self) -> u64 {
        status_kib(&self.status_file(), "VmHWM:")
    }

    /// The server's resident memory now, in KiB.
    pub fn resident_kib(&self) -> u64 {
        status_kib(&self.status_file(), "VmRSS:")
    }
}

/// The load average (1, 5, 15 minutes), to print beside figures taken on a shared machine.
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}
