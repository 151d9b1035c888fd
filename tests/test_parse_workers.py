"""Processes start lean: parse workers without the command line or DuckDB, with one OpenBLAS thread; every
cordiale process with OpenBLAS threads that sleep when idle."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from types import ModuleType

import pytest

from cordiale.store.ingest import _lean_spawn
from cordiale.store.parse_file import parse_one, yield_cpu_to_merge

# What a worker has loaded, and its OpenBLAS setting, once it has imported a parse job's module.
PROBE = (
    "(sorted(m for m in ('duckdb', 'typer', 'cordiale.store.ingest', 'cordiale.store.parse_file') "
    "if m in __import__('sys').modules), __import__('os').environ.get('OPENBLAS_NUM_THREADS'))"
)


@pytest.mark.parametrize("lean", [True, False])
def test_workers_import_only_the_parse(lean: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A stand-in for the `cordiale` script: a main module with a file, which imports the command line.
    script = tmp_path / "cordiale_script.py"
    script.write_text("import duckdb\nimport typer\n")
    main = ModuleType("__main__")
    main.__file__ = str(script)
    monkeypatch.setitem(sys.modules, "__main__", main)
    monkeypatch.delenv("OPENBLAS_NUM_THREADS", raising=False)
    ctx = get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=ctx, initializer=yield_cpu_to_merge) as pool:
        with _lean_spawn() if lean else contextlib.nullcontext():
            loaded = pool.submit(eval, PROBE)
        assert sys.modules["__main__"] is main  # the parent's own, back as soon as the workers started
        assert "OPENBLAS_NUM_THREADS" not in os.environ
        modules, blas = loaded.result(timeout=120)
        assert pool.submit(callable, parse_one).result(timeout=120)
    if lean:
        assert (modules, blas) == (["cordiale.store.parse_file"], "1")
    else:  # what a spawned worker loads otherwise
        assert (modules, blas) == (["cordiale.store.parse_file", "duckdb", "typer"], None)


@pytest.mark.parametrize(("preset", "expected"), [(None, "4"), ("28", "28")])
def test_openblas_idle_threads_sleep_at_once_unless_set(preset: str | None, expected: str) -> None:
    """Importing cordiale (before numpy) shortens OpenBLAS's idle spin; a value the user set is kept."""
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_THREAD_TIMEOUT"}
    if preset is not None:
        env["OPENBLAS_THREAD_TIMEOUT"] = preset
    code = "import cordiale, os; print(os.environ['OPENBLAS_THREAD_TIMEOUT'])"
    run = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert run.stdout.strip() == expected
