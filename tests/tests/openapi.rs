//! The public API against its own OpenAPI document, checked by a client nobody on the team
//! wrote: schemathesis generates requests from `/openapi.json` (valid and invalid parameters)
//! against `imprint serve --demo`, and fails on any server error or any response that breaks
//! the document (schema, status code, content type).

#![allow(clippy::panic, clippy::unwrap_used)]

use imprint_system_tests::{Process, python};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemathesis_finds_no_server_error_and_no_response_off_the_schema() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().to_str().unwrap().to_owned();
    let server = Process::serve_capturing(&["--demo", "--data-dir", &data_dir], &[]).await;
    server.wait_for_stdout("Imprint demo loaded").await;
    let schema = format!("http://{}/openapi.json", server.public);
    let output = tokio::process::Command::new(python())
        .args(["-m", "schemathesis.cli", "run", &schema])
        .args([
            "--checks",
            "not_a_server_error,response_schema_conformance,status_code_conformance,content_type_conformance",
        ])
        .args(["--phases", "examples,coverage,fuzzing"])
        // One worker: CPython 3.11's `ast` is not thread-safe (gh-106905, "AST constructor
        // recursion depth mismatch" inside hypothesis), which failed a run with two.
        .args(["--max-examples", "40", "--workers", "1"])
        .args(["--seed", "1"])
        .env("NO_COLOR", "1")
        .output()
        .await
        .unwrap_or_else(|e| panic!("running schemathesis with {}: {e}", python().display()));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "schemathesis found problems (scripts/test installs it from tests/contract/requirements.txt)\n--- stdout\n{stdout}\n--- stderr\n{stderr}"
    );
}
