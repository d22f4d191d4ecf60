"""Deprecated names that moved to another module (private).

A module whose public names moved keeps them importable for a while with a
DeprecationWarning: ``__getattr__ = moved_names("kmc.old", {"name": "kmc.new"})``. The new
module is imported on first use only, so the old module does not import it (the new module
may import the old one).
"""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["moved_names"]


def moved_names(module: str, moves: Mapping[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` that serves each name of `moves` from its new module.

    Parameters
    ----------
    module : str
        The old module's name (for the messages).
    moves : mapping
        Old name -> the module it moved to (the name is the same there).
    """
    def __getattr__(name: str) -> Any:
        if name in moves:
            new = moves[name]
            warnings.warn(f"{module}.{name} moved to {new}.{name}; import it from there",
                          DeprecationWarning, stacklevel=2)
            return getattr(importlib.import_module(new), name)
        raise AttributeError(f"module {module!r} has no attribute {name!r}")

    return __getattr__
