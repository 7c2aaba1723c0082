//! Helpers the benchmarks share (each bench is its own crate and uses some of them).
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use tonic::metadata::MetadataValue;

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
