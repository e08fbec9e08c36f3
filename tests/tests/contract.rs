//! The contract checked by an independent client: `tests/contract/contract_test.py` (Python
//! grpcio with stubs generated from `proto/`) against the real binary, on SQLite and on
//! PostgreSQL.

#![allow(clippy::panic)]

use imprint_system_tests::{imprint_binary, python, repo_root};
use imprint_testkit::PgDatabase;

async fn run_contract(database_url: Option<&str>) {
    let script = repo_root().join("tests/contract/contract_test.py");
    let mut command = tokio::process::Command::new(python());
    command.arg(&script).arg("--imprint").arg(imprint_binary());
    if let Some(url) = database_url {
        command.arg("--database-url").arg(url);
    }
    let output = command.output().await.unwrap_or_else(|e| {
        panic!(
            "running {} with {}: {e}",
            script.display(),
            python().display()
        )
    });
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the Python contract test failed ({}).\nIts packages come from tests/contract/requirements.txt; \
         scripts/test installs them and sets IMPRINT_PYTHON.\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        output.status
    );
    assert!(stdout.contains("every contract check passed"), "{stdout}");
}

#[tokio::test]
async fn python_grpcio_client_on_sqlite() {
    run_contract(None).await;
}

#[tokio::test]
async fn python_grpcio_client_on_postgres() {
    let db = PgDatabase::create().await;
    run_contract(Some(&db.url)).await;
}
