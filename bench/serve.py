#!/usr/bin/env python3
"""Live-reload benchmark: how long after an editor saves an article does the served page change?

Run by hand (never in CI), from the repository root:

    /work/venv/bin/python bench/serve.py                  # 10,000 articles, 10 edits
    /work/venv/bin/python bench/serve.py --articles 1000 --edits 20 --no-results

On a make_corpus.py corpus (in bench/_work/serve-N/, its own copy: the benchmark edits it) it:

1. times a full `kbgen build` (one process, interpreter start-up included), for comparison;
2. starts `kbgen serve` on 127.0.0.1 and waits for its first build (timed too);
3. connects to its server-sent events (/__kbgen/events) like a browser tab;
4. `--edits` times: appends a line to one article (articles spread over the corpus) and measures
   - save → HTML on disk: from just before the write until the article's page in the served folder holds the
     new line (polled every 0.5 ms by a thread of this process),
   - save → reload event: until the `reload` event for that page arrives on the SSE stream,
   - the server's own rebuild time (from /__kbgen/status);
5. also `--title-edits` title changes (listing pages re-rendered too) as a separate row.

Hugo's figures for the same edit are from its own log (`hugo server`: 539 ms from the change to the
re-render, about 1 s from the write to the log line), quoted for comparison, not re-measured here.

Writes the "Serve" section of bench/RESULTS.md (between `<!-- serve:start -->` / `<!-- serve:end -->`)
with the date and the machine.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import queue
import re
import shutil
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
RESULTS_MD = BENCH / "RESULTS.md"
MARK_START, MARK_END = "<!-- serve:start -->", "<!-- serve:end -->"
DEFAULT_MAKE_CORPUS = Path(os.environ.get("KBGEN_MAKE_CORPUS", "/work/shared/bench/make_corpus.py"))
HUGO_EDIT_MS = 539
HUGO_WRITE_TO_LOG_MS = 1000

sys.path.insert(0, str(ROOT))
from kbgen.serve import DEBOUNCE, iter_sse  # noqa: E402


def log(msg: str) -> None:
    print(f"[serve-bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def kbgen_cmd() -> list[str]:
    return [sys.executable, "-m", "kbgen"]


def machine() -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem = f"{int(line.split()[1]) / 1024 / 1024:.1f} GB RAM"
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "mem": mem,
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "load": " ".join(f"{x:.1f}" for x in os.getloadavg()),
    }


def prepare(articles: int, work: Path, make_corpus: Path, fresh: bool) -> Path:
    project = work / f"serve-{articles}"
    content = project / "content"
    stamp = project / "corpus-stamp.json"
    want = {"articles": articles, "generator": str(make_corpus), "mtime": make_corpus.stat().st_mtime}
    if fresh or not stamp.is_file() or json.loads(stamp.read_text()) != want:
        shutil.rmtree(project, ignore_errors=True)
        project.mkdir(parents=True)
        log(f"generating {articles} articles with {make_corpus} (not timed)")
        subprocess.run([sys.executable, str(make_corpus), "--articles", str(articles), "--out", str(content)],
                       check=True, stdout=subprocess.DEVNULL)  # fmt: skip
        stamp.write_text(json.dumps(want))
    (project / "kbgen.toml").write_text('title = "Serve benchmark"\n')
    return project


def fix_slug_clashes(project: Path, stderr: str) -> int:
    """make_corpus can give two files names that slugify alike; give the second one a `slug:` (as an editor
    would, following kbgen's own message) so that the corpus builds."""
    fixed = 0
    for m in re.finditer(r"^(\S+\.md):1: error: same URL \S+ as (\S+\.md); give one", stderr, re.M):
        path = project / "content" / m.group(1)
        text = path.read_text(encoding="utf-8")
        if "\nslug:" not in text:
            text = text.replace("---\n", f"---\nslug: {path.stem.strip('-')}-{fixed + 2}\n", 1)
            path.write_text(text, encoding="utf-8")
            fixed += 1
    return fixed


def full_build(project: Path) -> tuple[float, str]:
    """A cold `kbgen build` (no site/, no .kbgen/ cache), one process."""
    shutil.rmtree(project / "site", ignore_errors=True)
    shutil.rmtree(project / ".kbgen", ignore_errors=True)
    start = time.perf_counter()
    proc = subprocess.run([*kbgen_cmd(), "build", "--timings"], cwd=project, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr[-3000:])
    return elapsed, (proc.stdout.strip().splitlines() or [""])[-1]


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    def __init__(self, project: Path) -> None:
        self.project = project
        self.port = free_port()
        self.logfile = (project / "serve.log").open("w")
        self.started = time.perf_counter()
        self.proc = subprocess.Popen([*kbgen_cmd(), "serve", "--port", str(self.port)], cwd=project,
                                     stdout=self.logfile, stderr=subprocess.STDOUT)  # fmt: skip
        self.base = f"http://127.0.0.1:{self.port}"
        while True:
            try:
                st = self.status()
                if not st["building"] and st["build"] >= 1:
                    break
                if not st["building"] and not st["ok"]:
                    raise RuntimeError(f"first build failed: {st['errors'][:5]}")
            except OSError:
                pass
            if self.proc.poll() is not None:
                raise RuntimeError((project / "serve.log").read_text()[-3000:])
            time.sleep(0.05)
        self.first_build = time.perf_counter() - self.started
        self.events: queue.Queue[tuple[float, str, dict[str, Any]]] = queue.Queue()
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=600)
        conn.request("GET", "/__kbgen/events")
        resp = conn.getresponse()

        def pump() -> None:
            try:
                for event, data in iter_sse(iter(lambda: resp.fp.readline(), b"")):
                    self.events.put((time.perf_counter(), event, data))
            except (OSError, ValueError):
                pass

        threading.Thread(target=pump, daemon=True).start()
        _, event, _ = self.events.get(timeout=10)
        assert event == "hello"
        self.conn = conn

    def status(self) -> dict[str, Any]:
        with urllib.request.urlopen(self.base + "/__kbgen/status", timeout=30) as r:
            return json.loads(r.read())

    def output_dir(self) -> Path:
        builds = sorted((self.project / ".kbgen" / "serve" / str(self.proc.pid)).glob("build-*"),
                        key=lambda p: int(p.name.split("-")[1]))  # fmt: skip
        return builds[-1]

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.logfile.close()


def article_url(content: Path, rel: str) -> str:
    """The article's URL as kbgen makes it (folder names and file names slugified; `slug:` wins)."""
    from slugify import slugify

    from kbgen.content.frontmatter import read_source

    parsed, _ = read_source((content / rel).read_bytes(), rel)
    parts = rel.split("/")
    folders = []
    for i in range(min(2, len(parts) - 1)):
        index = content.joinpath(*parts[: i + 1], "_index.md")
        meta = read_source(index.read_bytes(), "")[0].meta if index.is_file() else {}  # type: ignore[union-attr]
        folders.append(slugify(str(meta.get("slug") or parts[i])))
    slug_raw = parsed.meta.get("slug") if parsed else None
    try:
        from kbgen.content.load import make_slug
    except ImportError:
        slug = slugify(str(slug_raw or Path(rel).stem), max_length=80, word_boundary=True)
    else:
        slug = make_slug(str(slug_raw or Path(rel).stem))
    return "/" + "/".join([*folders, slug]) + "/"


def wait_for(path: Path, marker: bytes, timeout: float = 60.0) -> float:
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        try:
            if marker in path.read_bytes():
                return time.perf_counter()
        except OSError:
            pass
        time.sleep(0.0005)
    raise TimeoutError(f"{path} never showed the edit")


def one_edit(server: Server, content: Path, rel: str, title: bool, follow_search: bool) -> dict[str, float]:
    url = article_url(content, rel)
    page = server.output_dir() / url.strip("/") / "index.html"
    if not page.is_file():
        raise RuntimeError(f"expected output {page} for {rel}")
    marker = f"bench-{uuid.uuid4().hex[:12]}"
    path = content / rel
    text = path.read_text(encoding="utf-8")
    if title:
        new_text = re.sub(r"^title:\s*(.*)$", lambda m: f"title: {json.dumps(marker + ' ' + m.group(1).strip(chr(34)))}",
                          text, count=1, flags=re.M)  # fmt: skip
    else:
        new_text = text.rstrip("\n") + f"\n\nOne more line written by the benchmark: {marker}.\n"
    while not server.events.empty():
        server.events.get_nowait()
    holder: dict[str, float] = {}
    poller = threading.Thread(target=lambda: holder.update(html=wait_for(page, marker.encode())), daemon=True)
    poller.start()
    start = time.perf_counter()
    with path.open("w", encoding="utf-8") as fh:
        fh.write(new_text)
    while True:
        t, event, data = server.events.get(timeout=120)
        if event == "reload" and (data.get("paths") is None or url in data["paths"]):
            break
        if event == "status":
            raise RuntimeError(f"rebuild failed: {server.status()['errors'][:3]}")
    poller.join(60)
    status = server.status()
    search_ms = float("nan")
    before = int((status.get("search") or {}).get("updates", 0))
    deadline = time.perf_counter() + 300
    while follow_search and "search" in status and time.perf_counter() < deadline:  # index: in the background
        search = status["search"]
        if not search["updating"] and search["updates"] >= before:
            search_ms = (time.perf_counter() - start) * 1000
            break
        time.sleep(0.01)
        status = server.status()
    return {
        "html_ms": (holder["html"] - start) * 1000,
        "event_ms": (t - start) * 1000,
        "server_ms": float(status.get("seconds", 0)) * 1000,
        "search_ms": search_ms,
    }


def summarize(rows: list[dict[str, float]], key: str) -> dict[str, float]:
    values = [r[key] for r in rows]
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def section(info: dict[str, Any], args: argparse.Namespace, build_s: float, build_line: str, first_s: float,
            edits: list[dict[str, float]], titles: list[dict[str, float]], started: datetime) -> str:  # fmt: skip
    html = summarize(edits, "html_ms")
    event = summarize(edits, "event_ms")
    server = summarize(edits, "server_ms")
    verdict = "meets" if html["median"] <= 300 else "misses"
    lines = [
        "## Serve: save → page (`bench/serve.py`)",
        "",
        f"{started:%Y-%m-%d %H:%M} UTC on {info['cpu']}, {info['cores']} cores, {info['mem']}, {info['os']}, "
        f"Python {info['python']}; load average at the start {info['load']} (a shared machine: other work "
        "takes CPU from the runs). "
        f"Corpus: `make_corpus.py --articles {args.articles}`; `kbgen serve` on 127.0.0.1 with one SSE client.",
        "",
        f"| {args.articles:,} articles | median | min | max |",
        "|---|---|---|---|",
        f"| **save → updated HTML on disk** ({len(edits)} edits: append a line) | **{html['median']:.0f} ms** | "
        f"{html['min']:.0f} ms | {html['max']:.0f} ms |",
        f"| save → `reload` event on the SSE stream | {event['median']:.0f} ms | {event['min']:.0f} ms | "
        f"{event['max']:.0f} ms |",
        f"| the server's rebuild (file event → pages written) | {server['median']:.0f} ms | "
        f"{server['min']:.0f} ms | {server['max']:.0f} ms |",
    ]
    followed = [
        r for r in edits if r["search_ms"] == r["search_ms"]
    ]  # not NaN: the search index was followed
    if followed:
        srch = summarize(followed, "search_ms")
        lines.append(
            f"| save → search index updated ({len(followed)} edits; in a worker process, after the reload) | "
            f"{srch['median'] / 1000:.1f} s | {srch['min'] / 1000:.1f} s | {srch['max'] / 1000:.1f} s |"
        )
    if titles:
        th, te = summarize(titles, "html_ms"), summarize(titles, "event_ms")
        lines.append(
            f"| title change ({len(titles)} edits: section, category, tag, neighbour pages re-rendered): "
            f"save → HTML / → event | {th['median']:.0f} / {te['median']:.0f} ms | {th['min']:.0f} / "
            f"{te['min']:.0f} ms | {th['max']:.0f} / {te['max']:.0f} ms |"
        )
    lines += [
        f"| full `kbgen build` of the same corpus (cold: no site/, no .kbgen/; one process) | {build_s:.1f} s | | |",
        f"| `kbgen serve` start → first build served (reusing that build's cache) | {first_s:.1f} s | | |",
        "",
        f"Target ≤ 300 ms save → HTML: **{verdict}** it ({html['median']:.0f} ms, "
        f"{build_s * 1000 / max(html['median'], 0.1):,.0f}× faster than a full build). For comparison, `hugo server` "
        f"logged {HUGO_EDIT_MS} ms for the same edit (about {HUGO_WRITE_TO_LOG_MS / 1000:.0f} s from the write to "
        "its log line).",
        f"Each time includes the watcher (inotify) and the {DEBOUNCE * 1000:.0f} ms debounce that folds bursts of saves into "
        "one rebuild. Full build: " + (build_line or "-") + ".",
        "",
    ]
    return "\n".join(lines)


def write_section(body: str) -> None:
    text = RESULTS_MD.read_text() if RESULTS_MD.is_file() else "# Benchmarks\n"
    block = f"{MARK_START}\n{body.rstrip()}\n{MARK_END}"
    if MARK_START in text and MARK_END in text:
        head, rest = text.split(MARK_START, 1)
        _, tail = rest.split(MARK_END, 1)
        text = head + block + tail
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    tmp = RESULTS_MD.with_suffix(".md.tmp-serve")
    tmp.write_text(text)
    tmp.replace(RESULTS_MD)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--articles", type=int, default=10000)
    ap.add_argument("--edits", type=int, default=10)
    ap.add_argument("--title-edits", type=int, default=3)
    ap.add_argument(
        "--search-edits",
        type=int,
        default=3,
        help="for the first N edits, also wait for the search index to follow (default: %(default)s)",
    )
    ap.add_argument("--make-corpus", type=Path, default=DEFAULT_MAKE_CORPUS)
    ap.add_argument("--workdir", type=Path, default=BENCH / "_work")
    ap.add_argument("--fresh", action="store_true", help="regenerate the corpus")
    ap.add_argument("--no-results", action="store_true", help="print the section, leave RESULTS.md alone")
    args = ap.parse_args()
    if not args.make_corpus.is_file():
        sys.exit(f"make_corpus.py not found at {args.make_corpus} (use --make-corpus PATH)")
    started = datetime.now(timezone.utc)
    info = machine()
    project = prepare(args.articles, args.workdir, args.make_corpus, args.fresh)
    content = project / "content"

    log("full kbgen build (timed)")
    try:
        build_s, build_line = full_build(project)
    except RuntimeError as exc:
        fixed = fix_slug_clashes(project, str(exc))
        if not fixed:
            raise
        log(f"gave {fixed} article(s) a `slug:` (two file names made the same URL); building again")
        build_s, build_line = full_build(project)
    log(f"full build: {build_s:.1f} s ({build_line})")

    log("starting kbgen serve")
    server = Server(project)
    log(f"first build served after {server.first_build:.1f} s")
    try:
        md = sorted(p.relative_to(content).as_posix() for p in content.rglob("*.md") if p.name != "_index.md")
        step = max(1, len(md) // (args.edits + args.title_edits + 1))
        picks = md[step // 2 :: step]
        edits, titles = [], []
        for i in range(args.edits):
            time.sleep(0.4)
            row = one_edit(server, content, picks[i], title=False, follow_search=i < args.search_edits)
            edits.append(row)
            log(f"edit {i + 1}: save → HTML {row['html_ms']:.0f} ms, → event {row['event_ms']:.0f} ms "
                f"(server {row['server_ms']:.0f} ms; search {row['search_ms']:.0f} ms) {picks[i]}")  # fmt: skip
        for i in range(args.title_edits):
            time.sleep(0.4)
            row = one_edit(server, content, picks[args.edits + i], title=True, follow_search=False)
            titles.append(row)
            log(f"title edit {i + 1}: save → HTML {row['html_ms']:.0f} ms, → event {row['event_ms']:.0f} ms "
                f"(server {row['server_ms']:.0f} ms)")  # fmt: skip
    finally:
        server.stop()
    body = section(info, args, build_s, build_line, server.first_build, edits, titles, started)
    print(body)
    if not args.no_results:
        write_section(body)
        log(f"wrote the Serve section of {RESULTS_MD}")


if __name__ == "__main__":
    main()
