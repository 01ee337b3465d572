"""A fast feed server for ``bench/collect``: asyncio, HTTP/1.1 keep-alive, loopback only.

Serves feed ``i`` at ``http://127.0.0.{2 + i % 50}:PORT/feeds/i.xml`` with an ETag and a
Last-Modified, gzip when asked for, and 304 to a matching ``If-None-Match``. Runs in its own
process so that its CPU is not the collector's; it reports its CPU seconds when stopped.
"""

from __future__ import annotations

import asyncio
import contextlib
import resource
import socket
from multiprocessing.connection import Connection

from collect_feeds import HOSTS, build_bodies

LAST_MODIFIED = b"Tue, 01 Apr 2025 12:00:00 GMT"


def _response(status: bytes, headers: list[tuple[bytes, bytes]], body: bytes) -> bytes:
    head = [b"HTTP/1.1 " + status]
    head += [name + b": " + value for name, value in headers]
    head.append(b"Content-Length: " + str(len(body)).encode())
    return b"\r\n".join(head) + b"\r\n\r\n" + body


class FeedServer:
    def __init__(self, count: int) -> None:
        self.bodies = build_bodies(count)
        self.etags = [b'"v1-%d"' % i for i in range(count)]
        self.requests = 0
        self.not_modified = 0

    def answer(self, request: bytes) -> bytes:
        lines = request.split(b"\r\n")
        parts = lines[0].split(b" ")
        path = parts[1] if len(parts) > 1 else b""
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            headers[name.strip().lower()] = value.strip()
        self.requests += 1
        try:
            index = int(path.rsplit(b"/", 1)[1].split(b".")[0])
            plain, packed = self.bodies[index]
        except (IndexError, ValueError):
            return _response(b"404 Not Found", [], b"no such feed")
        etag = self.etags[index]
        common = [(b"ETag", etag), (b"Last-Modified", LAST_MODIFIED),
                  (b"Content-Type", b"application/rss+xml; charset=utf-8"),
                  (b"Cache-Control", b"max-age=60")]
        if headers.get(b"if-none-match") == etag:
            self.not_modified += 1
            return _response(b"304 Not Modified", common[:2], b"")
        if b"gzip" in headers.get(b"accept-encoding", b""):
            return _response(b"200 OK", [*common, (b"Content-Encoding", b"gzip")], packed)
        return _response(b"200 OK", common, plain)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                request = await reader.readuntil(b"\r\n\r\n")
                writer.write(self.answer(request))
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()


async def _serve(count: int, conn: Connection) -> None:
    server = FeedServer(count)
    # One port, free on all the loopback addresses used.
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    hosts = [f"127.0.0.{2 + i}" for i in range(HOSTS)]
    srv = await asyncio.start_server(server.handle, hosts, port, backlog=4096,
                                     reuse_address=True)
    conn.send(port)
    loop = asyncio.get_running_loop()
    stop = loop.create_future()
    loop.add_reader(conn.fileno(), lambda: stop.done() or stop.set_result(None))
    await stop
    srv.close()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    conn.recv()
    conn.send({"requests": server.requests, "not_modified": server.not_modified,
               "cpu_s": usage.ru_utime + usage.ru_stime})


def serve(count: int, conn: Connection) -> None:
    asyncio.run(_serve(count, conn))
