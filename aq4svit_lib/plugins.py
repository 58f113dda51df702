"""Discovery of what registers itself (search methods, executors): the package's own modules, then every module an
installed distribution declares under an entry-point group — as pytest finds its plugins (``pytest11``).

A third-party search method is then one module plus one line in its distribution's metadata::

    [project.entry-points."aq4svit.methods"]
    my_method = "my_package.my_method"

and a new built-in one is one new module in ``aq4svit_lib/search/``: nothing else is edited.
"""

from __future__ import annotations

import importlib
import pkgutil
from importlib.metadata import entry_points


def import_package_modules(package: str, skip: tuple[str, ...] = ()) -> None:
    """Import every module of ``package`` (registration happens on import)."""
    pkg = importlib.import_module(package)
    for info in pkgutil.iter_modules(pkg.__path__):
        if info.name not in skip and not info.name.startswith("_"):
            importlib.import_module(f"{package}.{info.name}")


def load_entry_points(group: str) -> list[str]:
    """Import the modules installed distributions declare under ``group``; their names."""
    loaded = []
    for ep in entry_points(group=group):
        ep.load()
        loaded.append(ep.name)
    return loaded


def names_callable(text) -> bool:
    """``module:callable`` (a user's network or data), not a registered name or an existing path."""
    from pathlib import Path

    return ":" in str(text) and not Path(str(text)).exists()


def load_callable(spec: str, flag: str):
    """The object ``module:attribute`` names (the module imported with the working folder on the path)."""
    import os
    import sys

    from .errors import UsageError

    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        raise UsageError(f"{flag} {spec!r}: expected module:callable (e.g. my_models:build_net)")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())  # the user's module next to where they run aq4svit
    try:
        return getattr(importlib.import_module(module_name), attr)
    except ModuleNotFoundError as exc:
        raise UsageError(f"{flag} {spec}: module {exc.name!r} cannot be imported (run from its folder or put it on PYTHONPATH)") from None
    except AttributeError:
        raise UsageError(f"{flag} {spec}: module {module_name!r} has no {attr!r}") from None
