"""Memory checks before large allocations: a system too large for this machine is refused
up front, with the estimate in the message, instead of being killed by the kernel halfway.

The available memory is the kernel's ``MemAvailable`` (Linux), else the free physical
pages; the environment variable ``KMC_MEMORY_LIMIT_BYTES`` overrides it (for batch systems
whose job limit is below the machine's memory, and for tests).
"""

from __future__ import annotations

import os

from .errors import ConfigError

__all__ = ["available_memory_bytes", "require_memory", "format_bytes"]


def available_memory_bytes() -> int | None:
    """Bytes of memory this process may still use, or None if unknown.

    ``KMC_MEMORY_LIMIT_BYTES`` (an integer) if set, else ``MemAvailable`` from
    ``/proc/meminfo`` (Linux), else free physical pages times the page size (POSIX).
    """
    env = os.environ.get("KMC_MEMORY_LIMIT_BYTES")
    if env:
        try:
            return int(float(env))
        except ValueError:
            raise ConfigError(f"KMC_MEMORY_LIMIT_BYTES = {env!r} must be a number of "
                              "bytes") from None
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (AttributeError, ValueError, OSError):
        return None


def format_bytes(n: float) -> str:
    """A byte count for people: "3.2 GB" (powers of 1000)."""
    for unit, scale in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            return f"{n / scale:.3g} {unit}"
    return f"{int(n)} B"


def require_memory(estimate_bytes: float, what: str, hint: str = "") -> None:
    """Raise ConfigError if `what` needs more memory than is available.

    Parameters
    ----------
    estimate_bytes : float
        Peak memory the operation is expected to need, bytes.
    what : str
        What needs it, for the message (e.g. "a SiteNetwork of 10^9 sites").
    hint : str, optional
        How to do with less, appended to the message.
    """
    avail = available_memory_bytes()
    if avail is not None and estimate_bytes > avail:
        raise ConfigError(f"{what} needs about {format_bytes(estimate_bytes)} of memory, but "
                          f"only {format_bytes(avail)} is available"
                          + (f"; {hint}" if hint else ""))
