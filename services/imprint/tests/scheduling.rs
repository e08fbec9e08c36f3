//! Scheduled publication and withdrawal: an embargoed paper is a draft on every public path until
//! its time and public within 5 s after it; a paper due while nothing ran is published at the
//! next start with its scheduled time; an end date withdraws; a paper edited into a state that
//! cannot be published is not published, and the failure is on the paper and in a metric; bad
//! schedules are refused naming the field.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, Utc};
use common::{Backend, TestApp, draft, eventually, expect_code, violated_fields};
use imprint_proto::convert::{from_timestamp, timestamp};
use imprint_proto::papers::{
    CancelScheduleRequest, GetPaperRequest, ListPaperRevisionsRequest, Paper, PaperStatus,
    RevisionKind, ScheduleAction, SchedulePublishRequest, ScheduleUnpublishRequest,
    UpdatePaperRequest, get_paper_request,
};
use imprint_testkit::get;
use tonic::Code;

/// The public paths where a paper could show, each with what would give it away.
fn public_paths(paper: &Paper, neighbour: &Paper, word: &str) -> Vec<String> {
    vec![
        format!("/v1/papers/{}", paper.slug),
        format!("/v1/pages/{}", paper.slug),
        format!("/v1/papers/{}/citation?format=bibtex", paper.slug),
        "/v1/papers?limit=100".to_owned(),
        format!("/v1/search?q={word}"),
        format!("/v1/papers/{}/related?limit=50", neighbour.slug),
        "/feed.atom".to_owned(),
        "/sitemap.xml".to_owned(),
    ]
}

/// Whether any public path shows `paper` (its id, slug or distinctive word).
async fn shown_anywhere(
    app: &TestApp,
    paper: &Paper,
    neighbour: &Paper,
    word: &str,
) -> Vec<String> {
    let mut shown = Vec::new();
    for path in public_paths(paper, neighbour, word) {
        let r = get(app.public, &path, &[]).await.unwrap();
        let body = r.body.to_lowercase();
        if r.status == 200
            && (body.contains(&paper.id) || body.contains(&paper.slug) || body.contains(word))
        {
            shown.push(path);
        }
    }
    shown
}

async fn paper(app: &TestApp, id: &str) -> Paper {
    app.papers
        .clone()
        .get_paper(GetPaperRequest {
            key: Some(get_paper_request::Key::Id(id.to_owned())),
            ..GetPaperRequest::default()
        })
        .await
        .unwrap()
        .into_inner()
        .paper
        .unwrap()
}

async fn schedule_publish(
    app: &TestApp,
    id: &str,
    at: DateTime<Utc>,
) -> Result<Paper, tonic::Status> {
    app.papers
        .clone()
        .schedule_publish(SchedulePublishRequest {
            id: id.to_owned(),
            publish_time: Some(timestamp(at)),
            ..SchedulePublishRequest::default()
        })
        .await
        .map(|r| r.into_inner().paper.unwrap())
}

async fn schedule_unpublish(
    app: &TestApp,
    id: &str,
    at: DateTime<Utc>,
) -> Result<Paper, tonic::Status> {
    app.papers
        .clone()
        .schedule_unpublish(ScheduleUnpublishRequest {
            id: id.to_owned(),
            unpublish_time: Some(timestamp(at)),
            ..ScheduleUnpublishRequest::default()
        })
        .await
        .map(|r| r.into_inner().paper.unwrap())
}

fn time_of(t: Option<&prost_types::Timestamp>) -> Option<DateTime<Utc>> {
    t.map(|t| from_timestamp(t).unwrap())
}

/// Whole seconds: the times sent, so that comparisons do not depend on sub-second rounding.
fn in_secs(from_now: i64) -> DateTime<Utc> {
    let t = Utc::now() + TimeDelta::seconds(from_now);
    DateTime::from_timestamp(t.timestamp(), 0).unwrap()
}

async fn an_embargo_holds_until_its_time_then_lifts_within_five_seconds(backend: Backend) {
    let mut app = TestApp::spawn(backend).await;
    let author = app.author("Imran Khan").await;
    let mut neighbour = draft("Countering Violent Extremism in Pakistan", &[&author]);
    neighbour.topics = vec!["Violent Extremism".into()];
    let neighbour = app.publish(neighbour).await;
    let word = "embargoquixotic";
    let mut embargoed = draft("Embargoquixotic Report on Violent Extremism", &[&author]);
    embargoed.topics = vec!["Violent Extremism".into()];
    embargoed.summary = "Violent extremism in Pakistan, embargoquixotic findings.".into();
    let embargoed = app.create(embargoed).await.unwrap();

    let due = in_secs(3);
    let scheduled = schedule_publish(&app, &embargoed.id, due).await.unwrap();
    assert_eq!(scheduled.status(), PaperStatus::Draft);
    assert_eq!(
        time_of(scheduled.scheduled_publish_time.as_ref()),
        Some(due)
    );
    assert_eq!(scheduled.version, embargoed.version + 1);

    // Until its time, nowhere in public.
    let mut looks = 0;
    while Utc::now() < due - TimeDelta::milliseconds(300) {
        let shown = shown_anywhere(&app, &embargoed, &neighbour, word).await;
        assert!(shown.is_empty(), "shown before its time at {shown:?}");
        looks += 1;
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(looks >= 5, "looked {looks} times before the time");

    // Then public within 5 s, with its scheduled time as its publication date.
    let deadline =
        Instant::now() + Duration::from_secs(5) + (due - Utc::now()).to_std().unwrap_or_default();
    loop {
        let r = get(app.public, &format!("/v1/papers/{}", embargoed.slug), &[])
            .await
            .unwrap();
        if r.status == 200 {
            break;
        }
        assert!(Instant::now() < deadline, "not public 5 s after its time");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let lifted_after = Utc::now() - due;
    let published = paper(&app, &embargoed.id).await;
    assert_eq!(published.status(), PaperStatus::Published);
    assert_eq!(time_of(published.publish_time.as_ref()), Some(due));
    assert_eq!(published.scheduled_publish_time, None);
    eventually("every public path shows it", || async {
        shown_anywhere(&app, &embargoed, &neighbour, word)
            .await
            .len()
            == public_paths(&embargoed, &neighbour, word).len()
    })
    .await;
    eprintln!(
        "public {} ms after its time",
        lifted_after.num_milliseconds()
    );

    // One publication in its history, by the scheduler.
    let revisions = app
        .papers
        .list_paper_revisions(ListPaperRevisionsRequest {
            id: embargoed.id.clone(),
            ..ListPaperRevisionsRequest::default()
        })
        .await
        .unwrap()
        .into_inner()
        .revisions;
    let kinds: Vec<RevisionKind> = revisions.iter().map(|r| r.kind()).collect();
    assert_eq!(
        kinds,
        [
            RevisionKind::Published,
            RevisionKind::Scheduled,
            RevisionKind::Created
        ]
    );
    // The publisher scheduled it; the scheduler, Imprint itself, published it.
    let actors: Vec<(&str, bool)> = revisions
        .iter()
        .map(|r| {
            let a = r.actor.as_ref().unwrap();
            (a.subject.as_str(), a.system)
        })
        .collect();
    assert_eq!(
        actors,
        [("system", true), ("tests", false), ("tests", false)]
    );
    assert_eq!(
        app.metric("imprint_papers_schedule_failures_total").await,
        0
    );

    // An end date withdraws it.
    let end = in_secs(2);
    let ending = schedule_unpublish(&app, &embargoed.id, end).await.unwrap();
    assert_eq!(time_of(ending.scheduled_unpublish_time.as_ref()), Some(end));
    eventually("withdrawn at its end date", || async {
        get(app.public, &format!("/v1/papers/{}", embargoed.slug), &[])
            .await
            .unwrap()
            .status
            == 404
    })
    .await;
    assert!(Utc::now() >= end, "withdrawn before its end date");
    let withdrawn = paper(&app, &embargoed.id).await;
    assert_eq!(withdrawn.status(), PaperStatus::Archived);
    assert_eq!(withdrawn.scheduled_unpublish_time, None);
    app.stop().await;
}

async fn a_paper_due_while_nothing_ran_is_published_at_start(backend: Backend) {
    let mut app = TestApp::spawn(backend).await;
    let author = app.author("Hamza Ijaz").await;
    let draft_paper = app
        .create(draft("Monsoon Floods and Governance", &[&author]))
        .await
        .unwrap();
    let due = in_secs(2);
    schedule_publish(&app, &draft_paper.id, due).await.unwrap();
    // Down across its time.
    let app = app.restart_after(Duration::from_secs(3)).await;
    eventually("published at start", || async {
        paper(&app, &draft_paper.id).await.status() == PaperStatus::Published
    })
    .await;
    let published = paper(&app, &draft_paper.id).await;
    assert_eq!(time_of(published.publish_time.as_ref()), Some(due));
    let r = get(app.public, &format!("/v1/papers/{}", draft_paper.slug), &[])
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    app.stop().await;
}

async fn a_paper_that_can_no_longer_be_published_is_not_and_says_why(backend: Backend) {
    let mut app = TestApp::spawn(backend).await;
    let author = app.author("Imran Khan").await;
    let created = app
        .create(draft("A Report Losing Its Byline", &[&author]))
        .await
        .unwrap();
    let scheduled = schedule_publish(&app, &created.id, in_secs(2))
        .await
        .unwrap();
    // An editor removes every author after it was scheduled.
    app.papers
        .update_paper(UpdatePaperRequest {
            paper: Some(Paper {
                id: created.id.clone(),
                version: scheduled.version,
                ..Paper::default()
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["author_ids".into()],
            }),
        })
        .await
        .unwrap();
    eventually("the failure is recorded", || async {
        paper(&app, &created.id).await.schedule_failure.is_some()
    })
    .await;
    let failed = paper(&app, &created.id).await;
    assert_eq!(failed.status(), PaperStatus::Draft);
    assert_eq!(failed.scheduled_publish_time, None);
    let failure = failed.schedule_failure.unwrap();
    assert_eq!(failure.action(), ScheduleAction::Publish);
    assert!(failure.reason.contains("no authors"), "{}", failure.reason);
    assert_eq!(
        app.metric("imprint_papers_schedule_failures_total").await,
        1
    );
    let r = get(app.public, &format!("/v1/papers/{}", created.slug), &[])
        .await
        .unwrap();
    assert_eq!(r.status, 404);
    app.stop().await;
}

async fn bad_schedules_are_refused_naming_the_field(backend: Backend) {
    let mut app = TestApp::spawn(backend).await;
    let author = app.author("Imran Khan").await;
    let created = app
        .create(draft("A Report Not Yet Due", &[&author]))
        .await
        .unwrap();

    let past = expect_code(
        schedule_publish(&app, &created.id, in_secs(-60)).await,
        Code::InvalidArgument,
    );
    assert_eq!(violated_fields(&past), ["publish_time"]);
    let missing = expect_code(
        app.papers
            .clone()
            .schedule_publish(SchedulePublishRequest {
                id: created.id.clone(),
                ..SchedulePublishRequest::default()
            })
            .await,
        Code::InvalidArgument,
    );
    assert_eq!(violated_fields(&missing), ["publish_time"]);
    // A withdrawal of what is neither public nor scheduled.
    expect_code(
        schedule_unpublish(&app, &created.id, in_secs(60)).await,
        Code::FailedPrecondition,
    );

    schedule_publish(&app, &created.id, in_secs(3600))
        .await
        .unwrap();
    let early = expect_code(
        schedule_unpublish(&app, &created.id, in_secs(1800)).await,
        Code::InvalidArgument,
    );
    assert_eq!(violated_fields(&early), ["unpublish_time"]);
    let stale = expect_code(
        app.papers
            .clone()
            .schedule_unpublish(ScheduleUnpublishRequest {
                id: created.id.clone(),
                version: created.version,
                unpublish_time: Some(timestamp(in_secs(7200))),
            })
            .await,
        Code::Aborted,
    );
    assert!(stale.message().contains("version"), "{}", stale.message());
    let bad_action = expect_code(
        app.papers
            .clone()
            .cancel_schedule(CancelScheduleRequest {
                id: created.id.clone(),
                action: 99,
                ..CancelScheduleRequest::default()
            })
            .await,
        Code::InvalidArgument,
    );
    assert_eq!(violated_fields(&bad_action), ["action"]);

    // Cancelled, it stays a draft and nothing is due.
    let cancelled = app
        .papers
        .cancel_schedule(CancelScheduleRequest {
            id: created.id.clone(),
            ..CancelScheduleRequest::default()
        })
        .await
        .unwrap()
        .into_inner()
        .paper
        .unwrap();
    assert_eq!(cancelled.scheduled_publish_time, None);
    assert_eq!(cancelled.status(), PaperStatus::Draft);

    let published = app.publish(draft("Already Out", &[&author])).await;
    expect_code(
        schedule_publish(&app, &published.id, in_secs(60)).await,
        Code::FailedPrecondition,
    );
    // A draft nobody is credited on could not go public then, so it is not scheduled now.
    let lonely = app.create(draft("Nobody's Report", &[])).await.unwrap();
    let refused = expect_code(
        schedule_publish(&app, &lonely.id, in_secs(60)).await,
        Code::FailedPrecondition,
    );
    assert!(
        refused.message().contains("no authors"),
        "{}",
        refused.message()
    );
    // Published by hand before its time, it is not published again at that time.
    let early = app.create(draft("Out Early", &[&author])).await.unwrap();
    schedule_publish(&app, &early.id, in_secs(3600))
        .await
        .unwrap();
    let out = app
        .papers
        .publish_paper(imprint_proto::papers::PublishPaperRequest {
            id: early.id.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .paper
        .unwrap();
    assert_eq!(out.scheduled_publish_time, None);
    app.stop().await;
}

on_both_backends!(
    an_embargo_holds_until_its_time_then_lifts_within_five_seconds,
    a_paper_due_while_nothing_ran_is_published_at_start,
    a_paper_that_can_no_longer_be_published_is_not_and_says_why,
    bad_schedules_are_refused_naming_the_field,
);
