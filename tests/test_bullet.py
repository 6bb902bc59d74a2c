"""PyBullet's locomotion tasks run through `--env-id module:EnvId` with no change to the scripts.

Skipped where `pybullet-envs-gymnasium` is not installed (`pip install -r benchmarks/requirements.txt`).
"""

import pytest
from helpers import SCRIPTS, load_script

pytest.importorskip("pybullet_envs_gymnasium")


@pytest.mark.parametrize("script", SCRIPTS)
def test_a_bullet_task_trains_and_evaluates(script, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    flags = ["--env-id", "pybullet_envs_gymnasium:HopperBulletEnv-v0", "--total-timesteps", "300"]
    flags += ["--learning-starts", "100", "--batch-size", "32", "--eval-frequency", "300", "--eval-episodes", "1"]
    result = load_script(script).main(flags)
    assert result["buffer"].size == 300
    assert (tmp_path / result["run_dir"] / "args.json").exists()
