"""Helpers shared by the tests: load a script as a module, run it, read its TensorBoard logs."""

import importlib.util
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

ROOT = Path(__file__).resolve().parent.parent
TESTS = Path(__file__).resolve().parent
# The algorithm scripts; tests of the parts they share run on each of them.
SCRIPTS = ["ddpg_continuous.py", "td3_continuous.py", "sac_continuous.py"]
TWIN_CRITIC_SCRIPTS = ["td3_continuous.py", "sac_continuous.py"]


def load_script(script: str) -> ModuleType:
    """Import an algorithm script as a module (its `main` only runs when called)."""
    name = Path(script).stem
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, ROOT / script)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


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


def read_scalars(run_dir: str | Path) -> dict[str, list[tuple[int, float]]]:
    """Every scalar of a run's TensorBoard log: {tag: [(step, value), ...]}."""
    events = EventAccumulator(str(run_dir), size_guidance={"scalars": 0})
    events.Reload()
    return {tag: [(event.step, event.value) for event in events.Scalars(tag)] for tag in events.Tags()["scalars"]}
