"""A Twisted server on the asyncio reactor with grokweb.serving.prompt_writes, as daphne runs (a test helper).

    python -m tests.site.prompt_writes_server    # prints its port, then serves until killed

Each connection sends one command line, answered with numbered records:
- `burst N SIZE [tight]`: N records of SIZE bytes written in one reactor turn;
- `spread N SIZE [tight]`: N records, one per reactor turn;
(`tight`: with an 8 KiB send buffer, so that what the kernel does not take waits in Twisted's buffer);
then `report` (on a new connection) answers with what the earlier connections saw: records written
at once and through Twisted's buffer, and connections lost.
"""
from __future__ import annotations

import json
import socket
import sys

from twisted.internet import asyncioreactor

asyncioreactor.install()

from twisted.internet import protocol, reactor  # noqa: E402
from twisted.internet.task import deferLater  # noqa: E402

from grokweb.serving import prompt_writes  # noqa: E402

SEEN = {"immediate": 0, "buffered": 0, "lost": 0}


def record(n: int, size: int) -> bytes:
    head = b"%08d:" % n
    return head + b"x" * (size - len(head) - 1) + b"\n"


class Writer(protocol.Protocol):
    def dataReceived(self, data: bytes) -> None:
        words = data.split()
        if words[0] == b"report":
            self.transport.write(json.dumps(SEEN).encode() + b"\n")
            self.transport.loseConnection()
            return
        if words[3:] == [b"tight"]:
            # A small send buffer: what the kernel does not take at once must wait in Twisted's buffer.
            self.transport.getHandle().setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 8192)
        count, size = int(words[1]), int(words[2])
        if words[0] == b"burst":
            for n in range(count):
                self.write(record(n, size))
            self.transport.loseConnection()
        else:
            self.spread(0, count, size)

    def spread(self, n: int, count: int, size: int) -> None:
        if n == count or not self.transport.connected:
            self.transport.loseConnection()
            return
        self.write(record(n, size))
        deferLater(reactor, 0, self.spread, n + 1, count, size)

    def write(self, data: bytes) -> None:
        transport = self.transport
        queued = transport._tempDataLen + len(transport.dataBuffer) - transport.offset
        transport.write(data)
        after = transport._tempDataLen + len(transport.dataBuffer) - transport.offset
        SEEN["immediate" if after == queued else "buffered"] += 1

    def connectionLost(self, reason: object = None) -> None:
        SEEN["lost"] += 1


factory = protocol.Factory.forProtocol(Writer)
prompt_writes()
port = reactor.listenTCP(0, factory, interface="127.0.0.1")
print(port.getHost().port, flush=True)
sys.stdout.close()
reactor.run()
