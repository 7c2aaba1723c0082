//! The two ways to load a server, each bounded in time:
//!
//! - closed loop: N workers, each sends its next call when the last one
//!   answers (throughput at a given concurrency);
//! - open loop: calls are scheduled at fixed intervals whatever the server
//!   does, and each latency is measured from the call's scheduled time, so a
//!   server that stalls is charged for every call that waited behind the
//!   stall (coordinated omission is not hidden).
//!
//! Both discard the warm-up and record latencies in microseconds in HDR
//! histograms, answers apart from refusals, refusals counted by gRPC code.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use tonic::Code;

use crate::calls::{Scenario, Target};

/// Recorders a closed loop's workers share.
const RECORDER_SHARDS: usize = 16;

/// Warm-up (not recorded), then the measured duration.
#[derive(Debug, Clone, Copy)]
pub struct Plan {
    pub warmup: Duration,
    pub duration: Duration,
}

/// Latencies of answered and of failed calls, failures by code, and (open loop) how late the
/// generator itself started each call after its scheduled time.
#[derive(Clone)]
pub struct Recorder {
    pub ok: Histogram<u64>,
    pub failed: Histogram<u64>,
    pub codes: BTreeMap<String, u64>,
    pub lag: Histogram<u64>,
}

/// Latencies from 1 µs to 10 minutes, three significant digits.
fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 600_000_000, 3).expect("valid histogram bounds")
}

impl Recorder {
    pub fn new() -> Self {
        Recorder {
            ok: histogram(),
            failed: histogram(),
            codes: BTreeMap::new(),
            lag: histogram(),
        }
    }

    fn record(&mut self, outcome: Result<(), Code>, latency: Duration) {
        let micros = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        match outcome {
            Ok(()) => self.ok.saturating_record(micros),
            Err(code) => {
                self.failed.saturating_record(micros);
                *self.codes.entry(code_name(code)).or_default() += 1;
            }
        }
    }

    fn merge(&mut self, other: &Recorder) {
        // Same bounds on both sides: adding cannot fail.
        let _added = self.ok.add(&other.ok);
        let _added = self.failed.add(&other.failed);
        let _added = self.lag.add(&other.lag);
        for (code, count) in &other.codes {
            *self.codes.entry(code.clone()).or_default() += count;
        }
    }
}

/// A gRPC code as the specification spells it (`UNAVAILABLE`).
pub fn code_name(code: Code) -> String {
    let mut name = String::new();
    for (index, character) in format!("{code:?}").chars().enumerate() {
        if character.is_ascii_uppercase() && index > 0 {
            name.push('_');
        }
        name.push(character.to_ascii_uppercase());
    }
    name
}

/// What a run measured.
pub struct Outcome {
    pub recorder: Recorder,
    pub seconds: f64,
    /// Most calls in flight at once (open loop).
    pub in_flight_peak: usize,
    /// Calls the open loop did not send because `max_in_flight` were already out.
    pub unsent: u64,
}

impl Outcome {
    /// Answered calls per second.
    pub fn rate(&self) -> f64 {
        self.recorder.ok.len() as f64 / self.seconds
    }

    pub fn failures(&self) -> u64 {
        self.recorder.failed.len()
    }

    /// One line for people.
    pub fn summary(&self) -> String {
        let ok = &self.recorder.ok;
        let ms = |quantile: f64| ok.value_at_quantile(quantile) as f64 / 1000.0;
        let mut line = format!(
            "{:>9.0}/s ok={} p50={:.3}ms p90={:.3}ms p99={:.3}ms p99.9={:.3}ms max={:.3}ms",
            self.rate(),
            ok.len(),
            ms(0.5),
            ms(0.9),
            ms(0.99),
            ms(0.999),
            ok.max() as f64 / 1000.0,
        );
        if self.failures() > 0 {
            let failed = &self.recorder.failed;
            line.push_str(&format!(
                " failed={} ({}) failed-p50={:.3}ms failed-p99={:.3}ms",
                self.failures(),
                self.codes_text(),
                failed.value_at_quantile(0.5) as f64 / 1000.0,
                failed.value_at_quantile(0.99) as f64 / 1000.0,
            ));
        }
        if self.unsent > 0 {
            line.push_str(&format!(" unsent={}", self.unsent));
        }
        if !self.recorder.lag.is_empty() {
            line.push_str(&format!(
                " generator-lag-p99={:.3}ms in-flight-peak={}",
                self.recorder.lag.value_at_quantile(0.99) as f64 / 1000.0,
                self.in_flight_peak
            ));
        }
        line
    }

    /// `UNAVAILABLE:12,DEADLINE_EXCEEDED:1`, or `-`.
    pub fn codes_text(&self) -> String {
        if self.recorder.codes.is_empty() {
            return "-".into();
        }
        self.recorder
            .codes
            .iter()
            .map(|(code, count)| format!("{code}:{count}"))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// The measures as `(name, value)` pairs for the results file.
    pub fn measures(&self) -> Vec<(&'static str, String)> {
        let ok = &self.recorder.ok;
        let failed = &self.recorder.failed;
        vec![
            ("rate", format!("{:.1}", self.rate())),
            ("ok", ok.len().to_string()),
            ("p50_us", ok.value_at_quantile(0.5).to_string()),
            ("p90_us", ok.value_at_quantile(0.9).to_string()),
            ("p99_us", ok.value_at_quantile(0.99).to_string()),
            ("p999_us", ok.value_at_quantile(0.999).to_string()),
            ("max_us", ok.max().to_string()),
            ("failed", failed.len().to_string()),
            ("failed_p50_us", failed.value_at_quantile(0.5).to_string()),
            ("failed_p99_us", failed.value_at_quantile(0.99).to_string()),
            ("codes", self.codes_text()),
            ("in_flight_peak", self.in_flight_peak.to_string()),
            ("unsent", self.unsent.to_string()),
            (
                "lag_p99_us",
                self.recorder.lag.value_at_quantile(0.99).to_string(),
            ),
            ("lag_max_us", self.recorder.lag.max().to_string()),
        ]
    }
}

/// `concurrency` workers over the target's connections, each with one call in flight.
pub async fn closed(
    target: Arc<Target>,
    scenario: Scenario,
    concurrency: usize,
    plan: Plan,
) -> Outcome {
    let started = Instant::now();
    let measure_from = started + plan.warmup;
    let end = measure_from + plan.duration;
    // A recorder holds three histograms of about half a megabyte each: workers share a few
    // (10,000 workers with one each would take gigabytes and starve the machine).
    let shards: Vec<Arc<Mutex<Recorder>>> = (0..concurrency.clamp(1, RECORDER_SHARDS))
        .map(|_| Arc::new(Mutex::new(Recorder::new())))
        .collect();
    let mut workers = tokio::task::JoinSet::new();
    for worker in 0..concurrency.max(1) {
        let target = target.clone();
        let shard = shards[worker % shards.len()].clone();
        workers.spawn(async move {
            // Bounded by `end`; each call by the channel's timeout.
            while Instant::now() < end {
                let sent = Instant::now();
                let outcome = target.call(scenario, worker).await;
                let answered = Instant::now();
                if sent >= measure_from
                    && answered <= end
                    && let Ok(mut recorder) = shard.lock()
                {
                    recorder.record(outcome, answered - sent);
                }
            }
        });
    }
    while workers.join_next().await.is_some() {}
    let mut recorder = Recorder::new();
    for shard in &shards {
        if let Ok(part) = shard.lock() {
            recorder.merge(&part);
        }
    }
    Outcome {
        recorder,
        seconds: plan.duration.as_secs_f64(),
        in_flight_peak: concurrency,
        unsent: 0,
    }
}

/// Calls at `rate` per second on a fixed schedule; at most `max_in_flight` out at once
/// (beyond that a call is counted as unsent, never silently dropped). Waits for the last
/// answers at most `drain` after the schedule ends.
pub async fn open(
    target: Arc<Target>,
    scenario: Scenario,
    rate: f64,
    plan: Plan,
    max_in_flight: usize,
    drain: Duration,
) -> Outcome {
    let rate = rate.max(1.0);
    let recorder = Arc::new(Mutex::new(Recorder::new()));
    let in_flight = Arc::new(AtomicUsize::new(0));
    let runtime = tokio::runtime::Handle::current();
    let total = ((plan.warmup + plan.duration).as_secs_f64() * rate) as u64;
    let schedule = {
        let recorder = recorder.clone();
        let in_flight = in_flight.clone();
        // A thread of its own: its sleeps are precise to tens of microseconds (tokio's timer
        // wheel ticks in milliseconds), and the schedule never waits for the runtime.
        std::thread::spawn(move || {
            let start = Instant::now() + Duration::from_millis(5);
            let measure_from = start + plan.warmup;
            let (mut peak, mut unsent) = (0usize, 0u64);
            for index in 0..total {
                let scheduled = start + Duration::from_secs_f64(index as f64 / rate);
                let now = Instant::now();
                if scheduled > now {
                    std::thread::sleep(scheduled - now);
                }
                let out = in_flight.load(Ordering::Relaxed);
                if out >= max_in_flight {
                    unsent += 1;
                    continue;
                }
                in_flight.fetch_add(1, Ordering::Relaxed);
                peak = peak.max(out + 1);
                let (target, recorder, in_flight) =
                    (target.clone(), recorder.clone(), in_flight.clone());
                runtime.spawn(async move {
                    let lag = scheduled.elapsed();
                    let outcome = target.call(scenario, index as usize).await;
                    let latency = scheduled.elapsed();
                    if scheduled >= measure_from
                        && let Ok(mut recorder) = recorder.lock()
                    {
                        recorder.record(outcome, latency);
                        let micros = u64::try_from(lag.as_micros()).unwrap_or(u64::MAX);
                        recorder.lag.saturating_record(micros);
                    }
                    in_flight.fetch_sub(1, Ordering::Relaxed);
                });
            }
            (peak, unsent)
        })
    };
    let (in_flight_peak, unsent) = tokio::task::spawn_blocking(move || schedule.join())
        .await
        .ok()
        .and_then(Result::ok)
        .unwrap_or((0, 0));
    let deadline = Instant::now() + drain;
    while in_flight.load(Ordering::Relaxed) > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let recorder = recorder
        .lock()
        .map(|r| r.clone())
        .unwrap_or_else(|_| Recorder::new());
    Outcome {
        recorder,
        seconds: plan.duration.as_secs_f64(),
        in_flight_peak,
        unsent,
    }
}
