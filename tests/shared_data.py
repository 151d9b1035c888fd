"""Where the tests find the real data of ``../shared/data`` (never copied into the repository).

A test that needs it skips when it is absent (a user's clone), but fails under ``CI=true``, so a wrong
path can never turn CI green.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def _missing(reason: str) -> None:
    if os.environ.get("CI", "").strip().lower() == "true":
        pytest.fail(reason)
    pytest.skip(reason)


def shared_data() -> Path:
    """``../shared/data`` next to the repository."""
    if not SHARED_DATA.is_dir():
        _missing(f"real data not found at {SHARED_DATA} (expected ../shared/data next to the repository)")
    return SHARED_DATA


def shared_path(*parts: str) -> Path:
    """A file or folder under ``../shared/data``."""
    path = shared_data().joinpath(*parts)
    if not path.exists():
        _missing(f"shared data not found: {path}")
    return path


def require_pyspark() -> None:
    """Skip a Spark test where PySpark is not installed (an optional extra), but fail under ``CI=true``,
    where ``.ci/run`` installs the extra: a failed install must not pass as skipped tests."""
    import importlib.util

    if importlib.util.find_spec("pyspark") is None:
        reason = "PySpark is not installed (the Spark engine is an optional extra: uv sync --extra spark)"
        if os.environ.get("CI", "").strip().lower() == "true":
            pytest.fail(reason)
        pytest.skip(reason, allow_module_level=True)  # also called at a test module's top


def require_native_parser() -> None:
    """Skip a test of the compiled parser where it is not built (no g++ or libsimdjson-dev), but fail under
    ``CI=true``, where ``.ci/run`` installs both and set-up builds it."""
    from cordiale.store import native_rows

    if native_rows.parser_module() is None:
        _missing("the compiled parser is not built (scripts/build_native.sh needs g++ and libsimdjson-dev)")
