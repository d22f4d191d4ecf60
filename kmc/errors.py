"""Exceptions raised by :mod:`kmc`.

Two kinds of failure are kept apart so that callers (and the command line) can tell a user's
mistake from a bug or an engine failure:

- :class:`ConfigError` -- invalid user input (a bad lattice constant, an inconsistent hop
  vector, an unknown lattice name, ...). It subclasses :class:`ValueError`, and its message
  names the offending value and where it is. A value of the wrong type raises
  :class:`ConfigTypeError`, which is also a :class:`TypeError`.
- :class:`KMCError` -- the engine failed for a reason not caused by the input.
"""

from __future__ import annotations

__all__ = ["KMCError", "ConfigError", "ConfigTypeError", "RunInterrupted"]


class KMCError(RuntimeError):
    """Engine failure (not caused by user input)."""


class ConfigError(ValueError):
    """Invalid user input; the message names the bad value and where it is."""


class ConfigTypeError(ConfigError, TypeError):
    """Invalid user input of the wrong type (a string where a number belongs, ...): both a
    :class:`ConfigError` and a :class:`TypeError`."""


class RunInterrupted(KeyboardInterrupt):
    """A run was stopped (Ctrl-C, SIGTERM, :meth:`kmc.Simulation.request_stop`) before it
    finished two blocks, so there is nothing to analyse yet.

    Attributes
    ----------
    path : str or None
        The checkpoint file that continues the run (``kmc.resume(path)``), if it has one.
    signum : int
        The signal that stopped it.
    """

    def __init__(self, message: str, path: str | None = None, signum: int = 2) -> None:
        super().__init__(message)
        self.path = path
        self.signum = signum
