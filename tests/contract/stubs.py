"""Python stubs for the Imprint contract, generated from proto/ by grpcio-tools' own protoc."""

import sys
from pathlib import Path

import grpc
from grpc_tools import protoc

ROOT = Path(__file__).resolve().parents[2]
PROTO = ROOT / "proto"


def generate_stubs(out: Path) -> None:
    """Compiles proto/ with grpcio-tools' own protoc into importable modules."""
    import grpc_tools

    well_known = Path(grpc_tools.__file__).parent / "_proto"
    files = [str(p.relative_to(PROTO)) for p in PROTO.rglob("*.proto")]
    args = [
        "protoc",
        f"-I{PROTO}",
        f"-I{well_known}",
        f"--python_out={out}",
        f"--grpc_python_out={out}",
        *files,
    ]
    if protoc.main(args) != 0:
        raise SystemExit("protoc failed on proto/")
    for pkg in {p.parent for p in out.rglob("*_pb2.py")}:
        for parent in [pkg, *pkg.parents]:
            if parent == out or out not in parent.parents:
                break
            (parent / "__init__.py").touch()
    sys.path.insert(0, str(out))


class _Bearer(grpc.UnaryUnaryClientInterceptor):
    """Adds `authorization: Bearer <token>` to every unary call."""

    def __init__(self, token: str):
        self.token = token

    def intercept_unary_unary(self, continuation, details, request):
        metadata = list(details.metadata or []) + [("authorization", f"Bearer {self.token}")]
        details = details._replace(metadata=metadata)
        return continuation(details, request)


def authorized_channel(target: str, token: str | None) -> grpc.Channel:
    """An insecure channel to `target`, carrying `token` on every call when there is one."""
    channel = grpc.insecure_channel(target)
    grpc.channel_ready_future(channel).result(timeout=30)
    if token is None:
        return channel
    return grpc.intercept_channel(channel, _Bearer(token))
