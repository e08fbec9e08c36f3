"""Uploads a file to Imprint with tus-py-client, the tus project's own Python client, in parts
of --chunk bytes, and prints the upload's URL. The test then asks Imprint what file it made.
"""

import argparse
import hashlib

from tusclient import client


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--file", required=True)
    parser.add_argument("--name", required=True)
    parser.add_argument("--chunk", type=int, default=5 * 1024 * 1024)
    args = parser.parse_args()
    with open(args.file, "rb") as f:
        sha256 = hashlib.sha256(f.read()).hexdigest()
    tus = client.TusClient(args.endpoint, headers={"Authorization": f"Bearer {args.token}"})
    uploader = tus.uploader(
        args.file,
        chunk_size=args.chunk,
        metadata={"filename": args.name, "sha256": sha256},
        retries=0,
    )
    uploader.upload()
    print(uploader.url, flush=True)


if __name__ == "__main__":
    main()
