"""Shared by the tests of the benchmark scripts: load one as a module, or run it."""

import importlib.util
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"


@contextmanager
def loaded(stem):
    """benchmarks/<stem>.py imported as the module benchmarks_<stem>, registered in
    sys.modules while in use (forked pool workers find its functions by that name)."""
    spec = importlib.util.spec_from_file_location(f"benchmarks_{stem}",
                                                  BENCHMARKS / f"{stem}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        del sys.modules[spec.name]


def run(stem, *args, timeout):
    """benchmarks/<stem>.py run in a subprocess with args: its output captured."""
    return subprocess.run([sys.executable, str(BENCHMARKS / f"{stem}.py"), *map(str, args)],
                          capture_output=True, text=True, timeout=timeout)
