"""Where the tests find the real data of ``../shared/data`` (never copied into the repository)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def shared_data() -> Path:
    """``../shared/data`` next to the repository; skip the test when it is absent (fail under ``CI=true``)."""
    if not SHARED_DATA.is_dir():
        reason = f"real data not found at {SHARED_DATA} (expected ../shared/data next to the repository)"
        if os.environ.get("CI", "").strip().lower() == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    return SHARED_DATA
