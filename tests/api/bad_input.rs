//! Every RPC fed bad input: a property-based test (proptest) that walks the
//! server's own descriptor set and, for every RPC of `tipgrants.v1` and every
//! role, sends requests built from the descriptors (prost-reflect) out of
//! hostile values: empty and huge strings, control, bidi and zero-width
//! characters, out-of-range enum numbers and integers, malformed and foreign
//! resource names, forged page tokens and filters. The plausible values among
//! them (names, etags, periods, page tokens) are harvested from the server's
//! own answers, so requests reach past the first check.
//!
//! The rules every answer keeps: never `INTERNAL` or `UNKNOWN` (nor a hang,
//! `UNAVAILABLE` or `UNIMPLEMENTED` on a healthy database), health still
//! `SERVING` after the call (a panic would show there), an error's message and
//! details under [`MAX_ERROR_BYTES`], and a refused call writes nothing: the
//! row count of every table (the audit chain's among them) is unchanged.
//!
//! `TIPGRANTS_FUZZ_CASES` sets how many calls (default [`DEFAULT_CALLS`]);
//! `TIPGRANTS_FUZZ_SEED` replays a run (the seed is printed).

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::strategy::Union;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestError, TestRng, TestRunner};
use prost::Message;
use prost::bytes::{Buf, BufMut, Bytes};
use prost_reflect::{
    DescriptorPool, DynamicMessage, FieldDescriptor, Kind, MapKey, MessageDescriptor, Value,
};
use sha2::{Digest, Sha256};
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::{Code, Status};
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

use crate::helpers::*;

/// Calls in a default run: about a minute on SQLite in a debug build.
const DEFAULT_CALLS: u64 = 3_500;
/// The most an error's message and details together may weigh.
const MAX_ERROR_BYTES: usize = 8 * 1024;
/// The deadline each call carries.
const CALL_DEADLINE: Duration = Duration::from_secs(10);
/// A call with no answer by then has hung.
const HANG_GUARD: Duration = Duration::from_secs(30);
/// The longest string sent: about 1 MB.
const HUGE: usize = 1 << 20;
/// Codes a healthy server never answers to bad input.
const FORBIDDEN: &[Code] = &[
    Code::Internal,
    Code::Unknown,
    Code::DataLoss,
    Code::Unimplemented,
    Code::Unavailable,
    Code::DeadlineExceeded,
    Code::Cancelled,
];

#[test]
fn every_rpc_fed_bad_input_by_every_role_refuses_it_cleanly_and_writes_nothing() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime for the server");
    let pool = DescriptorPool::decode(tipgrants::pb::FILE_DESCRIPTOR_SET).expect("descriptors");
    let rpcs = every_rpc(&pool);
    let (app, roles, tokens_in_use) = runtime.block_on(arrange());
    let corpus = runtime.block_on(harvest(&app, &rpcs, &tokens_in_use));
    let calls = env_number("TIPGRANTS_FUZZ_CASES").unwrap_or(DEFAULT_CALLS);
    let per_pair = calls.div_ceil((rpcs.len() * roles.len()) as u64).max(1);
    let seed = env_number("TIPGRANTS_FUZZ_SEED").unwrap_or_else(rand::random);
    println!(
        "bad input: {} RPCs x {} roles x {per_pair} cases, seed {seed} (TIPGRANTS_FUZZ_SEED replays it)",
        rpcs.len(),
        roles.len()
    );
    let fuzzer = Fuzzer {
        baseline: RefCell::new(runtime.block_on(app.row_counts())),
        app,
        calls: Cell::new(0),
        codes: RefCell::new(BTreeMap::new()),
    };

    let started = Instant::now();
    let mut failures = Vec::new();
    for rpc in &rpcs {
        let requests = requests_of(rpc, &corpus);
        for role in &roles {
            let mut runner = TestRunner::new_with_rng(
                Config {
                    cases: per_pair as u32,
                    failure_persistence: None,
                    max_shrink_iters: 64,
                    ..Config::default()
                },
                TestRng::from_seed(RngAlgorithm::ChaCha, &case_seed(seed, &rpc.path, role.0)),
            );
            let outcome = runner.run(&requests, |messages| {
                runtime
                    .block_on(fuzzer.check(rpc, role, &messages))
                    .map_err(TestCaseError::fail)
            });
            if let Err(error) = outcome {
                failures.push(describe_failure(rpc, role.0, error));
            }
        }
    }
    let elapsed = started.elapsed();
    let chain = runtime.block_on(async {
        fuzzer
            .app
            .audit(fuzzer.app.admin())
            .verify_audit_chain(pb::VerifyAuditChainRequest::default())
            .await
            .expect("the admin verifies the chain")
            .into_inner()
    });

    println!(
        "bad input: {} calls in {:.1} s; codes: {:?}",
        fuzzer.calls.get(),
        elapsed.as_secs_f64(),
        fuzzer.codes.borrow()
    );
    assert!(
        failures.is_empty(),
        "{} of {} RPC and role pairs broke a rule (seed {seed}):\n{}",
        failures.len(),
        rpcs.len() * roles.len(),
        failures.join("\n")
    );
    assert!(chain.valid, "the audit chain after the run: {chain:?}");
}

/// One RPC of the descriptor set.
struct Rpc {
    /// `/tipgrants.v1.Service/Method`.
    path: String,
    input: MessageDescriptor,
    output: MessageDescriptor,
    client_streaming: bool,
}

/// A role's name and its token.
type Role = (&'static str, String);

/// Every RPC of `tipgrants.v1`, the ones that delete, revoke or end a record last, so the
/// others meet the records alive.
fn every_rpc(pool: &DescriptorPool) -> Vec<Rpc> {
    let mut rpcs: Vec<Rpc> = pool
        .services()
        .filter(|service| service.full_name().starts_with("tipgrants.v1."))
        .flat_map(|service| {
            service
                .methods()
                .map(|method| Rpc {
                    path: format!("/{}/{}", service.full_name(), method.name()),
                    input: method.input(),
                    output: method.output(),
                    client_streaming: method.is_client_streaming(),
                })
                .collect::<Vec<_>>()
        })
        .collect();
    let ends_a_record = |rpc: &Rpc| {
        let method = rpc.path.rsplit('/').next().unwrap_or_default();
        [
            "Delete",
            "Revoke",
            "Terminate",
            "Close",
            "Cancel",
            "Suspend",
        ]
        .iter()
        .any(|verb| method.starts_with(verb))
    };
    rpcs.sort_by_key(|rpc| (ends_a_record(rpc), rpc.path.clone()));
    assert!(rpcs.len() > 50, "the descriptor set lists every RPC");
    rpcs
}

/// Two organisations with a grant, an obligation, a started project, an indicator and an
/// outcome report each, a TIP ranking; a token for every role (the grantee's bound to the
/// first organisation, so the second one's records are foreign to it), and the names of
/// those tokens, which no call may revoke (one more token is there to be revoked).
async fn arrange() -> (TestApp, Vec<Role>, BTreeSet<String>) {
    let app = spawn_app().await;
    app.funding_account("ESF").await;
    let mut first_organization = String::new();
    for (index, (display_name, country)) in [("Alpha Relief", "HT"), ("Beta Shelter", "PE")]
        .into_iter()
        .enumerate()
    {
        let organization = app.organization(display_name, country).await;
        let grant = app
            .grant(&format!("FUZZ-{index}"), &organization.name)
            .await;
        app.obligate(
            &grant.name,
            new_obligation(
                pb::ObligationKind::InitialAward,
                "ESF",
                2014,
                100_000,
                "2014-03-01",
            ),
        )
        .await
        .expect("the admin obligates funds");
        let project = app
            .project(&grant.name, new_project("Shelter network", &[country]))
            .await;
        app.indicator(&project.name, new_indicator(10)).await;
        app.activate(&grant.name)
            .await
            .expect("the admin activates the grant");
        app.projects(app.admin())
            .start_project(pb::StartProjectRequest {
                name: project.name.clone(),
                ..Default::default()
            })
            .await
            .expect("the admin starts the project");
        create_first_outcome_report(&app, &project.name).await;
        if index == 0 {
            first_organization = organization.name;
        }
    }
    app.tip_report(app.admin())
        .create_tip_ranking(pb::CreateTipRankingRequest {
            parent: "countries/HT".into(),
            report_year: 2014,
            tip_ranking: Some(pb::TipRanking {
                tier: pb::TipTier::TipTier2 as i32,
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .expect("the admin ranks a country");
    let mut roles: Vec<Role> = vec![("ADMIN", app.admin_token.clone())];
    for (name, role, organization) in [
        ("PROGRAM_OFFICER", pb::Role::ProgramOfficer, ""),
        ("CASE_WORKER", pb::Role::CaseWorker, ""),
        ("AUDITOR", pb::Role::Auditor, ""),
        ("GRANTEE", pb::Role::Grantee, first_organization.as_str()),
    ] {
        roles.push((name, app.token(role, organization).await));
    }
    let tokens_in_use = app
        .access(app.admin())
        .list_api_tokens(pb::ListApiTokensRequest::default())
        .await
        .expect("the admin lists tokens")
        .into_inner()
        .api_tokens
        .into_iter()
        .map(|token| token.name)
        .collect();
    app.token(pb::Role::Auditor, "").await;
    (app, roles, tokens_in_use)
}

/// Opens the report of the project's first reporting period (through the descriptors: the
/// tests have no typed client of the outcome service).
async fn create_first_outcome_report(app: &TestApp, project: &str) {
    let pool = DescriptorPool::decode(tipgrants::pb::FILE_DESCRIPTOR_SET).expect("descriptors");
    let message = |name: &str| {
        DynamicMessage::new(
            pool.get_message_by_name(&format!("tipgrants.v1.{name}"))
                .expect("a message of the package"),
        )
    };
    let mut list = message("ListReportingPeriodsRequest");
    list.set_field_by_name("parent", Value::String(project.into()));
    let answer = send(
        app,
        "/tipgrants.v1.OutcomeReportService/ListReportingPeriods",
        &app.admin_token,
        vec![list.encode_to_vec()],
    )
    .await
    .expect("the admin lists reporting periods");
    let periods = DynamicMessage::decode(
        pool.get_message_by_name("tipgrants.v1.ListReportingPeriodsResponse")
            .expect("a message of the package"),
        answer[0].as_slice(),
    )
    .expect("a list of periods");
    let first = periods
        .get_field_by_name("reporting_periods")
        .and_then(|periods| periods.as_list().and_then(|list| list.first().cloned()))
        .and_then(|period| period.as_message().cloned())
        .expect("the project has reporting periods");
    let mut report = message("OutcomeReport");
    report.set_field_by_name(
        "period",
        first.get_field_by_name("period").unwrap().into_owned(),
    );
    let mut create = message("CreateOutcomeReportRequest");
    create.set_field_by_name("parent", Value::String(project.into()));
    create.set_field_by_name("outcome_report", Value::Message(report));
    send(
        app,
        "/tipgrants.v1.OutcomeReportService/CreateOutcomeReport",
        &app.admin_token,
        vec![create.encode_to_vec()],
    )
    .await
    .expect("the admin opens an outcome report");
}

/// What the server's own answers hold: resource names, values by field name (etags,
/// periods, codes), page tokens; and every field name of the package (filters, masks).
#[derive(Default)]
struct Corpus {
    names: Vec<String>,
    values: HashMap<String, Vec<String>>,
    page_tokens: Vec<String>,
    field_names: Vec<String>,
}

/// Calls every List RPC as admin, under every parent seen so far, in pages of one (for page
/// tokens) and of many, until no new name turns up. The tokens the test uses are left out,
/// so no call revokes them.
async fn harvest(app: &TestApp, rpcs: &[Rpc], tokens_in_use: &BTreeSet<String>) -> Corpus {
    let mut names: BTreeSet<String> = ["", "grants/-", "grants/-/projects/-", "countries/-"]
        .into_iter()
        .map(String::from)
        .collect();
    let mut values: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut page_tokens = BTreeSet::new();
    let mut asked = BTreeSet::new();
    for _round in 0..3 {
        let known = names.len();
        for rpc in rpcs.iter().filter(|rpc| rpc.path.contains("/List")) {
            let parents: Vec<String> = match rpc.input.get_field_by_name("parent") {
                Some(_) => names.iter().cloned().collect(),
                None => vec![String::new()],
            };
            for parent in parents {
                if !asked.insert((rpc.path.clone(), parent.clone())) {
                    continue;
                }
                // The whole list first; then pages of one, for page tokens, where a list answered.
                for page_size in [500, 1] {
                    let mut request = DynamicMessage::new(rpc.input.clone());
                    if rpc.input.get_field_by_name("parent").is_some() {
                        request.set_field_by_name("parent", Value::String(parent.clone()));
                    }
                    if rpc.input.get_field_by_name("page_size").is_some() {
                        request.set_field_by_name("page_size", Value::I32(page_size));
                    }
                    let Ok(answers) = send(
                        app,
                        &rpc.path,
                        &app.admin_token,
                        vec![request.encode_to_vec()],
                    )
                    .await
                    else {
                        break;
                    };
                    for answer in answers {
                        let answer = DynamicMessage::decode(rpc.output.clone(), answer.as_slice())
                            .expect("the server's answer decodes");
                        collect_strings(&answer, &mut |field, value| {
                            if field == "next_page_token" {
                                page_tokens.insert(value.to_string());
                            } else if looks_like_a_name(value) {
                                names.insert(value.to_string());
                            }
                            values
                                .entry(field.to_string())
                                .or_default()
                                .insert(value.to_string());
                        });
                    }
                }
            }
        }
        names = a_few_of_each_shape(names);
        if names.len() == known {
            break;
        }
    }
    names.retain(|name| !name.is_empty() && !tokens_in_use.contains(name));
    for seen in values.values_mut() {
        seen.retain(|value| !tokens_in_use.contains(value));
    }
    let mut field_names: BTreeSet<String> = BTreeSet::new();
    for rpc in rpcs {
        for message in [&rpc.input, &rpc.output] {
            collect_field_names(message, &mut field_names, 0);
        }
    }
    Corpus {
        names: names.into_iter().collect(),
        values: values
            .into_iter()
            .map(|(field, seen)| (field, seen.into_iter().take(40).collect()))
            .collect(),
        page_tokens: page_tokens.into_iter().collect(),
        field_names: field_names.into_iter().collect(),
    }
}

/// At most four names of each shape (`countries/*`, `grants/*/projects/*`), parents kept: the
/// 250 countries need not all be tried, but the one with a ranking must.
fn a_few_of_each_shape(names: BTreeSet<String>) -> BTreeSet<String> {
    let shape = |name: &str| {
        name.split('/')
            .enumerate()
            .map(|(index, segment)| if index % 2 == 1 { "*" } else { segment })
            .collect::<Vec<_>>()
            .join("/")
    };
    let mut per_shape: HashMap<String, usize> = HashMap::new();
    let is_parent = |name: &str| {
        names
            .iter()
            .any(|other| other.len() > name.len() && other.starts_with(&format!("{name}/")))
    };
    names
        .iter()
        .filter(|name| {
            let seen = per_shape.entry(shape(name)).or_default();
            *seen += 1;
            *seen <= 4 || is_parent(name)
        })
        .cloned()
        .collect()
}

fn looks_like_a_name(value: &str) -> bool {
    value.contains('/')
        && value.starts_with(|c: char| c.is_ascii_lowercase())
        && value.chars().all(|c| c.is_ascii_graphic())
}

/// Calls `found(field name, value)` for every string in `message`, nested ones included.
fn collect_strings(message: &DynamicMessage, found: &mut impl FnMut(&str, &str)) {
    for (field, value) in message.fields() {
        collect_value(field.name(), value, found);
    }
}

fn collect_value(field: &str, value: &Value, found: &mut impl FnMut(&str, &str)) {
    match value {
        Value::String(text) if !text.is_empty() => found(field, text),
        Value::Message(message) => collect_strings(message, found),
        Value::List(items) => items
            .iter()
            .for_each(|item| collect_value(field, item, found)),
        _ => {}
    }
}

fn collect_field_names(message: &MessageDescriptor, names: &mut BTreeSet<String>, depth: u32) {
    if depth > 3 {
        return;
    }
    for field in message.fields() {
        names.insert(field.name().to_string());
        if let Kind::Message(inner) = field.kind() {
            collect_field_names(&inner, names, depth + 1);
        }
    }
}

/// The calls and what they answered, for the checks and the figures.
struct Fuzzer {
    app: TestApp,
    /// Row counts after the last call.
    baseline: RefCell<BTreeMap<String, i64>>,
    calls: Cell<u64>,
    codes: RefCell<BTreeMap<String, u64>>,
}

impl Fuzzer {
    /// Sends one request (a stream of them to a client-streaming RPC) and checks the rules.
    async fn check(
        &self,
        rpc: &Rpc,
        role: &Role,
        messages: &[DynamicMessage],
    ) -> Result<(), String> {
        self.calls.set(self.calls.get() + 1);
        let encoded = messages.iter().map(Message::encode_to_vec).collect();
        let answer = tokio::time::timeout(HANG_GUARD, send(&self.app, &rpc.path, &role.1, encoded))
            .await
            .map_err(|_| format!("no answer within {HANG_GUARD:?}"))?;
        let code = answer.as_ref().map_or_else(Status::code, |_| Code::Ok);
        *self
            .codes
            .borrow_mut()
            .entry(format!("{code:?}"))
            .or_default() += 1;
        let mut broken = Vec::new();
        if let Err(status) = &answer {
            let size = status.message().len() + status.details().len();
            if FORBIDDEN.contains(&status.code()) {
                broken.push(format!(
                    "answered {:?}: {}",
                    status.code(),
                    cut(status.message(), 300)
                ));
            }
            if size > MAX_ERROR_BYTES {
                broken.push(format!(
                    "an error of {size} bytes ({:?}: {})",
                    status.code(),
                    cut(status.message(), 300)
                ));
            }
        }
        if let Err(problem) = self.expect_serving().await {
            broken.push(problem);
        }
        let counts = self.app.row_counts().await;
        let before = self.baseline.replace(counts.clone());
        if answer.is_err() && counts != before {
            let changed: Vec<String> = counts
                .iter()
                .filter(|(table, count)| before.get(*table) != Some(count))
                .map(|(table, count)| format!("{table}: {:?} -> {count}", before.get(table)))
                .collect();
            broken.push(format!(
                "a refused call ({code:?}) wrote: {}",
                changed.join(", ")
            ));
        }
        match broken.is_empty() {
            true => Ok(()),
            false => Err(broken.join("; ")),
        }
    }

    async fn expect_serving(&self) -> Result<(), String> {
        let mut health = HealthClient::new(self.app.channel());
        let check = health.check(tonic_health::pb::HealthCheckRequest {
            service: String::new(),
        });
        match tokio::time::timeout(HANG_GUARD, check).await {
            Ok(Ok(answer)) if answer.get_ref().status == ServingStatus::Serving as i32 => Ok(()),
            other => Err(format!("health after the call: {other:?}")),
        }
    }
}

/// Sends encoded messages to `path` with `token` and the test's deadline; returns the
/// encoded answers, or the status the call ended with.
async fn send(
    app: &TestApp,
    path: &str,
    token: &str,
    messages: Vec<Vec<u8>>,
) -> Result<Vec<Vec<u8>>, Status> {
    let mut grpc = tonic::client::Grpc::new(app.channel());
    grpc.ready()
        .await
        .map_err(|error| Status::unknown(format!("channel not ready: {error}")))?;
    let mut request = tonic::Request::new(tokio_stream::iter(messages));
    request.set_timeout(CALL_DEADLINE);
    request.metadata_mut().insert(
        "authorization",
        format!("Bearer {token}").parse().expect("an ASCII token"),
    );
    let path = http::uri::PathAndQuery::try_from(path).expect("a method path");
    let mut answers = grpc.streaming(request, path, RawCodec).await?.into_inner();
    let mut messages = Vec::new();
    while let Some(message) = answers.message().await? {
        messages.push(message);
    }
    Ok(messages)
}

/// Encoded protobuf messages sent and received as they are.
#[derive(Debug, Clone, Copy, Default)]
struct RawCodec;

impl Codec for RawCodec {
    type Encode = Vec<u8>;
    type Decode = Vec<u8>;
    type Encoder = RawCodec;
    type Decoder = RawCodec;

    fn encoder(&mut self) -> RawCodec {
        RawCodec
    }

    fn decoder(&mut self) -> RawCodec {
        RawCodec
    }
}

impl Encoder for RawCodec {
    type Item = Vec<u8>;
    type Error = Status;

    fn encode(&mut self, item: Vec<u8>, destination: &mut EncodeBuf<'_>) -> Result<(), Status> {
        destination.put_slice(&item);
        Ok(())
    }
}

impl Decoder for RawCodec {
    type Item = Vec<u8>;
    type Error = Status;

    fn decode(&mut self, source: &mut DecodeBuf<'_>) -> Result<Option<Vec<u8>>, Status> {
        let mut message = vec![0; source.remaining()];
        source.copy_to_slice(&mut message);
        Ok(Some(message))
    }
}

// ---------------------------------------------------------------- strategies --

/// The requests of one call: one message, or a stream of up to four for a client stream.
/// A third are wild (every field hostile); the rest plausible but for one field, so that
/// calls get past the first check and into the rules and the store.
fn requests_of(rpc: &Rpc, corpus: &Corpus) -> BoxedStrategy<Vec<DynamicMessage>> {
    let hints = Hints::of(rpc, corpus);
    let message = Union::new_weighted(vec![
        (1, message_strategy(&rpc.input, corpus, 0)),
        (2, near_valid_message(&rpc.input, corpus, &hints, 0)),
    ]);
    if rpc.client_streaming {
        proptest::collection::vec(message, 0..5).boxed()
    } else {
        message.prop_map(|message| vec![message]).boxed()
    }
}

/// A message of `descriptor` with each field set or not, to a hostile value of its kind.
fn message_strategy(
    descriptor: &MessageDescriptor,
    corpus: &Corpus,
    depth: u32,
) -> BoxedStrategy<DynamicMessage> {
    let empty = DynamicMessage::new(descriptor.clone());
    if depth > 3 {
        return Just(empty).boxed();
    }
    let presence = if depth == 0 { 0.8 } else { 0.5 };
    let fields: Vec<_> = descriptor
        .fields()
        .map(|field| {
            let described = field.clone();
            proptest::option::weighted(
                presence,
                field_strategy(&field, corpus, depth)
                    .prop_map(move |value| (described.clone(), value)),
            )
        })
        .collect();
    fields
        .prop_map(move |chosen| {
            let mut message = empty.clone();
            for (field, value) in chosen.into_iter().flatten() {
                message.set_field(&field, value);
            }
            message
        })
        .boxed()
}

/// The names an RPC's `name` and `parent` fields plausibly take: those of the collection its
/// method names (`GetOutcomeReport`: `.../outcomeReports/{id}`), and their parents.
struct Hints {
    names: Vec<String>,
    parents: Vec<String>,
}

impl Hints {
    fn of(rpc: &Rpc, corpus: &Corpus) -> Hints {
        const VERBS: &[&str] = &[
            "Get",
            "List",
            "Create",
            "Update",
            "Delete",
            "Activate",
            "Suspend",
            "Close",
            "Terminate",
            "Start",
            "Complete",
            "Cancel",
            "Submit",
            "Accept",
            "Return",
            "Reopen",
            "Revoke",
            "Upload",
        ];
        let method = rpc.path.rsplit('/').next().unwrap_or_default();
        let noun = VERBS
            .iter()
            .find_map(|verb| method.strip_prefix(verb))
            .unwrap_or(method);
        let mut collection = noun[..1].to_lowercase() + &noun[1..];
        if !method.starts_with("List") && !collection.ends_with('s') {
            collection = match collection.strip_suffix('y') {
                Some(stem) => format!("{stem}ies"),
                None => format!("{collection}s"),
            };
        }
        let mut names = Vec::new();
        let mut parents = BTreeSet::new();
        for name in &corpus.names {
            let segments: Vec<&str> = name.split('/').collect();
            if segments.len() >= 2 && segments[segments.len() - 2] == collection {
                names.push(name.clone());
                parents.insert(segments[..segments.len() - 2].join("/"));
            }
        }
        Hints {
            names,
            parents: parents.into_iter().collect(),
        }
    }
}

/// A plausible message with one field (or one field of a nested message) hostile.
fn near_valid_message(
    descriptor: &MessageDescriptor,
    corpus: &Corpus,
    hints: &Hints,
    depth: u32,
) -> BoxedStrategy<DynamicMessage> {
    let plausible = plausible_message(descriptor, corpus, hints, depth);
    if depth > 3 || descriptor.fields().len() == 0 {
        return plausible;
    }
    let one_bad_field: Vec<BoxedStrategy<DynamicMessage>> = descriptor
        .fields()
        .map(|field| {
            let bad = match field.kind() {
                Kind::Message(inner) if !field.is_list() && !field.is_map() => {
                    near_valid_message(&inner, corpus, hints, depth + 1)
                        .prop_map(Value::Message)
                        .boxed()
                }
                _ => field_strategy(&field, corpus, depth),
            };
            (plausible.clone(), bad)
                .prop_map(move |(mut message, value)| {
                    message.set_field(&field, value);
                    message
                })
                .boxed()
        })
        .collect();
    Union::new_weighted(vec![(1, plausible), (3, Union::new(one_bad_field).boxed())]).boxed()
}

/// A message whose fields hold values the server itself answered, or ordinary ones.
fn plausible_message(
    descriptor: &MessageDescriptor,
    corpus: &Corpus,
    hints: &Hints,
    depth: u32,
) -> BoxedStrategy<DynamicMessage> {
    let empty = DynamicMessage::new(descriptor.clone());
    if depth > 3 {
        return Just(empty).boxed();
    }
    let fields: Vec<_> = descriptor
        .fields()
        .filter(|field| !field.is_map())
        .map(|field| {
            let single = plausible_value(&field, corpus, hints, depth);
            let value = match field.is_list() {
                true => proptest::collection::vec(single, 0..3)
                    .prop_map(Value::List)
                    .boxed(),
                false => single,
            };
            proptest::option::weighted(0.7, value.prop_map(move |value| (field.clone(), value)))
        })
        .collect();
    fields
        .prop_map(move |chosen| {
            let mut message = empty.clone();
            for (field, value) in chosen.into_iter().flatten() {
                message.set_field(&field, value);
            }
            message
        })
        .boxed()
}

fn plausible_value(
    field: &FieldDescriptor,
    corpus: &Corpus,
    hints: &Hints,
    depth: u32,
) -> BoxedStrategy<Value> {
    match field.kind() {
        Kind::String => {
            let seen = match field.name() {
                "paths" => corpus.field_names.clone(),
                "name" if !hints.names.is_empty() => hints.names.clone(),
                "parent" if !hints.parents.is_empty() => hints.parents.clone(),
                "parent" => corpus.names.clone(),
                name => corpus.values.get(name).cloned().unwrap_or_default(),
            };
            match seen.is_empty() {
                true => prop_oneof![Just(String::new()), "[A-Za-z][a-z ]{0,23}"].boxed(),
                false => proptest::sample::select(seen).boxed(),
            }
            .prop_map(Value::String)
            .boxed()
        }
        Kind::Enum(enumeration) => {
            let numbers: Vec<i32> = enumeration
                .values()
                .map(|value| value.number())
                .filter(|number| *number != 0)
                .collect();
            match numbers.is_empty() {
                true => Just(Value::EnumNumber(0)).boxed(),
                false => proptest::sample::select(numbers)
                    .prop_map(Value::EnumNumber)
                    .boxed(),
            }
        }
        Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => {
            prop_oneof![0..10, 2013..2017].prop_map(Value::I32).boxed()
        }
        Kind::Int64 | Kind::Sint64 | Kind::Sfixed64
            if field.parent_message().full_name() == "google.protobuf.Timestamp" =>
        {
            (1_700_000_000..2_000_000_000i64)
                .prop_map(Value::I64)
                .boxed()
        }
        Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => (0..10_000i64).prop_map(Value::I64).boxed(),
        Kind::Message(inner) => plausible_message(&inner, corpus, hints, depth + 1)
            .prop_map(Value::Message)
            .boxed(),
        _ => field_strategy(field, corpus, depth),
    }
}

fn field_strategy(field: &FieldDescriptor, corpus: &Corpus, depth: u32) -> BoxedStrategy<Value> {
    if field.is_map() {
        let Kind::Message(entry) = field.kind() else {
            unreachable!("a map field's kind is its entry message")
        };
        let key = single_value(&entry.map_entry_key_field(), corpus, depth);
        let value = single_value(&entry.map_entry_value_field(), corpus, depth);
        return proptest::collection::vec((key, value), 0..3)
            .prop_map(|entries| {
                Value::Map(
                    entries
                        .into_iter()
                        .filter_map(|(key, value)| Some((map_key(key)?, value)))
                        .collect(),
                )
            })
            .boxed();
    }
    let single = single_value(field, corpus, depth);
    if !field.is_list() {
        return single;
    }
    let few = proptest::collection::vec(single, 0..4);
    let many = match field.kind() {
        Kind::Message(_) | Kind::Bytes => return few.prop_map(Value::List).boxed(),
        // Thousands of short values in one list: what a batch of bad data looks like.
        Kind::String => {
            let mut seen = corpus.names.clone();
            seen.extend(corpus.values.get(field.name()).cloned().unwrap_or_default());
            seen.extend(NEAR_MISSES.iter().map(|text| text.to_string()));
            proptest::sample::select(seen)
                .prop_map(Value::String)
                .boxed()
        }
        _ => single_value(field, corpus, depth),
    };
    Union::new_weighted(vec![
        (6, few.boxed()),
        (1, proptest::collection::vec(many, 200..2_000).boxed()),
    ])
    .prop_map(Value::List)
    .boxed()
}

fn map_key(value: Value) -> Option<MapKey> {
    Some(match value {
        Value::Bool(value) => MapKey::Bool(value),
        Value::I32(value) => MapKey::I32(value),
        Value::I64(value) => MapKey::I64(value),
        Value::U32(value) => MapKey::U32(value),
        Value::U64(value) => MapKey::U64(value),
        Value::String(value) => MapKey::String(value),
        _ => return None,
    })
}

fn single_value(field: &FieldDescriptor, corpus: &Corpus, depth: u32) -> BoxedStrategy<Value> {
    match field.kind() {
        Kind::String => text(field.name(), corpus).prop_map(Value::String).boxed(),
        Kind::Bytes => Union::new_weighted(vec![
            (4, proptest::collection::vec(any::<u8>(), 0..64).boxed()),
            (1, (1..HUGE).prop_map(|length| vec![0xff; length]).boxed()),
        ])
        .prop_map(|bytes| Value::Bytes(Bytes::from(bytes)))
        .boxed(),
        Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => int32().prop_map(Value::I32).boxed(),
        Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => int64().prop_map(Value::I64).boxed(),
        Kind::Uint32 | Kind::Fixed32 => prop_oneof![Just(0), Just(u32::MAX), any::<u32>()]
            .prop_map(Value::U32)
            .boxed(),
        Kind::Uint64 | Kind::Fixed64 => prop_oneof![Just(0), Just(u64::MAX), any::<u64>()]
            .prop_map(Value::U64)
            .boxed(),
        Kind::Float => prop_oneof![Just(f32::NAN), Just(f32::INFINITY), any::<f32>()]
            .prop_map(Value::F32)
            .boxed(),
        Kind::Double => prop_oneof![Just(f64::NAN), Just(f64::NEG_INFINITY), any::<f64>()]
            .prop_map(Value::F64)
            .boxed(),
        Kind::Bool => any::<bool>().prop_map(Value::Bool).boxed(),
        Kind::Enum(enumeration) => {
            let numbers: Vec<i32> = enumeration.values().map(|value| value.number()).collect();
            let beyond = numbers.iter().max().copied().unwrap_or(0).saturating_add(1);
            Union::new_weighted(vec![
                (3, proptest::sample::select(numbers).boxed()),
                (1, Just(beyond).boxed()),
                (1, int32()),
            ])
            .prop_map(Value::EnumNumber)
            .boxed()
        }
        Kind::Message(message) => message_strategy(&message, corpus, depth + 1)
            .prop_map(Value::Message)
            .boxed(),
    }
}

fn int32() -> BoxedStrategy<i32> {
    prop_oneof![
        Just(0),
        Just(-1),
        Just(i32::MIN),
        Just(i32::MAX),
        1900..2100,
        -1_000..100_000,
        any::<i32>(),
    ]
    .boxed()
}

fn int64() -> BoxedStrategy<i64> {
    prop_oneof![
        Just(0),
        Just(-1),
        Just(i64::MIN),
        Just(i64::MAX),
        Just(i64::from(i32::MAX) + 1),
        // Out of range for timestamps: before year 1 and after 9999.
        Just(-62_135_596_801),
        Just(253_402_300_800),
        -1_000..1_000_000i64,
        any::<i64>(),
    ]
    .boxed()
}

/// Characters that hide, reorder or break text.
const INVISIBLE: &[char] = &[
    '\u{202E}',
    '\u{202D}',
    '\u{2066}',
    '\u{200B}',
    '\u{200D}',
    '\u{FEFF}',
    '\u{0}',
    '\n',
    '\r',
    '\t',
    '\u{7}',
    '\u{1B}',
    '\u{7F}',
    '\u{85}',
    '\u{2028}',
    '\u{FFFD}',
    '\u{10FFFF}',
];

/// Characters that long strings are made of: one to four bytes, and the ones that quoting,
/// paths and escapes treat specially.
const FILLING: &[char] = &['a', 'é', '𝕏', '\u{202E}', '/', '"', '\\', '%', '-', '\u{0}'];

/// Resource names gone wrong in the ways parsers trip on.
const MALFORMED_NAMES: &[&str] = &[
    "organizations",
    "organizations/",
    "/organizations/x",
    "organizations//x",
    "organizations/x/",
    "organizations/-",
    "organizations/*",
    "ORGANIZATIONS/x",
    "organizations/x%2Fy",
    "organizations/../apiTokens/x",
    "grants/-",
    "grants/-/projects/-",
    "grants/x/projects",
    "grants/x/projects/y/indicators/z/extra",
    "countries/-",
    "countries/ZZ",
    "countries/H",
    "countries/HT/tipRankings/0",
    "countries/HT/tipRankings/-2014",
    "countries/HT/tipRankings/99999999999999999999",
    "apiTokens/-",
    "fundingAccounts/../../etc/passwd",
    "a/b/c/d/e/f/g/h/i/j/k/l",
    "organizations/x'; DROP TABLE organizations; --",
    "organizations/x\" OR \"1\"=\"1",
];

/// Strings that look like numbers, dates and times but are not all valid ones.
const NEAR_MISSES: &[&str] = &[
    "-1",
    "0",
    "99999999999999999999",
    "1e309",
    "NaN",
    "2014-01-01",
    "2014-02-30",
    "2014-13-01",
    "0000-01-01",
    "9999-12-31",
    "+275760-09-13",
    "2014-1-1",
    "2014-01-01T00:00:00Z",
    "FY2014",
    "2014-Q5",
    "2014-Q0",
    "ht",
    "XX",
    "http://evil.example/x",
    "javascript:alert(1)",
    "../../../../etc/passwd",
];

/// Ways to break a filter's grammar.
const BROKEN_FILTERS: &[&str] = &[
    "=",
    "AND",
    "a = ",
    "= b",
    "a = \"unterminated",
    "a = 1 AND",
    "AND a = 1",
    "a = 1 AND AND b = 2",
    "a = 1 OR b = 2",
    "(a = 1)",
    "a != 1",
    "a = \"\\\"",
    "a = 1 = 2",
    "a.b.c = 1",
    "\"a\" = b",
];

/// A hostile string for a field named `field`, from families weighted by what the field is.
fn text(field: &str, corpus: &Corpus) -> BoxedStrategy<String> {
    let mut families = plain_text(corpus);
    families.push((1, forged_page_token(corpus)));
    if let Some(seen) = corpus.values.get(field).filter(|seen| !seen.is_empty()) {
        families.push((6, proptest::sample::select(seen.clone()).boxed()));
    }
    match field {
        "page_token" => families.push((12, forged_page_token(corpus))),
        "filter" => families.push((12, filter_expression(corpus))),
        "paths" => families.push((12, field_path(corpus))),
        _ => {}
    }
    Union::new_weighted(families).boxed()
}

/// Every family but the page tokens and filters (which embed these).
fn plain_text(corpus: &Corpus) -> Vec<(u32, BoxedStrategy<String>)> {
    let names = corpus.names.clone();
    let mut bases = names.clone();
    bases.extend(["Alpha Relief", "HT", "2014-01-01", "ESF"].map(String::from));
    vec![
        (3, Just(String::new()).boxed()),
        (4, proptest::sample::select(names.clone()).boxed()),
        (
            2,
            proptest::sample::select(MALFORMED_NAMES)
                .prop_map(String::from)
                .boxed(),
        ),
        (3, mutated_name(names.clone())),
        (
            3,
            (
                proptest::sample::select(bases),
                proptest::sample::select(INVISIBLE),
                any::<Index>(),
            )
                .prop_map(|(base, character, at)| insert_at(&base, character, at))
                .boxed(),
        ),
        (
            2,
            proptest::collection::vec(any::<char>(), 0..48)
                .prop_map(String::from_iter)
                .boxed(),
        ),
        (2, "[ -~]{0,160}".boxed()),
        (
            1,
            proptest::sample::select(NEAR_MISSES)
                .prop_map(String::from)
                .boxed(),
        ),
        (1, long_text(names.clone(), 100..10_000)),
        (1, long_text(names, 65_536..HUGE)),
    ]
}

/// A known name changed a little: a segment added, an id replaced, the collection swapped.
fn mutated_name(names: Vec<String>) -> BoxedStrategy<String> {
    (
        proptest::sample::select(names),
        0..6u8,
        "[ -~]{0,120}",
        proptest::sample::select(vec![
            "organizations",
            "grants",
            "projects",
            "countries",
            "apiTokens",
        ]),
    )
        .prop_map(|(name, how, id, collection)| {
            let (head, _last) = name.rsplit_once('/').unwrap_or((&name, ""));
            match how {
                0 => format!("{name}/{id}"),
                1 => format!("{head}/{id}"),
                2 => format!("{name}{id}"),
                3 => match name.split_once('/') {
                    Some((_, rest)) => format!("{collection}/{rest}"),
                    None => name.clone(),
                },
                4 => name.to_uppercase(),
                _ => format!("/{name}"),
            }
        })
        .boxed()
}

/// `character` inserted into `base` at a place `at` picks.
fn insert_at(base: &str, character: char, at: Index) -> String {
    let boundaries: Vec<usize> = base
        .char_indices()
        .map(|(index, _)| index)
        .chain([base.len()])
        .collect();
    let position = boundaries[at.index(boundaries.len())];
    let mut changed = base.to_string();
    changed.insert(position, character);
    changed
}

/// A long string of one character, after a known name or alone.
fn long_text(names: Vec<String>, lengths: std::ops::Range<usize>) -> BoxedStrategy<String> {
    let mut prefixes = names;
    prefixes.push(String::new());
    (
        proptest::sample::select(prefixes),
        lengths,
        proptest::sample::select(FILLING),
    )
        .prop_map(|(prefix, length, filling)| {
            let mut text = prefix;
            text.extend(std::iter::repeat_n(filling, length / filling.len_utf8()));
            text
        })
        .boxed()
}

/// Page tokens an attacker makes: real ones replayed, cut or flipped; the server's own format
/// with a forged position; random bytes; JSON of the wrong shape.
fn forged_page_token(corpus: &Corpus) -> BoxedStrategy<String> {
    let mut real = corpus.page_tokens.clone();
    if real.is_empty() {
        real.push(URL_SAFE_NO_PAD.encode(br#"{"a":"x","q":"0"}"#));
    }
    let fingerprints: Vec<String> = real
        .iter()
        .filter_map(|token| URL_SAFE_NO_PAD.decode(token).ok())
        .filter_map(|bytes| serde_json::from_slice::<serde_json::Value>(&bytes).ok())
        .filter_map(|token| token["q"].as_str().map(String::from))
        .chain([String::new()])
        .collect();
    let positions = Union::new_weighted(plain_text(corpus));
    let wrong_shapes = [
        r#"{"a":1,"q":2}"#,
        "[]",
        "null",
        r#"{"a":"x"}"#,
        r#"{"a":"x","q":"0000000000000000","b":1}"#,
        "{",
        "\u{0}",
    ];
    Union::new_weighted(vec![
        (2, proptest::sample::select(real.clone()).boxed()),
        (
            2,
            (proptest::sample::select(real.clone()), any::<Index>())
                .prop_map(|(token, at)| token[..at.index(token.len() + 1)].to_string())
                .boxed(),
        ),
        (
            2,
            (proptest::sample::select(real), any::<Index>(), 1..=255u8)
                .prop_map(|(token, at, flip)| {
                    let mut bytes = token.into_bytes();
                    if !bytes.is_empty() {
                        let index = at.index(bytes.len());
                        bytes[index] ^= flip;
                    }
                    String::from_utf8_lossy(&bytes).into_owned()
                })
                .boxed(),
        ),
        (
            4,
            (proptest::sample::select(fingerprints), positions)
                .prop_map(|(fingerprint, position)| {
                    let token = serde_json::json!({ "a": position, "q": fingerprint });
                    URL_SAFE_NO_PAD.encode(token.to_string())
                })
                .boxed(),
        ),
        (
            1,
            proptest::collection::vec(any::<u8>(), 0..96)
                .prop_map(|bytes| URL_SAFE_NO_PAD.encode(bytes))
                .boxed(),
        ),
        (
            1,
            proptest::sample::select(wrong_shapes.to_vec())
                .prop_map(|json| URL_SAFE_NO_PAD.encode(json))
                .boxed(),
        ),
    ])
    .boxed()
}

/// Filters: real field names with operators and hostile values, joined, or broken outright.
fn filter_expression(corpus: &Corpus) -> BoxedStrategy<String> {
    let term = (
        proptest::sample::select(corpus.field_names.clone()),
        proptest::sample::select(vec!["=", "!=", "<", ">=", ":", "=="]),
        Union::new_weighted(plain_text(corpus)),
        any::<bool>(),
    )
        .prop_map(|(field, operator, value, quoted)| match quoted {
            true => format!("{field} {operator} \"{value}\""),
            false => format!("{field} {operator} {value}"),
        });
    Union::new_weighted(vec![
        (4, term.clone().boxed()),
        (
            2,
            proptest::collection::vec(term, 2..5)
                .prop_map(|terms| terms.join(" AND "))
                .boxed(),
        ),
        (
            2,
            proptest::sample::select(BROKEN_FILTERS)
                .prop_map(String::from)
                .boxed(),
        ),
    ])
    .boxed()
}

/// Field-mask paths: real field names, dotted, or not quite.
fn field_path(corpus: &Corpus) -> BoxedStrategy<String> {
    let names = proptest::sample::select(corpus.field_names.clone());
    prop_oneof![
        names.clone(),
        proptest::collection::vec(names, 2..4).prop_map(|path| path.join(".")),
        Just("*".to_string()),
        Just(".".to_string()),
        Just("name.".to_string()),
    ]
    .boxed()
}

// ----------------------------------------------------------------- reporting --

fn env_number(name: &str) -> Option<u64> {
    let value = std::env::var(name).ok()?;
    Some(
        value
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name} must be a whole number, not {value:?}")),
    )
}

/// The generator's seed for one RPC and role, from the run's seed.
fn case_seed(seed: u64, path: &str, role: &str) -> [u8; 32] {
    Sha256::digest(format!("{seed}/{path}/{role}")).into()
}

fn describe_failure(rpc: &Rpc, role: &str, error: TestError<Vec<DynamicMessage>>) -> String {
    match error {
        TestError::Abort(reason) => format!("{} as {role}: aborted: {reason}", rpc.path),
        TestError::Fail(reason, messages) => format!(
            "{} as {role}: {reason}\n    smallest failing request: {}",
            rpc.path,
            messages
                .iter()
                .map(summarize)
                .collect::<Vec<_>>()
                .join(" | ")
        ),
    }
}

/// A message as `field: value` pairs, long values cut, so a failure stays readable.
fn summarize(message: &DynamicMessage) -> String {
    let fields: Vec<String> = message
        .fields()
        .map(|(field, value)| format!("{}: {}", field.name(), summarize_value(value)))
        .collect();
    format!("{{{}}}", fields.join(", "))
}

fn summarize_value(value: &Value) -> String {
    match value {
        Value::String(text) => cut(&format!("{text:?}"), 120),
        Value::Bytes(bytes) => format!("<{} bytes>", bytes.len()),
        Value::Message(message) => summarize(message),
        Value::List(items) if items.len() > 5 => format!(
            "[{}, ... {} items]",
            summarize_value(&items[0]),
            items.len()
        ),
        Value::List(items) => format!(
            "[{}]",
            items
                .iter()
                .map(summarize_value)
                .collect::<Vec<_>>()
                .join(", ")
        ),
        other => format!("{other:?}"),
    }
}

/// At most `limit` characters of `text`, saying how long it was when cut.
fn cut(text: &str, limit: usize) -> String {
    match text.char_indices().nth(limit) {
        None => text.to_string(),
        Some((end, _)) => format!("{}... ({} bytes)", &text[..end], text.len()),
    }
}
