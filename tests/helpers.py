"""Helpers shared by the tests: load a script as a module, run it, read its TensorBoard logs."""

import copy
import dataclasses
import inspect
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


class SeparateCritic(torch.nn.Module):
    """One critic as an ordinary network of `nn.Linear` layers (and layer norms); `forward(obs, actions)`: Q, [batch]."""

    def __init__(self, linears: list[torch.nn.Linear], norms: torch.nn.ModuleList, action_layer: int):
        super().__init__()
        self.linears, self.norms, self.action_layer = torch.nn.ModuleList(linears), norms, action_layer

    def forward(self, obs: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        x = obs if self.action_layer == 2 else torch.cat([obs, actions], dim=-1)
        for layer, linear in enumerate(self.linears, start=1):
            if layer == self.action_layer == 2:  # DDPG's `--critic-action-layer 2`: the action joins here
                x = torch.cat([x, actions], dim=-1)
            x = linear(x)
            if layer < len(self.linears):
                x = torch.relu(self.norms[layer - 1](x))
        return x.squeeze(-1)


def separate_critics(critic, tensors: dict[str, torch.Tensor] | None = None) -> list[SeparateCritic]:
    """Each critic of a script's batched `Critic` as an ordinary network of `nn.Linear` layers, same weights.

    `tensors`, by the batched critic's parameter names (its gradients, say), fill the layers instead of its
    weights: `separate_critics(critic, gradients)[i]` holds the gradients of critic i, laid out like its weights.
    """
    tensors = dict(critic.named_parameters()) if tensors is None else tensors
    hidden_layers = len(critic.weights) - 1
    norms = getattr(critic, "norms", torch.nn.ModuleList(torch.nn.Identity() for _ in range(hidden_layers)))
    critics = []
    for i in range(len(critic.weights[0])):
        linears = []
        for layer in range(len(critic.weights)):
            weight, bias = tensors[f"weights.{layer}"][i], tensors[f"biases.{layer}"][i, 0]
            linear = torch.nn.Linear(*weight.shape)
            with torch.no_grad():
                linear.weight.copy_(weight.T)
                linear.bias.copy_(bias)
            linears.append(linear)
        separate_norms = copy.deepcopy(norms)  # shared by the batched critics: a copy each here
        with torch.no_grad():
            for name, parameter in separate_norms.named_parameters():
                parameter.copy_(tensors[f"norms.{name}"])
        critics.append(SeparateCritic(linears, separate_norms, getattr(critic, "action_layer", 1)))
    return critics


def record_optimizer_steps(agent) -> dict[str, list[dict[str, torch.Tensor]]]:
    """Record the gradients that each of an agent's optimizers applies, at every step, by parameter name.

    A step pre-hook on each `<name>_optimizer` of the `Agent` copies the gradients it is about to apply:
    `steps["critic"][k]["weights.0"]` is the gradient of `agent.critic.weights[0]` at the critic's k-th step
    (`steps["alpha"][k]["log_alpha"]` for SAC's temperature), whatever `update` did before and after it.
    """
    names = {}  # each parameter's name in its network (a bare tensor, like log_alpha: the field's name)
    for field in dataclasses.fields(agent):
        value = getattr(agent, field.name)
        if isinstance(value, torch.nn.Module):
            names |= {id(parameter): name for name, parameter in value.named_parameters()}
        elif torch.is_tensor(value):
            names[id(value)] = field.name
    steps = {}
    for field in dataclasses.fields(agent):
        optimizer = getattr(agent, field.name)
        if isinstance(optimizer, torch.optim.Optimizer):
            recorded = steps.setdefault(field.name.removesuffix("_optimizer"), [])

            def hook(optimizer, args, kwargs, recorded=recorded):
                parameters = [p for group in optimizer.param_groups for p in group["params"] if p.grad is not None]
                recorded.append({names[id(p)]: p.grad.detach().clone() for p in parameters})

            optimizer.register_step_pre_hook(hook)
    return steps


def update_hyperparameters(algo, args, action_dim: int) -> dict:
    """The keyword arguments that `train` gives the script's `update`: flags by name; SAC's target entropy -dim(A)."""
    derived = {"target_entropy": -float(action_dim)}  # the paper's heuristic, as `train` sets it
    names = list(inspect.signature(algo.update).parameters)[3:]  # after batch, agent, critic_updates
    return {name: derived[name] if name in derived else getattr(args, name) for name in names}


def record_calls(module: torch.nn.Module) -> list[dict]:
    """Record every call of `module`: its positional inputs and its output (which keeps its gradient, if any)."""
    calls = []

    def hook(module, inputs, output):
        if output.requires_grad:
            output.retain_grad()
        calls.append({"inputs": inputs, "output": output})

    module.register_forward_hook(hook)
    return calls
