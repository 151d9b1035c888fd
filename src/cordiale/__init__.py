"""cordiale: observe and run an international research partnership from open scholarly metadata."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("cordiale")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
