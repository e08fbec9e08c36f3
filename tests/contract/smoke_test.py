#!/usr/bin/env python3
"""A smoke test of a deployed Imprint, through its gateway only, as an operator would run it.

Over gRPC (Python grpcio, stubs generated from proto/) it creates two authors and two papers on
one subject and publishes them; it reads the first back over gRPC by slug, then over the public
JSON API (the paper, its page) and waits for the second to appear in the first's related rail.
With --during, it then writes --papers more papers crediting one author and runs the command
halfway (a role killed, say): writes refused while a role is away are tried again until they are
acknowledged, and every acknowledged paper must reach search and the author's paper count, so
no event was lost. It prints what it measured as one JSON line.

    smoke_test.py --gateway 127.0.0.1:50051 --public http://127.0.0.1:8081 --token T
"""

import argparse
import json
import random
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import grpc

from stubs import authorized_channel, generate_stubs

FAILURES = []
# Codes a call gets while a role restarts; anything else is a real failure.
PASSING = {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED}


def check(condition: bool, what: str) -> None:
    print(("ok    " if condition else "FAIL  ") + what, flush=True)
    if not condition:
        FAILURES.append(what)


def get_json(base: str, path: str) -> tuple[int, dict]:
    """GET base+path; the status and the JSON body (empty when there is none)."""
    try:
        with urllib.request.urlopen(base + path, timeout=10) as r:
            return r.status, json.loads(r.read() or b"{}")
    except urllib.error.HTTPError as e:
        body = e.read()
        try:
            return e.code, json.loads(body or b"{}")
        except ValueError:
            return e.code, {"raw": body.decode(errors="replace")}
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return 0, {}


def until(what: str, timeout: float, probe):
    """Calls probe until it returns something true; that value, or None after timeout."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            value = probe()
        except grpc.RpcError as e:
            if e.code() not in PASSING:
                raise
            value = None
        if value:
            return value
        time.sleep(0.2)
    check(False, f"{what} within {timeout:.0f} s")
    return None


def retried(call, timeout: float = 120):
    """A write tried again while the gateway or a role is away, until it is acknowledged."""
    deadline = time.time() + timeout
    while True:
        try:
            return call()
        except grpc.RpcError as e:
            if e.code() not in PASSING or time.time() > deadline:
                raise
            time.sleep(0.3)


def word(rng: random.Random) -> str:
    """A made-up word no other paper contains, so search counts only this run's papers."""
    return "smoke" + "".join(rng.choice("bcdfghjklmnpqrstvwxz") for _ in range(8))


class Site:
    def __init__(self, rpc, public: str):
        from imprint.authors.v1 import authors_pb2, authors_pb2_grpc
        from imprint.papers.v1 import papers_pb2, papers_pb2_grpc

        self.a_pb, self.p_pb = authors_pb2, papers_pb2
        self.authors = authors_pb2_grpc.AuthorServiceStub(rpc)
        self.papers = papers_pb2_grpc.PaperServiceStub(rpc)
        self.public = public

    def author(self, name: str):
        request = self.a_pb.CreateAuthorRequest(author=self.a_pb.Author(name=name))
        return retried(lambda: self.authors.CreateAuthor(request, timeout=10)).author

    def publish(self, title: str, topics: list[str], author_ids: list[str]):
        p = self.p_pb
        request = p.CreatePaperRequest(paper=p.Paper(
            title=title,
            summary=f"About {title}.",
            publication_type=p.PUBLICATION_TYPE_REPORT,
            topics=topics,
            author_ids=author_ids,
        ))
        draft = retried(lambda: self.papers.CreatePaper(request, timeout=10)).paper
        publish = p.PublishPaperRequest(id=draft.id)
        return retried(lambda: self.papers.PublishPaper(publish, timeout=10)).paper


def first_paper(site: Site, run: str, started: float, figures: dict) -> tuple:
    """Two papers on one subject: read back over gRPC and the public API, and related."""
    imran = site.author(f"Imran Khan {run}")
    hamza = site.author(f"Hamza Ijaz {run}")
    topics = ["Violent Extremism", "South Asia"]
    seed = site.publish(f"A Rethinking of US-Pakistan Relations {run}", topics, [hamza.id, imran.id])
    neighbour = site.publish(f"Countering Violent Extremism in Pakistan {run}", topics, [imran.id])
    check(seed.status == site.p_pb.PAPER_STATUS_PUBLISHED, "a paper published over gRPC")
    got = site.papers.GetPaper(site.p_pb.GetPaperRequest(slug=seed.slug), timeout=10).paper
    check(got.id == seed.id and got.title == seed.title, "GetPaper by slug over gRPC")

    status, body = until("the paper on the public API", 30,
                         lambda: (lambda r: r if r[0] == 200 else None)(
                             get_json(site.public, f"/v1/papers/{seed.slug}"))) or (0, {})
    check(status == 200 and body.get("title") == seed.title, "GET /v1/papers/{slug}")
    figures["first_public_read_s"] = round(time.time() - started, 3)
    status, page = get_json(site.public, f"/v1/pages/{seed.slug}")
    names = [a.get("name") for a in page.get("authors", [])] if status == 200 else []
    check(status == 200 and names == [hamza.name, imran.name],
          f"GET /v1/pages/{{slug}} with the byline in order ({status}, {names})")

    def related():
        status, body = get_json(site.public, f"/v1/papers/{seed.slug}/related")
        ids = [r.get("id") for r in body.get("related", [])] if status == 200 else []
        return ids if neighbour.id in ids else None

    check(until("the neighbour in the related rail", 30, related) is not None,
          "the related rail shows the other paper")
    figures["related_s"] = round(time.time() - started, 3)
    return imran, run


def through_a_fault(site: Site, author, run: str, count: int, during: str, figures: dict) -> None:
    """count papers crediting author, with `during` run halfway; none may be lost."""
    topic = [f"Smoke {run}"]
    acknowledged = []
    for i in range(count):
        if i == count // 2:
            print(f"running: {during}", flush=True)
            done = subprocess.run(during, shell=True, check=False)
            check(done.returncode == 0, f"the fault command ran ({done.returncode})")
            fault_at = time.time()
        paper = site.publish(f"Fault Tolerance Note {i} {run}", topic, [author.id])
        acknowledged.append(paper.id)
    figures["writes_acknowledged"] = len(acknowledged)

    def searched():
        status, body = get_json(site.public, f"/v1/search?q={urllib.parse.quote(run)}&limit=100")
        return body.get("total") if status == 200 and body.get("total", 0) >= count + 2 else None

    total = until("every acknowledged paper in search", 120, searched)
    check(total == count + 2, f"search finds all {count + 2} papers of the run ({total})")

    def counted():
        a = site.authors.GetAuthor(site.a_pb.GetAuthorRequest(id=author.id), timeout=10).author
        return a.paper_count if a.paper_count >= count + 2 else None

    credits = until("every credit at the authors role", 120, counted)
    check(credits == count + 2, f"the author's paper count is {count + 2} ({credits})")
    figures["recovered_s"] = round(time.time() - fault_at, 3)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gateway", required=True, help="host:port of the gateway's gRPC")
    parser.add_argument("--public", required=True, help="base URL of the public API")
    parser.add_argument("--token", required=True, help="an editor's (or admin's) bearer token")
    parser.add_argument("--during", help="a shell command run halfway through the writes")
    parser.add_argument("--papers", type=int, default=20, help="papers written around --during")
    parser.add_argument("--since", type=float, default=time.time(),
                        help="the Unix time figures are measured from (default: now)")
    args = parser.parse_args()
    figures = {}
    with tempfile.TemporaryDirectory() as tmp:
        generate_stubs(Path(tmp))
        rpc = authorized_channel(args.gateway, args.token)
        site = Site(rpc, args.public.rstrip("/"))
        author, run = first_paper(site, word(random.Random()), args.since, figures)
        if args.during:
            through_a_fault(site, author, run, args.papers, args.during, figures)
        rpc.close()
    print(json.dumps(figures), flush=True)
    if FAILURES:
        print(f"{len(FAILURES)} smoke checks failed", file=sys.stderr)
        return 1
    print("every smoke check passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
