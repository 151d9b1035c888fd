"""Configuration in one place: the store path and the OpenAlex API settings.

Precedence everywhere: explicit argument, then environment variable, then config file
(``$CORDIALE_DATA_DIR/config.toml``), then the default.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import platformdirs

from cordiale.errors import UsageError

DEFAULT_PER_PAGE = 100
DEFAULT_RATE_LIMIT = 10.0  # requests per second
DEFAULT_API_URL = "https://api.openalex.org"


def data_dir() -> Path:
    """The per-user data folder: ``$CORDIALE_DATA_DIR`` or the platform's user data dir."""
    env = os.environ.get("CORDIALE_DATA_DIR")
    return Path(env) if env else Path(platformdirs.user_data_dir("cordiale"))


def store_path(explicit: str | Path | None = None) -> Path:
    """The one store path: ``--db``, else ``CORDIALE_DB``, else ``$CORDIALE_DATA_DIR/cordiale.duckdb``."""
    if explicit:
        return Path(explicit)
    env = os.environ.get("CORDIALE_DB")
    if env:
        return Path(env)
    return data_dir() / "cordiale.duckdb"


def _config_file() -> dict[str, Any]:
    path = data_dir() / "config.toml"
    if not path.is_file():
        return {}
    with path.open("rb") as fh:
        try:
            return tomllib.load(fh)
        except tomllib.TOMLDecodeError as exc:
            raise UsageError(f"{path}: not valid TOML ({exc})") from exc


@dataclass(frozen=True)
class ApiSettings:
    """OpenAlex API settings."""

    base_url: str = DEFAULT_API_URL
    api_key: str | None = None
    email: str | None = None
    per_page: int = DEFAULT_PER_PAGE
    rate_limit: float = DEFAULT_RATE_LIMIT
    timeout: float = 30.0
    max_retries: int = 6

    @classmethod
    def load(cls) -> ApiSettings:
        """Settings from the environment (``OPENALEX_*``) over ``config.toml``'s ``[openalex]`` table."""
        cfg = _config_file().get("openalex", {})
        env = os.environ

        def pick(env_name: str, key: str, default: Any) -> Any:
            if env.get(env_name):
                return env[env_name]
            return cfg[key] if cfg.get(key) is not None else default

        def number(kind: type[int] | type[float], env_name: str, key: str, default: float) -> Any:
            value = pick(env_name, key, default)
            try:
                return kind(value)
            except (TypeError, ValueError):
                where = env_name if env.get(env_name) else f"[openalex] {key} in {data_dir() / 'config.toml'}"
                raise UsageError(f"{where} = {value!r} is not a number") from None

        return cls(
            base_url=str(pick("OPENALEX_API_URL", "base_url", DEFAULT_API_URL)).rstrip("/"),
            api_key=pick("OPENALEX_API_KEY", "api_key", None),
            email=pick("OPENALEX_EMAIL", "email", None),
            per_page=number(int, "OPENALEX_PER_PAGE", "per_page", DEFAULT_PER_PAGE),
            rate_limit=number(float, "OPENALEX_RATE_LIMIT", "rate_limit", DEFAULT_RATE_LIMIT),
            timeout=number(float, "OPENALEX_TIMEOUT", "timeout", 30.0),
            max_retries=number(int, "OPENALEX_MAX_RETRIES", "max_retries", 6),
        )
