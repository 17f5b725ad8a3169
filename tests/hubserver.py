"""A small Hugging Face Hub-compatible HTTP server on 127.0.0.1, for download tests.

It speaks the part of the Hub protocol ``huggingface_hub`` uses for
``hf_hub_download`` and ``HfApi.model_info``, as the client parses it
(huggingface_hub/file_download.py and utils/_http.py):

* ``GET /api/models/{repo}`` and ``/api/models/{repo}/revision/{rev}`` (``?blobs=true``):
  the repository's ``sha`` and ``siblings`` with ``size`` and, for LFS files, ``lfs``.
* ``HEAD``/``GET /{repo}/resolve/{rev}/{file}``: ``X-Repo-Commit`` on every answer. A
  small (git) file is served here with its git blob id as ``ETag``; an LFS file (GGUF)
  answers ``302`` to a second server standing in for the CDN, with ``X-Linked-Etag``
  (its sha256) and ``X-Linked-Size``. The CDN is a different origin (another port), as
  on the real Hub, so the client takes the metadata from the 302 and does not send
  its token there.
* The CDN serves blobs with ``Content-Length`` and ``Range`` requests (206 and
  ``Content-Range``), and can drop a connection mid-transfer once, to test resuming.
* Errors carry ``X-Error-Code``: ``RepoNotFound`` and ``EntryNotFound`` (404),
  ``RevisionNotFound`` (404), ``GatedRepo`` (401 without a token, 403 with a token
  that has no access).
* ``model_info`` carries the repository's licence (``cardData.license``, or ``other``
  with ``license_name``, and a ``license:`` tag) and whether it is gated, for the
  catalog check; ``Blank(size)`` stands for a large file that is listed, never stored.
* ``refuse_all(status)`` makes every answer a bare error, as a proxy or firewall in
  front of the Hub gives (no ``X-Error-Code``); ``drop_every_transfer`` breaks every
  transfer of a file, so no resume can finish it.

Every request is logged (``hub.log``) so tests can count what the client asked for.
"""

import hashlib
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

__all__ = ["FakeHub", "LoggedRequest", "Blank"]

_CHUNK = 1 << 20
_HASHED_BLANK = 64 << 20  # a Blank up to this size gets its real SHA-256 (it may be downloaded)
# Licence ids the Hub knows itself; others are "other" with a license_name, as on the Hub.
_HUB_LICENCE_IDS = {"apache-2.0", "mit", "llama2", "llama3", "llama3.1", "llama3.2", "llama3.3", "gemma",
                    "bigscience-bloom-rail-1.0", "openrail", "cc-by-4.0", "cc-by-nc-4.0"}


@dataclass(frozen=True)
class Blank:
    """A file of ``size`` zero bytes, served on demand and never held in memory."""

    size: int


@dataclass
class _File:
    name: str
    size: int
    lfs: bool
    oid: str  # sha256 for LFS files, git blob sha1 otherwise
    data: bytes | None = None
    path: Path | None = None
    blank: bool = False

    def read(self, start: int, end: int):
        """Yield the bytes [start, end) in chunks."""
        if self.blank:
            left = end - start
            while left > 0:
                n = min(_CHUNK, left)
                left -= n
                yield bytes(n)
            return
        if self.data is not None:
            yield self.data[start:end]
            return
        with open(self.path, "rb") as f:
            f.seek(start)
            left = end - start
            while left > 0:
                block = f.read(min(_CHUNK, left))
                if not block:
                    return
                left -= len(block)
                yield block


@dataclass
class _Repo:
    repo_id: str
    commit: str
    files: dict[str, _File]
    gated: bool = False
    licence: str | None = None


@dataclass
class LoggedRequest:
    server: str  # "hub" or "cdn"
    method: str
    path: str
    headers: dict = field(default_factory=dict)

    @property
    def range(self) -> str | None:
        return self.headers.get("range")


def _make_file(name: str, content) -> _File:
    if isinstance(content, Blank):
        if content.size > _HASHED_BLANK:  # listed, never downloaded whole: a stand-in id, not hours of hashing
            return _File(name, content.size, True, hashlib.sha256(f"blank {content.size}".encode()).hexdigest(), blank=True)
        digest = hashlib.sha256()
        zeros, left = bytes(_CHUNK), content.size
        while left > 0:
            digest.update(zeros[: min(_CHUNK, left)])
            left -= _CHUNK
        return _File(name, content.size, True, digest.hexdigest(), blank=True)
    if isinstance(content, (str, Path)) and Path(content).is_file():
        path = Path(content)
        digest = hashlib.sha256()
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(_CHUNK), b""):
                digest.update(block)
        return _File(name, path.stat().st_size, True, digest.hexdigest(), path=path)
    data = content.encode() if isinstance(content, str) else bytes(content)
    if name.endswith(".gguf"):
        return _File(name, len(data), True, hashlib.sha256(data).hexdigest(), data=data)
    git_oid = hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()
    return _File(name, len(data), False, git_oid, data=data)


class FakeHub:
    """The Hub (``url``) and its CDN (``cdn_url``), each an HTTP server in a thread on a random port."""

    def __init__(self, token: str = "hf_course_test_token"):
        self.token = token
        self.repos: dict[str, _Repo] = {}
        self.log: list[LoggedRequest] = []
        self._lock = threading.Lock()
        self._drops: dict[str, int] = {}  # blob oid -> bytes to send before dropping the next full GET
        self._drop_always: dict[str, int] = {}  # blob oid -> bytes to send before dropping every GET
        self.refusal: int | None = None  # a status every request gets, as from a proxy in front of the Hub
        self._servers: list[ThreadingHTTPServer] = []
        self.url = self.cdn_url = ""

    # ---- set-up

    def add_repo(self, repo_id: str, files: dict, *, gated: bool = False, licence: str | None = None) -> str:
        """Add a repository; ``files`` maps file name to bytes, text, a path or ``Blank(size)``. Returns its commit id."""
        made = {name: _make_file(name, content) for name, content in files.items()}
        self.repos[repo_id] = _Repo(repo_id, "", made, gated, licence)
        return self._recommit(repo_id)

    def _recommit(self, repo_id: str) -> str:
        repo = self.repos[repo_id]
        repo.commit = hashlib.sha1(
            json.dumps([repo_id, sorted((f.name, f.oid) for f in repo.files.values())]).encode()
        ).hexdigest()
        return repo.commit

    # ---- drift, as a maintainer meets it

    def rename_file(self, repo_id: str, old: str, new: str) -> None:
        files = self.repos[repo_id].files
        f = files.pop(old)
        f.name = new
        files[new] = f
        self._recommit(repo_id)

    def set_licence(self, repo_id: str, licence: str | None) -> None:
        self.repos[repo_id].licence = licence

    def set_gated(self, repo_id: str, gated: bool) -> None:
        self.repos[repo_id].gated = gated

    def remove_repo(self, repo_id: str) -> None:
        del self.repos[repo_id]

    # ---- trouble on the way

    def drop_next_transfer(self, repo_id: str, filename: str, after_bytes: int) -> None:
        """Make the next whole-file GET of this file stop after ``after_bytes`` and close the connection."""
        self._drops[self.repos[repo_id].files[filename].oid] = after_bytes

    def drop_every_transfer(self, repo_id: str, filename: str, after_bytes: int | None) -> None:
        """Make every GET of this file (whole or ranged) stop after ``after_bytes``: no resume can finish it (None: stop)."""
        oid = self.repos[repo_id].files[filename].oid
        if after_bytes is None:
            self._drop_always.pop(oid, None)
        else:
            self._drop_always[oid] = after_bytes

    def refuse_all(self, status: int | None) -> None:
        """Answer every request with a bare ``status`` (None: serve normally again)."""
        self.refusal = status

    def start(self) -> "FakeHub":
        hub = self._serve(_HubHandler)
        cdn = self._serve(_CdnHandler)
        self.url = f"http://127.0.0.1:{hub.server_address[1]}"
        self.cdn_url = f"http://127.0.0.1:{cdn.server_address[1]}"
        return self

    def _serve(self, handler) -> ThreadingHTTPServer:
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        server.daemon_threads = True
        server.hub = self
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        self._servers.append(server)
        return server

    def stop(self) -> None:
        for server in self._servers:
            server.shutdown()
            server.server_close()
        self._servers.clear()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # ---- inspection

    def requests(self, *, server=None, method=None, contains=None) -> list[LoggedRequest]:
        with self._lock:
            return [
                r
                for r in self.log
                if (server is None or r.server == server)
                and (method is None or r.method == method)
                and (contains is None or contains in r.path)
            ]

    def blob_url(self, oid: str) -> str:
        return f"{self.cdn_url}/repos/{oid}"

    def _record(self, server: str, handler) -> None:
        with self._lock:
            self.log.append(
                LoggedRequest(server, handler.command, handler.path, {k.lower(): v for k, v in handler.headers.items()})
            )

    def _take_drop(self, oid: str) -> int | None:
        with self._lock:
            return self._drops.pop(oid, None)

    def _always_drop(self, oid: str) -> int | None:
        with self._lock:
            return self._drop_always.get(oid)


class _Handler(BaseHTTPRequestHandler):
    server_name_tag = ""

    def log_message(self, *args):  # keep test output clean
        pass

    @property
    def hub(self) -> FakeHub:
        return self.server.hub

    def _send(self, status: int, headers: dict, body: bytes = b"") -> None:
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, str(v))
        if "Content-Length" not in headers:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD" and body:
            self.wfile.write(body)

    def _error(self, status: int, code: str | None, message: str, extra: dict | None = None) -> None:
        headers = {"Content-Type": "application/json"}
        if code:
            headers["X-Error-Code"] = code
        headers["X-Error-Message"] = message
        headers.update(extra or {})
        self._send(status, headers, json.dumps({"error": message}).encode())

    def _serve_bytes(self, f: _File, headers: dict, *, droppable: bool) -> None:
        """Send a file, honouring a Range header; maybe drop the connection part-way."""
        start, end = 0, f.size
        status = 200
        rng = self.headers.get("Range")
        if rng:
            spec = rng.strip().removeprefix("bytes=")
            first, _, last = spec.partition("-")
            try:
                start = int(first) if first else f.size - int(last)
                end = int(last) + 1 if (first and last) else f.size
            except ValueError:
                return self._error(416, None, f"bad range {rng}")
            if not 0 <= start < end <= f.size:
                return self._error(416, None, "range not satisfiable", {"Content-Range": f"bytes */{f.size}"})
            status = 206
            headers["Content-Range"] = f"bytes {start}-{end - 1}/{f.size}"
        headers.update({"Content-Length": end - start, "Accept-Ranges": "bytes"})
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, str(v))
        self.end_headers()
        if self.command == "HEAD":
            return
        cut = self.hub._take_drop(f.oid) if (droppable and status == 200) else None
        if droppable and self.hub._always_drop(f.oid) is not None:
            cut = self.hub._always_drop(f.oid)
        sent = 0
        for block in f.read(start, end):
            if cut is not None and sent + len(block) >= cut:
                self.wfile.write(block[: cut - sent])
                self.wfile.flush()
                self.close_connection = True  # the client sees the body end early
                return
            self.wfile.write(block)
            sent += len(block)

    def do_HEAD(self):
        self.hub._record(self.server_name_tag, self)
        self._answer()

    def do_GET(self):
        self.hub._record(self.server_name_tag, self)
        self._answer()

    def _answer(self):
        if self.hub.refusal is not None:  # a proxy's answer: no X-Error-Code, an HTML page
            status = self.hub.refusal
            extra = {"Proxy-Authenticate": 'Basic realm="proxy"'} if status == 407 else {}
            return self._send(status, {"Content-Type": "text/html", **extra}, b"<html><body>Access denied</body></html>")
        self.handle_request()


class _HubHandler(_Handler):
    server_name_tag = "hub"

    def handle_request(self):
        path = unquote(urlsplit(self.path).path)
        if path.startswith("/api/models/"):
            return self._model_info(path[len("/api/models/"):])
        parts = path.lstrip("/").split("/", 4)
        if len(parts) == 5 and parts[2] == "resolve":
            return self._resolve(f"{parts[0]}/{parts[1]}", parts[3], parts[4])
        self._error(404, None, "Not found")

    def _repo(self, repo_id: str) -> _Repo | None:
        repo = self.hub.repos.get(repo_id)
        if repo is None:
            self._error(404, "RepoNotFound", "Repository not found")
        return repo

    def _revision_ok(self, repo: _Repo, revision: str) -> bool:
        if revision in ("main", repo.commit):
            return True
        self._error(404, "RevisionNotFound", "Invalid rev id: " + revision)
        return False

    def _model_info(self, rest: str):
        repo_id, _, revision = rest.partition("/revision/")
        repo = self._repo(repo_id)
        if repo is None or not self._revision_ok(repo, revision or "main"):
            return
        siblings = []
        for f in repo.files.values():
            sib = {"rfilename": f.name, "size": f.size, "blobId": hashlib.sha1(f.oid.encode()).hexdigest()}
            if f.lfs:
                sib["lfs"] = {"sha256": f.oid, "size": f.size, "pointerSize": 134}
            siblings.append(sib)
        tags = ["gguf"] + ([f"license:{repo.licence}"] if repo.licence else [])
        card = {}
        if repo.licence:
            known = repo.licence in _HUB_LICENCE_IDS
            card = {"license": repo.licence} if known else {"license": "other", "license_name": repo.licence}
        body = {
            "_id": repo.commit[:24],
            "id": repo.repo_id,
            "modelId": repo.repo_id,
            "sha": repo.commit,
            "private": False,
            "gated": "manual" if repo.gated else False,
            "disabled": False,
            "downloads": 0,
            "likes": 0,
            "tags": tags,
            "cardData": card,
            "library_name": "gguf",
            "siblings": siblings,
        }
        self._send(200, {"Content-Type": "application/json"}, json.dumps(body).encode())

    def _resolve(self, repo_id: str, revision: str, filename: str):
        repo = self._repo(repo_id)
        if repo is None or not self._revision_ok(repo, revision):
            return
        commit = {"X-Repo-Commit": repo.commit}
        if repo.gated:
            auth = self.headers.get("Authorization", "")
            if not auth:
                return self._error(401, "GatedRepo", f"Access to model {repo_id} is restricted. Please log in.", commit)
            if auth != f"Bearer {self.hub.token}":
                return self._error(
                    403, "GatedRepo", f"Access to model {repo_id} is restricted and you are not in the authorized list.", commit
                )
        f = repo.files.get(filename)
        if f is None:
            return self._error(404, "EntryNotFound", f"{filename} does not exist on \"{revision}\"", commit)
        if f.lfs:
            headers = dict(commit)
            headers.update(
                {
                    "Location": self.hub.blob_url(f.oid) + "?filename=" + quote(filename),
                    "X-Linked-Etag": f'"{f.oid}"',
                    "X-Linked-Size": f.size,
                    "ETag": f'"{hashlib.sha1(f.oid.encode()).hexdigest()}"',
                    "Content-Length": 0,
                }
            )
            return self._send(302, headers)
        headers = dict(commit)
        headers["ETag"] = f'"{f.oid}"'
        self._serve_bytes(f, headers, droppable=False)


class _CdnHandler(_Handler):
    server_name_tag = "cdn"

    def handle_request(self):
        path = urlsplit(self.path).path
        oid = path.rsplit("/", 1)[-1]
        for repo in self.hub.repos.values():
            for f in repo.files.values():
                if f.lfs and f.oid == oid:
                    return self._serve_bytes(f, {"ETag": f'"{f.oid}"', "Content-Type": "application/octet-stream"}, droppable=True)
        self._error(404, None, "NoSuchKey")
