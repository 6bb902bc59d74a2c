"""Environments whose exact Q-values are known catch bootstrapping bugs that learning curves hide."""

import pytest
import torch
import toy_envs  # noqa: F401  (registers the toy environments)
from helpers import SCRIPTS, load_script

# Flags that make each algorithm's target the plain Bellman target.
EXACT_Q_FLAGS = {
    "ddpg_continuous.py": [],
    "td3_continuous.py": [],
    "sac_continuous.py": ["--no-autotune", "--alpha", "0"],
}
# Seconds, not minutes: small batches, and target networks that follow twice as fast as by default (--tau 0.01),
# so that Q settles within 2,000 steps; the targets are still the script's own.
RUN = ["--total-timesteps", "2000", "--learning-starts", "100", "--batch-size", "32", "--tau", "0.01", "--no-cuda"]


def q_values_on_buffer(result):
    buffer = result["buffer"]
    with torch.no_grad():
        q = result["agent"].critic(buffer.obs[: buffer.size], buffer.actions[: buffer.size])
    return buffer.obs[: buffer.size], q.reshape(-1, buffer.size)


@pytest.mark.parametrize("script", SCRIPTS)
def test_time_limits_bootstrap(script):
    """Reward 1 forever, cut every 5 steps by a time limit: Q = 1 / (1 - gamma) = 2 everywhere.

    Treating the cut as terminal would make Q fall to 1 at the last step (and about 1.6 on average).
    """
    result = load_script(script).main(
        ["--env-id", "toy_envs:Counter-v0", "--gamma", "0.5", *RUN] + EXACT_Q_FLAGS[script]
    )
    obs, q = q_values_on_buffer(result)
    assert torch.allclose(q.mean(dim=1), torch.tensor(2.0), atol=0.1)
    assert torch.allclose(q[:, obs[:, 0] == 4].mean(dim=1), torch.tensor(2.0), atol=0.1)  # just before the cut


@pytest.mark.parametrize("script", SCRIPTS)
def test_terminations_do_not_bootstrap(script):
    """Every episode ends after one step with reward 1: Q = 1 whatever gamma (here 0.99 -> 100 if it bootstrapped)."""
    result = load_script(script).main(
        ["--env-id", "toy_envs:OneStep-v0", "--gamma", "0.99", *RUN] + EXACT_Q_FLAGS[script]
    )
    _, q = q_values_on_buffer(result)
    assert torch.allclose(q.mean(dim=1), torch.tensor(1.0), atol=0.05)
