"""pydantic without its plugin scan: tlsc's models are built with no pydantic plugins.

pydantic looks for plugins (packages declaring a `pydantic` entry point) the
first time it builds a model: `pydantic.plugin._schema_validator` imports
`pydantic.plugin._loader`, which imports importlib.metadata (email, zipfile,
csv ...) and reads the metadata of every installed distribution. That was
about 15 ms of every cold start that validates a spec (a tenth of `tlsc
validate`). pydantic's own switch, PYDANTIC_DISABLE_PLUGINS=__all__, skips only
the scan (3 ms) and, set in os.environ, would reach every command tlsc runs.

`install()`, which the `tlsc` command calls before any command builds a
model, puts a loader that finds no plugins in the place of pydantic's, for
that process only: a plugin installed next to tlsc (an observability hook,
say) does not see tlsc's validation, which is what
PYDANTIC_DISABLE_PLUGINS=__all__ would give. Importing tlsc's modules as a
library changes nothing, and when pydantic's loader was imported already it
is left alone.
"""

from __future__ import annotations

import sys
import types
from collections.abc import Iterable

#: the module pydantic (2.x) imports `get_plugins` from when it builds a validator
LOADER = "pydantic.plugin._loader"


def get_plugins() -> Iterable[object]:
    """No plugins: what pydantic's loader returns when PYDANTIC_DISABLE_PLUGINS=__all__."""
    return ()


def _real(name: str) -> object:
    """Any other name a later pydantic asks the loader for: from pydantic's own loader.

    The stand-in then makes way for it, so a pydantic that imports more than
    get_plugins from its loader still works, with its plugin scan.
    """
    import importlib

    if name.startswith("__"):
        raise AttributeError(name)
    sys.modules.pop(LOADER, None)
    return getattr(importlib.import_module(LOADER), name)


def install() -> None:
    """Put the no-plugin loader in place, unless pydantic's own is loaded already."""
    if LOADER not in sys.modules:
        loader = types.ModuleType(LOADER, __doc__)
        loader.get_plugins = get_plugins  # type: ignore[attr-defined]
        loader.__getattr__ = _real  # type: ignore[method-assign]
        sys.modules[LOADER] = loader
