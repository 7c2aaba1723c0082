//! `tipgrants-load`: the load benchmark of a running tipgrants server, with
//! the project's own generated clients. `scripts/bench.sh` drives it (one
//! `suite` per database, then `report`); each step can also run alone:
//!
//! ```text
//! tipgrants-load --address 127.0.0.1:50051 --token-file token closed --scenario get-organization
//! tipgrants-load --address 127.0.0.1:50051 --token-file token open --scenario get-grant --rate 2000
//! tipgrants-load --address 127.0.0.1:50051 --token-file token report-by-country --outcomes 100000 --from-year 2009 --to-year 2014
//! ```
//!
//! Only loopback addresses are accepted, and every loop is bounded in time.

mod calls;
mod drive;
mod fiscal_year_report;
mod report;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Parser, Subcommand};

use calls::{Scenario, Seeded, Target};
use drive::{Outcome, Plan};

#[derive(Parser)]
#[command(
    name = "tipgrants-load",
    about = "Load benchmark of a running tipgrants server"
)]
struct Cli {
    /// The server's address (loopback only).
    #[arg(
        long,
        env = "BENCH_ADDRESS",
        global = true,
        default_value = "127.0.0.1:50051"
    )]
    address: SocketAddr,
    /// The file holding the admin token (`auth.bootstrap_token_file`).
    #[arg(long, env = "BENCH_TOKEN_FILE", global = true)]
    token_file: Option<PathBuf>,
    /// Appends each run's measures here (`key value` lines).
    #[arg(long, env = "BENCH_RESULTS", global = true)]
    results: Option<PathBuf>,
    /// Worker threads of the load generator's runtime.
    #[arg(long, env = "BENCH_THREADS", global = true, default_value_t = 2)]
    threads: usize,
    /// Calls in flight (closed loop).
    #[arg(long, env = "BENCH_CONCURRENCY", global = true, default_value_t = 8)]
    concurrency: usize,
    /// HTTP/2 connections the calls share.
    #[arg(long, env = "BENCH_CONNECTIONS", global = true, default_value_t = 2)]
    connections: usize,
    /// HTTP/2 connections of the open loops: enough that the server's 100 streams per
    /// connection never hold calls back on the generator's side.
    #[arg(
        long,
        env = "BENCH_OPEN_CONNECTIONS",
        global = true,
        default_value_t = 16
    )]
    open_connections: usize,
    /// Seconds of warm-up, not recorded.
    #[arg(
        long,
        env = "BENCH_WARMUP_SECONDS",
        global = true,
        default_value_t = 2.0
    )]
    warmup: f64,
    /// Seconds measured per run.
    #[arg(
        long,
        env = "BENCH_DURATION_SECONDS",
        global = true,
        default_value_t = 8.0
    )]
    duration: f64,
    /// A call that has no answer after this many seconds fails (DEADLINE_EXCEEDED or CANCELLED).
    #[arg(long, global = true, default_value_t = 3.0)]
    call_timeout: f64,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Every measure of one server, written to the results file under `--label`.
    Suite {
        /// `postgres` or `sqlite`: the prefix of the results' keys.
        #[arg(long)]
        label: String,
        /// The server's process id, to read its resident memory.
        #[arg(long)]
        server_pid: Option<u32>,
        /// Closed-loop scenarios.
        #[arg(
            long,
            value_delimiter = ',',
            default_value = "health,get-organization,get-grant,create-organization"
        )]
        scenarios: Vec<Scenario>,
        /// Only the memory measures (idle, and with `--memory-in-flight` calls): no closed loops.
        #[arg(long)]
        memory_only: bool,
        /// Open loop at half the closed-loop rate of the reads (P2).
        #[arg(long)]
        open: bool,
        /// Open loop at twice GetOrganization's closed-loop rate (P8).
        #[arg(long)]
        overload: bool,
        /// Calls in flight for the memory measure (0: skip it).
        #[arg(long, env = "BENCH_MEMORY_IN_FLIGHT", default_value_t = 0)]
        memory_in_flight: usize,
        /// Connections for the memory measure (0: one per 100 calls, at least 20; the server
        /// serves 100 streams per connection, so fewer would hold calls back in the generator).
        #[arg(long, default_value_t = 0)]
        memory_connections: usize,
    },
    /// One closed loop.
    Closed {
        #[arg(long, value_enum)]
        scenario: Scenario,
    },
    /// One open loop at a fixed rate.
    Open {
        #[arg(long, value_enum)]
        scenario: Scenario,
        /// Calls per second.
        #[arg(long)]
        rate: f64,
    },
    /// P9: `StreamFiscalYearReport` by country, timed `--runs` times, written under
    /// `p9.OUTCOMES` (the database is filled beforehand: scripts/bench.sh).
    ReportByCountry {
        /// How many accepted outcomes the database holds: the key of the results.
        #[arg(long)]
        outcomes: u64,
        #[arg(long)]
        from_year: i32,
        #[arg(long)]
        to_year: i32,
        /// Reports read one after another; the median counts.
        #[arg(long, default_value_t = 3)]
        runs: usize,
    },
    /// Prints the table from the results file; exits 0 even when goals are unmet.
    Report,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if !cli.address.ip().is_loopback() {
        eprintln!("tipgrants-load: {} is not a loopback address", cli.address);
        return ExitCode::from(2);
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cli.threads.max(1))
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("tipgrants-load: cannot start the runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("tipgrants-load: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<(), String> {
    if let Command::Report = cli.command {
        let path = cli.results.as_deref().ok_or("report needs --results")?;
        let (table, unmet) = report::table(path)?;
        print!("{table}");
        println!("\n{unmet} goal(s) unmet or not measured.");
        return Ok(());
    }
    let plan = Plan {
        warmup: seconds(cli.warmup, "--warmup")?,
        duration: seconds(cli.duration, "--duration")?,
    };
    let call_timeout = seconds(cli.call_timeout, "--call-timeout")?;
    let token_file = cli
        .token_file
        .as_deref()
        .ok_or("--token-file is required")?;
    let token = std::fs::read_to_string(token_file)
        .map_err(|error| format!("{}: {error}", token_file.display()))?;
    let bearer = calls::bearer(token.trim())?;
    let address = cli.address.to_string();
    let bench = Bench {
        address: address.clone(),
        bearer,
        call_timeout,
        plan,
        concurrency: cli.concurrency.max(1),
        connections: cli.connections.max(1),
        open_connections: cli.open_connections.max(1),
        results: cli.results.clone(),
    };
    match cli.command {
        Command::Report => Ok(()),
        Command::ReportByCountry {
            outcomes,
            from_year,
            to_year,
            runs,
        } => {
            let channels = calls::connect(&bench.address, 1, bench.call_timeout).await?;
            let run = fiscal_year_report::ReportRun {
                from_year,
                to_year,
                runs,
            };
            let times =
                fiscal_year_report::time_reports(channels[0].clone(), &bench.bearer, run).await?;
            let median = times.median();
            println!(
                "report by country, FY {from_year}-{to_year}, {outcomes} accepted outcomes: median {:.1} ms of {:?} ({} rows)",
                median.as_secs_f64() * 1000.0,
                times.times,
                times.rows
            );
            let Some(path) = &bench.results else {
                return Ok(());
            };
            let key = format!("p9.{outcomes}");
            let runs: Vec<String> = times
                .times
                .iter()
                .map(|time| time.as_micros().to_string())
                .collect();
            report::append(
                path,
                &[
                    (format!("{key}.report_us"), median.as_micros().to_string()),
                    (format!("{key}.report_runs_us"), runs.join(",")),
                    (format!("{key}.from_year"), from_year.to_string()),
                    (format!("{key}.to_year"), to_year.to_string()),
                    (format!("{key}.rows"), times.rows.to_string()),
                ],
            )
        }
        Command::Closed { scenario } => {
            let seeded = bench.seed().await?;
            let target = bench.target(bench.connections, seeded).await?;
            let outcome = drive::closed(target, scenario, bench.concurrency, plan).await;
            println!("closed {:<20} {}", scenario.key(), outcome.summary());
            bench.record(&format!("closed.{}", scenario.key()), &outcome, None)
        }
        Command::Open { scenario, rate } => {
            let seeded = bench.seed().await?;
            let target = bench.target(bench.open_connections, seeded).await?;
            let outcome = bench.open(target, scenario, rate).await;
            println!(
                "open {rate:.0}/s {:<20} {}",
                scenario.key(),
                outcome.summary()
            );
            bench.record(&format!("open.{}", scenario.key()), &outcome, Some(rate))
        }
        Command::Suite {
            label,
            server_pid,
            scenarios,
            memory_only,
            open,
            overload,
            memory_in_flight,
            memory_connections,
        } => {
            let suite = Suite {
                bench,
                label,
                server_pid,
            };
            suite
                .run(
                    if memory_only { &[] } else { &scenarios },
                    open,
                    overload,
                    memory_in_flight,
                    memory_connections,
                )
                .await
        }
    }
}

fn seconds(value: f64, flag: &str) -> Result<Duration, String> {
    if !(0.0..=3600.0).contains(&value) {
        return Err(format!("{flag}: from 0 to 3600 seconds"));
    }
    Ok(Duration::from_secs_f64(value))
}

/// What every run shares.
struct Bench {
    address: String,
    bearer: tonic::metadata::MetadataValue<tonic::metadata::Ascii>,
    call_timeout: Duration,
    plan: Plan,
    concurrency: usize,
    connections: usize,
    open_connections: usize,
    results: Option<PathBuf>,
}

impl Bench {
    async fn seed(&self) -> Result<Seeded, String> {
        let channels = calls::connect(&self.address, 1, self.call_timeout).await?;
        calls::seed(channels[0].clone(), &self.bearer).await
    }

    async fn target(&self, connections: usize, seeded: Seeded) -> Result<Arc<Target>, String> {
        let channels = calls::connect(&self.address, connections, self.call_timeout).await?;
        Ok(Target::new(channels, self.bearer.clone(), seeded))
    }

    async fn open(&self, target: Arc<Target>, scenario: Scenario, rate: f64) -> Outcome {
        // Enough room for every call of `call_timeout` at this rate; beyond that, counted unsent.
        let max_in_flight = ((rate * self.call_timeout.as_secs_f64()) as usize).clamp(100, 50_000);
        drive::open(
            target,
            scenario,
            rate,
            self.plan,
            max_in_flight,
            self.call_timeout + Duration::from_secs(1),
        )
        .await
    }

    fn record(&self, key: &str, outcome: &Outcome, target_rate: Option<f64>) -> Result<(), String> {
        let Some(path) = &self.results else {
            return Ok(());
        };
        let mut pairs: Vec<(String, String)> = outcome
            .measures()
            .into_iter()
            .map(|(name, value)| (format!("{key}.{name}"), value))
            .collect();
        if let Some(rate) = target_rate {
            pairs.push((format!("{key}.target_rate"), format!("{rate:.1}")));
        }
        report::append(path, &pairs)
    }
}

/// Every measure of one server.
struct Suite {
    bench: Bench,
    label: String,
    server_pid: Option<u32>,
}

impl Suite {
    fn record(&self, key: &str, outcome: &Outcome, target_rate: Option<f64>) -> Result<(), String> {
        self.bench
            .record(&format!("{}.{key}", self.label), outcome, target_rate)
    }

    fn note(&self, pairs: &[(&str, String)]) -> Result<(), String> {
        let Some(path) = &self.bench.results else {
            return Ok(());
        };
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(key, value)| (format!("{}.{key}", self.label), value.clone()))
            .collect();
        report::append(path, &pairs)
    }

    async fn run(
        &self,
        scenarios: &[Scenario],
        open: bool,
        overload: bool,
        memory_in_flight: usize,
        memory_connections: usize,
    ) -> Result<(), String> {
        let bench = &self.bench;
        self.note(&[
            ("concurrency", bench.concurrency.to_string()),
            ("connections", bench.connections.to_string()),
            ("duration", bench.plan.duration.as_secs_f64().to_string()),
        ])?;
        if let Some(pid) = self.server_pid {
            let memory = resident_memory(pid)?;
            eprintln!(
                "[{}] idle: VmRSS {} KiB (RssAnon {} KiB, RssFile {} KiB)",
                self.label, memory.rss_kib, memory.anon_kib, memory.file_kib
            );
            self.note(&[
                ("memory.idle_kib", memory.rss_kib.to_string()),
                ("memory.idle_anon_kib", memory.anon_kib.to_string()),
                ("memory.idle_file_kib", memory.file_kib.to_string()),
            ])?;
        }
        let seeded = bench.seed().await?;
        let target = bench.target(bench.connections, seeded.clone()).await?;
        let mut closed_rates = Vec::new();
        for &scenario in scenarios {
            let outcome =
                drive::closed(target.clone(), scenario, bench.concurrency, bench.plan).await;
            eprintln!(
                "[{}] closed {:<20} c={} conns={}: {}",
                self.label,
                scenario.key(),
                bench.concurrency,
                target.connections(),
                outcome.summary()
            );
            self.record(&format!("closed.{}", scenario.key()), &outcome, None)?;
            closed_rates.push((scenario, outcome.rate()));
        }
        let open_target = bench.target(bench.open_connections, seeded.clone()).await?;
        let rate_of = |wanted: Scenario| {
            closed_rates
                .iter()
                .find(|(scenario, _)| *scenario == wanted)
                .map(|(_, rate)| *rate)
        };
        if open {
            for scenario in [Scenario::GetOrganization, Scenario::GetGrant] {
                let Some(rate) = rate_of(scenario) else {
                    continue;
                };
                let rate = rate / 2.0;
                let outcome = bench.open(open_target.clone(), scenario, rate).await;
                eprintln!(
                    "[{}] open {:<20} at {rate:.0}/s: {}",
                    self.label,
                    scenario.key(),
                    outcome.summary()
                );
                self.record(&format!("open.{}", scenario.key()), &outcome, Some(rate))?;
            }
        }
        if overload && let Some(rate) = rate_of(Scenario::GetOrganization) {
            let rate = rate * 2.0;
            let outcome = bench
                .open(open_target.clone(), Scenario::GetOrganization, rate)
                .await;
            eprintln!(
                "[{}] overload get-organization at {rate:.0}/s: {}",
                self.label,
                outcome.summary()
            );
            self.record("overload.get-organization", &outcome, Some(rate))?;
        }
        if let (Some(pid), true) = (self.server_pid, memory_in_flight > 0) {
            self.memory(pid, seeded, memory_in_flight, memory_connections)
                .await?;
        }
        Ok(())
    }

    /// Resident memory while `in_flight` GetOrganization calls are out at once.
    async fn memory(
        &self,
        pid: u32,
        seeded: Seeded,
        in_flight: usize,
        connections: usize,
    ) -> Result<(), String> {
        let connections = match connections {
            0 => in_flight.div_ceil(100).max(20),
            given => given,
        };
        let target = self.bench.target(connections, seeded).await?;
        let plan = Plan {
            warmup: Duration::from_secs(1),
            duration: Duration::from_secs(3),
        };
        let (stop, mut stopped) = tokio::sync::watch::channel(false);
        // Samples every 20 ms until the run ends (bounded by the run's own length).
        let sampler = tokio::spawn(async move {
            let mut peak = 0u64;
            loop {
                if let Ok(memory) = resident_memory(pid) {
                    peak = peak.max(memory.rss_kib);
                }
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_millis(20)) => {}
                    _ = stopped.changed() => return peak,
                }
            }
        });
        let outcome = drive::closed(target, Scenario::GetOrganization, in_flight, plan).await;
        let _sent = stop.send(true);
        let peak = sampler.await.unwrap_or(0);
        let after = resident_memory(pid)?;
        eprintln!(
            "[{}] memory at {in_flight} in flight over {connections} connections: peak VmRSS {peak} KiB, VmHWM {} KiB, after {} KiB; {}",
            self.label,
            after.hwm_kib,
            after.rss_kib,
            outcome.summary()
        );
        self.record("memory.run", &outcome, None)?;
        self.note(&[
            ("memory.in_flight", in_flight.to_string()),
            ("memory.connections", connections.to_string()),
            ("memory.peak_kib", peak.to_string()),
            ("memory.hwm_kib", after.hwm_kib.to_string()),
            ("memory.after_kib", after.rss_kib.to_string()),
        ])
    }
}

struct ResidentMemory {
    rss_kib: u64,
    hwm_kib: u64,
    /// Of `rss_kib`: the process's own memory (heap, stacks).
    anon_kib: u64,
    /// Of `rss_kib`: pages of files mapped in (the executable's code, shared libraries), clean
    /// and shared with the page cache.
    file_kib: u64,
}

/// VmRSS, VmHWM, RssAnon and RssFile of process `pid`, from `/proc/PID/status`.
fn resident_memory(pid: u32) -> Result<ResidentMemory, String> {
    let path = Path::new("/proc").join(pid.to_string()).join("status");
    let status =
        std::fs::read_to_string(&path).map_err(|error| format!("{}: {error}", path.display()))?;
    let field = |name: &str| {
        status
            .lines()
            .find(|line| line.starts_with(name))
            .and_then(|line| line.split_whitespace().nth(1))
            .and_then(|value| value.parse::<u64>().ok())
            .ok_or_else(|| format!("{}: no {name}", path.display()))
    };
    Ok(ResidentMemory {
        rss_kib: field("VmRSS:")?,
        hwm_kib: field("VmHWM:")?,
        anon_kib: field("RssAnon:")?,
        file_kib: field("RssFile:")?,
    })
}
