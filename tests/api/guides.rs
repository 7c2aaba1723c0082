//! The guides in `docs/guides/` run as written. Each guide's ```sh blocks run
//! in order, in one `bash -euo pipefail` session, against a fresh `tipgrants`
//! binary (port 0, read back from its log; the pass's database), with that
//! binary and grpcurl on the `PATH`. Blocks fenced
//! otherwise (```text for answers) never run; the conventions, including the
//! `<!-- guides-test: ... -->` markers, are in `docs/guides/README.md`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::end_to_end::{Server, grpcurl_path};

/// The guides, in the order a newcomer reads them.
const GUIDES: &[&str] = &[
    "administrator.md",
    "program-officer.md",
    "grantee.md",
    "grants-officer.md",
    "case-worker.md",
];

/// The variables a guide's setup block tells the reader to set; the test sets the same ones.
const SETUP_VARIABLES: &[&str] = &["PATH", "ADDRESS", "TOKEN"];

/// The environment every guide's server gets over the test's settings: a key for victims'
/// personal data, as the case worker's guide tells the reader to give one (a test key, never a real one).
const GUIDE_ENVIRONMENT: &[(&str, &str)] = &[(
    "TIPGRANTS__PRIVACY__KEYS",
    "k1:AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=",
)];

/// How long one guide may take before the test gives up on it.
const GUIDE_TIMEOUT: Duration = Duration::from_secs(300);

/// What the test does with a fenced block.
#[derive(Debug, PartialEq)]
enum Role {
    /// A ```sh block: run as written.
    Run,
    /// The ```sh block marked `setup`: the test sets the variables it assigns.
    Setup,
    /// A ```sh block marked `skip` (another terminal, clean-up), or any other fence.
    Skip,
}

#[derive(Debug)]
struct Block {
    /// 1-based number among the guide's fenced blocks.
    number: usize,
    /// Line of the opening fence.
    line: usize,
    role: Role,
    text: String,
}

fn guides_directory() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/guides")
}

/// Splits a guide into its fenced blocks; a marker comment applies to the fence right below it.
fn fenced_blocks(guide: &str, markdown: &str) -> Vec<Block> {
    let mut blocks = Vec::new();
    let mut marker: Option<(usize, String)> = None;
    let mut open: Option<Block> = None;
    for (index, line) in markdown.lines().enumerate() {
        let number = index + 1;
        let trimmed = line.trim();
        if let Some(block) = open.as_mut() {
            if trimmed == "```" {
                blocks.extend(open.take());
            } else {
                block.text.push_str(line);
                block.text.push('\n');
            }
            continue;
        }
        if let Some(info) = trimmed.strip_prefix("```") {
            let role = match (info.trim(), marker.take()) {
                ("sh", None) => Role::Run,
                ("sh", Some((_, kind))) if kind == "setup" => Role::Setup,
                (_, Some((_, kind))) if kind == "skip" => Role::Skip,
                ("sh", Some((at, kind))) => {
                    panic!("{guide}:{at}: unknown marker `guides-test: {kind}` (use setup or skip)")
                }
                (_, Some((at, _))) => {
                    panic!("{guide}:{at}: a marker only applies to a ```sh block")
                }
                (_, None) => Role::Skip,
            };
            open = Some(Block {
                number: blocks.len() + 1,
                line: number,
                role,
                text: String::new(),
            });
            continue;
        }
        if let Some((at, _)) = marker.take() {
            panic!(
                "{guide}:{at}: a `guides-test` marker must stand on the line right above a fence"
            );
        }
        if let Some(kind) = trimmed
            .strip_prefix("<!-- guides-test:")
            .and_then(|rest| rest.strip_suffix("-->"))
        {
            marker = Some((number, kind.trim().to_string()));
        }
    }
    assert!(open.is_none(), "{guide}: a fence is never closed");
    blocks
}

/// The shell variables a block assigns (`NAME=...` or `export NAME=...` at the start of a line).
fn assigned_variables(text: &str) -> BTreeSet<String> {
    text.lines()
        .filter_map(|line| {
            let line = line.trim_start();
            let line = line.strip_prefix("export ").unwrap_or(line);
            let (name, _) = line.split_once('=')?;
            let is_name = !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
            is_name.then(|| name.to_string())
        })
        .collect()
}

/// Single-quotes a value for bash.
fn quoted(value: &str) -> String {
    format!("'{}'", value.replace('\'', r"'\''"))
}

/// The script of one guide: the test's setup, then every runnable block, each announcing its
/// number in `progress` first so that a failure can name it.
fn script_of(
    guide: &str,
    blocks: &[Block],
    server: &Server,
    bin: &Path,
    progress: &Path,
) -> String {
    let setups: Vec<&Block> = blocks.iter().filter(|b| b.role == Role::Setup).collect();
    assert_eq!(
        setups.len(),
        1,
        "{guide}: needs exactly one ```sh block marked `<!-- guides-test: setup -->`"
    );
    let expected: BTreeSet<String> = SETUP_VARIABLES.iter().map(|v| v.to_string()).collect();
    assert_eq!(
        assigned_variables(&setups[0].text),
        expected,
        "{guide}: the setup block (line {}) must set exactly the variables the test sets",
        setups[0].line
    );
    let mut script = format!(
        "set -euo pipefail\n\
         export PATH={bin}:\"$PATH\"\n\
         ADDRESS={address}\n\
         TOKEN=$(cat {token_file})\n",
        bin = quoted(&bin.display().to_string()),
        address = quoted(&server.address),
        token_file = quoted(&server.admin_token_file().display().to_string()),
    );
    for block in blocks.iter().filter(|block| block.role == Role::Run) {
        script.push_str(&format!(
            "echo {} > {}\n",
            block.number,
            quoted(&progress.display().to_string())
        ));
        script.push_str(&block.text);
    }
    script.push_str(&format!(
        "echo done > {}\n",
        quoted(&progress.display().to_string())
    ));
    script
}

/// Runs one guide against a fresh server; panics naming the block that failed.
fn run_guide(guide: &str) {
    let markdown = std::fs::read_to_string(guides_directory().join(guide))
        .unwrap_or_else(|error| panic!("read docs/guides/{guide}: {error}"));
    let blocks = fenced_blocks(guide, &markdown);
    assert!(
        blocks.iter().any(|block| block.role == Role::Run),
        "{guide}: no ```sh block to run"
    );

    let server = Server::start_with(GUIDE_ENVIRONMENT);
    // grpcurl and tipgrants as the reader calls them: `grpcurl`, `tipgrants`, found on PATH.
    let bin = server.directory().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::os::unix::fs::symlink(grpcurl_path(), bin.join("grpcurl")).unwrap();
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_tipgrants"), bin.join("tipgrants")).unwrap();
    let progress = server.directory().join("guide-progress");
    let output_path = server.directory().join("guide-output");
    let script = script_of(guide, &blocks, &server, &bin, &progress);

    let output = std::fs::File::create(&output_path).unwrap();
    let mut bash = Command::new("bash")
        .args(["-euo", "pipefail", "-c", &script])
        .current_dir(server.directory())
        .stdin(Stdio::null())
        .stdout(Stdio::from(output.try_clone().unwrap()))
        .stderr(Stdio::from(output))
        .spawn()
        .expect("run bash");
    let deadline = Instant::now() + GUIDE_TIMEOUT;
    let status = loop {
        if let Some(status) = bash.try_wait().expect("poll bash") {
            break Some(status);
        }
        if Instant::now() >= deadline {
            let _killed = bash.kill();
            let _reaped = bash.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let reached = std::fs::read_to_string(&progress).unwrap_or_default();
    let reached = reached.trim();
    if status.is_some_and(|status| status.success()) && reached == "done" {
        return;
    }
    let failed = blocks
        .iter()
        .find(|block| reached == block.number.to_string());
    let (number, line, text) = failed.map_or((0, 0, ""), |block| {
        (block.number, block.line, block.text.as_str())
    });
    let outcome = match status {
        Some(status) => format!("exited with {status}"),
        None => format!("did not finish within {GUIDE_TIMEOUT:?}"),
    };
    panic!(
        "docs/guides/{guide}: block {number} (the fence at line {line}) {outcome}:\n\
         {text}\n--- output of the guide ---\n{}\n--- server log ---\n{}",
        std::fs::read_to_string(&output_path).unwrap_or_default(),
        server.log()
    );
}

#[test]
fn the_administrator_guide_runs_as_written_against_a_fresh_server() {
    run_guide("administrator.md");
}

#[test]
fn the_program_officer_guide_runs_as_written_against_a_fresh_server() {
    run_guide("program-officer.md");
}

#[test]
fn the_case_worker_guide_runs_as_written_against_a_fresh_server() {
    run_guide("case-worker.md");
}

#[test]
fn the_grantee_guide_runs_as_written_against_a_fresh_server() {
    run_guide("grantee.md");
}

#[test]
fn the_grants_officer_guide_runs_as_written_against_a_fresh_server() {
    run_guide("grants-officer.md");
}

#[test]
fn every_guide_in_docs_guides_is_run_by_a_test() {
    let found: BTreeSet<String> = std::fs::read_dir(guides_directory())
        .expect("docs/guides exists")
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".md") && name != "README.md")
        .collect();
    let tested: BTreeSet<String> = GUIDES.iter().map(|guide| guide.to_string()).collect();
    assert_eq!(found, tested, "add each guide to GUIDES and give it a test");
}

#[test]
fn the_administrator_guide_lists_every_service_the_server_serves() {
    use prost::Message;
    let set = prost_types::FileDescriptorSet::decode(tipgrants::pb::FILE_DESCRIPTOR_SET)
        .expect("descriptor set");
    let served: BTreeSet<String> = set
        .file
        .iter()
        .filter(|file| file.package() == "tipgrants.v1")
        .flat_map(|file| file.service.iter())
        .map(|service| format!("tipgrants.v1.{}", service.name()))
        .collect();
    let guide = std::fs::read_to_string(guides_directory().join("administrator.md"))
        .expect("the administrator guide");
    // The answer of `grpcurl ... list`: the ```text block right after it.
    let listing = guide
        .split_once("\"$ADDRESS\" list\n```\n```text\n")
        .and_then(|(_, after)| after.split_once("```"))
        .map(|(listing, _)| listing)
        .expect("the guide shows what grpcurl list answers");
    let listed: BTreeSet<String> = listing
        .lines()
        .filter(|line| line.starts_with("tipgrants.v1."))
        .map(str::to_string)
        .collect();
    assert_eq!(listed, served, "docs/guides/administrator.md: grpcurl list");
}

#[test]
fn fences_and_markers_are_read_as_the_guides_readme_describes() {
    let markdown = "intro\n\
        <!-- guides-test: skip -->\n```sh\ncargo run --release\n```\n\
        <!-- guides-test: setup -->\n```sh\nexport PATH=\"$PWD/.tools/bin:$PATH\"\nADDRESS=127.0.0.1:50051\nTOKEN=$(cat file)\n```\n\
        ```sh\ngrpcurl list\n```\n\
        ```text\n{}\n```\n";

    let blocks = fenced_blocks("example.md", markdown);

    let roles: Vec<&Role> = blocks.iter().map(|block| &block.role).collect();
    assert_eq!(roles, [&Role::Skip, &Role::Setup, &Role::Run, &Role::Skip]);
    assert_eq!(blocks[2].text, "grpcurl list\n");
    assert_eq!((blocks[2].number, blocks[2].line), (3, 12));
    assert_eq!(
        assigned_variables(&blocks[1].text),
        ["ADDRESS", "PATH", "TOKEN"]
            .into_iter()
            .map(String::from)
            .collect()
    );
}
