"""What is SAC's own: the tanh-Gaussian policy, the soft target, the temperature."""

import copy
import math

import numpy as np
import torch
from helpers import load_script, record_calls, record_optimizer_steps, update_hyperparameters
from torch.distributions import AffineTransform, Normal, TanhTransform, TransformedDistribution

sac = load_script("sac_continuous.py")
CPU = torch.device("cpu")
LOW, HIGH = np.array([-1.0, 0.0, -5.0]), np.array([1.0, 3.0, -2.0])  # asymmetric, per dimension


def policy_distribution(actor, obs, rescaled: bool = True):
    """The same policy written with torch.distributions: N(mean, std), then tanh, then (if `rescaled`) the affine
    map to the bounds."""
    features = actor.trunk(obs)
    raw_log_std = torch.tanh(actor.log_std(features))
    log_std = actor.LOG_STD_MIN + 0.5 * (actor.LOG_STD_MAX - actor.LOG_STD_MIN) * (raw_log_std + 1)
    return TransformedDistribution(
        Normal(actor.mean(features), log_std.exp()),
        [TanhTransform(), *([AffineTransform(actor.action_bias, actor.action_scale)] if rescaled else [])],
    )


def test_log_prob_is_that_of_the_squashed_action_in_normalised_units_with_asymmetric_bounds():
    """log pi is the density of tanh(u) in [-1, 1], not of the action rescaled to non-unit, asymmetric bounds: the
    entropy target -dim(A) then means the same on every task (SB3's and Tianshou's choice)."""
    torch.manual_seed(0)
    actor = sac.Actor(obs_dim=4, action_low=LOW, action_high=HIGH)
    obs = torch.randn(512, 4)
    with torch.no_grad():
        actions, log_prob = actor.sample(obs)
        squashed = (actions - actor.action_bias) / actor.action_scale
        expected = policy_distribution(actor, obs, rescaled=False).log_prob(squashed).sum(dim=-1)
        rescaled = policy_distribution(actor, obs).log_prob(actions).sum(dim=-1)
    assert torch.allclose(log_prob, expected, atol=2e-3, rtol=1e-4)
    # The rescaled density differs by the log of the scales (here log 1 + log 1.5 + log 1.5): it is not used.
    assert torch.allclose(rescaled, expected - torch.log(actor.action_scale).sum(), atol=2e-3, rtol=1e-4)
    assert not torch.allclose(log_prob, rescaled, atol=0.1)


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


def make_agent(**flags):
    args = sac.Args(**flags)
    torch.manual_seed(0)
    return args, sac.make_agent(args, 3, -np.ones(2), np.ones(2), CPU)


def update(args, agent, batch, critic_updates: int = 1, **hyperparameters) -> dict:
    """The script's update; with critic_updates odd (policy_frequency 2), a critic step alone."""
    hyperparameters = update_hyperparameters(sac, args, action_dim=2) | hyperparameters
    return sac.update(batch, agent, critic_updates, **hyperparameters)


def make_batch(n: int = 8) -> dict[str, torch.Tensor]:
    return {
        "obs": torch.randn(n, 3, generator=torch.Generator().manual_seed(0)),
        "actions": torch.zeros(n, 2),
        "rewards": torch.ones(n),
        "next_obs": torch.zeros(n, 3),
        "terminations": (torch.arange(n) % 2).float(),
    }


def fix_log_prob(actor, log_prob: float) -> None:
    """Make the actor's samples report log pi = `log_prob` (their gradients unchanged)."""
    sample = actor.sample

    def fixed(obs):
        actions, sampled_log_prob = sample(obs)
        return actions, sampled_log_prob - sampled_log_prob.detach() + log_prob

    actor.sample = fixed


def test_soft_target_subtracts_alpha_log_pi_and_stops_at_terminations():
    args, agent = make_agent(gamma=0.9)
    with torch.no_grad():
        agent.target_critic.weights[-1].zero_()
        agent.target_critic.biases[-1][0].fill_(3.0)
        agent.target_critic.biases[-1][1].fill_(2.0)  # Q'_1 = 3, Q'_2 = 2 everywhere
        agent.log_alpha.fill_(math.log(0.5))
    fix_log_prob(agent.actor, -1.5)
    batch = make_batch()
    calls = record_calls(agent.critic)
    logs = update(args, agent, batch)
    # The critics' loss sum_i mean_b (Q_i - y_b)^2 has the gradient 2 (Q_i - y_b) / n in Q_i: it gives y back.
    q = calls[0]["output"]
    target = q.detach() - q.grad * len(batch["rewards"]) / 2
    # y = 1 + 0.9 * (min(3, 2) - 0.5 * (-1.5)) = 1 + 0.9 * 2.75 where not terminated, 1 where terminated
    assert torch.allclose(target[:, 0::2], torch.tensor(1 + 0.9 * 2.75))
    assert torch.allclose(target[:, 1::2], torch.tensor(1.0))
    expected = torch.where(batch["terminations"] == 1, 1.0, 1 + 0.9 * 2.75)
    for i in (1, 2):  # and the logged losses are those of that target
        assert torch.allclose(logs[f"losses/qf{i}_loss"], (q[i - 1].detach() - expected).pow(2).mean())


def alpha_after_one_update(log_prob: float, target_entropy: float) -> float:
    """alpha (from 1) after an update whose policy reports log pi = `log_prob` for every sample."""
    args, agent = make_agent()
    fix_log_prob(agent.actor, log_prob)
    steps = record_optimizer_steps(agent)
    logs = update(args, agent, make_batch(), args.policy_frequency, target_entropy=target_entropy)
    assert len(steps["alpha"]) == args.policy_frequency  # one temperature step per actor step
    assert torch.equal(logs["losses/alpha"], agent.log_alpha.exp())  # the temperature after them
    return agent.log_alpha.exp().item()


def test_temperature_rises_when_entropy_is_below_target_and_falls_above():
    target_entropy = -3.0
    # log pi = 5 means an entropy of -5, below the target -3: alpha goes up.
    assert alpha_after_one_update(log_prob=5.0, target_entropy=target_entropy) > 1.0
    # log pi = 0 means entropy 0, above -3: alpha down.
    assert alpha_after_one_update(log_prob=0.0, target_entropy=target_entropy) < 1.0
    # At the target the gradient vanishes.
    assert math.isclose(alpha_after_one_update(log_prob=3.0, target_entropy=target_entropy), 1.0)


def test_without_autotune_alpha_stays_fixed():
    args, agent = make_agent(autotune=False, alpha=0.3)
    steps = record_optimizer_steps(agent)
    logs = update(args, agent, make_batch(), args.policy_frequency)
    assert not steps["alpha"] and "losses/alpha_loss" not in logs
    assert torch.allclose(logs["losses/alpha"], torch.tensor(0.3))


def test_actor_loss_is_alpha_log_pi_minus_min_q_and_trains_only_the_actor():
    args, agent = make_agent()
    with torch.no_grad():
        agent.log_alpha.fill_(math.log(0.3))
    samples = []  # each sample the actor draws: its observations and the random state it starts from
    sample = agent.actor.sample
    agent.actor.sample = lambda obs: samples.append((obs, torch.get_rng_state())) or sample(obs)
    states = []  # the networks and alpha as each actor step finds them: the critics already updated
    agent.actor_optimizer.register_step_pre_hook(
        lambda *_: states.append(
            (copy.deepcopy(agent.actor), copy.deepcopy(agent.critic), agent.log_alpha.exp().detach(), samples[-1])
        )
    )
    steps = record_optimizer_steps(agent)
    logs = update(args, agent, make_batch(32), critic_updates=args.policy_frequency)
    assert len(states) == args.policy_frequency  # CleanRL's burst: policy_frequency actor steps
    for k, (actor, critic, alpha, (obs, rng_state)) in enumerate(states):
        torch.set_rng_state(rng_state)
        actions, log_prob = sac.Actor.sample(actor, obs)  # the same sample, from the same noise (unpatched)
        q = critic(obs, actions)
        assert not torch.allclose(q[0], q[1])  # two different critics: which one is used matters
        expected = (alpha * log_prob - q.min(dim=0).values).mean()
        expected.backward(inputs=list(actor.parameters()))
        for name, parameter in actor.named_parameters():
            atol = 1e-6 * parameter.grad.abs().max()
            assert torch.allclose(steps["actor"][k][name], parameter.grad, rtol=1e-4, atol=atol), name
    assert torch.allclose(logs["losses/actor_loss"], expected)  # the last one's
    assert torch.allclose(logs["losses/entropy"], -log_prob.mean())
    # Only the actor learns from that loss: the critics' gradients are still those of their own loss,
    # and their weights those of their own step.
    [critic_gradients] = steps["critic"]
    for name, parameter in agent.critic.named_parameters():
        assert torch.equal(parameter.grad, critic_gradients[name]), name
        assert torch.equal(parameter, dict(critic.named_parameters())[name]), name
