"""Errors that map one-to-one onto the exit codes every command shares (see the README)."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """Exit codes shared by every ``cordiale`` command."""

    OK = 0  # success; an empty result is a success with a notice on stderr
    NOTHING_DONE = 1  # nothing could be done (e.g. no input could be read)
    USAGE = 2  # usage error, or a named input missing or unreadable as a whole
    INSTITUTION = 3  # unknown or ambiguous institution (candidates listed)
    STORE = 4  # store missing or empty
    ENGINE = 5  # optional engine not installed
    NETWORK = 6  # network unavailable


class CordialeError(Exception):
    """Base class: carries the exit code the CLI returns for it."""

    exit_code: ExitCode = ExitCode.NOTHING_DONE


class NothingDoneError(CordialeError):
    exit_code = ExitCode.NOTHING_DONE


class UsageError(CordialeError):
    exit_code = ExitCode.USAGE


class InputUnreadableError(CordialeError):
    """A named input is missing or unreadable as a whole."""

    exit_code = ExitCode.USAGE


class InstitutionError(CordialeError):
    """An institution could not be resolved; ``candidates`` lists (id, name, detail) when ambiguous."""

    exit_code = ExitCode.INSTITUTION

    def __init__(self, message: str, candidates: list[tuple[str, str, str]] | None = None) -> None:
        super().__init__(message)
        self.candidates = candidates or []


class StoreError(CordialeError):
    exit_code = ExitCode.STORE


class EngineMissingError(CordialeError):
    exit_code = ExitCode.ENGINE


class NetworkUnavailableError(CordialeError):
    exit_code = ExitCode.NETWORK
