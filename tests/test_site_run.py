"""kbgen/site.py's `run()`: whichever stage fails, every search process it started is stopped before it
returns (a process left running would go on writing into a staging folder the driver is throwing away)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from kbgen.config import Config, load_config
from kbgen.errors import BuildError
from kbgen.render import Theme
from kbgen.searchjob import SearchJob
from kbgen.site import Pipeline, run

ROOT = Path(__file__).resolve().parent.parent


def sample_copy(dest: Path) -> Path:
    """The repository's multilingual sample (content/en, fr, de + kbgen.toml)."""
    shutil.copytree(ROOT / "content", dest / "content")
    shutil.copy(ROOT / "kbgen.toml", dest / "kbgen.toml")
    return dest


def run_failing(project: Path, staging: Path) -> tuple[list[SearchJob], BaseException]:
    """`run()` with serve's `Pipeline.start_search` recording the jobs; it must raise (returned)."""
    config: Config = load_config(project / "kbgen.toml")
    jobs: list[SearchJob] = []

    def start(cfg: Config, workers: int) -> SearchJob:
        jobs.append(SearchJob(cfg, workers))
        return jobs[-1]

    staging.mkdir()
    with pytest.raises(Exception) as failed:
        run(config, staging, Theme.for_config(config), Pipeline(workers=2, start_search=start), {})
    assert len(jobs) == 3  # one per language of the sample
    return jobs, failed.value


def test_a_content_error_stops_every_language_s_search_process(tmp_path: Path) -> None:
    project = sample_copy(tmp_path / "p")
    bad = project / "content" / "fr" / "broken.md"
    bad.write_text("---\ntitle: [never closed\n---\nBody.\n", encoding="utf-8")
    jobs, failure = run_failing(project, tmp_path / "staging")
    assert isinstance(failure, BuildError)
    assert "broken.md" in str(failure)
    # Each process was waiting for the units it never got: only cancel() ends it.
    assert all(job._process is not None and not job._process.is_alive() for job in jobs)


def test_a_template_failing_while_pages_render_stops_the_search_processes(tmp_path: Path) -> None:
    project = sample_copy(tmp_path / "p")
    templates = project / "themes" / "default" / "templates"
    templates.mkdir(parents=True)
    (templates / "tag.html").write_text("{{ 1 // 0 }}", encoding="utf-8")  # fails rendering a tag page
    jobs, failure = run_failing(project, tmp_path / "staging")
    assert isinstance(failure, ZeroDivisionError)
    assert all(job._process is not None and not job._process.is_alive() for job in jobs)
