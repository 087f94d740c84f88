"""Plugins and hooks, named as MkDocs users expect.

Sources: `hooks = ["hooks.py"]` in kbgen.toml (files of the project, like MkDocs hooks), and installed
packages that declare an entry point in the group `kbgen.plugins`, enabled by a `[plugins.<name>]` table (an
empty one is enough). A plugin is a module or an object; each event it defines is called with keyword
arguments; a return value other than None replaces the value passed in:

| event | when | keywords | returns |
|---|---|---|---|
| `on_config` | config loaded | `config` | the config |
| `on_markdown` | each markdown-it parser made | `md`, `config` | (register plugins on `md`) |
| `on_article` | front matter read, before rendering | `article`, `markdown`, `config` | the Markdown |
| `on_page_context` | before a page's template | `context`, `page`, `config` | the context |
| `on_page` | a page's HTML rendered | `html`, `page`, `config` | the HTML |
| `on_post_build` | the site folder in place | `site_dir`, `config` | — |

A plugin with a `config_class` (a dataclass) gets its `[plugins.<name>]` table validated like the rest of
kbgen.toml and passed as `plugin_config=` to every event it defines (only if the function accepts it). A
plugin's failure stops the build with its name and the event (`PluginError`).

The calls are thin on purpose: `call()` from the stage that owns the value. While plugins are active the
build caches are not used (they cannot know what a plugin's code depends on).

`kbgen build`, `kbgen serve` and `kbgen check` all activate them: serve re-activates on every full rebuild
that re-reads kbgen.toml (a hooks file saved is one: `watched_files()`), running each hooks file's source
as it is on disk now (never a cached import or bytecode), so the preview is what `kbgen build` publishes.
"""

from __future__ import annotations

import importlib.util
import inspect
import sys
import traceback
from dataclasses import dataclass, is_dataclass
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from .errors import ConfigError

GROUP = "kbgen.plugins"
EVENTS = ("on_config", "on_markdown", "on_article", "on_page_context", "on_page", "on_post_build")


class PluginError(Exception):
    """A plugin raised: the message names it and the event; `path` and `line`: where in a hooks file."""

    path: Path | None = None
    line: int = 0


def _error(message: str, exc: BaseException, path: Path | None) -> PluginError:
    error = PluginError(message)
    error.path = path
    if path is not None:  # the deepest line of the hooks file in the traceback
        for frame in traceback.extract_tb(exc.__traceback__):
            if frame.filename == str(path):
                error.line = frame.lineno or 0
    return error


@dataclass
class Plugin:
    name: str
    obj: Any
    config: Any = None
    path: Path | None = None  # a hooks file


_ACTIVE: list[Plugin] = []
_CONFIG: list[Any] = [None]  # the active build's config: passed as `config=` to every event


def active() -> bool:
    return bool(_ACTIVE)


def _load_file(path: Path, key: str, where: str) -> Any:
    if not path.is_file():
        raise ConfigError(f"{where}: `{key}`: hooks file {path} not found")
    name = f"kbgen_hooks_{abs(hash(str(path)))}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ConfigError(f"{where}: `{key}`: {path} is not a Python file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        # The source as it is now, compiled here: not `exec_module`, whose bytecode cache is keyed by the
        # file's mtime in seconds and size (a hooks file saved twice in a second could run its old code).
        exec(compile(path.read_bytes(), str(path), "exec"), module.__dict__)  # noqa: S102 - project code
    except Exception as exc:
        raise _error(f"hooks {path.name}: failed to load: {type(exc).__name__}: {exc}", exc, path) from exc
    return module


def load(config: Any) -> list[Plugin]:
    """The plugins `config` asks for, loaded and with their config tables validated."""
    from .config import _build

    where = config.path.name if config.path else "kbgen.toml"
    plugins: list[Plugin] = []
    for i, rel in enumerate(config.hooks):
        path = (config.root / rel).resolve()
        plugins.append(Plugin(f"hooks {rel}", _load_file(path, f"hooks[{i}]", where), path=path))
    if config.plugins:
        found = {ep.name: ep for ep in entry_points(group=GROUP)}
        for name, table in config.plugins.items():
            if name not in found:
                known = ", ".join(sorted(found)) or "none"
                raise ConfigError(f"{where}: `plugins.{name}`: no installed plugin by that name (installed: {known})")
            if not isinstance(table, dict):
                raise ConfigError(f"{where}: `plugins.{name}` must be a table")
            try:
                obj = found[name].load()
            except Exception as exc:
                raise PluginError(f"plugin {name}: failed to load: {type(exc).__name__}: {exc}") from exc
            cls = getattr(obj, "config_class", None)
            if cls is not None and is_dataclass(cls):
                plugin_config = _build(cls, table, f"plugins.{name}.", where)
            elif table:
                raise ConfigError(f"{where}: `plugins.{name}`: this plugin takes no options")
            else:
                plugin_config = None
            plugins.append(Plugin(name, obj, plugin_config))
    return plugins


def wanted(config: Any) -> bool:
    """Does `config` ask for any plugin?"""
    return bool(config.hooks or config.plugins)


def watched_files(config: Any) -> list[Path]:
    """The hooks files of `config` (a change to one is a change of kbgen.toml: plugins re-activated)."""
    return [(config.root / rel).resolve() for rel in config.hooks]


def activate(config: Any) -> Any:
    """Load the plugins of `config`, make them the active ones (instead of any active before), and return
    `on_config`'s config. On failure none is active."""
    deactivate()
    try:
        _ACTIVE[:] = load(config)
        _CONFIG[0] = config
        _CONFIG[0] = call("on_config", "config", config=config)
    except BaseException:
        deactivate()
        raise
    return _CONFIG[0]


def deactivate() -> None:
    _ACTIVE.clear()
    _CONFIG[0] = None


def call(event: str, value_key: str | None = None, **kwargs: Any) -> Any:
    """Call `event` on every active plugin in order; returns kwargs[value_key], replaced by each non-None
    return value."""
    kwargs.setdefault("config", _CONFIG[0])
    for plugin in _ACTIVE:
        fn = getattr(plugin.obj, event, None)
        if fn is None:
            continue
        args = dict(kwargs)
        if plugin.config is not None and "plugin_config" in inspect.signature(fn).parameters:
            args["plugin_config"] = plugin.config
        try:
            result = fn(**args)
        except Exception as exc:
            message = f"plugin {plugin.name!r} failed in {event}: {type(exc).__name__}: {exc}"
            raise _error(message, exc, plugin.path) from exc
        if value_key is not None and result is not None:
            kwargs[value_key] = result
    return kwargs.get(value_key) if value_key is not None else None
