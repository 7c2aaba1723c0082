//! The hostile-client suite (issue 18, availability): clients that open streams and never read
//! them, calls that send headers and then nothing, gRPC-Web bodies trickled without a token, and
//! more connections than the server takes. Each test asserts what the other callers see: staff
//! still served, a grantee held to its share, places and slots free again in time, connections
//! bounded. The clients are raw where tonic's would behave: the `h2` crate (a receive window of
//! 0, streams of headers only) and HTTP/1.1 written on a socket. Limits are set short so that
//! each test takes seconds; every wait is bounded polling or a hang guard, never a measured time.

use std::future::Future;
use std::net::SocketAddr;

use bytes::Bytes;
use prost::Message;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::task::{JoinHandle, JoinSet};
use tokio_stream::StreamExt;
use tonic::Code;

use crate::helpers::*;
use crate::reports::a_large_portfolio_of;

const REPORT: &str = "/tipgrants.v1.ReportService/StreamFiscalYearReport";
const UPLOAD: &str = "/tipgrants.v1.OutcomeReportService/UploadOutcomes";
const GET_ORGANIZATION: &str = "/tipgrants.v1.OrganizationService/GetOrganization";

/// How long a hang guard waits: a guard against a test that would never end, not a measure.
const GIVE_UP_AFTER: std::time::Duration = std::time::Duration::from_secs(30);

/// `future`'s output; panics naming `what` if it never comes (a hang guard).
async fn within<T>(what: &str, future: impl Future<Output = T>) -> T {
    tokio::time::timeout(GIVE_UP_AFTER, future)
        .await
        .unwrap_or_else(|_| panic!("gave up waiting: {what}"))
}

/// A gRPC message in its 5-byte frame.
fn framed(message: &impl Message) -> Bytes {
    let encoded = message.encode_to_vec();
    let mut frame = Vec::with_capacity(encoded.len() + 5);
    frame.push(0);
    frame.extend_from_slice(&u32::try_from(encoded.len()).unwrap().to_be_bytes());
    frame.extend_from_slice(&encoded);
    Bytes::from(frame)
}

/// The code and `ErrorInfo` reason of a gRPC status carried in headers, if there is one.
fn status_in(headers: &http::HeaderMap) -> Option<(Code, String)> {
    tonic::Status::from_header_map(headers).map(|status| (status.code(), reason(&status)))
}

fn refused(code: Code, why: &str) -> Option<(Code, String)> {
    Some((code, why.to_string()))
}

/// A small report of one fiscal year, without grouping.
fn one_year_report() -> pb::StreamFiscalYearReportRequest {
    pb::StreamFiscalYearReportRequest {
        from_fiscal_year: 2014,
        to_fiscal_year: 2014,
        group_by: pb::ReportGrouping::None as i32,
        ..Default::default()
    }
}

/// A report by country over FY 2000-2019: of the portfolio of [`a_large_portfolio_of`], thousands
/// of rows, far more than a client that reads nothing lets through.
fn a_large_report() -> pb::StreamFiscalYearReportRequest {
    pb::StreamFiscalYearReportRequest {
        from_fiscal_year: 2000,
        to_fiscal_year: 2019,
        group_by: pb::ReportGrouping::Country as i32,
        ..Default::default()
    }
}

/// Reads a report to its end; the number of messages, or the status it ended with.
async fn read_report(app: &TestApp, token: Option<&str>) -> Result<usize, tonic::Status> {
    let mut stream = app
        .reports(token)
        .stream_fiscal_year_report(one_year_report())
        .await?
        .into_inner();
    let mut messages = 0;
    while let Some(message) = stream.next().await {
        message?;
        messages += 1;
    }
    Ok(messages)
}

/// A grantee organisation and a token of it.
async fn a_grantee(app: &TestApp, name: &str) -> (pb::Organization, String) {
    let organization = app.organization(name, "HT").await;
    let token = app.token(pb::Role::Grantee, &organization.name).await;
    (organization, token)
}

/// One HTTP/2 connection driven by hand: it keeps every stream it opens, and reads none.
struct RawHttp2 {
    address: SocketAddr,
    client: h2::client::SendRequest<Bytes>,
    connection: JoinHandle<()>,
    /// The request sides of the streams opened: dropping one would reset its stream.
    sending: Vec<h2::SendStream<Bytes>>,
}

impl RawHttp2 {
    /// Connects with `receive_window` bytes of HTTP/2 window per stream (0: the server may send
    /// headers, never a byte of a message).
    async fn connect(address: SocketAddr, receive_window: u32) -> RawHttp2 {
        let socket = TcpStream::connect(address).await.expect("connect");
        let (client, connection) = h2::client::Builder::new()
            .initial_window_size(receive_window)
            .handshake::<_, Bytes>(socket)
            .await
            .expect("the HTTP/2 handshake");
        let connection = tokio::spawn(async move {
            let _ended = connection.await;
        });
        RawHttp2 {
            address,
            client,
            connection,
            sending: Vec::new(),
        }
    }

    /// Opens a call of `path` as `token`: with `message` as its whole request, or, without one,
    /// with its headers only (the request is never finished). The answer's head, when it comes.
    async fn open(
        &mut self,
        path: &str,
        token: &str,
        message: Option<Bytes>,
    ) -> h2::client::ResponseFuture {
        let request = http::Request::builder()
            .method("POST")
            .uri(format!("http://{}{path}", self.address))
            .header("content-type", "application/grpc")
            .header("te", "trailers")
            .header("authorization", format!("Bearer {token}"))
            .body(())
            .expect("a request");
        let mut client = self
            .client
            .clone()
            .ready()
            .await
            .expect("the connection takes another stream");
        let (answer, mut sending) = client
            .send_request(request, false)
            .expect("send the headers");
        if let Some(message) = message {
            sending.send_data(message, true).expect("send the message");
        }
        self.sending.push(sending);
        answer
    }

    /// Whether the server has closed the connection.
    fn is_closed(&self) -> bool {
        self.connection.is_finished()
    }
}

/// Keeps answers' bodies unread (and their streams open) for as long as it lives.
type Unread = Vec<http::Response<h2::RecvStream>>;

#[tokio::test]
async fn a_grantee_that_never_reads_its_report_streams_holds_only_its_share_and_loses_it_at_the_idle_timeout()
 {
    let app = spawn_app_with(|settings| {
        settings.reports.max_concurrent_streams = 4;
        settings.reports.max_streams_per_organization = 2;
        settings.reports.streams_reserved_for_staff = 1;
        settings.server.stream_idle_timeout_seconds = 3;
        // What frees the slots here must be the idle timeout, not a closed connection.
        settings.server.client_read_timeout_seconds = 3600;
    })
    .await;
    let (organization, grantee) = a_grantee(&app, "Never Reads").await;
    a_large_portfolio_of(&app, &organization.name).await;
    let mut hostile = RawHttp2::connect(app.address, 0).await;

    // Four large reports on one connection whose window stays shut: not a byte is read.
    let mut unread: Unread = Vec::new();
    let mut codes = Vec::new();
    for _ in 0..4 {
        let answer = hostile
            .open(REPORT, &grantee, Some(framed(&a_large_report())))
            .await;
        let answer = within("the head of a report's answer", answer)
            .await
            .expect("an answer");
        codes.push(status_in(answer.headers()));
        unread.push(answer);
    }
    let staff_meanwhile = read_report(&app, app.admin()).await;
    let grantee_again = eventually("the grantee's report slots are free again", || async {
        read_report(&app, Some(&grantee)).await.ok()
    })
    .await;

    assert_eq!(
        codes,
        vec![
            None,
            None,
            refused(
                Code::ResourceExhausted,
                "TOO_MANY_REPORT_STREAMS_FOR_ORGANIZATION"
            ),
            refused(
                Code::ResourceExhausted,
                "TOO_MANY_REPORT_STREAMS_FOR_ORGANIZATION"
            ),
        ],
        "two reports run (the organisation's share), two are refused"
    );
    assert_eq!(
        staff_meanwhile.map_err(|status| (status.code(), reason(&status))),
        Ok(3),
        "staff read a whole report while the grantee's streams are held"
    );
    assert_eq!(grantee_again, 3);
    assert!(
        !hostile.is_closed(),
        "the slots were given back by the idle timeout, with the connection still open"
    );
}

#[tokio::test]
async fn a_connection_that_leaves_its_answers_unread_is_closed_and_its_callers_places_are_free_again()
 {
    let app = spawn_app_with(|settings| {
        settings.server.max_calls_in_flight_per_organization = 2;
        settings.server.client_read_timeout_seconds = 5;
    })
    .await;
    let (organization, grantee) = a_grantee(&app, "Reads Nothing").await;
    let get_own = || {
        framed(&pb::GetOrganizationRequest {
            name: organization.name.clone(),
        })
    };
    let mut hostile = RawHttp2::connect(app.address, 0).await;

    // Two calls whose answers never leave the server: the window is shut.
    let mut unread: Unread = Vec::new();
    for _ in 0..2 {
        let answer = hostile
            .open(GET_ORGANIZATION, &grantee, Some(get_own()))
            .await;
        unread.push(within("an answer's head", answer).await.expect("an answer"));
    }
    let third = hostile
        .open(GET_ORGANIZATION, &grantee, Some(get_own()))
        .await;
    let third = within("the third answer's head", third)
        .await
        .expect("an answer");
    let elsewhere = app
        .organizations(Some(&grantee))
        .get_organization(pb::GetOrganizationRequest {
            name: organization.name.clone(),
        })
        .await;
    eventually(
        "the server closes the connection that reads nothing",
        || async { hostile.is_closed().then_some(()) },
    )
    .await;
    let after = eventually("the grantee is served again", || async {
        app.organizations(Some(&grantee))
            .get_organization(pb::GetOrganizationRequest {
                name: organization.name.clone(),
            })
            .await
            .ok()
    })
    .await;

    assert_eq!(
        unread
            .iter()
            .map(|answer| status_in(answer.headers()))
            .collect::<Vec<_>>(),
        vec![None, None],
        "both answered, neither taken"
    );
    assert_eq!(
        status_in(third.headers()),
        refused(Code::ResourceExhausted, "TOO_MANY_CALLS_FOR_ORGANIZATION"),
        "unread answers count against the organisation's share"
    );
    let elsewhere = expect_code(elsewhere, Code::ResourceExhausted);
    assert_eq!(reason(&elsewhere), "TOO_MANY_CALLS_FOR_ORGANIZATION");
    assert_eq!(after.into_inner().name, organization.name);
}

#[tokio::test]
async fn silent_uploads_and_silent_unary_calls_are_cut_and_staff_and_other_grantees_are_served_meanwhile()
 {
    let app = spawn_app_with(|settings| {
        settings.server.max_calls_in_flight = 8;
        settings.server.calls_in_flight_reserved_for_staff = 3;
        settings.server.max_calls_in_flight_per_organization = 4;
        settings.server.request_body_timeout_seconds = 4;
        settings.server.stream_idle_timeout_seconds = 4;
    })
    .await;
    let (_organization, grantee) = a_grantee(&app, "Says Nothing").await;
    let (neighbour, neighbour_token) = a_grantee(&app, "Neighbour").await;
    let mut hostile = RawHttp2::connect(app.address, 65_535).await;

    // Ten calls that send their headers and then nothing: as many as there are places, and more.
    let mut answers = JoinSet::new();
    for path in [UPLOAD, GET_ORGANIZATION].repeat(5) {
        let answer = hostile.open(path, &grantee, None).await;
        answers.spawn(async move {
            let head = answer.await.expect("an answer");
            (path, status_in(head.headers()))
        });
    }
    let mut first = Vec::new();
    for _ in 0..6 {
        first.push(within("the refusals", answers.join_next()).await);
    }
    let staff = app
        .organizations(app.admin())
        .list_organizations(pb::ListOrganizationsRequest::default())
        .await;
    let other_grantee = app
        .organizations(Some(&neighbour_token))
        .get_organization(pb::GetOrganizationRequest {
            name: neighbour.name.clone(),
        })
        .await;
    let mut cut = Vec::new();
    while let Some(answer) = within("the silent calls' end", answers.join_next()).await {
        cut.push(answer.expect("joined"));
    }
    eventually("the grantee is served again", || async {
        app.organizations(Some(&grantee))
            .list_organizations(pb::ListOrganizationsRequest::default())
            .await
            .ok()
    })
    .await;

    for answer in first {
        let (_path, status) = answer.expect("an answer").expect("joined");
        assert!(
            matches!(
                status
                    .as_ref()
                    .map(|(code, reason)| (*code, reason.as_str())),
                Some((Code::ResourceExhausted, "TOO_MANY_CALLS_FOR_ORGANIZATION"))
                    | Some((Code::Unavailable, "SERVER_BUSY"))
            ),
            "beyond its share the grantee is refused at once: {status:?}"
        );
    }
    assert!(staff.is_ok(), "staff are served meanwhile: {staff:?}");
    assert!(
        other_grantee.is_ok(),
        "another grantee is served meanwhile: {other_grantee:?}"
    );
    assert_eq!(cut.len(), 4, "the organisation's share was held: {cut:?}");
    for (path, status) in cut {
        let expected = if path == UPLOAD {
            "CLIENT_STREAM_IDLE"
        } else {
            "REQUEST_BODY_TOO_SLOW"
        };
        assert_eq!(status, refused(Code::DeadlineExceeded, expected), "{path}");
    }
}

/// The head of a gRPC-Web call of `path` over HTTP/1.1 announcing `length` bytes of body.
fn web_request_head(path: &str, token: Option<&str>, length: usize) -> String {
    let authorization = token
        .map(|token| format!("authorization: Bearer {token}\r\n"))
        .unwrap_or_default();
    format!(
        "POST {path} HTTP/1.1\r\n\
         host: localhost\r\n\
         content-type: application/grpc-web+proto\r\n\
         x-grpc-web: 1\r\n\
         {authorization}\
         content-length: {length}\r\n\r\n"
    )
}

/// Opens a socket, sends the head of a gRPC-Web call announcing `length` bytes and then only
/// `sent` bytes of its body (zeros), and keeps the socket.
async fn web_call_stopping_short(
    address: SocketAddr,
    token: Option<&str>,
    length: usize,
    sent: usize,
) -> TcpStream {
    let mut socket = TcpStream::connect(address).await.expect("connect");
    socket
        .write_all(web_request_head(GET_ORGANIZATION, token, length).as_bytes())
        .await
        .expect("send the head");
    socket
        .write_all(&vec![0; sent])
        .await
        .expect("send part of the body");
    socket
}

/// The head of the answer read from `socket`, as headers (names lower-case).
async fn answer_head(socket: &mut TcpStream) -> http::HeaderMap {
    let mut read = Vec::new();
    let mut buffer = [0; 4096];
    while !read.windows(4).any(|window| window == b"\r\n\r\n") {
        let count = socket.read(&mut buffer).await.expect("read the answer");
        assert!(count > 0, "the connection closed without an answer");
        read.extend_from_slice(&buffer[..count]);
    }
    let text = String::from_utf8_lossy(&read);
    let mut headers = http::HeaderMap::new();
    for line in text
        .split("\r\n")
        .skip(1)
        .take_while(|line| !line.is_empty())
    {
        if let Some((name, value)) = line.split_once(':')
            && let (Ok(name), Ok(value)) = (
                http::HeaderName::from_bytes(name.trim().as_bytes()),
                http::HeaderValue::from_str(value.trim()),
            )
        {
            headers.append(name, value);
        }
    }
    headers
}

#[tokio::test]
async fn grpc_web_bodies_are_read_only_after_the_token_check_within_a_time_limit_and_a_shared_budget()
 {
    let app = spawn_app_with(|settings| {
        settings.grpc_web.enabled = true;
        settings.grpc_web.max_buffered_mib = 5;
        settings.server.request_body_timeout_seconds = 5;
    })
    .await;

    // Sixteen connections without a token, each stopping 64 KiB into a 7.5 MB body.
    let mut unauthenticated = Vec::new();
    for _ in 0..16 {
        unauthenticated
            .push(web_call_stopping_short(app.address, None, 7_500_000, 64 * 1024).await);
    }
    let mut refusals = Vec::new();
    for socket in &mut unauthenticated {
        let head = within("an answer to a call without a token", answer_head(socket)).await;
        refusals.push(status_in(&head));
    }
    // Two staff calls whose bodies, together, would pass the 5 MiB held across connections;
    // neither is ever finished.
    let mut large = web_call_stopping_short(app.address, app.admin(), 4_000_010, 4_000_000).await;
    let mut small = web_call_stopping_short(app.address, app.admin(), 1_500_010, 1_500_000).await;
    let large = within("the larger body's answer", answer_head(&mut large)).await;
    let small = within("the smaller body's answer", answer_head(&mut small)).await;

    assert!(
        refusals
            .iter()
            .all(|status| status == &refused(Code::Unauthenticated, "UNAUTHENTICATED")),
        "answered from the headers, their bodies unread: {refusals:?}"
    );
    let mut ends = vec![status_in(&large), status_in(&small)];
    ends.sort_by_key(|status| status.as_ref().map(|(code, _)| *code as i32));
    assert_eq!(
        ends,
        vec![
            refused(Code::DeadlineExceeded, "REQUEST_BODY_TOO_SLOW"),
            refused(Code::Unavailable, "WEB_REQUEST_BUFFER_FULL"),
        ],
        "one body is refused beyond the budget, the other cut when it does not arrive in time"
    );
}

/// Waits until the server closes `socket` (the end, or a reset), reading past what it sends
/// first (an HTTP/2 server speaks first: its settings).
async fn closed_by_the_server(socket: &mut TcpStream) {
    let mut buffer = [0; 1024];
    while let Ok(1..) = socket.read(&mut buffer).await {}
}

#[tokio::test]
async fn connections_beyond_the_limit_are_closed_at_once_and_a_freed_place_is_taken_again() {
    let app = spawn_app_with(|settings| settings.server.max_connections = 4).await;

    // No call has been made: these four are all the connections there are.
    let mut held = Vec::new();
    for _ in 0..4 {
        held.push(TcpStream::connect(app.address).await.expect("connect"));
    }
    let mut fifth = TcpStream::connect(app.address).await.expect("connect");
    within(
        "the fifth connection's end",
        closed_by_the_server(&mut fifth),
    )
    .await;
    let while_full = app
        .organizations(app.admin())
        .list_organizations(pb::ListOrganizationsRequest::default())
        .await;
    drop(held.pop());
    eventually("a freed place is taken again", || async {
        app.organizations(app.admin())
            .list_organizations(pb::ListOrganizationsRequest::default())
            .await
            .ok()
    })
    .await;

    let while_full = while_full.expect_err("no connection to serve it");
    assert!(
        matches!(while_full.code(), Code::Unavailable | Code::Cancelled),
        "the client sees its connection closed: {while_full:?}"
    );
}

#[tokio::test]
async fn connections_that_carry_no_call_are_closed_after_the_idle_timeout() {
    let app = spawn_app_with(|settings| {
        settings.server.max_connections = 3;
        settings.server.connection_idle_timeout_seconds = 1;
    })
    .await;

    // A socket that never says a word, one that stops in the middle of HTTP/2's preface, and an
    // HTTP/2 connection that makes no call.
    let mut silent = TcpStream::connect(app.address).await.expect("connect");
    let mut halfway = TcpStream::connect(app.address).await.expect("connect");
    halfway
        .write_all(b"PRI * HTTP/2.0\r\n")
        .await
        .expect("half a preface");
    let unused = RawHttp2::connect(app.address, 65_535).await;
    within("the silent socket's end", closed_by_the_server(&mut silent)).await;
    within("the half preface's end", closed_by_the_server(&mut halfway)).await;
    eventually("the unused HTTP/2 connection is closed", || async {
        unused.is_closed().then_some(())
    })
    .await;
    let served = app
        .organizations(app.admin())
        .list_organizations(pb::ListOrganizationsRequest::default())
        .await;

    assert!(served.is_ok(), "{served:?}");
}
