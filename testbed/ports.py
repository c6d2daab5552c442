"""Free loopback ports, so parallel testbeds (and a developer's own cluster) never collide."""

from __future__ import annotations

import socket


def free_ports(count: int) -> list[int]:
    """Return `count` distinct free TCP ports on 127.0.0.1.

    All sockets stay bound until every port is picked, so the ports are distinct; like envtest we then
    release them, accepting the small race with other processes (a clash shows up as a bind error in the log).
    """
    socks: list[socket.socket] = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind(("127.0.0.1", 0))
            socks.append(sock)
        return [sock.getsockname()[1] for sock in socks]
    finally:
        for sock in socks:
            sock.close()
