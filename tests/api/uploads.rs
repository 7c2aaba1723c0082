//! `UploadOutcomes` under a hostile or careless client (issue 18, finding 4):
//! an upload keeps its outcomes in a temporary file and holds no transaction
//! while the client sends; uploads running at once are bounded per grantee
//! organisation and across the server, and a refusal says which; an upload
//! is bounded in bytes; a client that goes away leaves no rows, no file and
//! no slot behind.

use std::path::{Path, PathBuf};

use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Code, Response, Status};

use crate::helpers::*;
use crate::outcome_reports::{
    Grantee, a_grantee, header, item, outcomes_of, read_report, report, trained,
};

type Answer<T> = Result<Response<T>, Status>;

/// An upload whose client keeps the stream open: more outcomes may follow.
struct HeldUpload {
    sender: mpsc::Sender<pb::UploadOutcomesRequest>,
    call: JoinHandle<Answer<pb::UploadOutcomesResponse>>,
}

impl HeldUpload {
    /// Opens an upload into `report` and sends its header and `count` outcomes.
    async fn start(app: &TestApp, token: &str, report: &str, count: usize) -> HeldUpload {
        let (sender, receiver) = mpsc::channel(count + 1);
        sender.send(header(report, "")).await.expect("send");
        for quantity in 1..=count {
            sender
                .send(item(trained("HT", "2014-05-15", quantity as i64)))
                .await
                .expect("send");
        }
        let mut client = app.outcome_reports(Some(token));
        let call =
            tokio::spawn(
                async move { client.upload_outcomes(ReceiverStream::new(receiver)).await },
            );
        HeldUpload { sender, call }
    }

    /// Ends the stream and waits for the answer.
    async fn finish(self) -> Answer<pb::UploadOutcomesResponse> {
        drop(self.sender);
        self.call.await.expect("the upload task")
    }

    /// The client goes away: the call is dropped mid-stream (the HTTP/2 stream is reset). The
    /// stream's sender comes back to the caller, to be kept until the server has let go: dropped
    /// earlier, it could end the request body cleanly before the reset, and a finished upload
    /// would be written (as it should be).
    async fn abandon(self) -> mpsc::Sender<pb::UploadOutcomesRequest> {
        self.call.abort();
        let _aborted = self.call.await;
        self.sender
    }
}

/// An upload into a report that does not exist: refused for that (NOT_FOUND) when the
/// caller may start an upload, else for the slots (RESOURCE_EXHAUSTED). It writes nothing.
async fn probe(app: &TestApp, token: &str, project: &str) -> (Code, String) {
    let missing = format!("{project}/outcomeReports/{}", uuid::Uuid::now_v7());
    let answer = app
        .outcome_reports(Some(token))
        .upload_outcomes(tokio_stream::iter(vec![header(&missing, "")]))
        .await;
    match answer {
        Ok(_) => (Code::Ok, String::new()),
        Err(status) => (status.code(), reason(&status)),
    }
}

/// A test server whose uploads keep their files in a directory of the test's own: an upload
/// opens its file once it holds its place, so the test can wait for that before it probes
/// (else a probe could take a place first, and an upload meant to be held would be refused).
async fn app_with_spool() -> (TestApp, tempfile::TempDir) {
    let spool = tempfile::tempdir().expect("a directory");
    let directory = spool.path().display().to_string();
    let app = spawn_app_with(|settings| settings.uploads.spool_directory = directory).await;
    (app, spool)
}

/// Waits until `count` uploads hold their places (each keeps its file open from then on).
async fn holding(spool: &tempfile::TempDir, count: usize) {
    eventually("the held uploads hold their places", || async {
        (open_files_in(spool.path()) == count).then_some(())
    })
    .await;
}

/// How many files the server (in this process) holds open in `directory`.
fn open_files_in(directory: &Path) -> usize {
    std::fs::read_dir("/proc/self/fd")
        .expect("/proc/self/fd")
        .flatten()
        .filter_map(|entry| std::fs::read_link(entry.path()).ok())
        .filter(|target| target.starts_with(directory))
        .count()
}

/// A grantee with a draft report of 2014-Q3, and a second token of its organisation.
async fn drafting(app: &TestApp, award: &str) -> (Grantee, pb::OutcomeReport, String) {
    let grantee = a_grantee(app, award).await;
    let draft = report(app, grantee.auth(), &grantee.project.name, "2014-Q3").await;
    let second_token = app
        .token(pb::Role::Grantee, &grantee.organization.name)
        .await;
    (grantee, draft, second_token)
}

#[tokio::test]
async fn a_grantee_organisation_runs_at_most_two_uploads_at_once_and_one_that_goes_away_frees_its_place()
 {
    let (app, spool) = app_with_spool().await;
    let (alpha, alpha_draft, alpha_second) = drafting(&app, "SLOTS-A").await;
    let alpha_third = app.token(pb::Role::Grantee, &alpha.organization.name).await;
    let (beta, beta_draft, _) = drafting(&app, "SLOTS-B").await;
    let alpha_token = alpha.auth().expect("a token");

    let first = HeldUpload::start(&app, alpha_token, &alpha_draft.name, 3).await;
    holding(&spool, 1).await;
    let second = HeldUpload::start(&app, &alpha_second, &alpha_draft.name, 3).await;
    holding(&spool, 2).await;
    let refused = eventually("a third upload of the organisation is refused", || async {
        let answer = probe(&app, &alpha_third, &alpha.project.name).await;
        (answer.0 == Code::ResourceExhausted).then_some(answer)
    })
    .await;
    let other_organisation =
        HeldUpload::start(&app, beta.auth().expect("a token"), &beta_draft.name, 2)
            .await
            .finish()
            .await;
    let gone_without_finishing = second.abandon().await;
    let after_leaving = eventually("the abandoned upload's place is free again", || async {
        let answer = probe(&app, &alpha_third, &alpha.project.name).await;
        (answer.0 != Code::ResourceExhausted).then_some(answer)
    })
    .await;
    let finished = first.finish().await;
    drop(gone_without_finishing);

    assert_eq!(refused.1, "TOO_MANY_UPLOADS");
    assert_eq!(
        other_organisation
            .expect("another organisation uploads")
            .into_inner()
            .outcome_count,
        2
    );
    assert_eq!(after_leaving.0, Code::NotFound);
    assert_eq!(
        finished
            .expect("the first upload ends")
            .into_inner()
            .outcome_count,
        3
    );
    assert_eq!(
        outcomes_of(&app, &alpha_draft.name, true).await.len(),
        3,
        "the abandoned upload wrote nothing"
    );
}

#[tokio::test]
async fn the_server_runs_at_most_four_uploads_at_once_and_says_so() {
    let (app, spool) = app_with_spool().await;
    let mut held = Vec::new();
    let mut drafts = Vec::new();
    for award in ["BUSY-1", "BUSY-2", "BUSY-3", "BUSY-4"] {
        let (grantee, draft, _) = drafting(&app, award).await;
        held.push(HeldUpload::start(&app, grantee.auth().expect("a token"), &draft.name, 1).await);
        holding(&spool, held.len()).await;
        drafts.push(draft.name);
    }
    let (fifth, _, _) = drafting(&app, "BUSY-5").await;
    let fifth_token = fifth.auth().expect("a token");

    let refused = eventually("a fifth organisation's upload is refused", || async {
        let answer = probe(&app, fifth_token, &fifth.project.name).await;
        (answer.0 == Code::ResourceExhausted).then_some(answer)
    })
    .await;
    let mut counts = Vec::new();
    for upload in held {
        counts.push(
            upload
                .finish()
                .await
                .expect("a held upload ends")
                .into_inner()
                .outcome_count,
        );
    }
    let afterwards = probe(&app, fifth_token, &fifth.project.name).await;

    assert_eq!(refused.1, "UPLOADS_BUSY");
    assert_eq!(counts, [1, 1, 1, 1]);
    assert_eq!(afterwards.0, Code::NotFound, "{afterwards:?}");
}

#[tokio::test]
async fn an_upload_over_its_byte_limit_is_refused_naming_the_limit_and_writes_nothing() {
    let app = spawn_app_with(|settings| settings.uploads.max_bytes = 1024 * 1024).await;
    let (grantee, draft, _) = drafting(&app, "BYTES-1").await;
    let before = read_report(&app, &draft.name).await;
    let long = |quantity: i64| pb::Outcome {
        description: "Trained in victim identification. ".repeat(30),
        ..trained("HT", "2014-05-15", quantity)
    };
    let mut messages = vec![header(&draft.name, "")];
    messages.extend((1..=1_100).map(|quantity| item(long(quantity))));
    let mut fitting = vec![header(&draft.name, "")];
    fitting.extend((1..=500).map(|quantity| item(long(quantity))));

    let refused = app
        .outcome_reports(grantee.auth())
        .upload_outcomes(tokio_stream::iter(messages))
        .await;
    let unchanged = read_report(&app, &draft.name).await;
    let accepted = app
        .outcome_reports(grantee.auth())
        .upload_outcomes(tokio_stream::iter(fitting))
        .await;

    let status = expect_code(refused, Code::InvalidArgument);
    assert_eq!(violated_fields(&status), ["outcomes"]);
    assert!(status.message().contains("at most 1 MiB"), "{status:?}");
    assert_eq!(unchanged, before);
    assert_eq!(
        accepted
            .expect("a smaller upload")
            .into_inner()
            .outcome_count,
        500
    );
}

#[tokio::test]
async fn an_upload_held_open_blocks_no_other_write_and_once_abandoned_leaves_no_rows_and_no_file() {
    let spool = tempfile::tempdir().expect("a directory");
    let spool_directory: PathBuf = spool.path().to_path_buf();
    let app = spawn_app_with(|settings| {
        settings.uploads.spool_directory = spool_directory.display().to_string()
    })
    .await;
    let (alpha, alpha_draft, _) = drafting(&app, "HELD-1").await;
    let (beta, beta_draft, _) = drafting(&app, "HELD-2").await;

    let held = HeldUpload::start(&app, alpha.auth().expect("a token"), &alpha_draft.name, 50).await;
    eventually("the held upload keeps its outcomes in a file", || async {
        (open_files_in(&spool_directory) == 1).then_some(())
    })
    .await;
    // Writes of other callers while it is held: on SQLite they need the one writer connection.
    let organisation = app
        .organizations(app.admin())
        .create_organization(pb::CreateOrganizationRequest {
            organization: Some(new_organization("Written meanwhile", "HT")),
            request_id: String::new(),
        })
        .await;
    let outcome = app
        .outcome_reports(beta.auth())
        .create_outcome(pb::CreateOutcomeRequest {
            parent: beta_draft.name.clone(),
            outcome: Some(trained("HT", "2014-05-15", 4)),
            request_id: String::new(),
        })
        .await;
    let _gone_without_finishing = held.abandon().await;
    eventually("the abandoned upload's file is gone", || async {
        (open_files_in(&spool_directory) == 0).then_some(())
    })
    .await;

    assert!(organisation.is_ok(), "{organisation:?}");
    assert!(outcome.is_ok(), "{outcome:?}");
    assert!(outcomes_of(&app, &alpha_draft.name, true).await.is_empty());
    assert_eq!(read_report(&app, &alpha_draft.name).await.outcome_count, 0);
    assert_eq!(
        std::fs::read_dir(&spool_directory)
            .expect("the directory")
            .count(),
        0,
        "no file left behind"
    );
}
