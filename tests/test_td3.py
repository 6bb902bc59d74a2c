"""What is TD3's own: target policy smoothing and the clipped double-Q target, checked through the real `update`."""

import copy

import numpy as np
import torch
from helpers import load_script, record_calls, record_optimizer_steps, update_hyperparameters

td3 = load_script("td3_continuous.py")
CPU = torch.device("cpu")
LOW, HIGH = np.array([-1.0, 0.0]), np.array([1.0, 10.0])  # half-widths 1 and 5


def make_batch(n: int = 4096, action_dim: int = 2):
    return {
        "obs": torch.zeros(n, 3),
        "actions": torch.zeros(n, action_dim),
        "rewards": torch.ones(n),
        "next_obs": torch.zeros(n, 3),
        "terminations": (torch.arange(n) % 2).float(),
    }


def make_agent(**flags):
    args = td3.Args(**flags)
    torch.manual_seed(0)
    return args, td3.make_agent(args, 3, LOW, HIGH, CPU)


def update(args, agent, batch, critic_updates: int = 1) -> dict:
    """The script's update; with critic_updates odd (policy_frequency 2), a critic step alone."""
    return td3.update(batch, agent, critic_updates, **update_hyperparameters(td3, args, action_dim=2))


def fix_target_actor_output(agent, pre_tanh: float) -> None:
    """mu'(s') = tanh(pre_tanh) rescaled to the bounds, for every state."""
    with torch.no_grad():
        agent.target_actor.net[-2].weight.zero_()
        agent.target_actor.net[-2].bias.fill_(pre_tanh)


def test_target_smoothing_noise_is_clipped_and_scaled_per_dimension():
    args, agent = make_agent(policy_noise=100.0, noise_clip=0.3)
    fix_target_actor_output(agent, 0.0)  # mu'(s') = the middle of the range: (0, 5)
    target_calls = record_calls(agent.target_critic)
    update(args, agent, make_batch())
    [call] = target_calls
    noise = call["inputs"][1] - torch.tensor([0.0, 5.0])  # the actions the target critics were asked about
    # The clip applies to the noise in units of each dimension's half-width ...
    assert torch.allclose(noise.abs().max(dim=0).values, torch.tensor([0.3, 1.5]))
    # ... and with a huge sigma almost every sample sits at the clip.
    assert (noise[:, 1].abs() > 1.49).float().mean() > 0.95


def test_smoothed_target_actions_are_clipped_to_the_bounds():
    args, agent = make_agent()
    fix_target_actor_output(agent, 20.0)  # mu'(s') = high
    target_calls = record_calls(agent.target_critic)
    update(args, agent, make_batch())
    next_actions = target_calls[0]["inputs"][1]
    assert torch.all(next_actions <= torch.tensor(HIGH, dtype=torch.float32))
    assert torch.all(next_actions[:, 1] >= 10.0 - 0.5 * 5)  # noise only pushes it down
    assert (next_actions[:, 1] == 10.0).float().mean() > 0.4  # the upward half of the noise is clipped away


def test_target_uses_the_smaller_critic_and_stops_at_terminations():
    args, agent = make_agent(gamma=0.9)
    with torch.no_grad():  # Q'_1 = 3, Q'_2 = 2 everywhere
        agent.target_critic.weights[-1].zero_()
        agent.target_critic.biases[-1][0].fill_(3.0)
        agent.target_critic.biases[-1][1].fill_(2.0)
    batch = make_batch(n=8)
    calls = record_calls(agent.critic)
    logs = update(args, agent, batch)
    # The critics' loss sum_i mean_b (Q_i - y_b)^2 has the gradient 2 (Q_i - y_b) / n in Q_i: it gives y back.
    q = calls[0]["output"]
    target = q.detach() - q.grad * len(batch["rewards"]) / 2
    # y = r + gamma (1 - terminated) min(Q'_1, Q'_2) = 1 + 0.9 * 2 where not terminated, 1 where terminated
    assert torch.allclose(target[:, 0::2], torch.tensor(2.8))
    assert torch.allclose(target[:, 1::2], torch.tensor(1.0))
    expected = torch.where(batch["terminations"] == 1, 1.0, 2.8)
    for i in (1, 2):  # and the logged losses are those of that target
        assert torch.allclose(logs[f"losses/qf{i}_loss"], (q[i - 1].detach() - expected).pow(2).mean())


def test_actor_loss_uses_the_first_critic_and_trains_only_the_actor():
    args, agent = make_agent()
    batch = make_batch(n=32)
    batch["obs"] = torch.randn(32, 3)
    steps = record_optimizer_steps(agent)
    states = []  # the networks as the actor's step finds them: the critics already updated
    agent.actor_optimizer.register_step_pre_hook(
        lambda *_: states.append((copy.deepcopy(agent.actor), copy.deepcopy(agent.critic)))
    )
    logs = update(args, agent, batch, critic_updates=args.policy_frequency)
    [(actor, critic)] = states
    q = critic(batch["obs"], actor(batch["obs"]))
    assert not torch.allclose(q[0], q[1])  # two different critics: which one is used matters
    expected = -q[0].mean()
    assert torch.allclose(logs["losses/actor_loss"], expected)
    expected.backward(inputs=list(actor.parameters()))
    for name, parameter in actor.named_parameters():
        atol = 1e-6 * parameter.grad.abs().max()
        assert torch.allclose(steps["actor"][0][name], parameter.grad, rtol=1e-4, atol=atol), name
    # Only the actor learns from that loss: the critics' gradients are still those of their own loss,
    # and their weights those of their own step.
    [critic_gradients] = steps["critic"]
    for name, parameter in agent.critic.named_parameters():
        assert torch.equal(parameter.grad, critic_gradients[name]), name
        assert torch.equal(parameter, dict(critic.named_parameters())[name]), name
