"""What is DDPG's own: its target, the three exploration noises, the paper configuration."""

import re
import shlex

import numpy as np
import pytest
import torch
from helpers import ROOT, load_script, read_scalars

ddpg = load_script("ddpg_continuous.py")
CPU = torch.device("cpu")


def test_target_bootstraps_from_the_target_networks_and_stops_at_terminations():
    torch.manual_seed(0)
    target_actor, target_critic = ddpg.Actor(3, -np.ones(2), np.ones(2)), ddpg.Critic(3, 2)
    batch = {"rewards": torch.ones(8), "next_obs": torch.randn(8, 3), "terminations": (torch.arange(8) % 2).float()}
    target = ddpg.critic_target(batch, target_actor, target_critic, ddpg.Args(gamma=0.9))
    next_q = target_critic(batch["next_obs"], target_actor(batch["next_obs"]))
    assert torch.allclose(target[0::2], 1 + 0.9 * next_q[0::2])
    assert torch.allclose(target[1::2], torch.ones(4))


def test_ou_noise_reverts_to_zero_at_rate_theta():
    noise = ddpg.OrnsteinUhlenbeckNoise(num_envs=1, action_dim=2, theta=0.15, sigma=0.0, dt=0.01, device=CPU)
    noise.state.fill_(1.0)
    for _ in range(100):
        noise.step()
    assert torch.allclose(noise.state, torch.tensor((1 - 0.15 * 0.01) ** 100), rtol=1e-5)


def test_ou_noise_has_the_stationary_variance_and_correlation_of_the_process():
    torch.manual_seed(0)
    theta, sigma, dt = 0.15, 0.2, 0.01
    noise = ddpg.OrnsteinUhlenbeckNoise(num_envs=20000, action_dim=1, theta=theta, sigma=sigma, dt=dt, device=CPU)
    for _ in range(5000):  # about 7.5 relaxation times 1 / (theta dt): the start is forgotten
        noise.step()
    start = noise.state.clone()
    assert abs(start.mean()) < 0.01
    # Variance sigma^2 / (2 theta) in the continuous limit (0.1333 here; the Euler steps add 0.08%).
    assert start.var().item() == pytest.approx(sigma**2 / (2 * theta), rel=0.03)
    for _ in range(100):
        noise.step()
    correlation = torch.corrcoef(torch.stack([start[:, 0], noise.state[:, 0]]))[0, 1]
    assert correlation.item() == pytest.approx((1 - theta * dt) ** 100, abs=0.02)  # 0.86: smooth in time


def test_ou_noise_restarts_only_the_envs_whose_episode_ended():
    noise = ddpg.OrnsteinUhlenbeckNoise(num_envs=3, action_dim=2, theta=0.15, sigma=0.2, dt=0.01, device=CPU)
    for _ in range(10):
        noise.step()
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
    # A new perturbation when an episode ends, none otherwise.
    current = noise.perturbed_actor
    noise.episodes_ended(np.array([False, False]), actor)
    assert noise.perturbed_actor is current
    noise.episodes_ended(np.array([False, True]), actor)
    assert noise.perturbed_actor is not current


def test_parameter_noise_std_grows_below_the_target_distance_and_shrinks_above():
    actor, obs = layer_norm_actor(), torch.randn(256, 5)
    below = ddpg.AdaptiveParameterNoise(actor, initial_std=1e-4, target_distance=0.5)
    assert below.adapt(actor, obs) < 0.5
    assert below.std == pytest.approx(1e-4 * 1.01)
    above = ddpg.AdaptiveParameterNoise(actor, initial_std=1.0, target_distance=1e-3)
    assert above.adapt(actor, obs) > 1e-3
    assert above.std == pytest.approx(1.0 / 1.01)
    # Repeated adaptation settles the distance near the target.
    torch.manual_seed(1)
    settling = ddpg.AdaptiveParameterNoise(actor, initial_std=1.0, target_distance=0.1)
    distances = [settling.adapt(actor, obs) for _ in range(1500)]
    assert np.mean(distances[-200:]) == pytest.approx(0.1, rel=0.25)


def paper_command() -> list[str]:
    """The one-line paper configuration from the script's docstring, as a list of flags."""
    line = re.search(
        r"python ddpg_continuous\.py (--env-id \S+ --hidden-sizes.*?--exploration-noise-type ou)",
        ddpg.__doc__,
        re.DOTALL,
    )
    return shlex.split(line.group(1).replace("\\\n", " "))


def test_the_paper_configuration_builds_the_papers_networks():
    flags = paper_command()
    assert flags[:2] == ["--env-id", "Hopper-v4"]
    result = ddpg.main([*flags[2:], "--env-id", "Pendulum-v1", "--total-timesteps", "0"])  # networks as built
    actor, critic = result["actor"], result["critic"]
    actor_layers = [m for m in actor.net if isinstance(m, torch.nn.Linear)]
    assert [(m.in_features, m.out_features) for m in actor_layers] == [(3, 400), (400, 300), (300, 1)]
    # The action (1-dimensional on Pendulum) enters the critic at its second layer.
    assert (critic.layer1.in_features, critic.layer1.out_features) == (3, 400)
    assert (critic.layer2.in_features, critic.layer2.out_features) == (400 + 1, 300)
    # Hidden layers uniform in +-1/sqrt(fan_in), output layers in +-3e-3.
    for layer, fan_in in [(critic.layer1, 3), (critic.layer2, 401), (actor_layers[0], 3), (actor_layers[1], 400)]:
        assert fan_in**-0.5 * 0.9 < layer.weight.abs().max() <= fan_in**-0.5
    for layer in (actor_layers[-1], critic.output):
        assert 2e-3 < layer.weight.abs().max() <= 3e-3 and layer.bias.abs().max() <= 3e-3
    args = result["args"]
    assert (args.policy_lr, args.q_lr, args.critic_weight_decay) == (1e-4, 1e-3, 1e-2)
    assert (args.batch_size, args.tau, args.exploration_noise_type) == (64, 0.001, "ou")


def test_layer_norm_in_both_networks():
    result = ddpg.main(
        ["--env-id", "Pendulum-v1", "--layer-norm", "--total-timesteps", "150", "--learning-starts", "100"]
    )
    assert sum(isinstance(m, torch.nn.LayerNorm) for m in result["actor"].modules()) == 2
    assert sum(isinstance(m, torch.nn.LayerNorm) for m in result["critic"].modules()) == 2


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
    assert "python ddpg_continuous.py " + " ".join(paper_command()) in readme
