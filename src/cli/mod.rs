//! The client commands of the `tipgrants` binary: for grantees without a
//! programmer, `outcomes template` and `outcomes upload`; for staff who want
//! a spreadsheet or a chart, `report` and `export outcomes`; for publishing, `export iati` and
//! `export htcds` (`standards.rs`). They speak gRPC to
//! a running server like any client (the generated client, a token) and
//! never open a database; the server decides, they only point its answers
//! back at the lines of the file.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};
use tonic::metadata::AsciiMetadataValue;
use tonic::transport::Channel;

pub mod chart;
pub mod csv_cells;
pub mod outcome_csv;
pub mod report;
pub mod report_lines;
pub mod standards;
pub mod upload;

/// `tipgrants export ...`.
#[derive(Subcommand, Debug, Clone)]
pub enum ExportCommand {
    /// Every accepted outcome matching the filters, as CSV (one line per outcome).
    Outcomes(report::ExportOutcomesArgs),
    /// The IATI 2.03 activity file of the portfolio, one activity per grant (XML).
    Iati(standards::ExportIatiArgs),
    /// The emergency fund's cases as HTCDS records, k-anonymised (CSV).
    Htcds(standards::ExportHtcdsArgs),
}

/// `tipgrants outcomes ...`.
#[derive(Subcommand)]
pub enum OutcomesCommand {
    /// Print the CSV header and one example row: the start of a file for `outcomes upload`.
    #[command(after_help = outcome_csv::columns_help())]
    Template,
    /// Upload the outcomes of a CSV file into a draft (or returned) report, all or nothing.
    #[command(after_help = upload_help())]
    Upload(UploadArgs),
}

/// The flags of `outcomes upload`.
#[derive(Args, Debug, Clone)]
pub struct UploadArgs {
    /// The report, grants/{grant}/projects/{project}/outcomeReports/{report} (a draft or returned one).
    #[arg(long, value_name = "NAME")]
    pub report: String,
    /// The CSV file (UTF-8; `tipgrants outcomes template` prints its header).
    #[arg(long, value_name = "FILE")]
    pub file: PathBuf,
    #[command(flatten)]
    pub connection: ServerArgs,
    /// The idempotency key of the upload. Default: derived from the file and the report, so
    /// running the same upload again adds nothing twice.
    #[arg(long, value_name = "ID")]
    pub request_id: Option<String>,
}

/// Where the server is and who asks: the flags every client command shares.
#[derive(Args, Debug, Clone)]
pub struct ServerArgs {
    /// The server: http://HOST:PORT, or https://HOST:PORT (checked against the system's roots, or --ca-cert).
    #[arg(
        long,
        value_name = "URL",
        env = "TIPGRANTS_SERVER",
        default_value = "http://127.0.0.1:50051"
    )]
    pub server: String,
    /// The API token (a grantee's, or a program officer's).
    #[arg(long, env = "TIPGRANTS_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// A file holding the API token (instead of --token).
    #[arg(long, value_name = "FILE", conflicts_with = "token")]
    pub token_file: Option<PathBuf>,
    /// A PEM file of the certificate authority to trust for https:// instead of the system's roots.
    #[arg(long, value_name = "FILE")]
    pub ca_cert: Option<PathBuf>,
}

impl ServerArgs {
    /// The caller's `authorization` value: the token of --token-file, or of --token.
    fn authorization(&self) -> Result<AsciiMetadataValue, Failure> {
        let token = match &self.token_file {
            Some(path) => Some(std::fs::read_to_string(path).map_err(|error| {
                Failure::CouldNotTry(format!(
                    "cannot read --token-file {}: {error}",
                    path.display()
                ))
            })?),
            None => self.token.clone(),
        };
        upload::bearer(token.as_deref())
    }

    /// A channel to the server.
    async fn channel(&self) -> Result<Channel, Failure> {
        upload::connect(&self.server, self.ca_cert.as_deref()).await
    }
}

fn upload_help() -> String {
    format!(
        "{}\n\
         Every row is checked before anything is written: a refused file prints each problem as \
         `line L: column: message` and adds nothing. Running the same upload again (same file, \
         report and token) adds nothing twice and says so; pass a new --request-id to upload the \
         same rows once more on purpose.\n\n\
         Exit status: 0 uploaded (or uploaded before); 1 refused (the file, or the report, by this \
         command or by the server); 2 could not try (usage, an unreadable file, no token, the \
         server unreachable or the token not accepted).",
        outcome_csv::columns_help()
    )
}

/// Why a command did not succeed, and so its exit status.
#[derive(Debug)]
pub enum Failure {
    /// The file or the report was refused, by this command or by the server: exit 1.
    Refused(Vec<String>),
    /// The command could not try: usage, file access, connection, authentication: exit 2.
    CouldNotTry(String),
}

impl Failure {
    /// Prints the failure on standard error and returns its exit status.
    fn report(self) -> ExitCode {
        match self {
            Failure::Refused(lines) => {
                for line in lines {
                    eprintln!("{line}");
                }
                ExitCode::from(1)
            }
            Failure::CouldNotTry(message) => {
                eprintln!("tipgrants: {message}");
                ExitCode::from(2)
            }
        }
    }
}

/// Runs an `outcomes` command to its exit status.
pub fn run_outcomes(command: OutcomesCommand) -> ExitCode {
    let result = match command {
        OutcomesCommand::Template => outcome_csv::write_template(std::io::stdout().lock())
            .map_err(|error| Failure::CouldNotTry(format!("cannot print the template: {error}"))),
        OutcomesCommand::Upload(args) => {
            on_runtime(upload::upload(args)).map(|summary| println!("{summary}"))
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => failure.report(),
    }
}

/// Runs a client command on a small runtime of its own.
fn on_runtime<T>(
    command: impl std::future::Future<Output = Result<T, Failure>>,
) -> Result<T, Failure> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|error| Failure::CouldNotTry(format!("cannot start the runtime: {error}")))
        .and_then(|runtime| runtime.block_on(command))
}

/// Runs `report` to its exit status: 0 printed, 1 refused by the server, 2 could not try.
pub fn run_report(args: report::ReportArgs) -> ExitCode {
    match on_runtime(report::report(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => failure.report(),
    }
}

/// Runs an `export` command to its exit status (as `report`); the count of rows goes to
/// standard error.
pub fn run_export(command: ExportCommand) -> ExitCode {
    let result = match command {
        ExportCommand::Outcomes(args) => on_runtime(report::export_outcomes(args))
            .map(|rows| format!("exported {rows} outcome(s)")),
        ExportCommand::Iati(args) => on_runtime(standards::export_iati(args)),
        ExportCommand::Htcds(args) => on_runtime(standards::export_htcds(args)),
    };
    match result {
        Ok(summary) => {
            eprintln!("{summary}");
            ExitCode::SUCCESS
        }
        Err(failure) => failure.report(),
    }
}
