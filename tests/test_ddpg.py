"""What is DDPG's own: its target, the three exploration noises, the paper configuration."""

import re
import shlex

import numpy as np
import pytest
import torch
from helpers import ROOT, load_script, read_scalars, record_calls, update_hyperparameters

ddpg = load_script("ddpg_continuous.py")
CPU = torch.device("cpu")


def test_target_bootstraps_from_the_target_networks_and_stops_at_terminations():
    args = ddpg.Args(gamma=0.9)
    torch.manual_seed(0)
    agent = ddpg.make_agent(args, 3, -np.ones(2), np.ones(2), CPU)
    with torch.no_grad():  # targets unlike the online networks, as after some training
        for network in (agent.target_actor, agent.target_critic):
            for parameter in network.parameters():
                parameter.add_(torch.randn_like(parameter) * 0.1)
    batch = {
        "obs": torch.randn(8, 3),
        "actions": torch.rand(8, 2) * 2 - 1,
        "rewards": torch.ones(8),
        "next_obs": torch.randn(8, 3),
        "terminations": (torch.arange(8) % 2).float(),
    }
    next_q = agent.target_critic(batch["next_obs"], agent.target_actor(batch["next_obs"]))[0].detach()
    calls = record_calls(agent.critic)
    logs = ddpg.update(batch, agent, 1, **update_hyperparameters(ddpg, args, action_dim=2))
    # The critic's loss mean_b (Q - y_b)^2 has the gradient 2 (Q - y_b) / n in Q: it gives y back.
    q = calls[0]["output"]
    target = q.detach() - q.grad * len(batch["rewards"]) / 2
    assert torch.allclose(target[0, 0::2], 1 + 0.9 * next_q[0::2])
    assert torch.allclose(target[0, 1::2], torch.ones(4))
    assert torch.allclose(logs["losses/qf_loss"], (q[0].detach() - target[0]).pow(2).mean())


def ou_outputs(noise, steps: int, scale: float = 1.0) -> torch.Tensor:
    """Draw the noise of `steps` steps; return the last one (in units of each dimension's half-width)."""
    for _ in range(steps):
        drawn = noise(torch.zeros_like(noise.state), scale)
    return drawn


def test_ou_noise_reverts_to_zero_at_rate_theta():
    noise = ddpg.OrnsteinUhlenbeckNoise(num_envs=1, theta=0.15, sigma=0.0, dt=0.01, action_scale=torch.ones(2))
    noise.state.fill_(1.0)
    ou_outputs(noise, 100)
    assert torch.allclose(noise.state, torch.tensor((1 - 0.15 * 0.01) ** 100), rtol=1e-5)


def test_ou_noise_is_its_state_and_the_decay_factor_scales_sigma():
    """The noise returned is the process's state, in half-widths (`train` multiplies it by the half-widths); the
    decay factor of --exploration-noise-final multiplies sigma."""
    torch.manual_seed(0)
    halved = ddpg.OrnsteinUhlenbeckNoise(num_envs=2, theta=0.15, sigma=0.2, dt=0.01, action_scale=torch.ones(3))
    drawn = ou_outputs(halved, 50, scale=0.5)
    assert drawn is halved.state and drawn.shape == (2, 3)
    torch.manual_seed(0)
    smaller = ddpg.OrnsteinUhlenbeckNoise(num_envs=2, theta=0.15, sigma=0.1, dt=0.01, action_scale=torch.ones(3))
    assert torch.allclose(ou_outputs(smaller, 50), drawn)


def test_gaussian_noise_is_the_ou_process_that_forgets_its_state():
    """theta dt = 1: each step's noise is sigma N(0, 1), the same numbers as drawing them directly, whatever came before."""
    sigma = 0.3
    noise = ddpg.OrnsteinUhlenbeckNoise(num_envs=4, theta=1.0, sigma=sigma, dt=1.0, action_scale=torch.ones(2))
    noise.state.fill_(5.0)
    torch.manual_seed(0)
    drawn = noise(torch.zeros(4, 2), 1.0).clone()
    torch.manual_seed(0)
    assert torch.equal(drawn, sigma * torch.randn(4, 2))
    many = ddpg.OrnsteinUhlenbeckNoise(num_envs=20000, theta=1.0, sigma=sigma, dt=1.0, action_scale=torch.ones(1))
    first, second = ou_outputs(many, 1).clone(), ou_outputs(many, 1).clone()
    assert first.std().item() == pytest.approx(sigma, rel=0.03)
    assert abs(torch.corrcoef(torch.stack([first[:, 0], second[:, 0]]))[0, 1].item()) < 0.03  # independent


def test_ou_noise_has_the_stationary_variance_and_correlation_of_the_process():
    torch.manual_seed(0)
    theta, sigma, dt = 0.15, 0.2, 0.01
    noise = ddpg.OrnsteinUhlenbeckNoise(num_envs=20000, theta=theta, sigma=sigma, dt=dt, action_scale=torch.ones(1))
    ou_outputs(noise, 5000)  # about 7.5 relaxation times 1 / (theta dt): the start is forgotten
    start = noise.state.clone()
    assert abs(start.mean()) < 0.01
    # Variance sigma^2 / (2 theta) in the continuous limit (0.1333 here; the Euler steps add 0.08%).
    assert start.var().item() == pytest.approx(sigma**2 / (2 * theta), rel=0.03)
    ou_outputs(noise, 100)
    correlation = torch.corrcoef(torch.stack([start[:, 0], noise.state[:, 0]]))[0, 1]
    assert correlation.item() == pytest.approx((1 - theta * dt) ** 100, abs=0.02)  # 0.86: smooth in time


def test_ou_noise_restarts_only_the_envs_whose_episode_ended():
    noise = ddpg.OrnsteinUhlenbeckNoise(num_envs=3, theta=0.15, sigma=0.2, dt=0.01, action_scale=torch.ones(2))
    ou_outputs(noise, 10)
    before = noise.state.clone()
    noise.episodes_ended(np.array([False, True, False]), actor=None)
    assert torch.equal(noise.state[1], torch.zeros(2))
    assert torch.equal(noise.state[[0, 2]], before[[0, 2]]) and (before[[0, 2]] != 0).all()


def layer_norm_actor():
    torch.manual_seed(0)
    return ddpg.Actor(5, -np.ones(2), np.array([1.0, 3.0]), layer_norm=True)


def test_parameter_noise_perturbs_the_weights_but_not_the_layer_norms():
    actor = layer_norm_actor()
    noise = ddpg.AdaptiveParameterNoise(actor, initial_std=0.1, target_distance=0.1)
    for (name, original), perturbed in zip(actor.named_parameters(), noise.perturbed_actor.parameters(), strict=True):
        is_layer_norm = isinstance(actor.get_submodule(name.rsplit(".", 1)[0]), torch.nn.LayerNorm)
        assert torch.equal(original, perturbed) == is_layer_norm, name
    assert torch.equal(noise.perturbed_actor.action_scale, actor.action_scale)
    # No action noise (the perturbed actor acts instead); the decay factor is kept for `adapt`.
    assert torch.equal(noise(torch.ones(3, 2), 0.5), torch.zeros(3, 2)) and noise.scale == 0.5
    # A new perturbation when an episode ends, none otherwise.
    current = noise.perturbed_actor
    noise.episodes_ended(np.array([False, False]), actor)
    assert noise.perturbed_actor is current
    noise.episodes_ended(np.array([False, True]), actor)
    assert noise.perturbed_actor is not current


def test_parameter_noise_std_grows_below_the_target_distance_and_shrinks_above():
    actor, obs = layer_norm_actor(), torch.randn(256, 5)
    below = ddpg.AdaptiveParameterNoise(actor, initial_std=1e-4, target_distance=0.5)
    logs = below.adapt(actor, obs)
    assert logs["charts/param_noise_distance"] < 0.5
    assert below.std == pytest.approx(1e-4 * 1.01) and logs["charts/param_noise_std"] == below.std
    above = ddpg.AdaptiveParameterNoise(actor, initial_std=1.0, target_distance=1e-3)
    assert above.adapt(actor, obs)["charts/param_noise_distance"] > 1e-3
    assert above.std == pytest.approx(1.0 / 1.01)
    # Repeated adaptation settles the distance near the target.
    torch.manual_seed(1)
    settling = ddpg.AdaptiveParameterNoise(actor, initial_std=1.0, target_distance=0.1)
    distances = [settling.adapt(actor, obs)["charts/param_noise_distance"] for _ in range(1000)]  # settled by 700
    assert np.mean(distances[-200:]) == pytest.approx(0.1, rel=0.25)


def paper_command() -> list[str]:
    """The paper configuration's flags from the script's docstring, as a list (the environment left out)."""
    flags = re.search(r"(--hidden-sizes\s.*?--exploration-noise-type ou)", ddpg.__doc__, re.DOTALL)
    return shlex.split(flags.group(1).replace("\\\n", " "))


def test_the_paper_configuration_builds_the_papers_networks():
    flags = paper_command()
    result = ddpg.main([*flags, "--env-id", "Pendulum-v1", "--total-timesteps", "0"])  # networks as built
    actor, critic = result["agent"].actor, result["agent"].critic
    actor_layers = [m for m in actor.net if isinstance(m, torch.nn.Linear)]
    assert [(m.in_features, m.out_features) for m in actor_layers] == [(3, 400), (400, 300), (300, 1)]
    # One critic, whose action (1-dimensional on Pendulum) enters at its second layer.
    assert [tuple(weight.shape) for weight in critic.weights] == [(1, 3, 400), (1, 400 + 1, 300), (1, 300, 1)]
    # Hidden layers uniform in +-1/sqrt(fan_in), output layers in +-3e-3.
    hidden_layers = [(critic.weights[0], 3), (critic.weights[1], 401)]
    hidden_layers += [(actor_layers[0].weight, 3), (actor_layers[1].weight, 400)]
    for weight, fan_in in hidden_layers:
        assert fan_in**-0.5 * 0.9 < weight.abs().max() <= fan_in**-0.5
    for weight, bias in [(actor_layers[-1].weight, actor_layers[-1].bias), (critic.weights[-1], critic.biases[-1])]:
        assert 2e-3 < weight.abs().max() <= 3e-3 and bias.abs().max() <= 3e-3
    args = result["args"]
    assert (args.policy_lr, args.q_lr, args.critic_weight_decay) == (1e-4, 1e-3, 1e-2)
    assert (args.batch_size, args.tau, args.exploration_noise_type) == (64, 0.001, "ou")
    # The paper's L2 penalty: on the critic's weight matrices, not on its biases.
    groups = result["agent"].critic_optimizer.param_groups
    decayed = {id(p) for group in groups if group["weight_decay"] == 1e-2 for p in group["params"]}
    assert decayed == {id(weight) for weight in critic.weights}


def test_layer_norm_in_both_networks():
    result = ddpg.main(
        ["--env-id", "Pendulum-v1", "--layer-norm", "--total-timesteps", "150", "--learning-starts", "100"]
    )
    assert sum(isinstance(m, torch.nn.LayerNorm) for m in result["agent"].actor.modules()) == 2
    assert sum(isinstance(m, torch.nn.LayerNorm) for m in result["agent"].critic.modules()) == 2


@pytest.mark.parametrize("noise_type", ["gaussian", "ou", "parameter"])
def test_each_noise_type_runs_end_to_end(noise_type):
    result = ddpg.main(
        ["--env-id", "Pendulum-v1", "--exploration-noise-type", noise_type, "--num-envs", "2"]
        + ["--total-timesteps", "600", "--learning-starts", "200", "--batch-size", "64", "--save-model"]
        + ["--eval-episodes", "1"]
    )
    scalars = read_scalars(result["run_dir"])
    assert "losses/actor_loss" in scalars and "eval/episodic_return" in scalars
    assert ("charts/param_noise_std" in scalars) == (noise_type == "parameter")
    policy_actions = result["buffer"].actions[200:600]
    assert policy_actions.abs().max() <= 2.0 and policy_actions.std() > 0.05


def test_the_readme_gives_the_same_paper_command():
    readme = (ROOT / "README.md").read_text()
    assert re.search(r"python ddpg_continuous\.py (--env-id \S+ )?" + re.escape(" ".join(paper_command())), readme)
