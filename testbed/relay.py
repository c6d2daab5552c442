"""A TCP relay from the node's pod bridge to loopback: `python -m testbed.relay --listen IP PORT...`.

Pods run in their own network namespaces (Pod Security `restricted` forbids host networking), but the API
server and the Milvus test server listen on 127.0.0.1 only. The relay listens on the bridge's gateway
address, which exists only on the bridge the node created, and forwards each port to the same port on
127.0.0.1; no connection leaves the machine's loopback and the test's own network namespaces.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from collections.abc import Awaitable, Callable


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        with contextlib.suppress(OSError, RuntimeError):
            writer.close()


Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


def _handler(port: int) -> Handler:
    async def handle(client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        try:
            upstream_r, upstream_w = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            client_w.close()
            return
        await asyncio.gather(_pipe(client_r, upstream_w), _pipe(upstream_r, client_w))

    return handle


async def serve(listen: str, ports: list[int]) -> None:
    servers = [await asyncio.start_server(_handler(port), listen, port) for port in ports]
    print(f"relay ready: {listen} -> 127.0.0.1 ports {' '.join(map(str, ports))}", flush=True)
    await asyncio.gather(*(server.serve_forever() for server in servers))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m testbed.relay", description=__doc__.splitlines()[0] if __doc__ else None
    )
    parser.add_argument("--listen", required=True, help="address to listen on (the pod bridge's gateway)")
    parser.add_argument("ports", type=int, nargs="+", help="ports to relay to the same port on 127.0.0.1")
    args = parser.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args.listen, args.ports))
    return 0


if __name__ == "__main__":
    sys.exit(main())
