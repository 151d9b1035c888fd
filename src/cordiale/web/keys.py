"""The web app's secret key: generated once into the data folder (mode 600), then read at every start."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

KEY_FILE = "secret_key"


def read_secret_key(folder: Path) -> str | None:
    path = folder / KEY_FILE
    return path.read_text(encoding="utf-8").strip() if path.is_file() else None


def ensure_secret_key(folder: Path) -> str:
    """The key in ``folder/secret_key``, generated on the first call (never replaced)."""
    existing = read_secret_key(folder)
    if existing:
        return existing
    folder.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(50)
    try:
        fd = os.open(folder / KEY_FILE, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process created it first: use theirs
        return read_secret_key(folder) or key
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(key)
    return key
