//! `tipgrants outcomes upload`: reads the whole CSV first (a broken file is
//! refused by line without a call), then streams it through `UploadOutcomes`
//! under a `request_id` derived from the file and the report, so running it
//! again is safe. The server's field violations (`outcomes[N].field`) come
//! back as `line L: column: message`.

use std::fmt;
use std::io::IsTerminal;
use std::path::Path;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use sha2::{Digest, Sha256};
use tonic::metadata::AsciiMetadataValue;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint};
use tonic::{Code, Request, Status};
use tonic_types::StatusExt;

use super::outcome_csv::{self, OutcomeFile};
use super::{Failure, UploadArgs};
use crate::domain::names::OutcomeReportName;
use crate::pb::v1 as pb;
use crate::pb::v1::outcome_report_service_client::OutcomeReportServiceClient;

/// Files with at least this many outcomes get a progress bar (on a terminal).
const PROGRESS_FROM: usize = 1_000;
/// How long to wait for the server to accept the connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest header block (and so trailers) to accept. The refusal of a file names many rows in
/// its `grpc-status-details-bin` trailer, which can pass the client's default of 16 KiB.
const MAX_HEADER_LIST_SIZE: u32 = 1024 * 1024;

/// What an upload did.
#[derive(Debug, PartialEq, Eq)]
pub enum Summary {
    /// The outcomes were added now.
    Added {
        report: String,
        outcomes: i64,
        milestones: usize,
    },
    /// The same upload had been made before: the server answered its result and added nothing.
    UploadedBefore {
        report: String,
        outcomes: i64,
        request_id: String,
    },
}

impl fmt::Display for Summary {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Summary::Added {
                report,
                outcomes,
                milestones,
            } => write!(
                formatter,
                "added {outcomes} outcome{} to {report}; {milestones} milestone{} linked",
                plural(*outcomes as usize),
                plural(*milestones)
            ),
            Summary::UploadedBefore {
                report,
                outcomes,
                request_id,
            } => write!(
                formatter,
                "already uploaded: {report} got these {outcomes} outcome{} from an earlier run \
                 of this upload (request id {request_id}); nothing was added again",
                plural(*outcomes as usize)
            ),
        }
    }
}

fn plural(count: usize) -> &'static str {
    if count == 1 { "" } else { "s" }
}

/// Reads, checks and uploads one file.
pub async fn upload(args: UploadArgs) -> Result<Summary, Failure> {
    let report: OutcomeReportName =
        args.report.trim().parse().map_err(|error| {
            Failure::CouldNotTry(format!("--report {:?}: {error}", args.report))
        })?;
    let token = args.connection.authorization()?;
    let shown = args.file.display().to_string();
    let bytes = std::fs::read(&args.file)
        .map_err(|error| Failure::CouldNotTry(format!("cannot read {shown}: {error}")))?;
    let mut file = outcome_csv::read(&bytes, &report).map_err(|problems| {
        let mut lines = vec![format!("{shown}: refused, nothing was uploaded:")];
        lines.extend(problems.iter().map(ToString::to_string));
        Failure::Refused(lines)
    })?;
    let request_id = match args.request_id {
        Some(request_id) => request_id,
        None => default_request_id(&report, &bytes),
    };
    let channel = args.connection.channel().await?;
    let mut client = OutcomeReportServiceClient::new(channel);
    let name = report.to_string();
    let before = read_report(&mut client, &token, &name).await?;

    let outcomes = std::mem::take(&mut file.outcomes);
    let progress = progress_bar(outcomes.len());
    let sent = progress.clone();
    let header = pb::UploadOutcomesRequest {
        item: Some(pb::upload_outcomes_request::Item::Header(
            pb::UploadOutcomesHeader {
                outcome_report: name.clone(),
                request_id: request_id.clone(),
            },
        )),
    };
    let messages = std::iter::once(header).chain(outcomes.into_iter().map(move |outcome| {
        if let Some(bar) = &sent {
            bar.inc(1);
            if Some(bar.position()) == bar.length() {
                bar.set_message("sent; the server checks and writes them");
            }
        }
        pb::UploadOutcomesRequest {
            item: Some(pb::upload_outcomes_request::Item::Outcome(outcome)),
        }
    }));
    let answer = client
        .upload_outcomes(authorized(&token, tokio_stream::iter(messages)))
        .await;
    if let Some(bar) = progress {
        bar.finish_and_clear();
    }
    let answer = answer
        .map_err(|status| refusal(status, &shown, Some(&file)))?
        .into_inner();

    let after = read_report(&mut client, &token, &name).await?;
    // A new upload moves the report's etag; a replayed one wrote nothing.
    Ok(if after.etag == before.etag {
        Summary::UploadedBefore {
            report: answer.outcome_report,
            outcomes: answer.outcome_count,
            request_id,
        }
    } else {
        Summary::Added {
            report: answer.outcome_report,
            outcomes: answer.outcome_count,
            milestones: answer.milestones.len(),
        }
    })
}

/// The default idempotency key: the same file for the same report is the same upload.
pub fn default_request_id(report: &OutcomeReportName, file: &[u8]) -> String {
    let mut digest = Sha256::new();
    digest.update(report.to_string().as_bytes());
    digest.update(b"\n");
    digest.update(file);
    format!("csv-{}", hex::encode(digest.finalize()))
}

/// The `authorization` header value of the token.
pub(super) fn bearer(token: Option<&str>) -> Result<AsciiMetadataValue, Failure> {
    let token = token.map(str::trim).filter(|token| !token.is_empty());
    let Some(token) = token else {
        return Err(Failure::CouldNotTry(
            "no token: pass --token or set TIPGRANTS_TOKEN".into(),
        ));
    };
    format!("Bearer {token}")
        .parse()
        .map_err(|_| Failure::CouldNotTry("the token has characters a header cannot carry".into()))
}

pub(super) fn authorized<T>(token: &AsciiMetadataValue, message: T) -> Request<T> {
    let mut request = Request::new(message);
    request
        .metadata_mut()
        .insert("authorization", token.clone());
    request
}

/// A connected channel: plaintext for http://, TLS for https:// (the system's roots, or `ca_cert`).
pub(super) async fn connect(server: &str, ca_cert: Option<&Path>) -> Result<Channel, Failure> {
    let usage = || {
        Failure::CouldNotTry(format!(
            "--server {server:?}: use http://HOST:PORT or https://HOST:PORT"
        ))
    };
    let mut endpoint = Endpoint::from_shared(server.to_string())
        .map_err(|_| usage())?
        .connect_timeout(CONNECT_TIMEOUT)
        .http2_max_header_list_size(MAX_HEADER_LIST_SIZE);
    match (endpoint.uri().scheme_str(), ca_cert) {
        (Some("https"), ca_cert) => {
            let tls = match ca_cert {
                Some(path) => {
                    let pem = std::fs::read(path).map_err(|error| {
                        Failure::CouldNotTry(format!(
                            "cannot read --ca-cert {}: {error}",
                            path.display()
                        ))
                    })?;
                    ClientTlsConfig::new().ca_certificate(Certificate::from_pem(pem))
                }
                None => ClientTlsConfig::new().with_native_roots(),
            };
            endpoint = endpoint.tls_config(tls).map_err(|error| {
                Failure::CouldNotTry(format!("TLS for {server}: {}", causes(&error)))
            })?;
        }
        (Some("http"), None) => {}
        (Some("http"), Some(_)) => {
            return Err(Failure::CouldNotTry(
                "--ca-cert is for an https:// server".into(),
            ));
        }
        _ => return Err(usage()),
    }
    endpoint.connect().await.map_err(|error| {
        let causes = causes(&error);
        Failure::CouldNotTry(format!(
            "cannot connect to {server}: {causes}{}",
            tls_hint(&causes)
        ))
    })
}

/// What to do about a certificate rustls refuses where other clients (grpcurl) accept it.
fn tls_hint(causes: &str) -> &'static str {
    if causes.contains("CaUsedAsEndEntity") {
        // rustls (webpki) will not accept a CA certificate as the server's own, and tonic offers
        // no way to relax that, so the certificate has to change.
        "\nThe server's certificate is a CA certificate (basicConstraints CA:TRUE) serving as its own, \
         which this client refuses (grpcurl accepts it). Either give the server a certificate signed \
         by a small CA and pass that CA with --ca-cert, or make the self-signed certificate with \
         -addext basicConstraints=critical,CA:FALSE (see docs/security.md, \"Transport\")."
    } else {
        ""
    }
}

/// The report as it is now (its etag tells whether the upload wrote).
async fn read_report(
    client: &mut OutcomeReportServiceClient<Channel>,
    token: &AsciiMetadataValue,
    name: &str,
) -> Result<pb::OutcomeReport, Failure> {
    client
        .get_outcome_report(authorized(
            token,
            pb::GetOutcomeReportRequest { name: name.into() },
        ))
        .await
        .map(tonic::Response::into_inner)
        .map_err(|status| refusal(status, name, None))
}

/// The failure of a call: the server's field violations at their lines when `file` was sent.
fn refusal(status: Status, subject: &str, file: Option<&OutcomeFile>) -> Failure {
    let message = status.message();
    match status.code() {
        Code::Unauthenticated => {
            return Failure::CouldNotTry(format!("the server did not accept the token: {message}"));
        }
        Code::Unavailable | Code::DeadlineExceeded | Code::Cancelled => {
            let cause = std::error::Error::source(&status)
                .map(|source| format!(" ({})", causes(source)))
                .unwrap_or_default();
            return Failure::CouldNotTry(format!("the server did not answer: {message}{cause}"));
        }
        _ => {}
    }
    let reason = status
        .get_details_error_info()
        .map(|info| format!(", {}", info.reason))
        .unwrap_or_default();
    let head = format!(
        "{subject}: refused by the server ({:?}{reason}), nothing was added",
        status.code()
    );
    let violations = status
        .get_details_bad_request()
        .map(|bad_request| bad_request.field_violations)
        .unwrap_or_default();
    // The violations, one a line, say all that the message says.
    let mut lines = vec![if violations.is_empty() {
        format!("{head}: {message}")
    } else {
        format!("{head}:")
    }];
    for violation in violations {
        let description = violation.description;
        lines.push(match file.and_then(|file| file.locate(&violation.field)) {
            Some((line, column)) => format!("line {line}: {column}: {description}"),
            None => match violation.field.as_str() {
                "header.outcome_report" => format!("--report: {description}"),
                "header.request_id" => format!("--request-id: {description}"),
                field => format!("{field}: {description}"),
            },
        });
    }
    if let Some(failure) = status.get_details_precondition_failure() {
        for violation in failure.violations {
            if violation.description != message {
                lines.push(format!("{}: {}", violation.subject, violation.description));
            }
        }
    }
    Failure::Refused(lines)
}

/// A progress bar for a long file when standard error is a terminal.
fn progress_bar(outcomes: usize) -> Option<ProgressBar> {
    if outcomes < PROGRESS_FROM || !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = ProgressBar::new(outcomes as u64);
    if let Ok(style) =
        ProgressStyle::with_template("{elapsed_precise} [{bar:30}] {pos}/{len} outcomes {msg}")
    {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.enable_steady_tick(Duration::from_millis(200));
    Some(bar)
}

/// An error and its causes, joined by ": ".
fn causes(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let next = cause.to_string();
        if !text.ends_with(&next) {
            text.push_str(": ");
            text.push_str(&next);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_request_id_is_the_same_for_the_same_file_and_report_only() {
        let report = OutcomeReportName::new("g", "p", "r");
        let other = OutcomeReportName::new("g", "p", "s");

        let id = default_request_id(&report, b"kind\nOTHER\n");

        assert_eq!(id, default_request_id(&report, b"kind\nOTHER\n"));
        assert_ne!(id, default_request_id(&report, b"kind\nOTHER\nOTHER\n"));
        assert_ne!(id, default_request_id(&other, b"kind\nOTHER\n"));
        assert!(id.len() <= 100 && id.is_ascii());
    }

    #[test]
    fn field_violations_of_an_upload_come_back_at_their_line_and_column() {
        let file = outcome_csv::read(
            b"kind,country_code\nOTHER,HT\nOTHER,FR\n",
            &OutcomeReportName::new("g", "p", "r"),
        )
        .unwrap();
        let status = Status::with_error_details_vec(
            Code::InvalidArgument,
            "2 fields are invalid",
            vec![tonic_types::ErrorDetail::from(
                tonic_types::BadRequest::new(vec![
                    tonic_types::FieldViolation::new(
                        "outcomes[1].country_code",
                        "FR is not one of the project's countries (HT)",
                    ),
                    tonic_types::FieldViolation::new("header.outcome_report", "is required"),
                ]),
            )],
        );

        let Failure::Refused(lines) = refusal(status, "outcomes.csv", Some(&file)) else {
            panic!("an invalid file is refused");
        };

        assert_eq!(
            lines[1..],
            [
                "line 3: country_code: FR is not one of the project's countries (HT)",
                "--report: is required"
            ]
        );
    }

    #[test]
    fn an_unreachable_server_or_a_rejected_token_is_not_a_refusal() {
        for code in [Code::Unavailable, Code::Unauthenticated] {
            assert!(matches!(
                refusal(Status::new(code, "no"), "r", None),
                Failure::CouldNotTry(_)
            ));
        }
        assert!(matches!(
            refusal(Status::new(Code::FailedPrecondition, "locked"), "r", None),
            Failure::Refused(_)
        ));
    }
}
