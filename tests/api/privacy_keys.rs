//! The keys of victims' personal data in operation (issue 18, findings 8-10):
//! a key id is bound to its key (a server given other material under a known
//! id refuses to start), `tipgrants keys rotate` runs beside a server taking
//! writes without failing them or itself, and once it has retired a key no
//! ciphertext of that key is left in the database's files.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tipgrants::secret::{ExposeSecret, SecretString};
use tipgrants::settings::Settings;
use tonic::Code;

use crate::helpers::*;

/// Test keys (never real ones): 32 bytes of 1s, and of 2s.
const KEY_1: &str = "k1:AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=";
const KEY_2: &str = "k2:AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI=";
/// Other material under the id `k1`: 32 bytes of 4s.
const IMPOSTOR_1: &str = "k1:BAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQ=";
/// Base64 runs of the test keys' material, which no message may show.
const MATERIAL: [&str; 3] = ["AQEBAQEBAQEB", "AgICAgICAgIC", "BAQEBAQEBAQE"];

fn use_keys(settings: &mut Settings, keys: &str, active: &str) {
    settings.privacy.keys = SecretString::from(keys.to_string());
    settings.privacy.active_key = active.to_string();
}

/// A referral by `organization` (referred now, not urgent) with a victim's name, contact and notes.
fn referral(organization: &str, victim: &str) -> pb::AssistanceCase {
    pb::AssistanceCase {
        urgency: pb::CaseUrgency::Normal as i32,
        referral_time: None,
        personal_data: Some(pb::PersonalData {
            full_name: victim.into(),
            contact: format!("the shelter of {victim}"),
            notes: format!("notes on {victim}"),
        }),
        ..crate::assistance::referral(organization, &[(pb::NeedKind::Shelter, 20_000)])
    }
}

async fn refer(
    app: &TestApp,
    organization: &str,
    victim: &str,
) -> Result<pb::AssistanceCase, tonic::Status> {
    app.assistance(app.admin())
        .create_assistance_case(pb::CreateAssistanceCaseRequest {
            assistance_case: Some(referral(organization, victim)),
            request_id: uuid::Uuid::new_v4().to_string(),
        })
        .await
        .map(|answer| answer.into_inner())
}

/// Changes the notes of `case` (re-sealing all its personal data with the active key).
async fn change_notes(app: &TestApp, case: &str, notes: &str) -> Result<(), tonic::Status> {
    app.assistance(app.admin())
        .update_assistance_case(pb::UpdateAssistanceCaseRequest {
            assistance_case: Some(pb::AssistanceCase {
                name: case.into(),
                personal_data: Some(pb::PersonalData {
                    notes: notes.into(),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["personal_data.notes".into()],
            }),
        })
        .await
        .map(|_| ())
}

async fn personal_data(app: &TestApp, case: &str) -> Result<pb::PersonalData, tonic::Status> {
    app.assistance(app.admin())
        .get_case_personal_data(pb::GetCasePersonalDataRequest { name: case.into() })
        .await
        .map(|answer| answer.into_inner().personal_data.unwrap_or_default())
}

/// The first column of every row of `sql`, a text column.
async fn query_texts(app: &TestApp, sql: &str) -> Vec<String> {
    use sea_orm::ConnectionTrait;
    let connection = app.store.connection();
    connection
        .query_all_raw(sea_orm::Statement::from_string(
            connection.get_database_backend(),
            sql,
        ))
        .await
        .unwrap_or_else(|error| panic!("SQL failed: {sql}: {error}"))
        .iter()
        .filter_map(|row| {
            row.try_get_by_index::<Option<String>>(0)
                .expect("a text column")
        })
        .collect()
}

/// The key ids that seal personal data now, sorted.
async fn keys_in_use(app: &TestApp) -> Vec<String> {
    let mut keys = query_texts(app, "SELECT personal_data_key FROM assistance_cases").await;
    keys.sort();
    keys.dedup();
    keys
}

/// Every sealed value stored now (`key:nonce:ciphertext`).
async fn sealed_values(app: &TestApp) -> Vec<String> {
    let mut values = Vec::new();
    for column in ["full_name_sealed", "contact_sealed", "notes_sealed"] {
        values.extend(
            query_texts(
                app,
                &format!("SELECT {column} FROM assistance_cases WHERE {column} IS NOT NULL"),
            )
            .await,
        );
    }
    values
}

/// The environment that points the binary at the test's database, with `keys`.
fn binary_environment(settings: &Settings, keys: &str, active: &str) -> Vec<(String, String)> {
    vec![
        (
            "TIPGRANTS__DATABASE__URL".into(),
            settings.database.url.expose_secret().to_string(),
        ),
        (
            "TIPGRANTS__DATABASE__SQLITE_PATH".into(),
            settings.database.sqlite_path.clone(),
        ),
        (
            "TIPGRANTS__DATABASE__MIGRATE_ON_START".into(),
            "false".into(),
        ),
        ("TIPGRANTS__PRIVACY__KEYS".into(), keys.into()),
        ("TIPGRANTS__PRIVACY__ACTIVE_KEY".into(), active.into()),
    ]
}

/// Runs `tipgrants keys rotate` against the test's database; its exit status and standard error.
async fn run_rotation(settings: &Settings, keys: &str, active: &str, batch: u32) -> (bool, String) {
    run_rotation_beside(settings, keys, active, batch, None).await
}

/// Runs `tipgrants keys rotate` while `reader` holds a snapshot open, as a long report does,
/// and ends the reader once the rotation says it waits for it (or once it ends).
async fn run_rotation_beside(
    settings: &Settings,
    keys: &str,
    active: &str,
    batch: u32,
    mut reader: Option<sea_orm::DatabaseTransaction>,
) -> (bool, String) {
    use tokio::io::AsyncBufReadExt;
    let mut rotation = tokio::process::Command::new(env!("CARGO_BIN_EXE_tipgrants"))
        .args(["keys", "rotate", "--batch", &batch.to_string()])
        .env_remove("RUST_LOG")
        .envs(binary_environment(settings, keys, active))
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("run tipgrants keys rotate");
    let mut lines = tokio::io::BufReader::new(rotation.stderr.take().expect("its stderr")).lines();
    let running = async {
        let mut said = String::new();
        while let Some(line) = lines.next_line().await.expect("read its stderr") {
            if line.contains("waiting for")
                && let Some(reader) = reader.take()
            {
                reader.rollback().await.expect("the reader ends");
            }
            said.push_str(&line);
            said.push('\n');
        }
        let status = rotation.wait().await.expect("the rotation ends");
        (status.success(), said)
    };
    // A guard against a hang, not a measure.
    tokio::time::timeout(std::time::Duration::from_secs(180), running)
        .await
        .expect("the rotation ends")
}

/// A read transaction on a connection of its own that has seen the cases: the snapshot a
/// long report or export holds (on PostgreSQL, REPEATABLE READ, as the server's reports).
async fn open_reader(settings: &Settings) -> sea_orm::DatabaseTransaction {
    use sea_orm::{ConnectionTrait, TransactionTrait};
    let connection = sea_orm::Database::connect(settings.database_url().expose_secret())
        .await
        .expect("a reader's connection");
    let reader = match connection.get_database_backend() {
        sea_orm::DatabaseBackend::Postgres => connection
            .begin_with_config(
                Some(sea_orm::IsolationLevel::RepeatableRead),
                Some(sea_orm::AccessMode::ReadOnly),
            )
            .await
            .expect("a snapshot"),
        _ => connection.begin().await.expect("a snapshot"),
    };
    reader
        .execute_unprepared("SELECT COUNT(*) FROM assistance_cases")
        .await
        .expect("the reader reads the cases");
    reader
}

/// Whether a code tells the client to try again (never a failure of the write itself).
fn is_retryable(code: Code) -> bool {
    matches!(code, Code::Unavailable | Code::Aborted)
}

/// Cases sealed with k1 before the rotation starts.
const CASES: usize = 40;

#[tokio::test]
async fn rotation_beside_a_stream_of_writes_finishes_and_every_write_succeeds_or_may_be_retried() {
    let directory = tempfile::tempdir().unwrap();
    let mut settings = test_settings(&directory).await;
    use_keys(&mut settings, KEY_1, "k1");
    let mut first = spawn_app_on(settings.clone()).await;
    let organization = first.organization("Shelter", "HT").await.name;
    let mut cases = Vec::new();
    for index in 0..CASES {
        let case = refer(&first, &organization, &format!("Victim {index}"))
            .await
            .expect("a referral");
        cases.push(case.name);
    }
    first.signal_shutdown().await.unwrap();
    let both = format!("{KEY_2},{KEY_1}");
    use_keys(&mut settings, &both, "k2");
    let app = Arc::new(spawn_app_on(settings.clone()).await);

    // Three clients write without pause (referrals, and changes that re-seal a case) while the
    // rotation re-seals two cases per transaction.
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..3)
        .map(|writer| {
            let (app, stop, cases, organization) = (
                app.clone(),
                stop.clone(),
                cases.clone(),
                organization.clone(),
            );
            tokio::spawn(async move {
                let mut answers = Vec::new();
                let mut round = 0;
                while !stop.load(Ordering::Relaxed) {
                    let answer = if round % 2 == 0 {
                        refer(&app, &organization, &format!("New victim {writer}-{round}"))
                            .await
                            .map(|_| ())
                    } else {
                        let case = &cases[(writer * 7 + round) % cases.len()];
                        change_notes(&app, case, &format!("round {round}")).await
                    };
                    answers.push(
                        answer.map_err(|status| (status.code(), status.message().to_string())),
                    );
                    round += 1;
                }
                answers
            })
        })
        .collect();
    let (finished, said) = run_rotation(&settings, &both, "k2", 2).await;
    stop.store(true, Ordering::Relaxed);
    let mut answers = Vec::new();
    for writer in writers {
        answers.extend(writer.await.unwrap());
    }

    let refused: Vec<_> = answers
        .iter()
        .filter_map(|answer| answer.as_ref().err())
        .filter(|(code, _)| !is_retryable(*code))
        .collect();
    assert!(
        finished,
        "the rotation failed: {said}; writes failed meanwhile: {refused:?}"
    );
    assert!(
        refused.is_empty(),
        "{} of {} writes failed with a code that is not worth a retry: {refused:?}",
        refused.len(),
        answers.len()
    );
    assert!(answers.iter().any(Result::is_ok), "the writers wrote");
    assert_eq!(keys_in_use(&app).await, ["k2"]);
    for case in &cases {
        let data = personal_data(&app, case).await.expect("opens with k2");
        assert!(data.full_name.starts_with("Victim "), "{}", data.full_name);
    }
}

/// The bytes the database keeps of its tables, indexes and TOAST: on SQLite the database file
/// and its write-ahead log; on PostgreSQL every page of every relation of the test's database
/// as the server holds it (`pageinspect`'s `get_raw_page`, dead row versions and free space
/// included). PostgreSQL's WAL and its backups are not read: see docs/security.md.
async fn database_bytes(app: &TestApp, settings: &Settings) -> Vec<u8> {
    match app.store.backend() {
        sea_orm::DatabaseBackend::Postgres => {
            app.execute_sql("CREATE EXTENSION IF NOT EXISTS pageinspect")
                .await;
            app.query_column(
                "SELECT get_raw_page(c.oid::regclass::text, 'main', block::int) \
                 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace, \
                      generate_series(0, pg_relation_size(c.oid) / current_setting('block_size')::int - 1) AS block \
                 WHERE c.relkind IN ('r', 't', 'i', 'm') \
                   AND n.nspname IN (current_schema(), 'pg_toast')",
            )
            .await
            .concat()
        }
        _ => ["", "-wal"]
            .iter()
            .flat_map(|suffix| {
                std::fs::read(format!("{}{suffix}", settings.database.sqlite_path))
                    .unwrap_or_default()
            })
            .collect(),
    }
}

/// The sealed values of which any part (nonce or ciphertext) is still somewhere in `bytes`.
/// One pass over the bytes: candidates are found by their first 16 characters, then compared whole.
fn still_stored<'a>(values: &'a [String], bytes: &[u8]) -> Vec<&'a String> {
    const PREFIX: usize = 16;
    let mut parts: std::collections::HashMap<&[u8], Vec<(usize, &[u8])>> = Default::default();
    for (index, value) in values.iter().enumerate() {
        for part in value.splitn(3, ':').skip(1).map(str::as_bytes) {
            assert!(
                part.len() >= PREFIX,
                "a sealed part is at least {PREFIX} characters"
            );
            parts
                .entry(&part[..PREFIX])
                .or_default()
                .push((index, part));
        }
    }
    let mut found = std::collections::BTreeSet::new();
    for start in 0..bytes.len().saturating_sub(PREFIX - 1) {
        let Some(candidates) = parts.get(&bytes[start..start + PREFIX]) else {
            continue;
        };
        for (index, part) in candidates {
            if bytes[start..].starts_with(part) {
                found.insert(*index);
            }
        }
    }
    found.into_iter().map(|index| &values[index]).collect()
}

#[tokio::test]
async fn once_the_rotation_retires_a_key_no_value_it_sealed_is_left_in_the_database_files_even_beside_a_long_reader()
 {
    let directory = tempfile::tempdir().unwrap();
    let mut settings = test_settings(&directory).await;
    use_keys(&mut settings, KEY_1, "k1");
    let mut first = spawn_app_on(settings.clone()).await;
    let organization = first.organization("Shelter", "HT").await.name;
    let mut cases = Vec::new();
    for index in 0..30 {
        let case = refer(&first, &organization, &format!("Victim {index}"))
            .await
            .expect("a referral");
        cases.push(case.name);
    }
    // Changes re-seal a case's values, leaving the replaced ones behind in free space and the log.
    let mut sealed_with_k1 = sealed_values(&first).await;
    for round in 0..2 {
        for case in cases.iter().step_by(3) {
            change_notes(&first, case, &format!("changed in round {round}"))
                .await
                .expect("a change");
        }
        sealed_with_k1.extend(sealed_values(&first).await);
    }
    sealed_with_k1.sort();
    sealed_with_k1.dedup();
    first.signal_shutdown().await.unwrap();
    let both = format!("{KEY_2},{KEY_1}");
    use_keys(&mut settings, &both, "k2");
    let app = spawn_app_on(settings.clone()).await;
    assert!(
        !still_stored(&sealed_with_k1, &database_bytes(&app, &settings).await).is_empty(),
        "the scan finds the values sealed with k1 before the rotation"
    );

    // A long report's snapshot, opened before the rotation, sees the values sealed with k1.
    let reader = open_reader(&settings).await;

    let (finished, said) = run_rotation_beside(&settings, &both, "k2", 7, Some(reader)).await;

    assert!(finished, "the rotation failed: {said}");
    assert!(
        said.contains("waiting for"),
        "the rotation waited for the reader: {said}"
    );
    assert_eq!(keys_in_use(&app).await, ["k2"]);
    let left = still_stored(&sealed_with_k1, &database_bytes(&app, &settings).await);
    assert!(
        left.is_empty(),
        "{} of {} values sealed with k1 are still in the database files",
        left.len(),
        sealed_with_k1.len()
    );
    let data = personal_data(&app, &cases[0]).await.expect("opens with k2");
    assert_eq!(data.notes, "changed in round 1");
}

/// Why the server refuses to start with `settings`.
async fn refusal_to_start(settings: &Settings) -> String {
    let error = match tipgrants::startup::Application::build(settings.clone()).await {
        Ok(_) => panic!("the server started with other material under a known key id"),
        Err(error) => error.to_string(),
    };
    assert!(error.starts_with("privacy: "), "{error}");
    for material in MATERIAL {
        assert!(!error.contains(material), "a key in the message: {error}");
    }
    error
}

#[tokio::test]
async fn a_server_given_other_material_under_a_known_key_id_refuses_to_start_and_names_the_id() {
    let directory = tempfile::tempdir().unwrap();
    let mut settings = test_settings(&directory).await;
    use_keys(&mut settings, KEY_1, "k1");
    let mut first = spawn_app_on(settings.clone()).await;
    let organization = first.organization("Shelter", "HT").await.name;
    let case = refer(&first, &organization, "Victim 1").await.unwrap().name;
    first.signal_shutdown().await.unwrap();

    use_keys(&mut settings, IMPOSTOR_1, "k1");
    let refused = refusal_to_start(&settings).await;
    let with_new_key = format!("{KEY_2},{IMPOSTOR_1}");
    let (rotated, said) = run_rotation(&settings, &with_new_key, "k2", 5).await;

    assert!(refused.contains("key id \"k1\""), "{refused}");
    assert!(refused.contains("fingerprint differs"), "{refused}");
    assert!(
        !rotated,
        "the rotation ran with other material under k1: {said}"
    );
    assert!(said.contains("key id \"k1\""), "{said}");
    for material in MATERIAL {
        assert!(!said.contains(material), "a key in the message: {said}");
    }
    // The right key still starts, and nothing was sealed with the other one.
    use_keys(&mut settings, KEY_1, "k1");
    let app = spawn_app_on(settings.clone()).await;
    assert_eq!(keys_in_use(&app).await, ["k1"]);
    assert_eq!(
        personal_data(&app, &case).await.unwrap().full_name,
        "Victim 1"
    );
}

#[tokio::test]
async fn a_key_id_is_bound_to_its_key_from_the_first_start_before_it_seals_anything() {
    let directory = tempfile::tempdir().unwrap();
    let mut settings = test_settings(&directory).await;
    use_keys(&mut settings, KEY_1, "k1");
    let mut first = spawn_app_on(settings.clone()).await;
    let recorded = first.audit_events_of("privacyKeys/k1").await;
    first.signal_shutdown().await.unwrap();

    use_keys(&mut settings, IMPOSTOR_1, "k1");
    let refused = refusal_to_start(&settings).await;

    assert!(refused.contains("key id \"k1\""), "{refused}");
    assert_eq!(
        recorded.len(),
        1,
        "the first start records k1's fingerprint"
    );
    assert_eq!(recorded[0].method, "startup");
}

/// Empties the fingerprints, as in a database sealed before they were kept (switching off the
/// append-only triggers first, as someone with rights over the schema would).
async fn forget_fingerprints(settings: &Settings) {
    use sea_orm::ConnectionTrait;
    let store = tipgrants::store::Store::connect(&settings.database, &settings.database_url())
        .await
        .expect("connect to the test database");
    let connection = store.connection();
    let statements: &[&str] = match store.backend() {
        sea_orm::DatabaseBackend::Postgres => &[
            "ALTER TABLE privacy_keys DISABLE TRIGGER privacy_keys_append_only",
            "DELETE FROM privacy_keys",
            "ALTER TABLE privacy_keys ENABLE TRIGGER privacy_keys_append_only",
        ],
        _ => &[
            "DROP TRIGGER privacy_keys_no_delete",
            "DELETE FROM privacy_keys",
        ],
    };
    let listing = match store.backend() {
        sea_orm::DatabaseBackend::Postgres => {
            "SELECT COUNT(*) FROM pg_tables WHERE tablename = 'privacy_keys'"
        }
        _ => "SELECT COUNT(*) FROM sqlite_master WHERE name = 'privacy_keys'",
    };
    let kept = connection
        .query_one_raw(sea_orm::Statement::from_string(store.backend(), listing))
        .await
        .expect("list the tables")
        .and_then(|row| row.try_get_by_index::<i64>(0).ok())
        == Some(1);
    // Before fingerprints were kept there is nothing to forget.
    if kept {
        for statement in statements {
            connection
                .execute_unprepared(statement)
                .await
                .unwrap_or_else(|error| panic!("{statement}: {error}"));
        }
    }
    store.close().await;
}

#[tokio::test]
async fn a_database_sealed_before_fingerprints_were_kept_accepts_only_the_key_that_opens_its_values()
 {
    let directory = tempfile::tempdir().unwrap();
    let mut settings = test_settings(&directory).await;
    use_keys(&mut settings, KEY_1, "k1");
    let mut first = spawn_app_on(settings.clone()).await;
    let organization = first.organization("Shelter", "HT").await.name;
    let case = refer(&first, &organization, "Victim 1").await.unwrap().name;
    first.signal_shutdown().await.unwrap();
    forget_fingerprints(&settings).await;

    use_keys(&mut settings, IMPOSTOR_1, "k1");
    let refused = refusal_to_start(&settings).await;
    use_keys(&mut settings, KEY_1, "k1");
    let mut second = spawn_app_on(settings.clone()).await;
    let opened = personal_data(&second, &case).await.unwrap();
    second.signal_shutdown().await.unwrap();
    use_keys(&mut settings, IMPOSTOR_1, "k1");
    let refused_again = refusal_to_start(&settings).await;

    assert!(
        refused.contains("does not open the values sealed with \"k1\""),
        "{refused}"
    );
    assert_eq!(opened.full_name, "Victim 1");
    assert!(
        refused_again.contains("fingerprint differs"),
        "the key that opened the values has its fingerprint now: {refused_again}"
    );
}

#[tokio::test]
async fn of_two_writers_that_lock_two_cases_in_opposite_orders_one_commits_and_the_other_may_retry()
{
    use tipgrants::domain::access::{Actor, Scope};
    use tipgrants::domain::names::AssistanceCaseName;
    use tipgrants::store::{CallContext, Store};
    let directory = tempfile::tempdir().unwrap();
    let mut settings = test_settings(&directory).await;
    use_keys(&mut settings, KEY_1, "k1");
    settings.database.sqlite_busy_timeout_ms = 200;
    let app = spawn_app_on(settings.clone()).await;
    let organization = app.organization("Shelter", "HT").await.name;
    let mut cases = Vec::new();
    for victim in ["Victim 1", "Victim 2"] {
        let name = refer(&app, &organization, victim).await.unwrap().name;
        cases.push(AssistanceCaseName::new(
            name.trim_start_matches("assistanceCases/"),
        ));
    }
    // The second writer connects as another process (`tipgrants keys rotate`) does.
    let other = Store::connect(&settings.database, &settings.database_url())
        .await
        .expect("a second connection");
    let call = CallContext {
        actor: Actor::system(),
        method: "test".into(),
        request_id: String::new(),
    };
    let (second_holds_its_case, it_does) = tokio::sync::oneshot::channel::<()>();
    // The first writer holds the first case before the second starts.
    let tx = app.store.begin(&call).await.unwrap();
    tx.case_for_update(&Scope::All, &cases[0], None)
        .await
        .unwrap();

    let first = async {
        // Waits until the second writer holds the other case (or could not start).
        let _holds = it_does.await;
        tx.case_for_update(&Scope::All, &cases[1], None).await?;
        tx.commit().await
    };
    let second = async {
        let signal = second_holds_its_case;
        let tx = other.begin(&call).await?;
        tx.case_for_update(&Scope::All, &cases[1], None).await?;
        let _sent = signal.send(());
        tx.case_for_update(&Scope::All, &cases[0], None).await?;
        tx.commit().await
    };
    let (first, second) = tokio::join!(first, second);

    let outcome = format!("{first:?} {second:?}");
    let mut failed: Vec<_> = [first, second]
        .into_iter()
        .filter_map(Result::err)
        .collect();
    assert_eq!(failed.len(), 1, "exactly one writer loses: {outcome}");
    let error = failed.remove(0);
    assert!(error.is_transient(), "{error:?}");
    let status = tonic::Status::from(error);
    let expected = match app.store.backend() {
        // A deadlock: PostgreSQL rolls one transaction back.
        sea_orm::DatabaseBackend::Postgres => (Code::Aborted, "TRANSACTION_CONFLICT"),
        // The second cannot take SQLite's one write lock within its busy timeout.
        _ => (Code::Unavailable, "DATABASE_BUSY"),
    };
    assert_eq!(
        (status.code(), reason(&status).as_str()),
        expected,
        "{status:?}"
    );
    use tonic_types::StatusExt;
    assert!(status.get_details_retry_info().is_some(), "{status:?}");
    other.close().await;
}

#[tokio::test]
async fn keys_generate_writes_a_new_key_file_only_its_owner_can_read_and_never_overwrites_one() {
    use std::os::unix::fs::PermissionsExt;
    let directory = tempfile::tempdir().expect("temporary directory");
    let path = directory.path().join("privacy-key");
    let generate = || {
        std::process::Command::new(env!("CARGO_BIN_EXE_tipgrants"))
            .args(["keys", "generate", "--id", "k9", "--output"])
            .arg(&path)
            .env_remove("RUST_LOG")
            // A permissive umask: the file must still be 0600.
            .output()
            .expect("run tipgrants keys generate")
    };

    let first = generate();
    let written = std::fs::read_to_string(&path).expect("the key file");
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    let second = generate();

    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    assert!(first.stdout.is_empty(), "the key is not printed as well");
    assert_eq!(mode, 0o600);
    let entry = written.trim_end();
    assert!(entry.starts_with("k9:") && entry.len() == 3 + 44, "{entry}");
    assert!(!second.status.success());
    assert!(
        String::from_utf8_lossy(&second.stderr).contains("exists already"),
        "{}",
        String::from_utf8_lossy(&second.stderr)
    );
    assert_eq!(std::fs::read_to_string(&path).unwrap(), written);
}
