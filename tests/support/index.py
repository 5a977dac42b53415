#!/usr/bin/env python3
"""The integration suite's package index: PyPI as it was when the snapshot
under tests/index/ was taken, served on the loopback address, so that no
answer of the suite moves when PyPI gets a new release.

    index.py serve --snapshot tests/index --files DIR --port-file FILE [--record] [--idle SECONDS]
    index.py record --snapshot tests/index PROJECT...     # pin (or re-pin) projects from the live index
    index.py check --snapshot tests/index                 # does the live index still answer so?

tests/index/<project>.jsonl is one project's file list as PyPI's PEP 691
page gave it when it was pinned: a first line saying when and from where,
then one line per file (name, URL, sha256, requires-python, yanked and its
reason, upload time). It keeps every sdist and every wheel that installs
on Linux x86_64 with glibc (the only machine the suite runs on): a resolver here sees
exactly what it would see on PyPI that day.

`serve` answers as a PEP 503/691 simple index does (JSON when the client
accepts it, as uv and pip do, else HTML with data-yanked and
data-requires-python), under /simple/ and under /at/<UTC time>/simple/ (the
same snapshot without the files uploaded after that time: the index as it
was then). A file is fetched from where PyPI keeps it the first time it is
asked for, checked against the pinned sha256 and kept in --files; from then
on it is served from there, without a network. With --record, a project
that is not pinned yet is pinned from the live index when first asked for
(how a new test's dependencies get into the snapshot). It exits after
--idle seconds without a request. GET /health says which snapshot and files
it serves.

`check` asks the live index for every pinned project and prints (as JSON)
each way it no longer answers as the snapshot does: a pinned file it no
longer lists, or lists with another URL, sha256, requires-python or yanked
state, and a file it lists as uploaded before the project was pinned that
the snapshot lacks. Files uploaded since are not differences: the snapshot
is the index as it was. Exit 1 when there is any.
"""

import argparse
import hashlib
import html
import json
import os
import re
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LIVE = "https://pypi.org/simple"
# Where PyPI keeps its files; a pinned URL under it is stored without it.
FILES = "https://files.pythonhosted.org/packages/"
JSON_TYPE = "application/vnd.pypi.simple.v1+json"


def normalize(name):
    """A project's name as indexes compare them (PEP 503)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def installs_here(filename):
    """Whether a file is kept in the snapshot: an sdist, or a wheel with a
    platform tag that installs on Linux x86_64 with glibc (`any` included;
    musllinux wheels do not install there)."""
    if filename.endswith((".tar.gz", ".zip", ".tar.bz2", ".tgz", ".tar.xz")):
        return True
    if not filename.endswith(".whl"):
        return False
    platforms = filename[: -len(".whl")].split("-")[-1].split(".")
    return any(
        p in ("any", "linux_x86_64")
        or (p.startswith("manylinux") and p.endswith("_x86_64"))
        for p in platforms
    )


def live_page(project):
    """The live index's PEP 691 page of `project`, or None when it has none."""
    request = urllib.request.Request(
        "%s/%s/" % (LIVE, project), headers={"Accept": JSON_TYPE}
    )
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return json.load(response)
    except urllib.error.HTTPError as e:
        if e.code == 404:
            return None
        raise


def pin(snapshot, project):
    """Writes `project`'s snapshot from the live index; False when the live
    index has no such project."""
    page = live_page(project)
    if page is None:
        return False
    lines = [
        json.dumps(
            {
                "project": project,
                "pinned": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "from": "%s/%s/" % (LIVE, project),
                "kept": "sdists, and wheels that install on Linux x86_64 with glibc",
            },
            sort_keys=True,
        )
    ]
    for f in sorted(page["files"], key=lambda f: f["filename"]):
        if installs_here(f["filename"]):
            lines.append(json.dumps(entry(f), sort_keys=True))
    os.makedirs(snapshot, exist_ok=True)
    path = os.path.join(snapshot, project + ".jsonl")
    fd, tmp = tempfile.mkstemp(dir=snapshot, prefix=".pin-")
    with os.fdopen(fd, "w") as out:
        out.write("\n".join(lines) + "\n")
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)
    return True


def entry(f):
    """A live PEP 691 file as the snapshot keeps it."""
    url = f["url"]
    return {
        "filename": f["filename"],
        "url": url[len(FILES) :] if url.startswith(FILES) else url,
        "sha256": f["hashes"].get("sha256", ""),
        "requires-python": f.get("requires-python"),
        "yanked": f.get("yanked", False),
        "upload-time": f.get("upload-time"),
    }


def differences(snapshot, name):
    """How the live index's page of `name` differs from its snapshot."""
    header, pinned = read_snapshot(os.path.join(snapshot, name + ".jsonl"))
    page = live_page(name)
    if page is None:
        return ["%s: the live index no longer has the project" % name]
    live = {f["filename"]: entry(f) for f in page["files"] if installs_here(f["filename"])}
    out = []
    for old in pinned:
        new = live.get(old["filename"])
        if new is None:
            out.append("%s: no longer listed" % old["filename"])
            continue
        for key in ("url", "sha256", "requires-python", "yanked"):
            if old.get(key) != new.get(key):
                out.append(
                    "%s: %s is now %s, pinned %s"
                    % (old["filename"], key, json.dumps(new.get(key)), json.dumps(old.get(key)))
                )
    names = {e["filename"] for e in pinned}
    for filename, new in sorted(live.items()):
        # PyPI's upload times have microseconds, the pin's time seconds.
        if filename not in names and (new.get("upload-time") or "")[:19] < header["pinned"][:19]:
            out.append("%s: listed, uploaded %s, before the pin" % (filename, new.get("upload-time")))
    return out


def check(snapshot):
    from concurrent.futures import ThreadPoolExecutor

    names = sorted(n[: -len(".jsonl")] for n in os.listdir(snapshot) if n.endswith(".jsonl"))
    with ThreadPoolExecutor(8) as pool:
        found = dict(zip(names, pool.map(lambda n: differences(snapshot, n), names)))
    json.dump({"checked": names, "differences": found}, sys.stdout, indent=1, sort_keys=True)
    sys.stdout.write("\n")
    return any(found.values())


def read_snapshot(path):
    with open(path) as f:
        lines = [json.loads(line) for line in f if line.strip()]
    return lines[0], lines[1:]


def upstream(url):
    return url if "://" in url else FILES + url


class Index:
    def __init__(self, snapshot, files, record):
        self.snapshot = os.path.abspath(snapshot)
        self.files = os.path.abspath(files)
        self.record = record
        self.lock = threading.Lock()
        self.projects = {}  # name -> list of file entries
        self.by_filename = {}  # filename -> entry
        self.fetching = {}  # filename -> lock
        self.last_request = time.monotonic()

    def identity(self):
        return {"snapshot": self.snapshot, "files": self.files, "record": self.record}

    def project(self, name):
        """The pinned files of `name`, or None (pinned now with --record)."""
        with self.lock:
            if name in self.projects:
                return self.projects[name]
            path = os.path.join(self.snapshot, name + ".jsonl")
            if not os.path.exists(path):
                if not self.record or not pin(self.snapshot, name):
                    return None
                sys.stderr.write("pinned %s from the live index\n" % name)
            _, entries = read_snapshot(path)
            self.projects[name] = entries
            for e in entries:
                self.by_filename[e["filename"]] = e
            return entries

    def file(self, filename):
        """The path of a pinned file, fetched and checked the first time."""
        if filename not in self.by_filename:
            # Asked for before its project's page (a client that kept the
            # page): every pinned project is read.
            for name in sorted(os.listdir(self.snapshot)):
                if name.endswith(".jsonl"):
                    self.project(name[: -len(".jsonl")])
        with self.lock:
            entry = self.by_filename.get(filename)
            lock = self.fetching.setdefault(filename, threading.Lock())
        if entry is None:
            return None, "not a file of a pinned project (ask for its page first)"
        path = os.path.join(self.files, filename)
        with lock:
            if os.path.exists(path):
                return path, None
            os.makedirs(self.files, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.files, prefix=".fetch-")
            digest = hashlib.sha256()
            try:
                with os.fdopen(fd, "wb") as out, urllib.request.urlopen(
                    upstream(entry["url"]), timeout=300
                ) as response:
                    while True:
                        chunk = response.read(1 << 20)
                        if not chunk:
                            break
                        digest.update(chunk)
                        out.write(chunk)
                if entry["sha256"] and digest.hexdigest() != entry["sha256"]:
                    raise ValueError(
                        "sha256 %s, pinned %s" % (digest.hexdigest(), entry["sha256"])
                    )
                os.chmod(tmp, 0o644)
                os.replace(tmp, path)
            except Exception as e:  # unreachable, or not the pinned bytes
                os.unlink(tmp)
                return None, "cannot fetch %s: %s" % (filename, e)
            return path, None


def visible(entries, before):
    if before is None:
        return entries
    return [e for e in entries if (e.get("upload-time") or "") < before]


def json_page(name, entries, files_url):
    return json.dumps(
        {
            "meta": {"api-version": "1.0"},
            "name": name,
            "files": [
                {
                    "filename": e["filename"],
                    "url": files_url + e["filename"],
                    "hashes": {"sha256": e["sha256"]} if e["sha256"] else {},
                    "requires-python": e.get("requires-python"),
                    "yanked": e.get("yanked", False),
                }
                for e in entries
            ],
        }
    )


def html_page(name, entries, files_url):
    links = []
    for e in entries:
        href = files_url + e["filename"]
        if e["sha256"]:
            href += "#sha256=" + e["sha256"]
        attrs = 'href="%s"' % html.escape(href)
        if e.get("requires-python"):
            attrs += ' data-requires-python="%s"' % html.escape(e["requires-python"])
        yanked = e.get("yanked", False)
        if yanked is True:
            attrs += " data-yanked"
        elif yanked:
            attrs += ' data-yanked="%s"' % html.escape(yanked)
        links.append("<a %s>%s</a><br/>" % (attrs, html.escape(e["filename"])))
    return (
        "<!DOCTYPE html>\n<html><head><meta name=\"pypi:repository-version\" content=\"1.0\">"
        "<title>Links for %s</title></head><body><h1>Links for %s</h1>\n%s\n</body></html>\n"
        % (name, name, "\n".join(links))
    )


class Handler(BaseHTTPRequestHandler):
    index = None  # set by serve()
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass  # quiet: only errors are written to the log

    def send(self, status, body, content_type="text/plain; charset=utf-8", head=False):
        data = body.encode() if isinstance(body, str) else body
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-cache")
        self.end_headers()
        if not head:
            self.wfile.write(data)

    def do_HEAD(self):
        self.answer(head=True)

    def do_GET(self):
        self.answer(head=False)

    def answer(self, head):
        index = self.index
        index.last_request = time.monotonic()
        path = self.path.split("?", 1)[0]
        host = self.headers.get("Host", "127.0.0.1")
        if path == "/health":
            return self.send(200, json.dumps(dict(index.identity(), pid=os.getpid())), "application/json", head)
        m = re.fullmatch(r"(?:/at/([0-9T:Z-]+))?/simple/([^/]+)/?", path)
        if m:
            before, asked = m.group(1), m.group(2)
            name = normalize(asked)
            entries = index.project(name)
            if entries is None:
                return self.send(404, "%s is not pinned in %s\n" % (name, index.snapshot), head=head)
            files_url = "http://%s/files/" % host
            entries = visible(entries, before)
            accept = self.headers.get("Accept", "")
            if JSON_TYPE in accept:
                return self.send(200, json_page(name, entries, files_url), JSON_TYPE, head)
            return self.send(200, html_page(name, entries, files_url), "text/html; charset=utf-8", head)
        m = re.fullmatch(r"/files/([^/]+)", path)
        if m:
            filename = urllib.request.url2pathname(m.group(1))
            found, why = index.file(filename)
            if found is None:
                sys.stderr.write("%s: %s\n" % (filename, why))
                return self.send(404 if "not a file" in why else 502, why + "\n", head=head)
            size = os.path.getsize(found)
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(size))
            self.end_headers()
            if not head:
                with open(found, "rb") as f:
                    while True:
                        chunk = f.read(1 << 20)
                        if not chunk:
                            break
                        self.wfile.write(chunk)
            return None
        return self.send(404, "no such page\n", head=head)


def serve(args):
    index = Index(args.snapshot, args.files, args.record)
    Handler.index = index
    wanted = 0
    try:
        with open(args.port_file) as f:
            wanted = int(f.read().strip() or 0)
    except (OSError, ValueError):
        pass
    server = None
    for port in ([wanted] if wanted else []) + [0]:
        try:
            server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
            break
        except OSError:
            continue
    server.daemon_threads = True
    port = server.server_address[1]
    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(port))
    os.replace(tmp, args.port_file)

    def idle_exit():
        while time.monotonic() - index.last_request < args.idle:
            time.sleep(5)
        server.shutdown()

    threading.Thread(target=idle_exit, daemon=True).start()
    server.serve_forever()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    s = sub.add_parser("serve")
    s.add_argument("--snapshot", required=True)
    s.add_argument("--files", required=True)
    s.add_argument("--port-file", required=True)
    s.add_argument("--record", action="store_true")
    s.add_argument("--idle", type=float, default=900)
    r = sub.add_parser("record")
    r.add_argument("--snapshot", required=True)
    r.add_argument("projects", nargs="+")
    c = sub.add_parser("check")
    c.add_argument("--snapshot", required=True)
    args = parser.parse_args()
    if args.command == "serve":
        serve(args)
    elif args.command == "check":
        sys.exit(1 if check(args.snapshot) else 0)
    else:
        for project in args.projects:
            if not pin(args.snapshot, normalize(project)):
                sys.exit("%s: no such project on %s" % (project, LIVE))
            print("pinned", normalize(project))


if __name__ == "__main__":
    main()
