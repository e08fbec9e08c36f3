//! Who changed what: every revision of a paper or an author records the caller's token subject
//! and role (the system for the scheduler), any two versions can be compared field by field,
//! and an old version can be restored as a new one under optimistic concurrency. The events
//! carry the actor. Two editors with their own tokens, on SQLite and PostgreSQL, with events
//! over a real RabbitMQ.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::{Backend, TestApp, authorized, draft, eventually, expect_code, violated_fields};
use imprint_events::rabbit::EXCHANGE;
use imprint_platform::auth::Role;
use imprint_platform::settings::TokenSettings;
use imprint_proto::audit::{self, Actor};
use imprint_proto::authors::author_service_client::AuthorServiceClient;
use imprint_proto::authors::{
    self as apb, Author, CreateAuthorRequest, GetAuthorRevisionDiffRequest,
    ListAuthorRevisionsRequest, RestoreAuthorRevisionRequest, UpdateAuthorRequest,
};
use imprint_proto::events::Event;
use imprint_proto::papers::paper_service_client::PaperServiceClient;
use imprint_proto::papers::{
    CreatePaperRequest, GetPaperRevisionDiffRequest, ListPaperRevisionsRequest, PaperRevision,
    PaperStatus, PublishPaperRequest, RestorePaperRevisionRequest, RevisionKind,
    UpdatePaperRequest,
};
use imprint_testkit::get;
use lapin::options::{BasicGetOptions, QueueBindOptions, QueueDeclareOptions};
use lapin::types::FieldTable;
use prost::Message;
use prost_types::value::Kind;
use tonic::Code;
use tonic::metadata::MetadataValue;

const ALICE: &str = "tests-alice-editor-token-0123456789";
const BOB: &str = "tests-bob-editor-token-0123456789";
const VIEWER: &str = "tests-viewer-token-0123456789";

/// The app, with tokens for alice and bob (editors) and a viewer.
async fn app(backend: Backend) -> TestApp {
    TestApp::spawn_rabbit_with(backend, |s| {
        for (name, token, role) in [
            ("alice", ALICE, Role::Editor),
            ("bob", BOB, Role::Editor),
            ("viewer", VIEWER, Role::Viewer),
        ] {
            s.auth.tokens.insert(
                name.to_owned(),
                TokenSettings {
                    token: token.to_owned(),
                    role,
                },
            );
        }
    })
    .await
}

/// Clients of the papers and authors services carrying `token`.
struct Editor {
    papers: PaperServiceClient<imprint_platform::clients::Peer>,
    authors: AuthorServiceClient<imprint_platform::clients::Peer>,
}

fn editor(app: &TestApp, token: &str) -> Editor {
    let channel = authorized(app.grpc, Some(token));
    Editor {
        papers: PaperServiceClient::new(channel.clone()),
        authors: AuthorServiceClient::new(channel),
    }
}

fn actor(subject: &str, role: audit::Role) -> Option<Actor> {
    Some(Actor {
        subject: subject.to_owned(),
        role: role.into(),
        system: false,
    })
}

/// A queue of every event in the app's vhost, bound before anything changes.
async fn event_queue(app: &TestApp) -> (lapin::Connection, lapin::Channel, String) {
    let url = &app.rabbit.as_ref().unwrap().url;
    let conn = lapin::Connection::connect(url, lapin::ConnectionProperties::default())
        .await
        .unwrap();
    let channel = conn.create_channel().await.unwrap();
    // The app may not have declared them yet.
    imprint_events::rabbit::declare_exchanges(&channel)
        .await
        .unwrap();
    let queue = channel
        .queue_declare(
            "".into(),
            QueueDeclareOptions {
                exclusive: true,
                ..QueueDeclareOptions::default()
            },
            FieldTable::default(),
        )
        .await
        .unwrap();
    let name = queue.name().as_str().to_owned();
    channel
        .queue_bind(
            name.as_str().into(),
            EXCHANGE.into(),
            "#".into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await
        .unwrap();
    (conn, channel, name)
}

/// The actor subject of each event about `aggregate`, by version, once `want` of them came.
async fn actors_of(
    channel: &lapin::Channel,
    queue: &str,
    seen: &mut BTreeMap<(String, i64), (String, Option<Actor>)>,
    aggregate: &str,
    want: usize,
) -> BTreeMap<i64, (String, Option<Actor>)> {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let of_it = seen
            .iter()
            .filter(|((id, _), _)| id == aggregate)
            .map(|((_, v), e)| (*v, e.clone()))
            .collect::<BTreeMap<_, _>>();
        if of_it.len() >= want {
            return of_it;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "only {} events of {aggregate}: {of_it:?}",
            of_it.len()
        );
        match channel
            .basic_get(queue.into(), BasicGetOptions { no_ack: true })
            .await
            .unwrap()
        {
            Some(message) => {
                let event = Event::decode(message.delivery.data.as_slice()).unwrap();
                seen.insert(
                    (event.aggregate_id.clone(), event.aggregate_version),
                    (event.r#type.clone(), event.actor),
                );
            }
            None => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

/// An author revision's version, kind, actor, changed fields and restored version.
type AuthorTrail = (i64, i32, Option<Actor>, Vec<String>, i64);

async fn revisions(app: &TestApp, id: &str) -> Vec<PaperRevision> {
    app.papers
        .clone()
        .list_paper_revisions(ListPaperRevisionsRequest {
            id: id.to_owned(),
            page_size: 100,
            ..ListPaperRevisionsRequest::default()
        })
        .await
        .unwrap()
        .into_inner()
        .revisions
}

/// A diff as field → (before, after), each as JSON text.
fn changes(changes: &[audit::FieldChange]) -> BTreeMap<String, (String, String)> {
    fn text(v: Option<&prost_types::Value>) -> String {
        match v.and_then(|v| v.kind.as_ref()) {
            Some(Kind::StringValue(s)) => s.clone(),
            Some(Kind::NullValue(_)) | None => "null".to_owned(),
            Some(Kind::ListValue(l)) => format!(
                "[{}]",
                l.values
                    .iter()
                    .map(|v| text(Some(v)))
                    .collect::<Vec<_>>()
                    .join(",")
            ),
            Some(other) => format!("{other:?}"),
        }
    }
    changes
        .iter()
        .map(|c| {
            (
                c.field.clone(),
                (text(c.before.as_ref()), text(c.after.as_ref())),
            )
        })
        .collect()
}

async fn two_editors_leave_a_trail_they_can_compare_and_restore(backend: Backend) {
    let mut app = app(backend).await;
    let (_conn, channel, queue) = event_queue(&app).await;
    let mut events = BTreeMap::new();
    let mut alice = editor(&app, ALICE);
    let mut bob = editor(&app, BOB);

    let author = alice
        .authors
        .create_author(CreateAuthorRequest {
            author: Some(Author {
                name: "Tamanna Salikuddin".to_owned(),
                ..Author::default()
            }),
        })
        .await
        .unwrap()
        .into_inner()
        .author
        .unwrap();
    let mut created = draft("Counterterrorism in South Asia", &[&author]);
    created.topics = vec!["Security".to_owned()];
    let v1 = alice
        .papers
        .create_paper(CreatePaperRequest {
            paper: Some(created),
        })
        .await
        .unwrap()
        .into_inner()
        .paper
        .unwrap();
    let id = v1.id.clone();
    // Bob retitles it and adds a topic; alice rewrites the summary; the admin publishes.
    let mut edit = v1.clone();
    edit.title = "Violent Extremism in Pakistan".to_owned();
    edit.topics = vec!["Security".to_owned(), "Pakistan".to_owned()];
    let v2 = bob
        .papers
        .update_paper(UpdatePaperRequest {
            paper: Some(edit),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["title".to_owned(), "topics".to_owned()],
            }),
        })
        .await
        .unwrap()
        .into_inner()
        .paper
        .unwrap();
    // Alice's client says it acts for an admin named mallory: the edge does not believe it.
    let mut edit = v2.clone();
    edit.summary = "A new summary.".to_owned();
    let mut forged = tonic::Request::new(UpdatePaperRequest {
        paper: Some(edit),
        update_mask: Some(prost_types::FieldMask {
            paths: vec!["summary".to_owned()],
        }),
    });
    forged.metadata_mut().insert_bin(
        imprint_platform::caller::ACTOR,
        MetadataValue::from_bytes(b"admin:mallory"),
    );
    let v3 = alice
        .papers
        .update_paper(forged)
        .await
        .unwrap()
        .into_inner()
        .paper
        .unwrap();
    let v4 = app
        .papers
        .clone()
        .publish_paper(PublishPaperRequest {
            id: id.clone(),
            version: v3.version,
            ..PublishPaperRequest::default()
        })
        .await
        .unwrap()
        .into_inner()
        .paper
        .unwrap();
    assert_eq!(v4.version, 4);

    // Each revision says who, with the role the token grants.
    let trail: Vec<(i64, i32, Option<Actor>)> = revisions(&app, &id)
        .await
        .into_iter()
        .map(|r| (r.version, r.kind, r.actor))
        .collect();
    assert_eq!(
        trail,
        vec![
            (
                4,
                RevisionKind::Published.into(),
                actor("tests", audit::Role::Admin)
            ),
            (
                3,
                RevisionKind::Updated.into(),
                actor("alice", audit::Role::Editor)
            ),
            (
                2,
                RevisionKind::Updated.into(),
                actor("bob", audit::Role::Editor)
            ),
            (
                1,
                RevisionKind::Created.into(),
                actor("alice", audit::Role::Editor)
            ),
        ]
    );

    // Any two versions compare, in either order, field by field.
    let diff = |from: i64, to: i64| {
        let mut client = app.papers.clone();
        let id = id.clone();
        async move {
            client
                .get_paper_revision_diff(GetPaperRevisionDiffRequest {
                    id,
                    from_version: from,
                    to_version: to,
                })
                .await
        }
    };
    let d = diff(1, 3).await.unwrap().into_inner();
    assert_eq!((d.from_version, d.to_version), (1, 3));
    let c = changes(&d.changes);
    assert_eq!(
        c.keys().collect::<Vec<_>>(),
        ["summary", "title", "topics"],
        "{c:?}"
    );
    assert_eq!(
        c["title"],
        (
            "Counterterrorism in South Asia".to_owned(),
            "Violent Extremism in Pakistan".to_owned()
        )
    );
    assert_eq!(
        c["topics"],
        ("[Security]".to_owned(), "[Security,Pakistan]".to_owned())
    );
    let back = changes(&diff(3, 1).await.unwrap().into_inner().changes);
    assert_eq!(
        back["summary"],
        (c["summary"].1.clone(), c["summary"].0.clone())
    );
    // To the current version (0): the publication too.
    let d = diff(3, 0).await.unwrap().into_inner();
    assert_eq!(d.to_version, 4);
    let c = changes(&d.changes);
    assert_eq!(c["status"], ("draft".to_owned(), "published".to_owned()));
    assert!(
        c.contains_key("publish_time") && !c.contains_key("title"),
        "{c:?}"
    );
    let bad = expect_code(diff(0, 2).await, Code::InvalidArgument);
    assert_eq!(violated_fields(&bad), ["from_version"]);
    let bad = expect_code(diff(1, 9).await, Code::InvalidArgument);
    assert_eq!(violated_fields(&bad), ["to_version"]);
    assert!(
        bad.message().contains("versions 1 to 4"),
        "{}",
        bad.message()
    );

    // Bob restores the first version: a new version with its content, still published.
    let v5 = bob
        .papers
        .restore_paper_revision(RestorePaperRevisionRequest {
            id: id.clone(),
            version: 4,
            revision_version: 1,
        })
        .await
        .unwrap()
        .into_inner()
        .paper
        .unwrap();
    assert_eq!(v5.version, 5);
    assert_eq!(
        (v5.title.as_str(), v5.summary.as_str(), v5.topics.as_slice()),
        (v1.title.as_str(), v1.summary.as_str(), v1.topics.as_slice())
    );
    assert_eq!(v5.status, i32::from(PaperStatus::Published));
    assert_eq!(v5.publish_time, v4.publish_time);
    let newest = revisions(&app, &id).await.remove(0);
    assert_eq!(
        (
            newest.version,
            newest.kind,
            newest.restored_version,
            newest.actor.clone()
        ),
        (
            5,
            RevisionKind::Restored.into(),
            1,
            actor("bob", audit::Role::Editor)
        )
    );
    assert_eq!(newest.changed_fields, ["title", "summary", "topics"]);
    // The public page follows.
    eventually("the public page shows the restored title", || async {
        get(app.public, &format!("/v1/papers/{}", v5.slug), &[])
            .await
            .unwrap()
            .body
            .contains("Counterterrorism in South Asia")
    })
    .await;

    // Alice, who read version 4, restores version 2: ABORTED, and nothing is written.
    let stale = expect_code(
        alice
            .papers
            .restore_paper_revision(RestorePaperRevisionRequest {
                id: id.clone(),
                version: 4,
                revision_version: 2,
            })
            .await,
        Code::Aborted,
    );
    assert!(
        stale.message().contains("the stored one is 5"),
        "{}",
        stale.message()
    );
    assert_eq!(app.paper(&id).await, v5);
    assert_eq!(revisions(&app, &id).await.len(), 5);
    assert_eq!(app.count_paper_rows("paper_revisions", &id).await, 5);
    // Restoring what is already there writes nothing either.
    let same = alice
        .papers
        .restore_paper_revision(RestorePaperRevisionRequest {
            id: id.clone(),
            version: 5,
            revision_version: 1,
        })
        .await
        .unwrap()
        .into_inner()
        .paper
        .unwrap();
    assert_eq!(same.version, 5);
    // Bad requests name their field; a viewer may compare but not restore.
    let bad = expect_code(
        alice
            .papers
            .restore_paper_revision(RestorePaperRevisionRequest {
                id: id.clone(),
                version: 5,
                revision_version: 0,
            })
            .await,
        Code::InvalidArgument,
    );
    assert_eq!(violated_fields(&bad), ["revision_version"]);
    let mut viewer = editor(&app, VIEWER);
    let denied = expect_code(
        viewer
            .papers
            .restore_paper_revision(RestorePaperRevisionRequest {
                id: id.clone(),
                version: 5,
                revision_version: 2,
            })
            .await,
        Code::PermissionDenied,
    );
    assert!(denied.message().contains("editor"), "{}", denied.message());
    viewer
        .papers
        .get_paper_revision_diff(GetPaperRevisionDiffRequest {
            id: id.clone(),
            from_version: 1,
            to_version: 2,
        })
        .await
        .unwrap();

    // The events carry the same actors.
    let paper_events = actors_of(&channel, &queue, &mut events, &id, 5).await;
    let who: Vec<(i64, &str, &str)> = paper_events
        .iter()
        .map(|(v, (kind, a))| (*v, kind.as_str(), a.as_ref().unwrap().subject.as_str()))
        .collect();
    assert_eq!(
        who,
        [
            (1, "paper.updated", "alice"),
            (2, "paper.updated", "bob"),
            (3, "paper.updated", "alice"),
            (4, "paper.published", "tests"),
            (5, "paper.updated", "bob"),
        ]
    );

    // A version crediting an author deleted since cannot come back; the refusal names the
    // version asked for, the only field the request has.
    let mut coauthor = app.author("Departed Coauthor").await;
    let mut edit = app.paper(&id).await;
    edit.author_ids.push(coauthor.id.clone());
    let credited = bob
        .papers
        .update_paper(UpdatePaperRequest {
            paper: Some(edit.clone()),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["author_ids".to_owned()],
            }),
        })
        .await
        .unwrap()
        .into_inner()
        .paper
        .unwrap();
    edit.author_ids.pop();
    edit.version = credited.version;
    let uncredited = bob
        .papers
        .update_paper(UpdatePaperRequest {
            paper: Some(edit),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["author_ids".to_owned()],
            }),
        })
        .await
        .unwrap()
        .into_inner()
        .paper
        .unwrap();
    coauthor = app
        .authors
        .get_author(imprint_proto::authors::GetAuthorRequest {
            key: Some(imprint_proto::authors::get_author_request::Key::Id(
                coauthor.id.clone(),
            )),
        })
        .await
        .unwrap()
        .into_inner()
        .author
        .unwrap();
    app.authors
        .delete_author(imprint_proto::authors::DeleteAuthorRequest {
            id: coauthor.id.clone(),
            version: coauthor.version,
        })
        .await
        .unwrap();
    let refused = expect_code(
        bob.papers
            .restore_paper_revision(RestorePaperRevisionRequest {
                id: id.clone(),
                version: uncredited.version,
                revision_version: credited.version,
            })
            .await,
        Code::InvalidArgument,
    );
    assert_eq!(violated_fields(&refused), ["revision_version"]);
    assert!(
        refused.message().contains("does not exist"),
        "{}",
        refused.message()
    );
    assert_eq!(app.paper(&id).await.version, uncredited.version);

    // Authors keep the same trail.
    let mut renamed = author.clone();
    renamed.bio = "Senior expert on South Asia.".to_owned();
    let a2 = bob
        .authors
        .update_author(UpdateAuthorRequest {
            author: Some(renamed),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["bio".to_owned()],
            }),
        })
        .await
        .unwrap()
        .into_inner()
        .author
        .unwrap();
    let d = alice
        .authors
        .get_author_revision_diff(GetAuthorRevisionDiffRequest {
            id: author.id.clone(),
            from_version: 1,
            to_version: 0,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        changes(&d.changes),
        BTreeMap::from([(
            "bio".to_owned(),
            (String::new(), "Senior expert on South Asia.".to_owned())
        )])
    );
    let a3 = alice
        .authors
        .restore_author_revision(RestoreAuthorRevisionRequest {
            id: author.id.clone(),
            version: a2.version,
            revision_version: 1,
        })
        .await
        .unwrap()
        .into_inner()
        .author
        .unwrap();
    assert_eq!((a3.version, a3.bio.as_str()), (3, ""));
    let stale = expect_code(
        bob.authors
            .restore_author_revision(RestoreAuthorRevisionRequest {
                id: author.id.clone(),
                version: a2.version,
                revision_version: 2,
            })
            .await,
        Code::Aborted,
    );
    assert!(
        stale.message().contains("the stored one is 3"),
        "{}",
        stale.message()
    );
    let trail: Vec<AuthorTrail> = alice
        .authors
        .list_author_revisions(ListAuthorRevisionsRequest {
            id: author.id.clone(),
            ..ListAuthorRevisionsRequest::default()
        })
        .await
        .unwrap()
        .into_inner()
        .revisions
        .into_iter()
        .map(|r| {
            (
                r.version,
                r.kind,
                r.actor,
                r.changed_fields,
                r.restored_version,
            )
        })
        .collect();
    assert_eq!(
        trail,
        vec![
            (
                3,
                apb::AuthorRevisionKind::Restored.into(),
                actor("alice", audit::Role::Editor),
                vec!["bio".to_owned()],
                1
            ),
            (
                2,
                apb::AuthorRevisionKind::Updated.into(),
                actor("bob", audit::Role::Editor),
                vec!["bio".to_owned()],
                0
            ),
            (
                1,
                apb::AuthorRevisionKind::Created.into(),
                actor("alice", audit::Role::Editor),
                vec![],
                0
            ),
        ]
    );
    let author_events = actors_of(&channel, &queue, &mut events, &author.id, 3).await;
    let who: Vec<&str> = author_events
        .values()
        .map(|(_, a)| a.as_ref().unwrap().subject.as_str())
        .collect();
    assert_eq!(who, ["alice", "bob", "alice"]);
    app.stop().await;
}

on_both_backends!(two_editors_leave_a_trail_they_can_compare_and_restore);

/// Diffs list fields in the paper's order; a restore keeps a schedule set since; an author's
/// trail pages by token, and a token is refused for another author.
async fn diffs_keep_order_restores_keep_schedules_and_trails_page(backend: Backend) {
    let mut app = TestApp::spawn(backend).await;
    let author = app.author("Asfandyar Mir").await;
    let paper = app
        .create(draft("Counterterrorism in South Asia", &[&author]))
        .await
        .unwrap();
    let edited = app
        .papers
        .update_paper(UpdatePaperRequest {
            paper: Some(imprint_proto::papers::Paper {
                id: paper.id.clone(),
                version: paper.version,
                title: "Counterterrorism in South Asia, Revisited".into(),
                summary: "What changed since 2021.".into(),
                topics: vec!["Violent Extremism".into()],
                ..imprint_proto::papers::Paper::default()
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["topics".into(), "summary".into(), "title".into()],
            }),
        })
        .await
        .unwrap()
        .into_inner()
        .paper
        .unwrap();
    let diff = app
        .papers
        .get_paper_revision_diff(GetPaperRevisionDiffRequest {
            id: paper.id.clone(),
            from_version: 1,
            to_version: 0,
        })
        .await
        .unwrap()
        .into_inner();
    let fields: Vec<&str> = diff.changes.iter().map(|c| c.field.as_str()).collect();
    assert_eq!(
        fields,
        ["title", "summary", "topics"],
        "the paper's order, not the mask's"
    );

    // Scheduled after the edit; restoring the first version's content keeps the schedule.
    let due = chrono::Utc::now() + chrono::Duration::hours(6);
    let scheduled = app
        .papers
        .schedule_publish(imprint_proto::papers::SchedulePublishRequest {
            id: paper.id.clone(),
            version: edited.version,
            publish_time: Some(imprint_proto::convert::timestamp(due)),
        })
        .await
        .unwrap()
        .into_inner()
        .paper
        .unwrap();
    let restored = app
        .papers
        .restore_paper_revision(RestorePaperRevisionRequest {
            id: paper.id.clone(),
            version: scheduled.version,
            revision_version: 1,
        })
        .await
        .unwrap()
        .into_inner()
        .paper
        .unwrap();
    assert_eq!(restored.title, paper.title);
    assert_eq!(restored.version, scheduled.version + 1);
    assert_eq!(
        restored.scheduled_publish_time,
        scheduled.scheduled_publish_time
    );
    assert_eq!(restored.status(), PaperStatus::Draft);

    // An author's trail, a revision a page.
    let mut bio = author.clone();
    for text in ["First bio.", "Second bio."] {
        bio = app
            .authors
            .update_author(UpdateAuthorRequest {
                author: Some(Author {
                    id: bio.id.clone(),
                    version: bio.version,
                    bio: text.into(),
                    ..Author::default()
                }),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["bio".into()],
                }),
            })
            .await
            .unwrap()
            .into_inner()
            .author
            .unwrap();
    }
    let mut versions = Vec::new();
    let mut token = String::new();
    let mut first_token = None;
    loop {
        let page = app
            .authors
            .list_author_revisions(ListAuthorRevisionsRequest {
                id: author.id.clone(),
                page_size: 1,
                page_token: token.clone(),
            })
            .await
            .unwrap()
            .into_inner();
        versions.extend(page.revisions.iter().map(|r| r.version));
        if page.next_page_token.is_empty() {
            break;
        }
        first_token.get_or_insert_with(|| page.next_page_token.clone());
        token = page.next_page_token;
    }
    assert_eq!(versions, [3, 2, 1]);
    let other = app.author("Someone Else").await;
    let refused = app
        .authors
        .list_author_revisions(ListAuthorRevisionsRequest {
            id: other.id.clone(),
            page_size: 1,
            page_token: first_token.unwrap(),
        })
        .await;
    assert_eq!(
        violated_fields(&expect_code(refused, Code::InvalidArgument)),
        ["page_token"]
    );
    app.stop().await;
}

on_both_backends!(diffs_keep_order_restores_keep_schedules_and_trails_page);
