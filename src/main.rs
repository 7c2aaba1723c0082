//! The `tipgrants` command: `serve` (default), `migrate up|down|status`,
//! `token create`, `audit head`, `keys generate|rotate` and `seed-demo`
//! against the configured database, and the client commands
//! `outcomes template|upload`, `report` and `export outcomes|iati|htcds`
//! against a running server (`tipgrants::cli`).
//! Thin: parse the command line, load settings, init telemetry, run.

use std::path::PathBuf;
use std::process::ExitCode;

use chrono::{Duration, Utc};
use clap::{Parser, Subcommand};
use tipgrants::cli::OutcomesCommand;
use tipgrants::domain::access::Role;
use tipgrants::privacy::Keyring;
use tipgrants::settings::Settings;
use tipgrants::startup::{Application, shutdown_signal};
use tipgrants::store::Store;
use tipgrants::{bootstrap, telemetry};

#[derive(Parser)]
#[command(
    name = "tipgrants",
    version,
    about = "Grant-tracking and case-management gRPC server for anti-trafficking programs"
)]
struct Cli {
    /// Settings file (TOML) of serve, migrate and token, applied over the embedded defaults; TIPGRANTS__SECTION__KEY variables override both.
    #[arg(long, global = true, env = "TIPGRANTS_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    #[command(flatten)]
    Database(DatabaseCommand),
    /// Outcome reports from a CSV file, against a running server (no settings, no database).
    Outcomes {
        #[command(subcommand)]
        action: OutcomesCommand,
    },
    /// A fiscal-year report from a running server, as a table, CSV or an SVG chart.
    Report(tipgrants::cli::report::ReportArgs),
    /// Data from a running server: outcomes as CSV, the IATI activity file (XML), HTCDS records (CSV).
    Export {
        #[command(subcommand)]
        what: tipgrants::cli::ExportCommand,
    },
}

/// The commands that load the settings and use the configured database.
#[derive(Subcommand)]
enum DatabaseCommand {
    /// Serve the gRPC API (the default).
    Serve,
    /// Manage the database schema.
    Migrate {
        #[command(subcommand)]
        action: MigrateAction,
    },
    /// Manage API tokens from the command line (against the configured database).
    Token {
        #[command(subcommand)]
        action: TokenAction,
    },
    /// The audit log (against the configured database).
    Audit {
        #[command(subcommand)]
        action: AuditAction,
    },
    /// Keys that seal victims' personal data (`privacy.keys`).
    Keys {
        #[command(subcommand)]
        action: KeysAction,
    },
    /// Load the synthetic demo portfolio (FY 2009-2013, $97.3 million, 345 projects, an FY 2014
    /// emergency fund) into the configured database. Running it again changes nothing.
    SeedDemo,
}

#[derive(Subcommand)]
enum AuditAction {
    /// Print the head of the audit chain (sequence and hash): keep it somewhere
    /// else, and pass it to VerifyAuditChain later to detect a truncated log.
    Head,
}

#[derive(Subcommand)]
enum KeysAction {
    /// Print a fresh key entry `ID:BASE64` for privacy.keys (32 random bytes); nothing is stored.
    Generate {
        /// The key's id (1 to 32 letters, digits, '-' or '_'), e.g. k2; default `k` and today's date.
        #[arg(long)]
        id: Option<String>,
        /// Write the entry to this new file, readable by its owner alone (mode 0600), instead of
        /// standard output; an existing file is never overwritten.
        #[arg(long, value_name = "FILE")]
        output: Option<std::path::PathBuf>,
    },
    /// Re-seal, with privacy.active_key, the personal data still sealed with older keys, in small
    /// batches (each its own transaction) while the server runs, then rewrite the database without
    /// the old values. Give the servers the new key first.
    Rotate {
        /// Cases per transaction.
        #[arg(long, default_value_t = 50)]
        batch: u64,
    },
}

#[derive(Subcommand)]
enum MigrateAction {
    /// Apply all pending migrations.
    Up,
    /// Roll back the last applied migration.
    Down,
    /// Show applied and pending migrations.
    Status,
}

#[derive(Subcommand)]
enum TokenAction {
    /// Create a token and print its secret (shown once).
    Create {
        /// admin, program-officer, case-worker, auditor or grantee.
        #[arg(long)]
        role: String,
        /// What the token is for.
        #[arg(long)]
        name: String,
        /// Who holds it.
        #[arg(long, default_value = "command line")]
        owner: String,
        /// For a grantee: the organisation, `organizations/{id}`.
        #[arg(long)]
        organization: Option<String>,
        /// Days until it expires (at most 731).
        #[arg(long, default_value_t = 90)]
        expire_days: i64,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli
        .command
        .unwrap_or(Command::Database(DatabaseCommand::Serve))
    {
        Command::Outcomes { action } => tipgrants::cli::run_outcomes(action),
        Command::Report(args) => tipgrants::cli::run_report(args),
        Command::Export { what } => tipgrants::cli::run_export(what),
        Command::Database(command) => run_on_database(cli.config, command),
    }
}

fn run_on_database(config: Option<PathBuf>, command: DatabaseCommand) -> ExitCode {
    let settings = match Settings::load(config.as_deref()) {
        Ok(settings) => settings,
        Err(error) => {
            eprintln!("tipgrants: {error}");
            return ExitCode::from(2);
        }
    };
    // The settings hold the keys as written; a key that does not parse stops every command here,
    // with a line naming `privacy.keys`, as any other bad setting does.
    if let Err(error) = Keyring::from_settings(&settings.privacy) {
        eprintln!("tipgrants: {error}");
        return ExitCode::from(2);
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("tipgrants: cannot start the runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    // Inside the runtime: the OTLP exporter's channel runs on it.
    let telemetry = match runtime.block_on(async { telemetry::init(&settings.telemetry) }) {
        Ok(telemetry) => telemetry,
        Err(error) => {
            eprintln!("tipgrants: {error}");
            return ExitCode::from(2);
        }
    };
    let outcome = runtime.block_on(async move {
        match command {
            DatabaseCommand::Serve => serve(settings).await,
            DatabaseCommand::Migrate { action } => migrate(settings, action).await,
            DatabaseCommand::Token { action } => token(settings, action).await,
            DatabaseCommand::Audit { action } => audit(settings, action).await,
            DatabaseCommand::Keys { action } => keys(settings, action).await,
            DatabaseCommand::SeedDemo => seed_demo(settings).await,
        }
    });
    telemetry.shutdown();
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("tipgrants: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(settings: Settings) -> Result<(), String> {
    let application = Application::build(settings)
        .await
        .map_err(|error| error.to_string())?;
    application
        .run_until_stopped(shutdown_signal())
        .await
        .map_err(|error| error.to_string())
}

async fn connect(settings: &Settings) -> Result<Store, String> {
    Store::connect(&settings.database, &settings.database_url())
        .await
        .map_err(|error| error.to_string())
}

async fn migrate(settings: Settings, action: MigrateAction) -> Result<(), String> {
    use migration::MigratorTrait;
    let store = connect(&settings).await?;
    match action {
        // Both under the migrations' lock on PostgreSQL, as the server's own start is.
        MigrateAction::Up => store.migrate().await.map_err(|error| error.to_string()),
        MigrateAction::Down => store
            .migrate_down(1)
            .await
            .map_err(|error| error.to_string()),
        MigrateAction::Status => {
            let db = store.connection();
            let failed = |error: sea_orm::DbErr| format!("migration status failed: {error}");
            let applied = migration::Migrator::get_applied_migrations(db)
                .await
                .map_err(failed)?;
            let pending = migration::Migrator::get_pending_migrations(db)
                .await
                .map_err(failed)?;
            for migration in applied {
                println!("applied  {}", migration.name());
            }
            for migration in pending {
                println!("pending  {}", migration.name());
            }
            Ok(())
        }
    }
}

async fn token(settings: Settings, action: TokenAction) -> Result<(), String> {
    let TokenAction::Create {
        role,
        name,
        owner,
        organization,
        expire_days,
    } = action;
    let role =
        Role::from_code(&role.trim().to_ascii_uppercase().replace('-', "_")).ok_or_else(|| {
            format!("--role {role:?}: use admin, program-officer, case-worker, auditor or grantee")
        })?;
    if !(1..=tipgrants::domain::access::MAX_TOKEN_LIFETIME_DAYS).contains(&expire_days) {
        return Err("--expire-days: must be from 1 to 731".into());
    }
    let new = tipgrants::domain::access::TokenInput {
        display_name: &name,
        owner: &owner,
        role: Some(role),
        organization: organization.as_deref().unwrap_or_default(),
        expire_time: Some(Utc::now() + Duration::days(expire_days)),
    }
    .validate("token", Utc::now())
    .map_err(|error| error.to_string())?;
    let store = connect(&settings).await?;
    if settings.database.migrate_on_start {
        store.migrate().await.map_err(|error| error.to_string())?;
    }
    let (resource, secret) = bootstrap::create_token(&store, "cli token create", new, None)
        .await
        .map_err(|error| error.to_string())?;
    eprintln!("created {resource} ({role}); its secret is shown once:");
    println!("{secret}");
    Ok(())
}

async fn seed_demo(settings: Settings) -> Result<(), String> {
    let store = connect(&settings).await?;
    if settings.database.migrate_on_start {
        store.migrate().await.map_err(|error| error.to_string())?;
    }
    let done = tipgrants::demo::seed(store, &settings).await?;
    if done.cases == 0 {
        eprintln!(
            "no emergency cases were added: they need a key for victims' personal data \
             (privacy.keys and privacy.active_key; `tipgrants keys generate`); set one and run \
             seed-demo again to add them"
        );
    }
    let dollars = tipgrants::domain::money::Cents;
    println!(
        "synthetic demo portfolio: {} organisations, {} grants and projects, {} obligated (net) in FY {}-{}, \
         {} accepted final reports with {} outcomes; {} no-cost extensions and {} supplements signed, \
         {} SF-425 financial reports, {} payments of {} in all, {} closeouts de-obligating {}, \
         {} FY {} grants left open with {} unliquidated; {} emergency cases in FY 2014",
        done.organizations,
        done.grants,
        dollars(done.obligated_cents),
        tipgrants::demo::FIRST_YEAR,
        tipgrants::demo::LAST_YEAR,
        done.accepted_reports,
        done.outcomes,
        done.extensions,
        done.supplements,
        done.financial_reports,
        done.payments,
        dollars(done.paid_cents),
        done.closeouts,
        dollars(done.deobligated_cents),
        done.open_grants,
        tipgrants::demo::LAST_YEAR,
        dollars(done.unliquidated_cents),
        done.cases
    );
    Ok(())
}

async fn audit(settings: Settings, action: AuditAction) -> Result<(), String> {
    let AuditAction::Head = action;
    let store = connect(&settings).await?;
    let (sequence, hash) = store
        .audit_head()
        .await
        .map_err(|error| error.to_string())?;
    println!("sequence {sequence}");
    println!("hash {hash}");
    eprintln!(
        "keep both outside this server; later, VerifyAuditChain with expected_head_sequence and \
         expected_head_hash fails if the log no longer contains this event"
    );
    Ok(())
}

/// Writes `text` and a newline to a new file that only its owner may read or write (0600 from
/// the moment it exists, whatever the umask): a key written with a shell's `>` would be 0644.
fn write_private_file(path: &std::path::Path, text: &str) -> Result<(), String> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path).map_err(|error| match error.kind() {
        std::io::ErrorKind::AlreadyExists => format!(
            "{} exists already: a key file is never overwritten; choose another name",
            path.display()
        ),
        _ => format!("cannot create {}: {error}", path.display()),
    })?;
    writeln!(file, "{text}")
        .and_then(|()| file.sync_all())
        .map_err(|error| format!("cannot write {}: {error}", path.display()))
}

async fn keys(settings: Settings, action: KeysAction) -> Result<(), String> {
    use tipgrants::secret::ExposeSecret;
    match action {
        KeysAction::Generate { id, output } => {
            let id = id.unwrap_or_else(|| format!("k{}", Utc::now().format("%Y%m%d")));
            let key = tipgrants::privacy::generate_key(&id)?;
            match output {
                Some(path) => write_private_file(&path, key.expose_secret())?,
                None => println!("{}", key.expose_secret()),
            }
            eprintln!(
                "a new key {id}: add it in front of privacy.keys (TIPGRANTS__PRIVACY__KEYS) and set privacy.active_key = \"{id}\"; keep it secret and never commit it"
            );
            Ok(())
        }
        KeysAction::Rotate { batch } => {
            let keyring =
                Keyring::from_settings(&settings.privacy).map_err(|error| error.to_string())?;
            let store = connect(&settings).await?;
            let done = tipgrants::privacy::rotate(&store, &keyring, batch.clamp(1, 1000))
                .await
                .map_err(|error| error.to_string())?;
            eprintln!(
                "re-sealed the personal data of {} case(s) with key {} in {} transaction(s) ({} tried again after the database was busy), and rewrote the database without the values sealed before",
                done.cases,
                keyring.active_id().unwrap_or_default(),
                done.batches,
                done.retries
            );
            let retired: Vec<&str> = keyring
                .key_ids()
                .into_iter()
                .filter(|id| Some(*id) != keyring.active_id())
                .collect();
            if !retired.is_empty() {
                eprintln!(
                    "nothing is sealed with {} any more: drop it from privacy.keys; keep it apart for as long as backups from before this rotation are kept (see docs/security.md)",
                    retired.join(", ")
                );
            }
            Ok(())
        }
    }
}
