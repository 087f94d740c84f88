#!/usr/bin/env python3
"""Build benchmark: kbgen against Hugo + Pagefind on the same content, interleaved.

Run by hand (never in CI), from anywhere:

    /work/venv/bin/python bench/build.py                      # arduino,1000,10000; 3 runs + 1 warm-up
    /work/venv/bin/python bench/build.py --sizes arduino --runs 5
    /work/venv/bin/python bench/build.py --sizes 50000 --runs 1 --no-results

For every corpus and every round it runs, in alternating order (ABBA: even rounds kbgen first, odd rounds
Hugo + Pagefind first) so that the noise of a shared machine hits both tools alike:

    cold            kbgen: `rm -rf site .kbgen` (NOT timed, reported apart), then `kbgen build`
                    Hugo + Pagefind: `rm -rf public` (NOT timed), then `hugo`, then `pagefind --site public`
    over existing   kbgen: `kbgen build` with site/ and .kbgen/ of the previous run kept
                    Hugo + Pagefind: the same two commands overwriting the previous public/ (pagefind/ included)

Before every timed command the page cache is flushed to disk (`sync`, not timed) so that the previous run's
write-back does not land in the next run's time. Each command is one whole process (interpreter start-up
included), measured with:

    wall      perf_counter around spawn → os.wait4()
    CPU       user + sys of the process and the children it waited for (wait4 rusage)
    RSS max   ru_maxrss from wait4 = the largest single process of the tree (what `/usr/bin/time -f %M` shows)
    tree PSS  polled from /proc (every 20 ms for the first 2 s, then every --poll s): the peak of the summed
              PSS of the whole process tree (kbgen forks workers that share pages with the parent; PSS splits
              shared pages, so the sum is what the tree really holds). A sampled lower bound.
    others    CPU-seconds the rest of the machine used during the run, from /proc/stat (noise indicator)

Tools: Hugo from Debian (`apt-get install -y hugo` if missing), Pagefind 1.6.0 from npm into
bench/_work/node_modules (the `@pagefind/linux-x64` binary is run directly, no node wrapper). Corpora are made
with make_corpus.py into bench/_work/ (git-ignored) and reused while the generator and the size are unchanged.
Results: the "Build" section of bench/RESULTS.md (between the build markers) and a JSON file with every run in
bench/_work/results/.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
HUGO_SITE = BENCH / "hugo"
RESULTS_MD = BENCH / "RESULTS.md"
ARDUINO_CONTENT = ROOT / "tests" / "fixtures" / "arduino-help-center" / "content"
DEFAULT_MAKE_CORPUS = Path(os.environ.get("KBGEN_MAKE_CORPUS", "/work/shared/bench/make_corpus.py"))
PAGEFIND_VERSION = "1.6.0"
MARK_START, MARK_END = "<!-- build:start -->", "<!-- build:end -->"
PAGE = os.sysconf("SC_PAGE_SIZE")
HZ = os.sysconf("SC_CLK_TCK")
MiB = 1024 * 1024


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------------------------------
# Measuring one process (tree)
# --------------------------------------------------------------------------------------------------------------


def _cpu_jiffies() -> tuple[int, int]:
    """(busy, steal) jiffies of the whole machine from /proc/stat."""
    with open("/proc/stat") as f:
        parts = f.readline().split()[1:]
    v = [int(x) for x in parts]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (v + [0] * 8)[:8]
    return user + nice + system + irq + softirq, steal


class TreeMonitor(threading.Thread):
    """Polls the summed RSS and PSS of a process and all its descendants."""

    def __init__(self, pid: int, interval: float) -> None:
        super().__init__(daemon=True)
        self.pid, self.interval = pid, interval
        self.peak_rss = self.peak_pss = 0  # bytes, summed over the tree at one instant
        self.peak_procs = 0
        self.samples = 0
        self._halt = threading.Event()
        self._start = time.perf_counter()

    def tree(self) -> list[int]:
        pids, i = [self.pid], 0
        while i < len(pids):
            pid = pids[i]
            i += 1
            try:
                tasks = os.listdir(f"/proc/{pid}/task")
            except OSError:
                continue
            for tid in tasks:
                try:
                    with open(f"/proc/{pid}/task/{tid}/children") as f:
                        pids.extend(int(c) for c in f.read().split())
                except OSError:
                    pass
        return pids

    def sample(self) -> None:
        rss = pss = n = 0
        for pid in self.tree():
            try:
                with open(f"/proc/{pid}/statm") as f:
                    r = int(f.read().split()[1]) * PAGE
                p = r
                try:
                    with open(f"/proc/{pid}/smaps_rollup") as f:
                        for line in f:
                            if line.startswith("Pss:"):
                                p = int(line.split()[1]) * 1024
                                break
                except OSError:
                    pass
            except (OSError, ValueError, IndexError):
                continue
            if r == 0:  # zombie
                continue
            rss += r
            pss += p
            n += 1
        self.samples += 1
        self.peak_rss = max(self.peak_rss, rss)
        self.peak_pss = max(self.peak_pss, pss)
        self.peak_procs = max(self.peak_procs, n)

    def run(self) -> None:
        while True:
            self.sample()
            fast = time.perf_counter() - self._start < 2.0
            if self._halt.wait(min(0.02, self.interval) if fast else self.interval):
                return

    def stop(self) -> None:
        self._halt.set()
        self.join()


@dataclass
class Measure:
    wall: float  # s
    cpu: float  # s, user + sys
    rss_max: float  # MiB, largest single process (wait4 ru_maxrss)
    tree_pss: float  # MiB, peak of the summed PSS of the tree (sampled)
    tree_rss: float  # MiB, peak of the summed RSS of the tree (sampled; counts shared pages once per process)
    procs: int  # most processes alive at one sample
    others_cpu: float  # s of CPU used by the rest of the machine during the run
    steal: float  # s of CPU stolen by the hypervisor during the run (all cores)
    rc: int
    stdout: str = ""


def run_measured(
    cmd: list[str], cwd: Path, log_file: Path, poll: float, env: dict[str, str] | None = None, nice: int = 0
) -> Measure:
    log_file.parent.mkdir(parents=True, exist_ok=True)
    busy0, steal0 = _cpu_jiffies()
    with open(log_file, "wb") as out:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                env=env, preexec_fn=(lambda: os.setpriority(os.PRIO_PROCESS, 0, nice)) if nice else None)  # fmt: skip
        mon = TreeMonitor(proc.pid, poll)
        mon.start()
        _, status, ru = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        mon.stop()
    proc.returncode = os.waitstatus_to_exitcode(status)
    busy1, steal1 = _cpu_jiffies()
    cpu = ru.ru_utime + ru.ru_stime
    text = log_file.read_text(errors="replace")
    return Measure(
        wall=wall, cpu=cpu, rss_max=ru.ru_maxrss / 1024, tree_pss=mon.peak_pss / MiB, tree_rss=mon.peak_rss / MiB,
        procs=mon.peak_procs, others_cpu=max(0.0, (busy1 - busy0) / HZ - cpu), steal=(steal1 - steal0) / HZ,
        rc=proc.returncode, stdout=text,
    )  # fmt: skip


# --------------------------------------------------------------------------------------------------------------
# Sizes
# --------------------------------------------------------------------------------------------------------------


def dir_size(path: Path, exclude: str | None = None) -> tuple[int, int, int]:
    """(files, bytes, html files) under path; `exclude` = a top-level folder name to skip."""
    files = size = html = 0
    if not path.is_dir():
        return 0, 0, 0
    for dirpath, dirnames, filenames in os.walk(path):
        if exclude and Path(dirpath) == path and exclude in dirnames:
            dirnames.remove(exclude)
        for name in filenames:
            try:
                size += os.lstat(os.path.join(dirpath, name)).st_size
            except OSError:
                continue
            files += 1
            html += name.endswith(".html")
    return files, size, html


def gzip_size(path: Path) -> tuple[int, int, int]:
    """(files, raw bytes, gzip -9 bytes summed per file) under path."""
    files = raw = gz = 0
    if not path.is_dir():
        return 0, 0, 0
    for p in sorted(path.rglob("*")):
        if p.is_file():
            data = p.read_bytes()
            files += 1
            raw += len(data)
            gz += len(gzip.compress(data, 9, mtime=0))
    return files, raw, gz


# --------------------------------------------------------------------------------------------------------------
# Tools
# --------------------------------------------------------------------------------------------------------------


def ensure_hugo() -> str:
    hugo = shutil.which("hugo")
    if hugo is None:
        if os.geteuid() == 0 and shutil.which("apt-get"):
            log("hugo not found: apt-get install -y hugo")
            if subprocess.run(["apt-get", "install", "-y", "hugo"]).returncode != 0:
                subprocess.run(["apt-get", "update"], check=True)
                subprocess.run(["apt-get", "install", "-y", "hugo"], check=True)
            hugo = shutil.which("hugo")
        if hugo is None:
            sys.exit("hugo is not installed: run `sudo apt-get install -y hugo` (Debian) and try again")
    return hugo


def ensure_pagefind(work: Path) -> Path:
    bindir = work / "node_modules" / "@pagefind" / "linux-x64" / "bin"

    def find() -> Path | None:
        for name in ("pagefind", "pagefind_extended"):
            if (bindir / name).is_file():
                try:
                    out = subprocess.run(
                        [str(bindir / name), "--version"], capture_output=True, text=True
                    ).stdout
                except OSError:
                    continue
                if PAGEFIND_VERSION in out:
                    return bindir / name
        return None

    found = find()
    if found is None:
        if platform.system() != "Linux" or platform.machine() not in ("x86_64", "AMD64"):
            sys.exit("this benchmark runs the @pagefind/linux-x64 binary: Linux x86-64 only")
        if not shutil.which("npm"):
            sys.exit("npm is needed to install pagefind (apt-get install -y npm, or install Node.js)")
        log(f"installing pagefind@{PAGEFIND_VERSION} into {work}/node_modules")
        work.mkdir(parents=True, exist_ok=True)
        subprocess.run(["npm", "install", "--prefix", str(work), "--no-save", "--no-audit", "--no-fund",
                        f"pagefind@{PAGEFIND_VERSION}"], check=True)  # fmt: skip
        found = find()
        if found is None:
            sys.exit(f"pagefind {PAGEFIND_VERSION} binary not found under {bindir} after npm install")
    return found


def find_kbgen(explicit: str | None) -> Path:
    if explicit:
        return Path(explicit)
    for cand in (Path(sys.executable).parent / "kbgen", Path("/work/venv/bin/kbgen")):
        if cand.is_file():
            return cand
    which = shutil.which("kbgen")
    if which:
        return Path(which)
    sys.exit("kbgen not found: pass --kbgen PATH (e.g. /work/venv/bin/kbgen)")


def kbgen_python(kbgen: Path) -> str:
    try:
        first = kbgen.read_text(errors="replace").splitlines()[0]
    except (OSError, IndexError):
        return sys.executable
    return first[2:].strip().split()[0] if first.startswith("#!") else sys.executable


def snapshot_kbgen(work: Path, stamp: str) -> tuple[Path, str]:
    """Copy the working tree's kbgen package (and the top-level themes/, which ships as kbgen.themes) so that
    every run of one invocation measures the same code even while kbgen is being edited. Returns the folder
    to put on PYTHONPATH and a short hash of the copied files."""
    dest = work / "snapshots" / stamp
    shutil.rmtree(dest, ignore_errors=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(ROOT / "kbgen", dest / "kbgen", ignore=ignore)
    if (ROOT / "themes").is_dir() and not (dest / "kbgen" / "themes").exists():
        shutil.copytree(ROOT / "themes", dest / "kbgen" / "themes", ignore=ignore)
    h = hashlib.sha256()
    for p in sorted((dest / "kbgen").rglob("*")):
        if p.is_file():
            h.update(p.relative_to(dest).as_posix().encode() + b"\0" + p.read_bytes())
    diff = capture(["git", "--no-optional-locks", "-C", str(ROOT), "diff", "HEAD", "--", "kbgen", "themes"])
    (dest / "uncommitted.diff").write_text(diff + "\n" if diff else "")
    return dest, h.hexdigest()[:12]


def capture(cmd: list[str], cwd: Path | None = None) -> str:
    try:
        return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=60).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


# --------------------------------------------------------------------------------------------------------------
# Corpora
# --------------------------------------------------------------------------------------------------------------


@dataclass
class Corpus:
    name: str  # "arduino" | "1000" | ...
    label: str
    content: Path  # real path of the Markdown folder
    project: Path  # kbgen runs here (content/ inside, site/ and .kbgen/ written here)
    work: Path  # Hugo's public/, logs
    articles: int = 0
    drafts: int = 0
    indexes: int = 0
    md_bytes: int = 0


def corpus_stats(c: Corpus) -> None:
    draft = re.compile(rb"^\s*draft:\s*(true|yes)\s*$", re.M | re.I)
    for p in c.content.rglob("*.md"):
        if any(part.startswith((".", "_")) for part in p.relative_to(c.content).parts[:-1]):
            continue
        data = p.read_bytes()
        c.md_bytes += len(data)
        if p.name == "_index.md":
            c.indexes += 1
            continue
        c.articles += 1
        end = data.find(b"\n---", 3)
        if data.startswith(b"---") and end > 0 and draft.search(data[:end]):
            c.drafts += 1


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def prepare_corpus(name: str, work: Path, make_corpus: Path) -> Corpus:
    if name == "arduino":
        project = work / "arduino"
        project.mkdir(parents=True, exist_ok=True)
        link = project / "content"
        if not link.is_symlink() or link.resolve() != ARDUINO_CONTENT.resolve():
            if link.is_symlink() or link.is_file():
                link.unlink()
            elif link.exists():
                shutil.rmtree(link)
            link.symlink_to(ARDUINO_CONTENT.resolve())
        c = Corpus(name, "Arduino help centre", ARDUINO_CONTENT.resolve(), project, project)
    else:
        n = int(name)
        project = work / f"synth-{n}"
        content = project / "content"
        stamp_file = project / "corpus-stamp.json"
        stamp = {"articles": n, "make_corpus_sha256": sha256(make_corpus)}
        old = json.loads(stamp_file.read_text()) if stamp_file.is_file() else None
        if old != stamp or not content.is_dir():
            log(f"[{name}] generating corpus with {make_corpus} --articles {n} (not timed)")
            for sub in ("content", "site", ".kbgen", "public"):
                shutil.rmtree(project / sub, ignore_errors=True)
            project.mkdir(parents=True, exist_ok=True)
            subprocess.run([sys.executable, str(make_corpus), "--articles", str(n), "--out", str(content)],
                           check=True, stdout=subprocess.DEVNULL)  # fmt: skip
            stamp_file.write_text(json.dumps(stamp) + "\n")
        c = Corpus(name, f"synthetic, {n:,} articles", content.resolve(), project, project)
    corpus_stats(c)
    return c


# --------------------------------------------------------------------------------------------------------------
# One round of runs
# --------------------------------------------------------------------------------------------------------------


@dataclass
class Run:
    tool: str  # kbgen | hugo | pagefind
    mode: str  # cold | warm
    round: int
    m: Measure
    delete_s: float = 0.0  # the untimed deletion before a cold run
    out_files: int = 0
    out_bytes: int = 0
    html_files: int = 0
    index_files: int = 0
    index_raw: int = 0
    index_gz: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


class Bench:
    def __init__(self, args: argparse.Namespace, kbgen_cmd: list[str], kbgen_env: dict[str, str] | None, hugo: str,
                 pagefind: Path, work: Path) -> None:  # fmt: skip
        self.args, self.kbgen_cmd, self.kbgen_env = args, kbgen_cmd, kbgen_env
        self.hugo, self.pagefind, self.work = hugo, pagefind, work
        self.logs = work / "logs"

    def _check(self, m: Measure, what: str, log_file: Path) -> None:
        if m.rc != 0:
            tail = "\n".join(m.stdout.splitlines()[-30:])
            sys.exit(f"{what} failed (exit {m.rc}); log {log_file}:\n{tail}")

    def kbgen_run(self, c: Corpus, mode: str, rnd: int, measure_sizes: bool) -> Run:
        delete_s = 0.0
        if mode == "cold":
            t = time.perf_counter()
            shutil.rmtree(c.project / "site", ignore_errors=True)
            shutil.rmtree(c.project / ".kbgen", ignore_errors=True)
            for left in [*c.project.glob(".site.old-*"), *c.project.glob(".site.tmp-*")]:
                shutil.rmtree(left, ignore_errors=True)
            delete_s = time.perf_counter() - t
        os.sync()
        lf = self.logs / f"{c.name}-kbgen-{mode}-{rnd}.log"
        m = run_measured([*self.kbgen_cmd, "build", "--timings"], c.project, lf, self.args.poll, self.kbgen_env,
                         nice=self.args.nice)  # fmt: skip
        self._check(m, f"kbgen build ({c.name}, {mode})", lf)
        run = Run("kbgen", mode, rnd, m, delete_s)
        # kbgen removes the replaced site/ in a detached `rm -rf` that outlives it: wait for it (not timed) so
        # that its disk work does not land in the next command's time, and report how long it lingered.
        t = time.perf_counter()
        while any(c.project.glob(".site.old-*")) and time.perf_counter() - t < 900:
            time.sleep(0.02)
        run.extra["background_delete_s"] = time.perf_counter() - t
        built = re.search(r"(?:Built|Up to date:) (\d+) pages", m.stdout)
        run.extra["pages"] = int(built.group(1)) if built else None
        stages = {}
        for line in m.stdout.splitlines():
            found = re.findall(r"([a-z_]+) ([\d.]+) s\b", line)
            if len(found) >= 2 and not line.startswith("Built"):
                stages = {k: float(v) for k, v in found}
        run.extra["stages"] = stages
        run.extra["warnings"] = len(re.findall(r": warning: ", m.stdout))
        if measure_sizes:
            site = c.project / "site"
            run.out_files, run.out_bytes, run.html_files = dir_size(site)
            run.index_files, run.index_raw, run.index_gz = gzip_size(site / "_search")
        m.stdout = ""
        return run

    def hugo_pagefind_runs(self, c: Corpus, mode: str, rnd: int, measure_sizes: bool) -> tuple[Run, Run]:
        public = c.work / "public"
        delete_s = 0.0
        if mode == "cold":
            t = time.perf_counter()
            shutil.rmtree(public, ignore_errors=True)
            delete_s = time.perf_counter() - t
        os.sync()
        env = dict(os.environ, HUGO_RESOURCEDIR=str(self.work / "hugo-resources"))
        lf = self.logs / f"{c.name}-hugo-{mode}-{rnd}.log"
        cmd = [self.hugo, "--source", str(HUGO_SITE), "--contentDir", str(c.content), "--destination", str(public),
               "--cacheDir", str(self.work / "hugo-cache"), "--noBuildLock", "--quiet"]  # fmt: skip
        mh = run_measured(cmd, c.work, lf, self.args.poll, env, nice=self.args.nice)
        self._check(mh, f"hugo ({c.name}, {mode})", lf)
        lf2 = self.logs / f"{c.name}-pagefind-{mode}-{rnd}.log"
        mp = run_measured(
            [str(self.pagefind), "--site", str(public)], c.work, lf2, self.args.poll, nice=self.args.nice
        )
        self._check(mp, f"pagefind ({c.name}, {mode})", lf2)
        rh = Run("hugo", mode, rnd, mh, delete_s)
        rp = Run("pagefind", mode, rnd, mp)
        for key in ("pages", "words"):
            found = re.search(rf"Indexed (\d+) {key}", mp.stdout)
            rp.extra[key] = int(found.group(1)) if found else None
        if measure_sizes:
            rh.out_files, rh.out_bytes, rh.html_files = dir_size(public, exclude="pagefind")
            rp.out_files, rp.out_bytes, _ = dir_size(public)  # the whole site, search bundle included
            rp.index_files, rp.index_raw, rp.index_gz = gzip_size(public / "pagefind")
        mh.stdout = mp.stdout = ""
        return rh, rp

    def round(self, c: Corpus, rnd: int, measure_sizes: bool) -> list[Run]:
        runs: list[Run] = []
        kb_first = rnd % 2 == 0
        for mode in ("cold", "warm"):
            order = ("kbgen", "hp") if kb_first else ("hp", "kbgen")
            for tool in order:
                if tool == "kbgen" and "kbgen" in self.args.tools:
                    r = self.kbgen_run(c, mode, rnd, measure_sizes)
                    runs.append(r)
                    log(f"  [{c.name}] round {rnd} kbgen {mode:4}: {r.m.wall:7.2f} s wall, {r.m.cpu:7.2f} s CPU, "
                        f"{r.m.rss_max:6.0f} MiB max proc, {r.m.tree_pss:6.0f} MiB tree PSS, "
                        f"others {r.m.others_cpu:5.1f} CPU-s")  # fmt: skip
                elif tool == "hp" and "hugo" in self.args.tools:
                    rh, rp = self.hugo_pagefind_runs(c, mode, rnd, measure_sizes)
                    runs += [rh, rp]
                    log(f"  [{c.name}] round {rnd} hugo+pagefind {mode:4}: {rh.m.wall:6.2f} + {rp.m.wall:6.2f} s wall, "
                        f"{rh.m.rss_max:5.0f} / {rp.m.rss_max:5.0f} MiB max proc, "
                        f"others {rh.m.others_cpu + rp.m.others_cpu:5.1f} CPU-s")  # fmt: skip
        return runs


# --------------------------------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------------------------------


def med(xs: list[float]) -> float:
    return statistics.median(xs) if xs else float("nan")


def fmt_s(xs: list[float]) -> str:
    if not xs:
        return "–"
    m = med(xs)
    digits = 3 if m < 1 else 2 if m < 10 else 1
    s = f"{m:.{digits}f}"
    if len(xs) > 1:
        lo, hi = min(xs), max(xs)
        if (hi - lo) > 0.05 * m:
            s += f" ({lo:.{digits}f}–{hi:.{digits}f})"
    return s


def fmt_mib(xs: list[float]) -> str:
    return f"{max(xs):,.0f}" if xs else "–"


def combine(hugo: list[Run], pagefind: list[Run]) -> dict[str, list[float]]:
    """Per-round sums (time) and maxima (memory) of Hugo then Pagefind."""
    by_round = {r.round: r for r in pagefind}
    out: dict[str, list[float]] = {"wall": [], "cpu": [], "rss_max": [], "tree_pss": [], "others": []}
    for h in hugo:
        p = by_round.get(h.round)
        if p is None:
            continue
        out["wall"].append(h.m.wall + p.m.wall)
        out["cpu"].append(h.m.cpu + p.m.cpu)
        out["rss_max"].append(max(h.m.rss_max, p.m.rss_max))
        out["tree_pss"].append(max(h.m.tree_pss, p.m.tree_pss))
        out["others"].append(h.m.others_cpu + p.m.others_cpu)
    return out


def summarize(c: Corpus, runs: list[Run]) -> dict[str, Any]:
    def sel(tool: str, mode: str) -> list[Run]:
        return [r for r in runs if r.tool == tool and r.mode == mode]

    s: dict[str, Any] = {}
    for mode in ("cold", "warm"):
        k, h, p = sel("kbgen", mode), sel("hugo", mode), sel("pagefind", mode)
        hp = combine(h, p)
        s[mode] = {
            "kbgen_wall": [r.m.wall for r in k], "kbgen_cpu": [r.m.cpu for r in k],
            "hp_wall": hp["wall"], "hp_cpu": hp["cpu"],
            "ratio_wall": med([r.m.wall for r in k]) / med(hp["wall"]) if k and hp["wall"] else None,
            "ratio_cpu": med([r.m.cpu for r in k]) / med(hp["cpu"]) if k and hp["cpu"] else None,
        }  # fmt: skip
    return s


def table_rows(runs: list[Run]) -> list[str]:
    rows = []

    def sel(tool: str, mode: str) -> list[Run]:
        return [r for r in runs if r.tool == tool and r.mode == mode]

    def last_sized(rs: list[Run]) -> Run | None:
        sized = [r for r in rs if r.out_files]
        return sized[-1] if sized else None

    def out_cell(r: Run | None) -> str:
        return f"{r.out_files:,} / {r.out_bytes / 1e6:,.1f}" if r else "–"

    def idx_cell(r: Run | None, tool: str) -> str:
        if r is None:
            return "–"
        if not r.index_files:
            return "none (no `site/_search/`)" if tool == "kbgen" else "–"
        return f"{r.index_raw:,} / {r.index_gz:,} ({r.index_files:,} files)"

    mode_name = {"cold": "cold", "warm": "over existing"}
    for mode in ("cold", "warm"):
        k, h, p = sel("kbgen", mode), sel("hugo", mode), sel("pagefind", mode)
        if k:
            kr = last_sized(k)
            pages = kr.extra.get("pages") if kr else None
            rows.append(
                f"| **kbgen**, {mode_name[mode]} | **{fmt_s([r.m.wall for r in k])}** | {fmt_s([r.m.cpu for r in k])} | "
                f"{fmt_mib([r.m.rss_max for r in k])} | {fmt_mib([r.m.tree_pss for r in k])} "
                f"({max(r.m.procs for r in k)}) | {out_cell(kr)} | {f'{pages:,}' if pages is not None else '–'} | "
                f"{idx_cell(kr, 'kbgen')} |"
            )  # fmt: skip
        if h and p:
            hr, pr = last_sized(h), last_sized(p)
            hp = combine(h, p)
            html = f"{hr.html_files:,}" if hr else "–"
            rows.append(
                f"| Hugo, {'into empty dir' if mode == 'cold' else 'over existing'} | {fmt_s([r.m.wall for r in h])} | "
                f"{fmt_s([r.m.cpu for r in h])} | {fmt_mib([r.m.rss_max for r in h])} | "
                f"{fmt_mib([r.m.tree_pss for r in h])} ({max(r.m.procs for r in h)}) | {out_cell(hr)} | {html} | – |"
            )  # fmt: skip
            indexed = pr.extra.get("pages") if pr else None
            rows.append(
                f"| Pagefind, {mode_name[mode]} | {fmt_s([r.m.wall for r in p])} | {fmt_s([r.m.cpu for r in p])} | "
                f"{fmt_mib([r.m.rss_max for r in p])} | {fmt_mib([r.m.tree_pss for r in p])} "
                f"({max(r.m.procs for r in p)}) | {out_cell(pr)} (whole site) | {f'{indexed:,}' if indexed is not None else '–'} "
                f"indexed | {idx_cell(pr, 'pagefind')} |"
            )  # fmt: skip
            rows.append(
                f"| **Hugo + Pagefind**, {mode_name[mode]} | **{fmt_s(hp['wall'])}** | {fmt_s(hp['cpu'])} | "
                f"{fmt_mib(hp['rss_max'])} | {fmt_mib(hp['tree_pss'])} | {out_cell(pr)} | | |"
            )  # fmt: skip
        if k and h and p:
            hp = combine(h, p)
            rw = med([r.m.wall for r in k]) / med(hp["wall"])
            rc = med([r.m.cpu for r in k]) / med(hp["cpu"])
            rm = max(r.m.rss_max for r in k) / max(hp["rss_max"])
            rows.append(
                f"| *kbgen ÷ (Hugo + Pagefind)*, {mode_name[mode]} | ***{rw:.2f}×*** | {rc:.2f}× | {rm:.2f}× | | | | |"
            )
    return rows


def corpus_section(c: Corpus, runs: list[Run], nruns: int) -> str:
    timed = [r for r in runs if r.round >= 0]
    lines = [
        f"### {c.label}",
        "",
        f"`{c.content.relative_to(ROOT) if c.content.is_relative_to(ROOT) else c.content}`: {c.articles:,} articles "
        f"({c.drafts:,} `draft: true`), {c.indexes:,} `_index.md`, {c.md_bytes / 1e6:.2f} MB of Markdown. "
        f"N = {nruns} timed runs per row.",
        "",
        "| tool, mode | wall s, median (range) | CPU s (user+sys) | peak RSS MiB, largest process | tree peak PSS MiB "
        "(max procs) | output files / MB | HTML pages | search index raw / gzip -9 B |",
        "|---|---|---|---|---|---|---|---|",
        *table_rows(timed),
        "",
    ]  # fmt: skip
    notes = []
    for mode in ("cold", "warm"):
        k = [r for r in timed if r.tool == "kbgen" and r.mode == mode]
        if k and any(r.extra.get("stages") for r in k):
            keys = list(next(r.extra["stages"] for r in k if r.extra.get("stages")))
            st = ", ".join(f"{key} {med([r.extra['stages'].get(key, 0.0) for r in k]):.2f}" for key in keys)
            notes.append(
                f"kbgen `--timings` ({'cold' if mode == 'cold' else 'over existing'}, median s): {st}."
            )
    kd = [r.delete_s for r in timed if r.tool == "kbgen" and r.mode == "cold"]
    hd = [r.delete_s for r in timed if r.tool == "hugo" and r.mode == "cold"]
    if kd or hd:
        notes.append(
            "Deletion before a cold run, not timed above (median s): "
            + "; ".join(x for x in (f"kbgen `rm -rf site .kbgen` {med(kd):.2f}" if kd else "",
                                    f"Hugo `rm -rf public` {med(hd):.2f}" if hd else "") if x) + "."
        )  # fmt: skip
    bg = [r.extra.get("background_delete_s", 0.0) for r in timed if r.tool == "kbgen" and r.mode == "warm"]
    if bg and max(bg) > 0.01:
        notes.append(
            f"kbgen over existing removes the replaced `site/` in a detached background `rm -rf` after it exits: it "
            f"lingered a median {med(bg):.2f} s (max {max(bg):.2f}) after kbgen's exit; the benchmark waits for it, "
            "untimed, before the next command."
        )
    others = [r.m.others_cpu / r.m.wall for r in timed if r.m.wall > 0.5]
    steal = [r.m.steal / r.m.wall for r in timed if r.m.wall > 0.5]
    if others:
        notes.append(
            f"Other processes on the machine during runs ≥ 0.5 s: median {med(others):.2f} cores busy "
            f"(max {max(others):.2f}); hypervisor steal median {med(steal):.2f} cores."
        )
    kw = [r.extra.get("warnings") for r in timed if r.tool == "kbgen" and r.extra.get("warnings")]
    if kw:
        notes.append(f"kbgen printed {kw[-1]:,} warnings per build (to a log file, not a terminal).")
    return "\n".join(lines + [f"- {n}" for n in notes]) + "\n"


def machine_info(kbgen: Path, hugo: str, pagefind: Path, work: Path) -> dict[str, str]:
    cpu = ""
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem = ""
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal"):
                mem = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    fs = ""
    best = ""
    with open("/proc/mounts") as f:
        for line in f:
            dev, mnt, typ, opts = line.split()[:4]
            if str(work.resolve()).startswith(mnt) and len(mnt) >= len(best):
                best, fs = mnt, f"{typ} ({opts})"
    commit = capture(["git", "-C", str(ROOT), "rev-parse", "--short=12", "HEAD"])
    dirty = capture(["git", "--no-optional-locks", "-C", str(ROOT), "status", "--porcelain", "--", "kbgen", "themes",
                     "pyproject.toml"])  # fmt: skip
    py = capture([kbgen_python(kbgen), "-c", "import sys; print(sys.version.split()[0])"])
    return {
        "nproc": str(len(os.sched_getaffinity(0))),
        "memory": mem,
        "cpu": cpu,
        "kernel": platform.release(),
        "filesystem": fs,
        "python": py,
        "kbgen_commit": commit + (" + uncommitted changes in kbgen/ or themes/" if dirty else ""),
        "kbgen": str(kbgen),
        "hugo": capture([hugo, "version"]),
        "pagefind": capture([str(pagefind), "--version"]) + f" ({pagefind.name})",
        "loadavg_start": Path("/proc/loadavg").read_text().split(" ")[:3].__str__(),
    }


def render_section(info: dict[str, str], args: argparse.Namespace, corpora: list[Corpus], all_runs: dict[str, list[Run]],
                   started: datetime, elapsed: float, make_corpus: Path) -> str:  # fmt: skip
    cmd = "python bench/build.py " + " ".join(sys.argv[1:])
    out = [
        "## Build",
        "",
        f"Measured {started:%Y-%m-%d %H:%M} UTC with `{cmd.strip()}` (whole benchmark: {elapsed / 60:.1f} min). "
        f"Machine: {info['nproc']} cores ({info['cpu']}), {info['memory']}, kernel {info['kernel']}, "
        f"{info['filesystem'].split(' ')[0]} (`{info['filesystem'].split(' ', 1)[-1].strip('()')}`). "
        f"Python {info['python']}, kbgen commit `{info['kbgen_commit']}`, measured from {info['kbgen_code']}; {info['hugo'].split(' BuildDate')[0]} "
        f"(Debian); {info['pagefind']} (npm `@pagefind/linux-x64`, run directly). Synthetic corpora: "
        f"`make_corpus.py --articles N` (default seed), sha256 `{sha256(make_corpus)[:8] if make_corpus.is_file() else '?'}…`.",
        "",
        "How to read the tables:",
        "",
        "- **wall s**: whole-process wall time (interpreter / binary start-up included), median of N timed runs after "
        "one untimed warm-up round; the range is shown when it is wider than ±5 %. Hugo + Pagefind = Hugo's time "
        "plus Pagefind's, per round.",
        "- **cold**: kbgen after `rm -rf site .kbgen`; Hugo into an empty `public/`, then Pagefind. The deletion "
        "is *not* in the time (its cost is given under each table). **over existing**: kbgen with the previous "
        "`site/` and `.kbgen/` kept (kbgen writes a fresh staging tree, reusing what its cache proves unchanged, "
        "swaps it in and deletes the old tree in a detached process after it exits: that deletion is not in its "
        "time, see the notes); Hugo and Pagefind overwriting the previous `public/` (and `public/pagefind/`).",
        "- Runs are interleaved (kbgen cold, H+P cold, kbgen over existing, H+P over existing; the order of the two "
        "tools alternates every round) and `sync` runs (untimed) before each timed command.",
        *([f"- The measured tools ran at nice {args.nice} (the benchmark's own process and the rest of the machine "
            "at their usual priority), so that other sessions' load takes less of their CPU."] if args.nice else []),
        "- **CPU s**: user + sys of the process and its reaped children (kbgen's workers included). Much less "
        "sensitive than wall time to other load on the machine: prefer it when the wall ranges are wide.",
        "- **peak RSS, largest process**: `ru_maxrss` from `wait4` (what `/usr/bin/time -f %M` prints), max over runs. "
        "**tree peak PSS**: the largest sum of PSS over the whole process tree at one moment, polled from /proc "
        f"(20 ms, then every {args.poll} s: a lower bound; short runs are sampled only a few times); in brackets the "
        "most processes seen at once. For Hugo + Pagefind both figures are the larger of the two tools.",
        "- **output**: every file under `site/` (kbgen) or `public/` (Hugo; the Pagefind rows count the whole "
        "site including `pagefind/`); MB = 10^6 bytes of file sizes. **HTML pages**: kbgen's own count "
        "(`Built N pages`), `.html` files for Hugo, pages indexed for Pagefind (only article pages carry "
        "`data-pagefind-body`). **search index**: all files under `site/_search/` (kbgen) or `public/pagefind/` "
        "(Pagefind; its `.pf_*` files are already gzip-compressed), raw and `gzip -9` per file, summed.",
        "- Hugo site: `bench/hugo/` (title, description, date, content, tags, breadcrumbs, five more articles of the "
        "section, footer with the categories; tag pages, one RSS feed, sitemap, robots.txt; goldmark `unsafe = true`; "
        "tags are linked by name, not with `.GetTerms`, which costs Hugo 0.111 ~8 ms a page at 10k articles). "
        "kbgen's theme does more per page (TOC, feedback, icons, JSON-LD, search box), so this is not equal work: "
        "it is the cheapest honest Hugo equivalent.",
        "",
    ]  # fmt: skip
    # summary across corpora
    summary = ["| corpus | kbgen cold s | H+P cold s | **cold ratio** | kbgen over existing s | H+P over existing s | "
               "**over-existing ratio** | CPU ratio cold / over existing | kbgen peak RSS MiB (largest / tree PSS) | "
               "H+P peak RSS MiB |", "|---|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for c in corpora:
        runs = [r for r in all_runs[c.name] if r.round >= 0]
        s = summarize(c, runs)
        k = [r for r in runs if r.tool == "kbgen"]
        hp = [r for r in runs if r.tool in ("hugo", "pagefind")]

        def ratio(x: float | None) -> str:
            return f"{x:.2f}×" if x is not None else "–"

        summary.append(
            f"| {c.label} | {fmt_s(s['cold']['kbgen_wall'])} | {fmt_s(s['cold']['hp_wall'])} | "
            f"**{ratio(s['cold']['ratio_wall'])}** | {fmt_s(s['warm']['kbgen_wall'])} | {fmt_s(s['warm']['hp_wall'])} | "
            f"**{ratio(s['warm']['ratio_wall'])}** | {ratio(s['cold']['ratio_cpu'])} / {ratio(s['warm']['ratio_cpu'])} | "
            f"{fmt_mib([r.m.rss_max for r in k])} / {fmt_mib([r.m.tree_pss for r in k])} | "
            f"{fmt_mib([r.m.rss_max for r in hp])} |"
        )  # fmt: skip
    out += ["### Summary", "", *summary, ""]
    for c in corpora:
        out.append(corpus_section(c, all_runs[c.name], args.runs))
    out += [
        "### Noise",
        "",
        "- This is a shared 2-core VM: other sessions' builds and tests run at the same time. Each table gives the "
        "CPU the rest of the machine used during the runs; when it is well above 0 the wall times are inflated and "
        "their spread is wide, the CPU-time columns much less so. The interleaving spreads that noise over both tools.",
        "- Creating and deleting many files is the noisiest part (ext4 mounted with `discard`): compare the cold "
        "and over-existing rows, and the untimed deletion costs under each table.",
        f"- Load average at the start: {info['loadavg_start']}. Every run (per-round values, stage timings, "
        f"sizes) is in `bench/_work/results/build-{started:%Y%m%dT%H%M%S}.json`; the tools' output in `bench/_work/logs/`.",
        "",
    ]  # fmt: skip
    return "\n".join(out)


def write_section(body: str) -> None:
    text = RESULTS_MD.read_text() if RESULTS_MD.is_file() else "# kbgen benchmark results\n"
    block = f"{MARK_START}\n{body.rstrip()}\n{MARK_END}"
    if MARK_START in text and MARK_END in text:
        head, rest = text.split(MARK_START, 1)
        _, tail = rest.split(MARK_END, 1)
        text = head + block + tail
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    tmp = RESULTS_MD.with_suffix(".md.tmp-build")
    tmp.write_text(text)
    tmp.replace(RESULTS_MD)


# --------------------------------------------------------------------------------------------------------------


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=__doc__.split("\n\n", 1)[1])  # fmt: skip
    ap.add_argument("--sizes", default="arduino,1000,10000",
                    help="comma-separated corpora: `arduino` and/or article counts (default: %(default)s; 50000 is slow)")  # fmt: skip
    ap.add_argument("--runs", type=int, default=3, help="timed runs per tool and mode (default: %(default)s)")
    ap.add_argument("--no-warmup", action="store_true", help="skip the untimed warm-up round")
    ap.add_argument(
        "--tools", default="kbgen,hugo", help="kbgen,hugo (default) or just one; hugo = Hugo + Pagefind"
    )
    ap.add_argument(
        "--poll", type=float, default=0.1, help="tree-memory polling interval after the first 2 s (s)"
    )
    ap.add_argument(
        "--kbgen", help="the kbgen executable (default: next to this Python, /work/venv/bin/kbgen, PATH)"
    )
    ap.add_argument(
        "--make-corpus", type=Path, default=DEFAULT_MAKE_CORPUS, help="make_corpus.py (default: %(default)s)"
    )
    ap.add_argument(
        "--workdir", type=Path, default=BENCH / "_work", help="corpora, outputs, tools (default: bench/_work)"
    )
    ap.add_argument("--nice", type=int, default=0,
                    help="run the measured tools at this nice value (e.g. -10, needs root) so that other load on a "
                         "shared machine disturbs them less; default 0")  # fmt: skip
    ap.add_argument("--live", action="store_true",
                    help="run the installed kbgen as it is at each run instead of a copy of kbgen/ and themes/ taken at "
                         "the start (the copy keeps one invocation consistent while kbgen is being edited)")  # fmt: skip
    ap.add_argument(
        "--no-results", action="store_true", help="do not rewrite the Build section of bench/RESULTS.md"
    )
    args = ap.parse_args()
    args.tools = {t.strip() for t in args.tools.split(",") if t.strip()}
    if not args.tools <= {"kbgen", "hugo"} or not args.tools:
        ap.error("--tools takes kbgen, hugo or kbgen,hugo")
    sizes = [s.strip() for s in args.sizes.split(",") if s.strip()]
    for s in sizes:
        if s != "arduino" and not s.isdigit():
            ap.error(f"--sizes: {s!r} is neither `arduino` nor a number of articles")

    started = datetime.now(timezone.utc)
    t_start = time.perf_counter()
    work = args.workdir.resolve()
    work.mkdir(parents=True, exist_ok=True)
    kbgen = find_kbgen(args.kbgen)
    hugo = ensure_hugo()
    pagefind = ensure_pagefind(work)
    if any(s != "arduino" for s in sizes) and not args.make_corpus.is_file():
        sys.exit(f"make_corpus.py not found at {args.make_corpus} (use --make-corpus PATH)")
    info = machine_info(kbgen, hugo, pagefind, work)
    log(
        f"kbgen {kbgen} (commit {info['kbgen_commit']}), {info['hugo'].split(' BuildDate')[0]}, {info['pagefind']}"
    )
    log(f"{info['nproc']} cores, {info['memory']}, load average {info['loadavg_start']}")

    if args.live:
        kbgen_cmd, kbgen_env = [str(kbgen)], None
        info["kbgen_code"] = f"the working tree as it was at each run ({kbgen})"
    else:
        snap, digest = snapshot_kbgen(work, f"{started:%Y%m%dT%H%M%S}")
        kbgen_cmd = [kbgen_python(kbgen), "-m", "kbgen"]
        kbgen_env = dict(os.environ, PYTHONPATH=str(snap))
        check = subprocess.run([*kbgen_cmd[:1], "-c", "import kbgen; print(kbgen.__file__)"], env=kbgen_env, cwd=work,
                               capture_output=True, text=True).stdout.strip()  # fmt: skip
        if not check.startswith(str(snap)):
            sys.exit(f"the kbgen snapshot in {snap} is not the one imported ({check!r}); use --live")
        info["kbgen_code"] = (f"a copy of the working tree taken at the start (`bench/_work/snapshots/{snap.name}/`, "
                              f"files sha256 `{digest}`), run as `python -m kbgen`")  # fmt: skip
    log(f"kbgen code: {info['kbgen_code']}")
    bench = Bench(args, kbgen_cmd, kbgen_env, hugo, pagefind, work)
    corpora: list[Corpus] = []
    all_runs: dict[str, list[Run]] = {}
    for name in sizes:
        c = prepare_corpus(name, work, args.make_corpus)
        corpora.append(c)
        log(f"[{name}] {c.label}: {c.articles} articles ({c.drafts} drafts), {c.md_bytes / 1e6:.1f} MB")
        runs: list[Run] = []
        t_corpus = time.perf_counter()
        if args.runs > 1 and not args.no_warmup:
            log(f"[{name}] warm-up round (untimed)")
            for r in bench.round(c, -1, measure_sizes=False):
                r.round = -1
                runs.append(r)
        for rnd in range(args.runs):
            runs += bench.round(c, rnd, measure_sizes=(rnd == args.runs - 1))
        all_runs[name] = runs
        log(f"[{name}] done in {(time.perf_counter() - t_corpus) / 60:.1f} min")

    elapsed = time.perf_counter() - t_start
    results_dir = work / "results"
    results_dir.mkdir(parents=True, exist_ok=True)
    raw = results_dir / f"build-{started:%Y%m%dT%H%M%S}.json"
    raw.write_text(json.dumps({
        "started": started.isoformat(), "elapsed_s": elapsed, "argv": sys.argv, "machine": info,
        "corpora": [{k: str(v) if isinstance(v, Path) else v for k, v in asdict(c).items()} for c in corpora],
        "runs": {name: [asdict(r) for r in rs] for name, rs in all_runs.items()},
    }, indent=1) + "\n")  # fmt: skip
    section = render_section(info, args, corpora, all_runs, started, elapsed, args.make_corpus)
    print(section)
    if args.no_results or args.tools != {"kbgen", "hugo"}:
        log(f"not writing {RESULTS_MD} (--no-results or a single tool); raw runs: {raw}")
    else:
        write_section(section)
        log(f"wrote the Build section of {RESULTS_MD}; raw runs: {raw}")
    log(f"total {elapsed / 60:.1f} min")


if __name__ == "__main__":
    main()
