"""Helpers shared by the tests: load a script as a module, run it, read its TensorBoard logs."""

import os
import subprocess
import sys
from pathlib import Path

import torch
from common import ROOT, SCRIPTS, load_script, read_scalars  # noqa: F401  (re-exported for the tests)

TESTS = Path(__file__).resolve().parent
TWIN_CRITIC_SCRIPTS = ["td3_continuous.py", "sac_continuous.py"]


def script_environment(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment variables of a script's process: the toy envs importable, and `extra`."""
    return dict(os.environ, PYTHONPATH=str(TESTS), PYTHONWARNINGS="ignore::DeprecationWarning", **(extra or {}))


def run_script(
    script: str, *flags: str, cwd: Path, timeout: float = 600, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    """Run a script in a fresh process, as a user would, with the toy envs importable."""
    env = script_environment(env)
    return subprocess.run(
        [sys.executable, str(ROOT / script), *flags],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def check_ok(result: subprocess.CompletedProcess) -> None:
    """The script's process succeeded, without a traceback; its stderr is shown when not."""
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Traceback" not in result.stderr


def only_run_dir(cwd: Path) -> Path:
    """The single run directory that a run started in `cwd` created."""
    (run_dir,) = (cwd / "runs").iterdir()
    return run_dir


def separate_critics(twin_critic) -> list:
    """Each critic of a script's batched `TwinCritic` as an ordinary MLP of `nn.Linear` layers, same weights."""
    critics = []
    for i in range(len(twin_critic.weights[0])):
        layers = []
        for weight, bias in zip(twin_critic.weights, twin_critic.biases, strict=True):
            linear = torch.nn.Linear(weight.shape[1], weight.shape[2])
            with torch.no_grad():
                linear.weight.copy_(weight[i].T)
                linear.bias.copy_(bias[i, 0])
            layers += [linear, torch.nn.ReLU()]
        critics.append(torch.nn.Sequential(*layers[:-1]))
    return critics
