"""An S3-compatible server on loopback for the file store's tests: moto in server mode.

Prints `listening <port>` once it answers, makes the bucket named by --bucket, and serves until
its stdin closes (the test that started it is gone) or it is killed.
"""

import argparse
import sys
import urllib.request

from moto.server import ThreadedMotoServer


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--bucket", required=True)
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=args.port, verbose=False)
    server.start()
    _, port = server.get_host_and_port()
    # A bucket is made by a plain PUT of its path; moto takes any credentials.
    request = urllib.request.Request(f"http://127.0.0.1:{port}/{args.bucket}", method="PUT")
    urllib.request.urlopen(request, timeout=10).read()
    print(f"listening {port}", flush=True)
    try:
        sys.stdin.read()
    finally:
        server.stop()


if __name__ == "__main__":
    main()
