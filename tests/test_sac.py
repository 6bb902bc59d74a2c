"""What is SAC's own: the tanh-Gaussian policy, the soft target, the temperature."""

import math

import numpy as np
import torch
from helpers import load_script
from torch.distributions import AffineTransform, Normal, TanhTransform, TransformedDistribution

sac = load_script("sac_continuous.py")
LOW, HIGH = np.array([-1.0, 0.0, -5.0]), np.array([1.0, 3.0, -2.0])  # asymmetric, per dimension


def policy_distribution(actor, obs):
    """The same policy written with torch.distributions: N(mean, std), then tanh, then the affine map."""
    features = actor.trunk(obs)
    raw_log_std = torch.tanh(actor.log_std(features))
    log_std = actor.LOG_STD_MIN + 0.5 * (actor.LOG_STD_MAX - actor.LOG_STD_MIN) * (raw_log_std + 1)
    return TransformedDistribution(
        Normal(actor.mean(features), log_std.exp()),
        [TanhTransform(), AffineTransform(actor.action_bias, actor.action_scale)],
    )


def test_log_prob_matches_torch_distributions_with_asymmetric_bounds():
    torch.manual_seed(0)
    actor = sac.Actor(obs_dim=4, action_low=LOW, action_high=HIGH)
    obs = torch.randn(512, 4)
    with torch.no_grad():
        actions, log_prob = actor.sample(obs)
        expected = policy_distribution(actor, obs).log_prob(actions).sum(dim=-1)
    assert torch.allclose(log_prob, expected, atol=2e-3, rtol=1e-4)
    # The rescaling enters the density: log(scale) per dimension. Check it is not left out.
    assert not torch.allclose(log_prob, expected + torch.log(actor.action_scale).sum(), atol=0.1)


def test_sampled_actions_stay_within_bounds_and_reparameterise():
    torch.manual_seed(0)
    actor = sac.Actor(obs_dim=4, action_low=LOW, action_high=HIGH)
    with torch.no_grad():
        actor.log_std.bias.fill_(100.0)  # the widest std the bounds allow: most samples saturate tanh
    actions, log_prob = actor.sample(torch.randn(1000, 4))
    low, high = torch.tensor(LOW, dtype=torch.float32), torch.tensor(HIGH, dtype=torch.float32)
    assert ((actions >= low) & (actions <= high)).all()
    assert torch.isfinite(log_prob).all()  # the stable formula, even where tanh(u) rounds to +-1
    log_prob.mean().backward()
    assert actor.mean.weight.grad is not None and torch.isfinite(actor.mean.weight.grad).all()


def test_deterministic_action_is_the_squashed_mean():
    torch.manual_seed(0)
    actor = sac.Actor(obs_dim=4, action_low=LOW, action_high=HIGH)
    obs = torch.randn(16, 4)
    expected = torch.tanh(actor.mean(actor.trunk(obs))) * actor.action_scale + actor.action_bias
    assert torch.allclose(actor(obs), expected)


class FixedPolicy:
    """Stands in for the actor in the target: action 0, log pi = -1.5."""

    def sample(self, obs):
        return torch.zeros(len(obs), 2), torch.full((len(obs),), -1.5)


def test_soft_target_subtracts_alpha_log_pi_and_stops_at_terminations():
    n = 8
    batch = {
        "rewards": torch.ones(n),
        "next_obs": torch.zeros(n, 3),
        "terminations": (torch.arange(n) % 2).float(),
    }
    critic = sac.TwinCritic(3, 2)
    with torch.no_grad():
        critic.weights[-1].zero_()
        critic.biases[-1][0].fill_(3.0)
        critic.biases[-1][1].fill_(2.0)  # Q'_1 = 3, Q'_2 = 2 everywhere
    target = sac.critic_target(batch, FixedPolicy(), critic, sac.Args(gamma=0.9), alpha=torch.tensor(0.5))
    # y = 1 + 0.9 * (min(3, 2) - 0.5 * (-1.5)) = 1 + 0.9 * 2.75 where not terminated, 1 where terminated
    assert torch.allclose(target[0::2], torch.tensor(1 + 0.9 * 2.75))
    assert torch.allclose(target[1::2], torch.tensor(1.0))


def alpha_after_one_step(log_prob: float, target_entropy: float) -> float:
    log_alpha = torch.zeros((), requires_grad=True)
    optimizer = torch.optim.SGD([log_alpha], lr=0.1)
    sac.temperature_loss(log_alpha, torch.full((64,), log_prob), target_entropy).backward()
    optimizer.step()
    return log_alpha.exp().item()


def test_temperature_rises_when_entropy_is_below_target_and_falls_above():
    target_entropy = -3.0
    # log pi = 5 means an entropy of -5, below the target -3: alpha goes up.
    assert alpha_after_one_step(log_prob=5.0, target_entropy=target_entropy) > 1.0
    # log pi = 0 means entropy 0, above -3: alpha down.
    assert alpha_after_one_step(log_prob=0.0, target_entropy=target_entropy) < 1.0
    # At the target the gradient vanishes.
    assert math.isclose(alpha_after_one_step(log_prob=3.0, target_entropy=target_entropy), 1.0)


def test_actor_loss_is_alpha_log_pi_minus_min_q_and_trains_only_the_actor():
    torch.manual_seed(0)
    actor, critic = sac.Actor(3, -np.ones(2), np.ones(2)), sac.TwinCritic(3, 2)
    obs = torch.randn(32, 3)
    torch.manual_seed(1)
    loss, log_prob = sac.actor_loss({"obs": obs}, actor, critic, alpha=torch.tensor(0.3))
    torch.manual_seed(1)
    actions, expected_log_prob = actor.sample(obs)
    expected = (0.3 * expected_log_prob - critic(obs, actions).min(dim=0).values).mean()
    assert torch.allclose(loss, expected) and torch.allclose(log_prob, expected_log_prob)
    loss.backward(inputs=list(actor.parameters()))
    assert all(p.grad is not None for p in actor.parameters())
    assert all(p.grad is None for p in critic.parameters())
