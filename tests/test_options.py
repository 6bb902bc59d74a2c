"""The options the original designs asked for: updates per step, a decaying exploration noise, keeping the
best actor, and TD3's three ingredients, each switchable (with all three off, TD3's update is DDPG's)."""

import itertools
import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import SCRIPTS, load_script, update_hyperparameters

SHORT = ["--env-id", "Pendulum-v1", "--learning-starts", "200", "--batch-size", "32", "--no-cuda"]
CPU = torch.device("cpu")


@pytest.mark.parametrize("script", SCRIPTS)
def test_updates_per_step_makes_that_many_updates_per_transition(script, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = load_script(script).main([*SHORT, "--total-timesteps", "300", "--updates-per-step", "3"])
    critic_steps = next(iter(result["agent"].critic_optimizer.state.values()))["step"]
    assert int(critic_steps) == 3 * 101  # after each transition from the 200th to the 300th, 3 updates
    assert result["buffer"].size == 300  # the step counts stay environment steps


NOISES = [("td3_continuous.py", "gaussian")] + [
    ("ddpg_continuous.py", noise) for noise in ("gaussian", "ou", "parameter")
]


@pytest.mark.parametrize(("script", "noise_type"), NOISES)
def test_the_exploration_noise_decays_linearly_to_its_final_value(script, noise_type, tmp_path, monkeypatch):
    """Gaussian noise: its std decays; OU noise: its sigma; parameter noise: its target action distance."""
    monkeypatch.chdir(tmp_path)
    flags = [*SHORT, "--total-timesteps", "400", "--checkpoint-frequency", "400"]
    flags += ["--exploration-noise-final", "0.05", "--exploration-noise-decay-steps", "400"]
    flags += ["--exploration-noise-type", noise_type] if script == "ddpg_continuous.py" else []
    algo = load_script(script)
    factors = []
    noise_scale = algo.noise_scale
    monkeypatch.setattr(algo, "noise_scale", lambda args, step: factors.append(noise_scale(args, step)) or factors[-1])
    run_dir = algo.main(flags)["run_dir"]
    # From 1 when learning starts (step 200), linearly toward 0.05 / 0.1 over 400 steps: the last action was
    # chosen at step 399, 199 steps in.
    assert factors[0] == 1.0 and factors[-1] == pytest.approx(1 + 199 / 400 * (0.05 / 0.1 - 1))
    assert all(a > b for a, b in itertools.pairwise(factors)) and len(factors) == 200
    assert noise_scale(algo.Args(**json.loads(Path(run_dir, "args.json").read_text())), 10**9) == 0.5  # then stays
    if noise_type == "parameter":  # it adapts to the decayed distance: the factor is in its checkpointed state
        state = algo.read_checkpoint(run_dir)[0]
        assert state["exploration"]["scale"] == pytest.approx(factors[-1])


@pytest.mark.parametrize("script", SCRIPTS)
def test_save_best_keeps_the_networks_of_the_best_evaluation(script, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    algo = load_script(script)
    flags = [*SHORT, "--total-timesteps", "800", "--eval-frequency", "200", "--eval-episodes", "2"]
    run_dir = algo.main([*flags, "--save-best"])["run_dir"]
    evaluations = [float(value) for value in re.findall(r"evaluation .*: (-?[\d.]+) \+-", capsys.readouterr().out)]
    best = algo.read_checkpoint(f"{run_dir}/checkpoints/best.pt")[0]
    assert len(evaluations) == 4 and best["eval_return"] == pytest.approx(max(evaluations), abs=0.05)
    # --eval-only takes it: the same actor on the same evaluation seeds gives the same return.
    algo.main(["--eval-only", "--checkpoint", f"{run_dir}/checkpoints/best.pt", "--eval-episodes", "2"])
    assert f"{best['eval_return']:.1f}" in capsys.readouterr().out


@pytest.mark.parametrize("script", ["td3_continuous.py", "sac_continuous.py"])
def test_num_critics_sets_the_number_of_critics(script):
    algo = load_script(script)
    for critics in (1, 2, 5):
        args = algo.Args(num_critics=critics)
        agent = algo.make_agent(args, 3, np.array([-2.0]), np.array([2.0]), CPU)
        assert agent.critic(torch.zeros(4, 3), torch.zeros(4, 1)).shape == (critics, 4)


def test_td3_with_its_three_ingredients_off_updates_as_ddpg():
    """One critic (no clipped double Q), no target smoothing, no delay: TD3's update is DDPG's, weight for weight."""
    td3, ddpg = load_script("td3_continuous.py"), load_script("ddpg_continuous.py")
    td3_args = td3.Args(num_critics=1, policy_noise=0.0, policy_frequency=1)
    ddpg_args = ddpg.Args(policy_frequency=1)
    low, high = np.array([-1.0, -2.0]), np.array([1.0, 0.5])
    torch.manual_seed(0)
    td3_agent = td3.make_agent(td3_args, 5, low, high, CPU)
    ddpg_agent = ddpg.make_agent(ddpg_args, 5, low, high, CPU)
    for name in ("actor", "critic", "target_actor", "target_critic"):
        getattr(ddpg_agent, name).load_state_dict(getattr(td3_agent, name).state_dict())
    generator = torch.Generator().manual_seed(1)
    for updates in range(1, 6):
        batch = {
            "obs": torch.randn(64, 5, generator=generator),
            "next_obs": torch.randn(64, 5, generator=generator),
            "actions": torch.rand(64, 2, generator=generator) * torch.tensor([2.0, 2.5]) - torch.tensor([1.0, 2.0]),
            "rewards": torch.randn(64, generator=generator),
            "terminations": (torch.rand(64, generator=generator) < 0.2).float(),
        }
        td3_logs = td3.update(batch, td3_agent, updates, **update_hyperparameters(td3, td3_args, 2))
        ddpg_logs = ddpg.update(batch, ddpg_agent, updates, **update_hyperparameters(ddpg, ddpg_args, 2))
        assert td3_logs.keys() == ddpg_logs.keys()
        for tag in td3_logs:
            torch.testing.assert_close(td3_logs[tag], ddpg_logs[tag])
    for name in ("actor", "critic", "target_actor", "target_critic"):
        td3_weights, ddpg_weights = getattr(td3_agent, name).state_dict(), getattr(ddpg_agent, name).state_dict()
        for key in td3_weights:
            torch.testing.assert_close(td3_weights[key], ddpg_weights[key], msg=f"{name}.{key}")
