"""What is TD3's own: target policy smoothing and the clipped double-Q target."""

import numpy as np
import torch
from helpers import load_script

td3 = load_script("td3_continuous.py")


class RecordingCritic(torch.nn.Module):
    """Stands in for the target critics: records the actions it is asked about, returns fixed Q-values."""

    def __init__(self, q1: float, q2: float):
        super().__init__()
        self.q = torch.tensor([[q1], [q2]])
        self.actions = None

    def forward(self, obs, actions):
        self.actions = actions
        return self.q.expand(2, len(obs))


def make_batch(n: int = 4096, action_dim: int = 2):
    return {
        "obs": torch.zeros(n, 3),
        "actions": torch.zeros(n, action_dim),
        "rewards": torch.ones(n),
        "next_obs": torch.zeros(n, 3),
        "terminations": (torch.arange(n) % 2).float(),
    }


def test_target_smoothing_noise_is_clipped_and_scaled_per_dimension():
    low, high = np.array([-1.0, 0.0]), np.array([1.0, 10.0])
    target_actor = td3.Actor(3, low, high)  # half-widths 1 and 5
    with torch.no_grad():
        target_actor.net[-2].weight.zero_()
        target_actor.net[-2].bias.zero_()  # mu'(s') = the middle of the range: (0, 5)
    recorder = RecordingCritic(0.0, 0.0)
    args = td3.Args(policy_noise=100.0, noise_clip=0.3)
    td3.critic_target(make_batch(), target_actor, recorder, args, torch.tensor(low).float(), torch.tensor(high).float())
    noise = recorder.actions - torch.tensor([0.0, 5.0])
    # The clip applies to the noise in units of each dimension's half-width ...
    assert torch.allclose(noise.abs().max(dim=0).values, torch.tensor([0.3, 1.5]))
    # ... and with a huge sigma almost every sample sits at the clip.
    assert (noise[:, 1].abs() > 1.49).float().mean() > 0.95


def test_smoothed_target_actions_are_clipped_to_the_bounds():
    low, high = np.array([-1.0, 0.0]), np.array([1.0, 10.0])
    target_actor = td3.Actor(3, low, high)
    with torch.no_grad():
        target_actor.net[-2].weight.zero_()
        target_actor.net[-2].bias.fill_(20.0)  # mu'(s') = high
    recorder = RecordingCritic(0.0, 0.0)
    td3.critic_target(
        make_batch(), target_actor, recorder, td3.Args(), torch.tensor(low).float(), torch.tensor(high).float()
    )
    assert torch.all(recorder.actions <= torch.tensor(high, dtype=torch.float32))
    assert torch.all(recorder.actions[:, 1] >= 10.0 - 0.5 * 5)  # noise only pushes it down


def test_target_uses_the_smaller_critic_and_stops_at_terminations():
    target_actor = td3.Actor(3, -np.ones(2), np.ones(2))
    args = td3.Args(gamma=0.9)
    target = td3.critic_target(
        make_batch(), target_actor, RecordingCritic(3.0, 2.0), args, -torch.ones(2), torch.ones(2)
    )
    # y = r + gamma (1 - terminated) min(Q'_1, Q'_2) = 1 + 0.9 * 2 where not terminated, 1 where terminated
    assert torch.allclose(target[0::2], torch.tensor(2.8))
    assert torch.allclose(target[1::2], torch.tensor(1.0))


def test_actor_loss_uses_the_first_critic_and_trains_only_the_actor():
    torch.manual_seed(0)
    actor, critic = td3.Actor(3, -np.ones(2), np.ones(2)), td3.TwinCritic(3, 2)
    obs = torch.randn(32, 3)
    loss = td3.actor_loss({"obs": obs}, actor, critic)
    assert torch.allclose(loss, -critic(obs, actor(obs))[0].mean())
    loss.backward(inputs=list(actor.parameters()))
    assert all(p.grad is not None for p in actor.parameters())
    assert all(p.grad is None for p in critic.parameters())
