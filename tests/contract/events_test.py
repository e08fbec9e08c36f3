#!/usr/bin/env python3
"""The events contract, checked by clients nobody on the team wrote.

Python pika binds its own queue to the `imprint.events` exchange; Python grpcio (stubs generated
from proto/) creates and publishes a paper through the gateway; the `paper.published` message
that arrives must carry the AMQP properties the contract names and a body that decodes, with the
project's own proto, to the paper's id, title and version.

    events_test.py --gateway 127.0.0.1:50051 --amqp-url amqp://guest:guest@127.0.0.1:5672/%2f
"""

import argparse
import re
import sys
import tempfile
import time
from pathlib import Path

import grpc
import pika

from stubs import authorized_channel, generate_stubs

FAILURES = []


def check(condition: bool, what: str) -> None:
    print(("ok    " if condition else "FAIL  ") + what)
    if not condition:
        FAILURES.append(what)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gateway", required=True, help="host:port of the gateway's gRPC")
    parser.add_argument("--amqp-url", required=True)
    parser.add_argument("--token", required=True, help="a bearer token the gateway accepts")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        generate_stubs(Path(tmp))
        from imprint.authors.v1 import authors_pb2 as a_pb, authors_pb2_grpc as a_grpc
        from imprint.events.v1 import events_pb2 as e_pb
        from imprint.papers.v1 import papers_pb2 as p_pb, papers_pb2_grpc as p_grpc
        from imprint.papers.v1 import taxonomy_pb2 as t_pb, taxonomy_pb2_grpc as t_grpc

        amqp = pika.BlockingConnection(pika.URLParameters(args.amqp_url))
        channel = amqp.channel()
        channel.exchange_declare("imprint.events", exchange_type="topic", durable=True, passive=True)
        queue = channel.queue_declare("", exclusive=True, auto_delete=True).method.queue
        channel.queue_bind(queue, "imprint.events", routing_key="paper.*")
        channel.queue_bind(queue, "imprint.events", routing_key="term.*")

        rpc = authorized_channel(args.gateway, args.token)
        authors = a_grpc.AuthorServiceStub(rpc)
        papers = p_grpc.PaperServiceStub(rpc)
        author = authors.CreateAuthor(a_pb.CreateAuthorRequest(author=a_pb.Author(name="Imran Khan"))).author
        region = t_grpc.TaxonomyServiceStub(rpc).CreateTerm(t_pb.CreateTermRequest(term=t_pb.Term(
            vocabulary=t_pb.VOCABULARY_REGION, name="South Asia"))).term
        draft = papers.CreatePaper(p_pb.CreatePaperRequest(paper=p_pb.Paper(
            title="Why Counterterrorism in Afghanistan and Pakistan Still Matters",
            publication_type=p_pb.PUBLICATION_TYPE_QUESTION_AND_ANSWER,
            topics=["Global Policy", "Violent Extremism"],
            author_ids=[author.id],
            region_ids=["south-asia"],
        ))).paper
        published = papers.PublishPaper(p_pb.PublishPaperRequest(id=draft.id, version=draft.version)).paper
        check(published.status == p_pb.PAPER_STATUS_PUBLISHED, "published through the gateway")

        found = None
        term_event = None
        seen_types = []
        deadline = time.time() + 30
        while found is None and time.time() < deadline:
            method, props, body = channel.basic_get(queue, auto_ack=True)
            if method is None:
                time.sleep(0.1)
                continue
            seen_types.append(method.routing_key)
            event = e_pb.Event()
            event.ParseFromString(body)
            if method.routing_key == "paper.published" and event.aggregate_id == draft.id:
                found = (method, props, event)
            if method.routing_key == "term.created" and event.aggregate_id == region.id:
                term_event = event
        check(found is not None, f"paper.published arrived (saw {seen_types})")
        if found:
            method, props, event = found
            check(event.WhichOneof("payload") == "paper", "the payload is the paper")
            check(event.paper.id == draft.id, "it carries the paper's id")
            check(event.paper.title == draft.title, "it carries the paper's title")
            check(event.aggregate_version == published.version == event.paper.version,
                  f"it carries the paper's version ({event.aggregate_version})")
            check(event.type == "paper.published", "the envelope names its type")
            from imprint.audit.v1 import audit_pb2
            check(event.actor.subject == "tests" and event.actor.role == audit_pb2.ROLE_ADMIN
                  and not event.actor.system,
                  f"it names who published, through the gateway to the papers role ({event.actor})")
            revisions = papers.ListPaperRevisions(p_pb.ListPaperRevisionsRequest(id=draft.id)).revisions
            check([r.actor.subject for r in revisions] == ["tests", "tests"],
                  "the papers role recorded the gateway's caller on each revision")
            check(props.message_id == event.event_id, "message_id is the event id")
            check(props.type == "paper.published", "the AMQP type is the routing key")
            check(props.content_type == "application/x-protobuf", "content_type application/x-protobuf")
            check(props.delivery_mode == 2, "persistent")
            traceparent = (props.headers or {}).get("traceparent", b"")
            if isinstance(traceparent, bytes):
                traceparent = traceparent.decode()
            check(re.fullmatch(r"00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]", traceparent) is not None,
                  f"a W3C traceparent header ({traceparent})")
            check("paper.updated" in seen_types, "the draft's creation came first as paper.updated")
            check([(t.slug, t.name) for t in event.paper.terms] == [("south-asia", "South Asia")],
                  f"the paper's event describes its region ({list(event.paper.terms)})")
        check(term_event is not None and term_event.WhichOneof("payload") == "term"
              and term_event.term.slug == "south-asia" and term_event.actor.subject == "tests",
              f"term.created carries the region and who made it (saw {seen_types})")
        amqp.close()
        rpc.close()
    if FAILURES:
        print(f"{len(FAILURES)} event contract checks failed", file=sys.stderr)
        return 1
    print("every event contract check passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
