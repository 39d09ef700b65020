"""One generic plugin registry with a namespace per kind (backbone, adapter, dataset, ...).

Every plugin, built-in or third-party, arrives through the entry-point group
``robustune.plugins``: each entry point names a ``register(registry)`` callable. Targets are
``"module:object"`` strings imported on first use, so listing plugins imports nothing heavy.
"""

from __future__ import annotations

import difflib
import importlib
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from plugins.errors import InvalidInput, NotFound, brief

ENTRY_POINT_GROUP = "robustune.plugins"
# robustune's own plugins: the library's (models, adapters, attacks, ...) and the application's job kinds
BUILTINS = ("plugins.builtins:register", "robustune.jobs.builtins:register")


def load_target(target: str) -> Any:
    """The object ``target`` names (``"module:attr"``), imported now."""
    module_name, _, attr = target.partition(":")
    obj: Any = importlib.import_module(module_name)
    for part in attr.split(".") if attr else []:
        obj = getattr(obj, part)
    return obj


@dataclass(frozen=True)
class Entry:
    """One registered plugin: ``target`` is an object or a lazy ``"module:attr"`` string."""

    kind: str
    name: str
    target: Any
    description: str
    source: str

    def load(self) -> Any:
        """Import (if lazy) and return the plugin object."""
        if not isinstance(self.target, str):
            return self.target
        try:
            obj = load_target(self.target)
        except (ImportError, AttributeError) as exc:
            raise InvalidInput(
                f"{self.kind} plugin {self.name!r} from {self.source} cannot be loaded "
                f"({self.target}: {brief(exc)}); reinstall that package"
            ) from exc
        return obj


class Registrar:
    """What a plugin's ``register`` callable receives: registers under one source name."""

    def __init__(self, registry: Registry, source: str) -> None:
        self._registry = registry
        self.source = source

    def register(self, kind: str, name: str, target: Any, description: str) -> None:
        """Register ``target`` (object or ``"module:attr"``) as plugin ``name`` of ``kind``."""
        self._registry.add(Entry(kind, name, target, description, self.source))


class Registry:
    """Plugins by kind and name; entry points are read once, on first query."""

    def __init__(self, group: str = ENTRY_POINT_GROUP) -> None:
        self._group = group
        self._entries: dict[str, dict[str, Entry]] = {}
        self._discovered = False
        self._discovering: int | None = None  # the thread discovering now (a plugin's register may ask)
        self._lock = threading.RLock()  # threads of a service ask at once: one discovers, the rest wait

    def add(self, entry: Entry) -> None:
        """Add one entry; a name already taken in that kind raises."""
        names = self._entries.setdefault(entry.kind, {})
        old = names.get(entry.name)
        if old is not None:
            raise InvalidInput(
                f"{entry.kind} plugin {entry.name!r} is registered twice (by {old.source} and "
                f"{entry.source}); uninstall or rename one of them"
            )
        names[entry.name] = entry

    def discover(self) -> None:
        """Load every entry point of the group (once; other threads wait until it is complete)."""
        if self._discovered or self._discovering == threading.get_ident():
            return  # done, or asked from inside discovery (a plugin's register): what is there so far
        with self._lock:
            if not self._discovered:
                before = {kind: dict(names) for kind, names in self._entries.items()}
                self._discovering = threading.get_ident()
                try:
                    self._discover()
                except BaseException:
                    self._entries = before  # a broken plugin fails every query, never a partial registry
                    raise
                finally:
                    self._discovering = None
                self._discovered = True

    def _discover(self) -> None:
        from importlib.metadata import entry_points  # reading every distribution's metadata: on use only

        found = sorted(entry_points(group=self._group), key=lambda e: (e.value, e.name))
        installed = {ep.value for ep in found}
        for target in BUILTINS if self._group == ENTRY_POINT_GROUP else ():
            if target not in installed:
                # running from a source tree that was never pip-installed: same register path
                builtins: Callable[[Registrar], None] = load_target(target)
                builtins(Registrar(self, "robustune"))
        for ep in found:
            source = ep.dist.name if ep.dist is not None else ep.value
            try:
                register: Callable[[Registrar], None] = ep.load()
            except Exception as exc:  # a broken third-party plugin must name itself
                raise InvalidInput(
                    f"plugin entry point {ep.name!r} of {source} failed to import ({brief(exc)}); "
                    f"fix or uninstall {source}"
                ) from exc
            register(Registrar(self, source))

    def entry(self, kind: str, name: str) -> Entry:
        """The entry for ``name``; unknown names raise with the closest suggestion."""
        self.discover()
        names = self._entries.get(kind, {})
        if name in names:
            return names[name]
        close = difflib.get_close_matches(name, list(names), n=1, cutoff=0.5)
        hint = f"did you mean {close[0]!r}? " if close else ""
        known = ", ".join(sorted(names)) or "none"
        raise NotFound(f"unknown {kind} {name!r}; {hint}known: {known} (`robustune plugins` lists them)",
                       field=kind)

    def get(self, kind: str, name: str) -> Any:
        """Load and return the plugin object."""
        return self.entry(kind, name).load()

    def has(self, kind: str, name: str) -> bool:
        """Whether ``name`` is registered under ``kind``."""
        self.discover()
        return name in self._entries.get(kind, {})

    def names(self, kind: str) -> list[str]:
        """Sorted plugin names of one kind."""
        self.discover()
        return sorted(self._entries.get(kind, {}))

    def kinds(self) -> list[str]:
        """Sorted kinds that have at least one plugin."""
        self.discover()
        return sorted(self._entries)

    def __iter__(self) -> Iterator[Entry]:
        self.discover()
        for kind in sorted(self._entries):
            for name in sorted(self._entries[kind]):
                yield self._entries[kind][name]


registry = Registry()
