"""``stylex serve --run RUN [--host 127.0.0.1] [--port 8000]``: the interactive viewer.

Loads the run once, prints the URL and serves the page and its API with uvicorn until Ctrl+C.
Binds to localhost by default; ``--port 0`` picks a free port.
"""

from __future__ import annotations

import argparse
import errno
import ipaddress
import socket
import sys

from stylex.classifier.options import add_contract_arguments, contract_from_args
from stylex.errors import StylexError
from stylex.runtime import add_device_argument

LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1"}


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--run", required=True, help="run folder (trained, with attfind/)")
    p.add_argument(
        "--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)"
    )
    p.add_argument("--port", type=int, default=8000, help="port (default 8000; 0 = any free)")
    add_device_argument(p)
    p.add_argument("--top-k", type=int, default=10, help="attributes per class shown as sliders")
    p.add_argument(
        "--max-sessions",
        type=int,
        default=64,
        help="opened images kept in memory (least recently used dropped)",
    )
    p.add_argument("--max-upload-mb", type=float, default=5.0, help="upload size limit (MB)")
    add_contract_arguments(p, overrides_run=True)


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port`` (a clear :class:`StylexError` if it is taken)."""
    if not 0 <= port <= 65535:
        raise StylexError(f"--port must be in 0..65535, got {port}")
    try:
        family = socket.AF_INET6 if ipaddress.ip_address(host).version == 6 else socket.AF_INET
    except ValueError:  # a host name
        family = socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as e:
        sock.close()
        if e.errno == errno.EADDRINUSE:
            raise StylexError(
                f"port {port} on {host} is in use: choose another with --port "
                "(or --port 0 for any free port)"
            ) from None
        raise StylexError(f"cannot listen on {host}:{port}: {e.strerror or e}") from None
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def make_server(app, log_level: str = "warning"):
    """A uvicorn server for ``app`` (run it with ``server.run(sockets=[bind_socket(...)])``)."""
    import uvicorn

    config = uvicorn.Config(
        app, log_level=log_level, access_log=False, lifespan="off", timeout_graceful_shutdown=3
    )
    return uvicorn.Server(config)


def url_for(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    host = f"[{host}]" if ":" in host else host
    return f"http://{host}:{port}/"


def run(args: argparse.Namespace) -> int:
    from stylex.metrics.fitness.store import warn_if_unfit
    from stylex.run import RunConfig
    from stylex.serve.app import create_app
    from stylex.serve.session import check_attfind

    RunConfig.read(args.run)  # a clear error before anything loads
    warn_if_unfit(args.run)
    check_attfind(args.run)
    if args.top_k < 1 or args.max_sessions < 1 or args.max_upload_mb <= 0:
        raise StylexError("--top-k, --max-sessions and --max-upload-mb must be positive")
    contract = contract_from_args(args)  # bad options fail before the port is taken
    sock = bind_socket(args.host, args.port)
    try:
        print(f"loading {args.run} …", flush=True)
        run_ = args.run
        if contract:
            from stylex.run import Run

            run_ = Run.load(args.run, device=args.device, discriminator=False, contract=contract)
        app = create_app(
            run_,
            device=args.device,
            top_k=args.top_k,
            max_sessions=args.max_sessions,
            max_upload_bytes=int(args.max_upload_mb * 2**20),
        )
        if args.host not in LOCAL_HOSTS:
            print(
                f"warning: listening on {args.host}: anyone who can reach this machine can "
                "use the viewer",
                file=sys.stderr,
            )
        print(f"stylex viewer for {args.run}: {url_for(sock)}  (Ctrl+C to stop)", flush=True)
        make_server(app).run(sockets=[sock])
    finally:
        sock.close()
    return 0
