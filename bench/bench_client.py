"""Client overhead: ``client.deployments.get(id)`` against raw httpx sending the same signed GET.

Both talk to one sandbox over real HTTP on 127.0.0.1, served by a child process so its work
never competes for this process's GIL: the server's share of each request is the same for both,
and what differs is what the client adds (request building, signing header, retry loop,
parsing into models). The raw baseline parses the JSON too.
"""

from __future__ import annotations

import argparse
import time

import httpx
from _common import Result, interleaved_medians, ratio_at_most, run_alone
from _seed import served_sandbox

from nosana_nb.core.auth import AUTH_MESSAGE, authorization_header

TARGET = 1.15


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--gets", type=int, default=2_000, help="sequential gets per round")
    parser.add_argument("--client-rounds", type=int, default=5)


def measure(args: argparse.Namespace) -> list[Result]:
    with served_sandbox(1) as served:
        deployment_id = served.ids[0]
        client = served.client()
        wallet = served.wallet
        signature_header = authorization_header(wallet, message=AUTH_MESSAGE)
        raw = httpx.Client(base_url=served.api_url)
        path = f"/deployments/{deployment_id}"

        def ours() -> None:
            for _ in range(args.gets):
                client.deployments.get(deployment_id)

        def baseline() -> None:
            for _ in range(args.gets):
                # the same header our WalletAuth sends: signed once, fresh timestamp each time
                headers = {
                    "x-user-id": wallet.address,
                    "Authorization": f"{signature_header}:{int(time.time() * 1000)}",
                }
                response = raw.get(path, headers=headers)
                response.raise_for_status()
                response.json()

        medians = interleaved_medians({"ours": ours, "raw httpx": baseline}, args.client_rounds)
        raw.close()
        client.close()
    return [
        ratio_at_most(
            "deployments.get vs raw httpx GET",
            f"{args.gets:,} gets",
            medians["ours"],
            medians["raw httpx"],
            TARGET,
        )
    ]


if __name__ == "__main__":
    run_alone(add_arguments, measure, __doc__.splitlines()[0])
