#!/usr/bin/env python3
"""The gRPC contract, checked by a client nobody on the team wrote.

Python grpcio with stubs generated from proto/ by grpcio-tools drives a real `imprint serve`
process through the editorial scenario of issue 2: the seed authors and their paper, publishing,
slugs old and new, filtered paged lists, a stale update, field errors, and a restart after which
everything is still there.

    contract_test.py --imprint target/debug/imprint [--database-url postgres://...]

Exits 0 when every check passes; prints what failed otherwise.
"""

import argparse
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import grpc
from grpc_status import rpc_status

from stubs import authorized_channel, generate_stubs

# Tokens the server under test is configured with (as an operator would, by environment).
ADMIN_TOKEN = "contract-admin-token-0123456789"
VIEWER_TOKEN = "contract-viewer-token-012345678"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """One `imprint serve` process on free ports."""

    def __init__(self, binary: str, data_dir: str, database_url: str | None):
        self.binary = binary
        self.data_dir = data_dir
        self.database_url = database_url
        self.grpc_port = free_port()
        self.http_port = free_port()
        self.public_port = free_port()
        self.proc = None

    def start(self) -> None:
        args = [
            self.binary,
            "serve",
            "--data-dir", self.data_dir,
            "--grpc-addr", f"127.0.0.1:{self.grpc_port}",
            "--http-addr", f"127.0.0.1:{self.http_port}",
            "--public-addr", f"127.0.0.1:{self.public_port}",
        ]
        if self.database_url:
            args += ["--database-url", self.database_url]
        env = dict(
            os.environ,
            RUST_LOG="warn",
            IMPRINT__AUTH__TOKENS__CONTRACT__TOKEN=ADMIN_TOKEN,
            IMPRINT__AUTH__TOKENS__CONTRACT__ROLE="admin",
            IMPRINT__AUTH__TOKENS__READER__TOKEN=VIEWER_TOKEN,
            IMPRINT__AUTH__TOKENS__READER__ROLE="viewer",
        )
        self.proc = subprocess.Popen(args, env=env)
        deadline = time.time() + 30
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.grpc_port), timeout=1):
                    return
            except OSError:
                if self.proc.poll() is not None:
                    raise SystemExit(f"imprint exited with {self.proc.returncode} at start")
                if time.time() > deadline:
                    raise SystemExit("imprint did not start listening within 30s")
                time.sleep(0.1)

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout=30)
        check(code == 0, f"imprint exits 0 on SIGTERM (got {code})")

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.grpc_port}"


FAILURES = []


def check(condition: bool, what: str) -> None:
    print(("ok    " if condition else "FAIL  ") + what)
    if not condition:
        FAILURES.append(what)


def expect_error(call, code, fields=None, what=""):
    """Runs `call`, which must fail with `code` and, when given, BadRequest `fields`."""
    try:
        call()
    except grpc.RpcError as err:
        check(err.code() == code, f"{what}: {code.name} (got {err.code().name}: {err.details()})")
        if fields is not None:
            from google.rpc import error_details_pb2

            status = rpc_status.from_call(err)
            named = []
            for detail in status.details if status else []:
                if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
                    bad = error_details_pb2.BadRequest()
                    detail.Unpack(bad)
                    named += [v.field for v in bad.field_violations]
            check(named == fields, f"{what}: BadRequest names {fields} (got {named})")
        return err
    check(False, f"{what}: expected {code.name}, the call succeeded")
    return None


SEED_AUTHORS = [
    ("Hamza Ijaz", "Hamza Ijaz is currently working as a Senior Program Officer at USIP."),
    ("Imran Khan", "Imran Khan is USIP’s country director in Pakistan."),
    ("Maryam Kiyani", "Maryam Kiyani works as a consultant with USIP."),
    ("Adnan Rafiq", "Dr. Adnan Rafiq formerly served as USIP’s country director in Pakistan."),
]


def scenario(target: str) -> dict:
    from imprint.authors.v1 import authors_pb2 as a_pb, authors_pb2_grpc as a_grpc
    from imprint.papers.v1 import papers_pb2 as p_pb, papers_pb2_grpc as p_grpc
    from google.protobuf import field_mask_pb2

    channel = authorized_channel(target, ADMIN_TOKEN)
    authors = a_grpc.AuthorServiceStub(channel)
    papers = p_grpc.PaperServiceStub(channel)

    ids = []
    for name, bio in SEED_AUTHORS:
        author = authors.CreateAuthor(
            a_pb.CreateAuthorRequest(author=a_pb.Author(
                name=name, bio=bio,
                positions=[a_pb.Position(title="Staff", organization="USIP")],
            ))
        ).author
        check(author.name == name and author.id, f"created author {name} ({author.slug})")
        ids.append(author.id)

    paper = papers.CreatePaper(p_pb.CreatePaperRequest(paper=p_pb.Paper(
        title="A Rethinking of US-Pakistan Relations",
        summary="As the United States and Pakistan approach 75 years of bilateral engagement…",
        publication_type=p_pb.PUBLICATION_TYPE_DISCUSSION_PAPER,
        topics=["Global Policy"],
        author_ids=ids,
        funding_note="This research was funded by USIP’s Asia Center.",
    ))).paper
    check(list(paper.author_ids) == ids, "the paper credits the four authors in order")
    check(paper.status == p_pb.PAPER_STATUS_DRAFT, "a new paper is a draft")

    published = papers.PublishPaper(p_pb.PublishPaperRequest(id=paper.id, version=paper.version)).paper
    check(published.status == p_pb.PAPER_STATUS_PUBLISHED, "publish sets PUBLISHED")
    check(published.HasField("publish_time"), "publish sets publish_time")

    by_slug = papers.GetPaper(p_pb.GetPaperRequest(slug=paper.slug)).paper
    check(by_slug.id == paper.id, f"get by slug {paper.slug}")

    old_slug = paper.slug
    renamed = papers.UpdatePaper(p_pb.UpdatePaperRequest(
        paper=p_pb.Paper(id=paper.id, version=published.version, slug="us-pakistan-relations-at-75"),
        update_mask=field_mask_pb2.FieldMask(paths=["slug"]),
    )).paper
    check(renamed.slug == "us-pakistan-relations-at-75", "rename the slug")
    via_old = papers.GetPaper(p_pb.GetPaperRequest(slug=old_slug)).paper
    check(via_old.id == paper.id and via_old.slug == renamed.slug, "an old slug still resolves")

    # More papers, so that lists have pages to turn.
    extra = []
    for i in range(4):
        p = papers.CreatePaper(p_pb.CreatePaperRequest(paper=p_pb.Paper(
            title=f"Counterterrorism Brief {i}",
            publication_type=p_pb.PUBLICATION_TYPE_REPORT,
            topics=["Violent Extremism"] + (["Global Policy"] if i % 2 == 0 else []),
            author_ids=[ids[1]] if i < 3 else [ids[2]],
        ))).paper
        if i < 3:
            papers.PublishPaper(p_pb.PublishPaperRequest(id=p.id))
        extra.append(p.id)

    def all_pages(**filters):
        seen, token = [], ""
        while True:
            page = papers.ListPapers(p_pb.ListPapersRequest(page_size=2, page_token=token, **filters))
            check(len(page.papers) <= 2, "a page holds at most page_size papers")
            seen += [p.id for p in page.papers]
            token = page.next_page_token
            if not token:
                return seen

    by_topic = all_pages(status=p_pb.PAPER_STATUS_PUBLISHED, topic="global policy")
    check(by_topic == [extra[2], extra[0], paper.id], f"published papers by topic, newest first ({len(by_topic)})")
    by_author = all_pages(status=p_pb.PAPER_STATUS_PUBLISHED, author_id=ids[1])
    check(by_author == [extra[2], extra[1], extra[0], paper.id], f"published papers by author ({len(by_author)})")

    expect_error(
        lambda: papers.UpdatePaper(p_pb.UpdatePaperRequest(
            paper=p_pb.Paper(id=paper.id, version=published.version, title="Stale edit"),
            update_mask=field_mask_pb2.FieldMask(paths=["title"]),
        )),
        grpc.StatusCode.ABORTED, what="an update with a stale version",
    )
    current = papers.GetPaper(p_pb.GetPaperRequest(id=paper.id)).paper
    check(current.title == "A Rethinking of US-Pakistan Relations", "the stale update overwrote nothing")

    # Who changed what, field by field, and a restore under the version read.
    from imprint.audit.v1 import audit_pb2
    trail = papers.ListPaperRevisions(p_pb.ListPaperRevisionsRequest(id=paper.id)).revisions
    check([(r.actor.subject, r.actor.role) for r in trail] == [("contract", audit_pb2.ROLE_ADMIN)] * 3,
          "each revision names the token and role that made it")
    diff = papers.GetPaperRevisionDiff(p_pb.GetPaperRevisionDiffRequest(id=paper.id, from_version=1))
    fields = {c.field: (c.before.string_value, c.after.string_value) for c in diff.changes}
    check(diff.to_version == 3 and fields.get("status") == ("draft", "published")
          and fields.get("slug") == (old_slug, "us-pakistan-relations-at-75"),
          "the diff to the current version names each changed field, before and after")
    brief = papers.GetPaper(p_pb.GetPaperRequest(id=extra[3])).paper
    retitled = papers.UpdatePaper(p_pb.UpdatePaperRequest(
        paper=p_pb.Paper(id=brief.id, version=brief.version, title="Retitled Brief"),
        update_mask=field_mask_pb2.FieldMask(paths=["title"]),
    )).paper
    restored = papers.RestorePaperRevision(p_pb.RestorePaperRevisionRequest(
        id=brief.id, version=retitled.version, revision_version=1)).paper
    check(restored.title == brief.title and restored.version == 3, "a restore makes a new version of the old content")
    expect_error(
        lambda: papers.RestorePaperRevision(p_pb.RestorePaperRevisionRequest(
            id=brief.id, version=retitled.version, revision_version=2)),
        grpc.StatusCode.ABORTED, what="a restore with a stale version",
    )
    check(papers.GetPaper(p_pb.GetPaperRequest(id=brief.id)).paper.title == brief.title,
          "the stale restore wrote nothing")

    expect_error(
        lambda: papers.CreatePaper(p_pb.CreatePaperRequest(paper=p_pb.Paper(
            title="", publication_type=p_pb.PUBLICATION_TYPE_REPORT))),
        grpc.StatusCode.INVALID_ARGUMENT, ["paper.title"], what="an empty title",
    )
    expect_error(
        lambda: authors.CreateAuthor(a_pb.CreateAuthorRequest(author=a_pb.Author(
            name="Someone", orcid="0000-0002-1825-0098"))),
        grpc.StatusCode.INVALID_ARGUMENT, ["author.orcid"], what="a bad ORCID",
    )
    expect_error(
        lambda: authors.DeleteAuthor(a_pb.DeleteAuthorRequest(id=ids[0])),
        grpc.StatusCode.FAILED_PRECONDITION, what="deleting a credited author",
    )

    # Programs and regions: terms by slug on papers, filters taking in countries, renames that
    # keep the old slug, merges that move papers, unknown terms refused by field.
    from imprint.papers.v1 import taxonomy_pb2 as t_pb, taxonomy_pb2_grpc as t_grpc
    taxonomy = t_grpc.TaxonomyServiceStub(channel)
    region = taxonomy.CreateTerm(t_pb.CreateTermRequest(term=t_pb.Term(
        vocabulary=t_pb.VOCABULARY_REGION, name="South Asia"))).term
    country = taxonomy.CreateTerm(t_pb.CreateTermRequest(term=t_pb.Term(
        vocabulary=t_pb.VOCABULARY_REGION, name="Pakistan", parent_id=region.id))).term
    old_program = taxonomy.CreateTerm(t_pb.CreateTermRequest(term=t_pb.Term(
        vocabulary=t_pb.VOCABULARY_PROGRAM, name="Asia Program"))).term
    program = taxonomy.CreateTerm(t_pb.CreateTermRequest(term=t_pb.Term(
        vocabulary=t_pb.VOCABULARY_PROGRAM, name="Asia Center"))).term
    tagged = papers.CreatePaper(p_pb.CreatePaperRequest(paper=p_pb.Paper(
        title="Pakistan Brief", publication_type=p_pb.PUBLICATION_TYPE_POLICY_BRIEF,
        author_ids=[ids[0]], region_ids=["pakistan"], program_ids=["asia-program"],
    ))).paper
    check(list(tagged.region_ids) == [country.id], "a region named by slug is stored as its id")
    check([t.name for t in tagged.terms] == ["Asia Program", "Pakistan"], "a paper describes its terms")
    listed = papers.ListPapers(p_pb.ListPapersRequest(region="south-asia")).papers
    check([p.id for p in listed] == [tagged.id], "a region filter takes in its countries")
    taxonomy.UpdateTerm(t_pb.UpdateTermRequest(
        term=t_pb.Term(id=region.id, version=region.version, name="Southern Asia", slug="southern-asia"),
        update_mask=field_mask_pb2.FieldMask(paths=["name", "slug"]),
    ))
    old = taxonomy.GetTerm(t_pb.GetTermRequest(slug="south-asia", vocabulary=t_pb.VOCABULARY_REGION)).term
    check(old.id == region.id and old.slug == "southern-asia", "a renamed region's old slug resolves")
    merged = taxonomy.MergeTerms(t_pb.MergeTermsRequest(source_id=old_program.id, target_id=program.id))
    check(merged.papers_moved == 1, "a merge moves the source's papers")
    moved = papers.GetPaper(p_pb.GetPaperRequest(id=tagged.id)).paper
    check(list(moved.program_ids) == [program.id], "a merged program's paper carries the target")
    expect_error(
        lambda: papers.CreatePaper(p_pb.CreatePaperRequest(paper=p_pb.Paper(
            title="Nowhere", publication_type=p_pb.PUBLICATION_TYPE_REPORT, region_ids=["atlantis"]))),
        grpc.StatusCode.INVALID_ARGUMENT, ["paper.region_ids[0]"], what="an unknown region",
    )
    papers.DeletePaper(p_pb.DeletePaperRequest(id=tagged.id))

    # Authentication and roles, as any client meets them.
    anonymous = authorized_channel(target, None)
    expect_error(
        lambda: p_grpc.PaperServiceStub(anonymous).GetPaper(p_pb.GetPaperRequest(id=paper.id)),
        grpc.StatusCode.UNAUTHENTICATED, what="a call without a token",
    )
    forged = authorized_channel(target, "not-a-token-of-this-server")
    expect_error(
        lambda: a_grpc.AuthorServiceStub(forged).ListAuthors(a_pb.ListAuthorsRequest()),
        grpc.StatusCode.UNAUTHENTICATED, what="a call with an unknown token",
    )
    reader = authorized_channel(target, VIEWER_TOKEN)
    draft = papers.CreatePaper(p_pb.CreatePaperRequest(paper=p_pb.Paper(
        title="A draft a viewer may read", publication_type=p_pb.PUBLICATION_TYPE_REPORT,
        author_ids=[ids[0]],
    ))).paper
    seen = p_grpc.PaperServiceStub(reader).GetPaper(p_pb.GetPaperRequest(id=draft.id)).paper
    check(seen.status == p_pb.PAPER_STATUS_DRAFT, "a viewer reads a draft")
    expect_error(
        lambda: p_grpc.PaperServiceStub(reader).PublishPaper(p_pb.PublishPaperRequest(id=draft.id)),
        grpc.StatusCode.PERMISSION_DENIED, what="a viewer publishing",
    )
    still = papers.GetPaper(p_pb.GetPaperRequest(id=draft.id)).paper
    check(still.status == p_pb.PAPER_STATUS_DRAFT, "the refused publish changed nothing")
    papers.DeletePaper(p_pb.DeletePaperRequest(id=draft.id))
    for c in (anonymous, forged, reader):
        c.close()
    channel.close()
    return {"paper": current, "old_slug": old_slug, "author_ids": ids, "by_topic": by_topic, "by_author": by_author}


def verify_after_restart(target: str, before: dict) -> None:
    from imprint.authors.v1 import authors_pb2 as a_pb, authors_pb2_grpc as a_grpc
    from imprint.papers.v1 import papers_pb2 as p_pb, papers_pb2_grpc as p_grpc

    channel = authorized_channel(target, ADMIN_TOKEN)
    authors = a_grpc.AuthorServiceStub(channel)
    papers = p_grpc.PaperServiceStub(channel)
    paper = papers.GetPaper(p_pb.GetPaperRequest(slug=before["old_slug"])).paper
    check(paper == before["paper"], "after a restart the paper is intact, by its old slug too")
    got = authors.BatchGetAuthors(a_pb.BatchGetAuthorsRequest(ids=before["author_ids"]))
    check([a.name for a in got.authors] == [n for n, _ in SEED_AUTHORS], "after a restart the authors are intact")
    check([a.bio for a in got.authors] == [b for _, b in SEED_AUTHORS], "after a restart the bios are intact")
    lists = papers.ListPapers(p_pb.ListPapersRequest(status=p_pb.PAPER_STATUS_PUBLISHED, topic="Global Policy"))
    check([p.id for p in lists.papers] == before["by_topic"], "after a restart the lists are intact")
    revisions = papers.ListPaperRevisions(p_pb.ListPaperRevisionsRequest(id=paper.id)).revisions
    check([r.version for r in revisions] == [3, 2, 1], "after a restart the revisions are intact")
    channel.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--imprint", required=True, help="the imprint binary")
    parser.add_argument("--database-url", help="PostgreSQL URL; SQLite files when absent")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        stubs = Path(tmp) / "stubs"
        stubs.mkdir()
        generate_stubs(stubs)
        server = Server(args.imprint, str(Path(tmp) / "data"), args.database_url)
        server.start()
        try:
            before = scenario(server.target)
        finally:
            server.stop()
        server.start()
        try:
            verify_after_restart(server.target, before)
        finally:
            server.stop()
    if FAILURES:
        print(f"{len(FAILURES)} contract checks failed", file=sys.stderr)
        return 1
    print("every contract check passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
