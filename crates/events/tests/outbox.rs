//! The outbox on both databases: rows come back in order until marked sent, the backlog and its
//! age are measured, and pruning removes only sent rows older than the cut.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use chrono::{TimeDelta, Utc};
use imprint_events::Outbox;
use imprint_events::envelope::{NewEvent, PAPER_DELETED};
use imprint_platform::Database;
use imprint_platform::settings::Settings;
use sea_orm::{ConnectionTrait, StatementBuilder};

const OUTBOX: Outbox = Outbox {
    table: "test_outbox",
};

async fn database(url: &str) -> Database {
    let db = Database::connect(url, &Settings::default().database)
        .await
        .unwrap();
    let backend = db.backend();
    db.conn()
        .execute(StatementBuilder::build(&OUTBOX.create_table(), &backend))
        .await
        .unwrap();
    db.conn()
        .execute(StatementBuilder::build(&OUTBOX.create_index(), &backend))
        .await
        .unwrap();
    db
}

fn event(n: i64) -> NewEvent {
    NewEvent::deleted(PAPER_DELETED, "paper", uuid::Uuid::now_v7(), n, Utc::now())
}

async fn rows_in_order_backlog_and_pruning(db: Database) {
    for n in 0..5 {
        OUTBOX.append(db.conn(), &event(n)).await.unwrap();
    }
    let pending = OUTBOX.pending(db.conn(), 3, 1 << 20).await.unwrap();
    assert_eq!(pending.len(), 3);
    assert!(pending.windows(2).all(|w| w[0].id < w[1].id), "in order");
    assert_eq!(pending[0].routing_key, "paper.deleted");
    assert!(pending[0].traceparent.starts_with("00-"));
    let decoded = imprint_events::envelope::decode(&pending[0].body).unwrap();
    assert_eq!(decoded.aggregate_version, 1, "deleted after version 0");

    // A byte budget smaller than one body still yields one row, then stops.
    let capped = OUTBOX.pending(db.conn(), 10, 1).await.unwrap();
    assert_eq!(capped.len(), 1);
    assert_eq!(capped[0].id, pending[0].id);

    let (count, oldest) = OUTBOX.backlog(db.conn()).await.unwrap();
    assert_eq!(count, 5);
    assert!(oldest.is_some());

    let sent_long_ago = Utc::now() - TimeDelta::hours(48);
    OUTBOX
        .mark_sent(db.conn(), &[pending[0].id, pending[1].id], sent_long_ago)
        .await
        .unwrap();
    OUTBOX
        .mark_sent(db.conn(), &[pending[2].id], Utc::now())
        .await
        .unwrap();
    let next = OUTBOX.pending(db.conn(), 10, 1 << 20).await.unwrap();
    assert_eq!(next.len(), 2, "sent rows are not pending");
    assert!(next[0].id > pending[2].id);

    let pruned = OUTBOX
        .prune(db.conn(), Utc::now() - TimeDelta::hours(24))
        .await
        .unwrap();
    assert_eq!(pruned, 2, "only rows sent before the cut go");
    assert_eq!(
        OUTBOX.backlog(db.conn()).await.unwrap().0,
        2,
        "unsent rows stay"
    );
    db.close().await;
}

#[tokio::test]
async fn outbox_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let db = database(&imprint_testkit::sqlite_url(dir.path(), "outbox.db")).await;
    rows_in_order_backlog_and_pruning(db).await;
}

#[tokio::test]
async fn outbox_on_postgres() {
    let pg = imprint_testkit::PgDatabase::create().await;
    let db = database(&pg.url).await;
    rows_in_order_backlog_and_pruning(db).await;
}
