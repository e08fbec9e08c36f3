"""A webhook receiver Imprint did not write: Python's standard HTTP server, verifying every
delivery with the Standard Webhooks reference verifier (`standardwebhooks`, from PyPI).

    webhook_receiver.py [--port N]

Prints `listening <port>`, then one JSON line per request:
  {"name", "id", "type", "aggregate", "version", "verified": true}   a delivery that verifies
  {"name", "refused": "<why>"}                                      one that does not (answered 400)
  {"name", "failed": n}                                             one answered 503 on purpose

Paths, per receiver name (the last path segment):
  POST /secrets          {"name": ..., "secret": "whsec_..."}: the secret deliveries to name verify with
  POST /ok/<name>        verify, answer 204
  POST /flaky/<name>     answer 503 to the first 5 requests, then as /ok
  POST /slow/<name>      wait 10 s, then as /ok
Each request is served on a thread of its own, so a slow one holds up no other.
"""

import argparse
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

SECRETS = {}
FAILURES = {}
LOCK = threading.Lock()


def emit(record):
    with LOCK:
        sys.stdout.write(json.dumps(record) + "\n")
        sys.stdout.flush()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def answer(self, code, body=b""):
        self.send_response(code)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body:
            self.wfile.write(body)

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        parts = self.path.strip("/").split("/")
        if parts == ["secrets"]:
            given = json.loads(body)
            with LOCK:
                SECRETS[given["name"]] = given["secret"]
            return self.answer(204)
        if len(parts) != 2 or parts[0] not in ("ok", "flaky", "slow"):
            return self.answer(404)
        mode, name = parts
        if mode == "flaky":
            with LOCK:
                FAILURES[name] = FAILURES.get(name, 0) + 1
                n = FAILURES[name]
            if n <= 5:
                emit({"name": name, "failed": n})
                return self.answer(503, b"not yet")
        if mode == "slow":
            time.sleep(10)
        with LOCK:
            secret = SECRETS.get(name)
        if secret is None:
            emit({"name": name, "refused": "no secret for this receiver"})
            return self.answer(400)
        try:
            payload = Webhook(secret).verify(body, dict(self.headers.items()))
        except WebhookVerificationError as e:
            emit({"name": name, "refused": str(e)})
            return self.answer(400)
        data = payload.get("data", {})
        emit({
            "name": name,
            "id": self.headers["webhook-id"],
            "type": payload.get("type"),
            "aggregate": data.get("id"),
            "version": data.get("version"),
            "verified": True,
        })
        return self.answer(204)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    emit_line = f"listening {server.server_address[1]}"
    sys.stdout.write(emit_line + "\n")
    sys.stdout.flush()
    server.serve_forever()


if __name__ == "__main__":
    main()
