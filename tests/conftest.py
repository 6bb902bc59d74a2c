import os

# One torch thread per test process: pytest-xdist runs one process per core, and a fixed thread count keeps
# every seeded run bit-identical on any machine (the scripts' processes inherit it; `import torch` reads it).
os.environ["OMP_NUM_THREADS"] = "1"

import pytest


def pytest_collection_modifyitems(items):
    """The slow tests first, the learning checks (the longest) at their head: each idle worker takes the next
    test, so that the last minute is not one long test running while the other worker waits."""
    items.sort(key=lambda item: (item.get_closest_marker("learning") is None, item.get_closest_marker("slow") is None))


@pytest.fixture(autouse=True)
def _work_in_a_temporary_directory(tmp_path, monkeypatch):
    """Runs write `runs/` into the working directory: keep each test's in its own folder."""
    monkeypatch.chdir(tmp_path)
