"""cordiale: observe and run an international research partnership from open scholarly metadata."""

from __future__ import annotations

import os
from functools import cache

# OpenBLAS (numpy's) starts a thread per core that spins ~0.1 CPU s before sleeping, in every process that
# imports numpy: cordiale's linear algebra is small and rare, so its idle threads sleep at once (an explicit
# setting wins).
os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "4")

__all__ = ["__version__"]


@cache
def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("cordiale")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
        return "0.0.0+unknown"


def __getattr__(name: str) -> str:
    """``__version__``, looked up on first use: the package metadata costs an import a parse worker (which
    imports this package) never needs."""
    if name == "__version__":
        return _version()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
