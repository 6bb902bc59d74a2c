import pytest


@pytest.fixture(autouse=True)
def _work_in_a_temporary_directory(tmp_path, monkeypatch):
    """Runs write `runs/` into the working directory: keep each test's in its own folder."""
    monkeypatch.chdir(tmp_path)
