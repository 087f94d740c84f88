"""`kbgen serve` on a multilingual site: every language rebuilt incrementally, on its own.

After a full build (the pipeline of kbgen/site.py, every language), each language gets a `Rebuilder` of its
own (`Languages.subs`) over that language's part of the build: its library, renderer and loader details, its
output folder (the preview's root or `<prefix>/`) and its own search worker (`<prefix>/_search/`). A saved
file under `content/<code>/` is then a change of that language only, carried out by the same incremental path
a one-language site uses. What crosses languages is done here, after it:

- the translations (`languages.Translations`) are recomputed from the libraries as they now are; every page
  key whose translations changed (a translation added, removed, its URL changed) is re-rendered in every
  language that has it, for its hreflang alternates and language switcher;
- the site's root files a language would write under its own prefix are written at the root instead: the
  sitemap of every language (recomputed when a listing or a translation changed), the default language's
  help widget files and, when the default language has a prefix, the root's copy of its 404 page.

A change this path does not handle (a new folder, a file outside the languages' folders ...) raises
`NeedFull`, and the caller rebuilds the whole site — never a stale page.
"""

from __future__ import annotations

import dataclasses
import gc
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .atomic import write_if_changed
from .build import BuildSession
from .errors import Problem, display_path
from .languages import Translations, is_multilingual
from .rebuild import NeedFull, Outcome, Plan, Rebuilder
from .safepath import inside
from .site import dest_of
from .urls import page_output, path_of


def _page_out(key: str, path: str) -> str:
    return "404.html" if key == "404" else page_output(path)


def _is_widget(out: str) -> bool:
    return out == "widget.js" or out.startswith("_widget/")


class SearchGroup:
    """The search workers of every language, seen as one by `kbgen serve` (status, waits, shutdown)."""

    def __init__(self, main: Any, subs: dict[str, Rebuilder]) -> None:
        self.main = main  # the site's own updater (a one-language site's, should the config change back)
        self.subs = subs

    def _all(self) -> list[Any]:
        return [self.main, *(sub.search for sub in self.subs.values())]

    def state(self) -> dict[str, Any]:
        states = [s.state() for s in self._all()]
        return {"updating": any(s["updating"] for s in states), "updates": sum(s["updates"] for s in states),
                "seconds": max(s["seconds"] for s in states),
                "error": "; ".join(s["error"] for s in states if s["error"])}  # fmt: skip

    def wait(self, timeout: float | None = None) -> bool:
        deadline = None if timeout is None else time.monotonic() + timeout
        for s in self._all():
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            if not s.wait(left):
                return False
        return True

    def reset(self) -> None:
        for s in self._all():
            s.reset()

    def schedule(self, *args: Any, **kwargs: Any) -> None:
        self.main.schedule(*args, **kwargs)

    def close(self) -> None:
        for s in self._all():
            s.close()


class Languages:
    """One `Rebuilder` per language of the last full build, and the changes that cross languages."""

    def __init__(self, master: Rebuilder) -> None:
        self.master = master
        self.subs: dict[str, Rebuilder] = {}
        self.translations: Translations | None = None
        self.dirty = False
        self.root_out: dict[str, bytes] = {}  # files a language's rebuild gave for the site's root
        self.sitemap_due = False
        self.search = SearchGroup(master.search, self.subs)
        master.search = self.search

    def close(self) -> None:
        """The site is no longer multilingual: the languages' search workers stop."""
        for sub in self.subs.values():
            sub.search.close()
        self.subs.clear()

    # -- after a full build -------------------------------------------------------------------------

    def after_full(self) -> list[Callable[[], None]]:
        """Take over the languages of the full build just published; return their search workers' primes."""
        master = self.master
        session = master.session
        built, output = session.built, session.output
        assert built is not None and built.translations is not None and output is not None
        self.translations = built.translations
        self.dirty = False
        codes = {lb.site.code for lb in built.langs}
        for code in [c for c in self.subs if c not in codes]:  # a language no longer listed
            self.subs.pop(code).search.close()
        primes: list[Callable[[], None]] = []
        for lb in built.langs:
            code = lb.site.code
            sub = self.subs.get(code)
            if sub is None:
                sub_session = BuildSession(lb.config, session.out_root, drafts=session.drafts, workers=session.workers)
                sub = self.subs[code] = Rebuilder(sub_session, master.config_file, master.root)
            s = sub.session
            s.config, s.output, s.theme = lb.config, dest_of(output, lb.site), session.theme
            s.library, s.renderer, s.details = lb.library, lb.renderer, lb.details
            # kept by the file they are in (content-relative, as the language's own rebuilds find them)
            s.problems = [_content_relative(p, lb.config.content_path, master.root) for p in lb.problems
                          if p.level != "error"]  # fmt: skip
            assert lb.renderer is not None
            lb.renderer.i18n = self._i18n(code)
            sub.on_outputs = self._outputs_hook(lb.site.default, bool(lb.site.prefix))
            sub.plugins_stale = False
            sub._index_after_full()
            sub.needs_full = False
            primes.append(self._prime(sub))
        return primes

    @staticmethod
    def _prime(sub: Rebuilder) -> Callable[[], None]:
        s = sub.session
        assert s.library is not None and s.output is not None
        lib, config, output = s.library, s.config, s.output
        return lambda: sub.search.schedule(lib, config, output, [], set(), export=False)

    def _i18n(self, code: str) -> Callable[[Any], dict[str, Any]]:
        return lambda page: self.current().context(code, page)

    def current(self) -> Translations:
        """The translations as the libraries are now (recomputed after a language's library changed)."""
        assert self.translations is not None
        if self.dirty:
            t = self.translations
            self.translations = Translations(t.config, t.sites, {c: sub.session.library for c, sub in self.subs.items()
                                                                if sub.session.library is not None})  # fmt: skip
            self.dirty = False
        return self.translations

    def _outputs_hook(self, default: bool, prefixed: bool) -> Callable[[dict[str, bytes]], None]:
        def hook(outputs: dict[str, bytes]) -> None:
            if outputs.pop("sitemap.xml", None) is not None:
                self.sitemap_due = True  # every language's, at the root: below
            for out in [o for o in outputs if _is_widget(o)]:
                data = outputs.pop(out)
                if default:  # the default language's widget files are the site's, at the root
                    self.root_out[out] = data
            if default and prefixed and "404.html" in outputs:
                self.root_out["404.html"] = outputs["404.html"]

        return hook

    # -- an incremental rebuild -----------------------------------------------------------------------

    @property
    def problems(self) -> list[Problem]:
        found = [p for sub in self.subs.values() for p in sub.problems]
        return sorted(set(found), key=lambda p: (p.level != "error", p.path, p.line, p.message))

    def incremental(self, plan: Plan) -> Outcome:
        """Carry out `plan` language by language; raises `rebuild.NeedFull` where only a full build is right."""
        per: dict[str, Plan] = {}
        for rel in sorted(plan.articles | plan.assets):
            code, _, inner = rel.partition("/")
            if code not in self.subs or not inner:
                raise NeedFull(f"{rel} is not in a language's folder")
            sub_plan = per.setdefault(code, Plan())
            (sub_plan.articles if rel in plan.articles else sub_plan.assets).add(inner)
        before = dict(self.current().groups)
        self.root_out, self.sitemap_due = {}, False
        result = Outcome(True, "incremental")
        assert result.paths is not None
        for code, sub_plan in per.items():
            self.dirty = True  # the library is committed during the rebuild; its pages see the new translations
            outcome = self.subs[code].incremental(sub_plan)
            result.ok = result.ok and outcome.ok
            result.written += outcome.written
            result.deleted += outcome.deleted
            if outcome.paths is None or result.paths is None:
                result.paths = None
            else:
                result.paths += outcome.paths
            result.after += outcome.after
            for stage, seconds in outcome.timings.items():
                result.timings[stage] = result.timings.get(stage, 0.0) + seconds
            if not outcome.ok:
                result.problems = outcome.problems
                return result
        start = time.perf_counter()
        translations = self.current()
        changed = {k for k in before.keys() | translations.groups.keys() if before.get(k) != translations.groups.get(k)}
        paths = self._rerender(translations, changed)
        master = self.master
        output = master.session.output
        assert output is not None
        if changed or self.sitemap_due:
            self.root_out["sitemap.xml"] = translations.sitemap()
        base = master.session.config.base_path
        for out, data in sorted(self.root_out.items()):
            if write_if_changed(inside(output, out), data):
                paths.append(path_of(out, base))
        self.root_out = {}
        static = master._sync_static(plan.static)
        result.written += len(paths) + len(static)
        if result.paths is not None:
            result.paths = None if static else result.paths + paths
        result.timings["translations"] = time.perf_counter() - start
        result.problems = self.problems
        return result

    def _rerender(self, translations: Translations, keys: set[str]) -> list[str]:
        """Every language's page of each of `keys` (its alternates and switcher changed); the paths written."""
        paths: list[str] = []
        if not keys:
            return paths
        for code, sub in self.subs.items():
            s = sub.session
            wanted = {_page_out(k, translations.groups[k][code]) for k in keys if code in translations.groups.get(k, {})}
            if not wanted or s.renderer is None or s.library is None or s.output is None:
                continue
            for page in sub._pages(s.renderer, s.library, [], wanted):
                if write_if_changed(inside(s.output, page.output), s.renderer.render(page)):
                    paths.append(path_of(page.output, s.config.base_path))
        return paths


class SiteRebuilder(Rebuilder):
    """`kbgen serve`'s rebuilder: a one-language site as `Rebuilder` does it; a multilingual one language by
    language (`Languages`)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.languages: Languages | None = None

    @property
    def problems(self) -> list[Problem]:
        if self.languages is not None and not self.needs_full:
            return self.languages.problems
        return super().problems

    def _display(self, p: Problem) -> Problem:
        # a multilingual build names its files from the project already (content/<code>/…: site.load_language)
        if is_multilingual(self.session.config) and p.path.startswith(_shown(self.session.config.content_path, self.root)):
            return p
        return super()._display(p)

    def incremental(self, plan: Plan) -> Outcome:
        if self.languages is not None:
            return self.languages.incremental(plan)
        return super().incremental(plan)

    def after_full(self, start: float, reload_content: bool) -> Outcome:
        session = self.session
        if not is_multilingual(session.config):
            if self.languages is not None:  # no longer multilingual (kbgen.toml changed)
                self.languages.close()
                self.languages = None
            return super().after_full(start, reload_content)
        self.needs_full, self.global_problems, self.problems_by_source = False, [], {}
        self.languages = self.languages or Languages(self)
        primes = self.languages.after_full()
        gc.collect()  # as Rebuilder.after_full: what lives until the next full build, out of the collector's way
        gc.freeze()
        return Outcome(True, "full" if reload_content else "pages", time.perf_counter() - start, paths=None,
                       problems=self.problems, timings=dict(session.timings), after=primes)  # fmt: skip


def _shown(content: Path, root: Path) -> str:
    return display_path(content, root) + "/"


def _content_relative(p: Problem, content: Path, root: Path) -> Problem:
    shown = _shown(content, root)
    return dataclasses.replace(p, path=p.path[len(shown):]) if p.path.startswith(shown) else p

