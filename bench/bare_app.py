"""The bare app: the ceiling of strongroom's own HTTP stack, with nothing of an object store in it.

aiohttp.web on uvloop, like strongroom. PUT /<bucket>/<key> streams the request body
into a temporary file, fsyncs it, renames it into place and fsyncs the directory (the
same durability steps as strongroom's blob store); GET streams the file back through
user space in 1 MiB reads (not sendfile: strongroom must decrypt in user space, so
the ceiling must copy too); HEAD answers the size. No authentication, no encryption,
no metadata store, no hashing. Blocking file work runs on the default executor, one
batch in flight while the next is received, as in strongroom's vault.

Run: `python -m bench.bare_app --port 0 --data-dir DIR --ready-file FILE`.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import socket
from pathlib import Path

from aiohttp import web

BATCH = 1 << 20
SMALL = 64 * 1024  # bodies up to this size are written in one executor hop


def _path(root: Path, bucket: str, key: str) -> Path:
    # One flat directory per bucket, the key hashed: keys may hold any characters.
    return root / bucket / hashlib.blake2b(key.encode(), digest_size=16).hexdigest()


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_small(final: Path, data: bytes) -> None:
    tmp = final.with_name(final.name + f".{os.getpid()}.{id(data)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, final)
    _fsync_dir(final.parent)


def _finish(fd: int, tmp: Path, final: Path) -> None:
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, final)
    _fsync_dir(final.parent)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


async def put_object(request: web.Request) -> web.Response:
    root: Path = request.app["root"]
    final = _path(root, request.match_info["bucket"], request.match_info["key"])
    loop = asyncio.get_running_loop()
    if request.content_length is not None and request.content_length <= SMALL:
        data = await request.read()
        await loop.run_in_executor(None, _write_small, final, data)
        return web.Response(status=200)
    tmp = final.with_name(final.name + f".{os.getpid()}.{id(request)}.tmp")
    fd = await loop.run_in_executor(None, os.open, tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    pending: asyncio.Future[None] | None = None
    batch: list[bytes] = []
    batched = 0
    try:
        while data := await request.content.readany():
            batch.append(data)
            batched += len(data)
            if batched >= BATCH:
                if pending is not None:
                    await pending
                pending = loop.run_in_executor(None, _write_all, fd, b"".join(batch))
                batch, batched = [], 0
        if pending is not None:
            await pending
        if batch:
            await loop.run_in_executor(None, _write_all, fd, b"".join(batch))
    except BaseException:
        os.close(fd)
        tmp.unlink(missing_ok=True)
        raise
    await loop.run_in_executor(None, _finish, fd, tmp, final)
    return web.Response(status=200)


async def get_object(request: web.Request) -> web.StreamResponse:
    path = _path(request.app["root"], request.match_info["bucket"], request.match_info["key"])
    loop = asyncio.get_running_loop()
    try:
        fd = await loop.run_in_executor(None, os.open, path, os.O_RDONLY)
    except FileNotFoundError:
        return web.Response(status=404)
    try:
        size = os.fstat(fd).st_size
        response = web.StreamResponse(status=200, headers={"Content-Type": "binary/octet-stream"})
        response.content_length = size
        await response.prepare(request)
        if request.method == "HEAD":
            return response
        offset = 0
        nxt = loop.run_in_executor(None, os.pread, fd, BATCH, offset) if size else None
        while nxt is not None:
            data = await nxt
            offset += len(data)
            nxt = loop.run_in_executor(None, os.pread, fd, BATCH, offset) if data and offset < size else None
            await response.write(data)
        await response.write_eof()
        return response
    finally:
        os.close(fd)


async def create_bucket(request: web.Request) -> web.Response:
    (request.app["root"] / request.match_info["bucket"]).mkdir(parents=True, exist_ok=True)
    return web.Response(status=200)


def make_app(root: Path) -> web.Application:
    app = web.Application(client_max_size=1 << 40)
    app["root"] = root
    app.router.add_put("/{bucket}", create_bucket)
    app.router.add_put("/{bucket}/{key:.+}", put_object)
    app.router.add_get("/{bucket}/{key:.+}", get_object)  # allow_head: HEAD answers the size
    return app


def main(argv: list[str] | None = None) -> None:
    import uvloop

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--ready-file")
    args = parser.parse_args(argv)
    root = Path(args.data_dir)
    root.mkdir(parents=True, exist_ok=True)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", args.port))
    sock.listen(1024)
    if args.ready_file:
        Path(args.ready_file).write_text(str(sock.getsockname()[1]))
    loop = uvloop.new_event_loop()
    asyncio.set_event_loop(loop)
    web.run_app(make_app(root), sock=sock, print=None, access_log=None, loop=loop, shutdown_timeout=2.0)


if __name__ == "__main__":
    main()
