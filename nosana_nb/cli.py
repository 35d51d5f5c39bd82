"""The ``nosana-nb`` command."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence


def _positive_or_manual(text: str) -> float | None:
    value = float(text)
    if value != value or value < 0:  # NaN or negative
        raise argparse.ArgumentTypeError("speed must be >= 0 (0 means a manual clock)")
    return None if value == 0 else value


def _port(text: str) -> int:
    value = int(text)
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError("port must be between 0 and 65535 (0 = any free port)")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="nosana-nb", description="Nosana deployments from Python and Jupyter."
    )
    commands = parser.add_subparsers(dest="command", required=True)

    sandbox = commands.add_parser(
        "sandbox", help="serve the embedded local Nosana (deployment manager, RPC, IPFS, markets)"
    )
    sandbox.add_argument(
        "--host",
        default="127.0.0.1",
        help="interface to bind (default loopback; any other address needs --allow-remote)",
    )
    sandbox.add_argument(
        "--allow-remote",
        action="store_true",
        help="really bind a non-loopback --host: the API, /rpc, pinning, /stats and the faucet "
        "are then open to every machine that can reach this one",
    )
    sandbox.add_argument("--port", type=_port, default=3001, help="port, 0 = any free port")
    sandbox.add_argument(
        "--speed",
        type=_positive_or_manual,
        default=60.0,
        help="simulated seconds per wall second (60: an hour a minute; 0: manual clock)",
    )
    sandbox.add_argument("--db", default=None, help="SQLite file (default: user data dir)")
    sandbox.add_argument("--seed", type=int, default=0, help="seed of the simulated network")

    commands.add_parser("demo", help="run the end-to-end demo scenario on the sandbox")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "sandbox":
        from nosana_nb.sandbox import RemoteBindRefused, serve_forever

        try:
            serve_forever(
                host=args.host,
                port=args.port,
                speed=args.speed,
                db=args.db,
                seed=args.seed,
                allow_remote=args.allow_remote,
            )
        except RemoteBindRefused as refused:
            parser.error(str(refused))  # exits with status 2 before anything is bound
        return 0
    if args.command == "demo":
        from nosana_nb.demo import main as demo_main

        return demo_main()
    raise AssertionError(f"unhandled command {args.command!r}")  # argparse enforces choices


if __name__ == "__main__":
    sys.exit(main())
