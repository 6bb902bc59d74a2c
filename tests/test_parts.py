"""The pieces the algorithm scripts share, tested on each script: buffer, env handling, networks, updates."""

import numpy as np
import pytest
import torch
import toy_envs  # noqa: F401  (registers the toy environments)
from helpers import SCRIPTS, TWIN_CRITIC_SCRIPTS, load_script, read_scalars, separate_critics


@pytest.fixture(params=SCRIPTS)
def algo(request):
    return load_script(request.param)


def transitions(start: int, n: int, obs_dim: int = 2, action_dim: int = 1):
    """n distinguishable transitions numbered start, start + 1, ..."""
    ids = np.arange(start, start + n, dtype=np.float32)
    return (
        np.repeat(ids[:, None], obs_dim, axis=1),
        np.repeat(ids[:, None], obs_dim, axis=1) + 0.5,
        np.repeat(ids[:, None], action_dim, axis=1),
        ids,
        (ids % 2 == 0).astype(np.float32),
    )


def test_buffer_wraps_around_and_overwrites_the_oldest(algo):
    buffer = algo.ReplayBuffer(capacity=5, obs_dim=2, action_dim=1, device=torch.device("cpu"))
    buffer.add(*transitions(0, 3))
    assert (buffer.size, buffer.position) == (3, 3)
    buffer.add(*transitions(3, 4))  # 3, 4 fill the end; 5, 6 overwrite 0, 1
    assert (buffer.size, buffer.position) == (5, 2)
    assert buffer.rewards.tolist() == [5, 6, 2, 3, 4]
    assert buffer.obs[:, 0].tolist() == [5, 6, 2, 3, 4]
    assert buffer.next_obs[:, 1].tolist() == [5.5, 6.5, 2.5, 3.5, 4.5]
    assert buffer.actions[:, 0].tolist() == [5, 6, 2, 3, 4]
    assert buffer.terminations.tolist() == [0, 1, 1, 0, 1]


def test_buffer_samples_whole_transitions_only_from_what_is_stored(algo):
    buffer = algo.ReplayBuffer(capacity=100, obs_dim=2, action_dim=1, device=torch.device("cpu"))
    buffer.add(*transitions(0, 7))
    torch.manual_seed(0)
    batch = buffer.sample(1000)
    ids = batch["rewards"]
    assert set(ids.tolist()) == set(range(7))  # every stored one, nothing from the empty slots
    # The fields of one sample belong to the same transition.
    assert torch.equal(batch["obs"][:, 0], ids)
    assert torch.equal(batch["next_obs"][:, 0], ids + 0.5)
    assert torch.equal(batch["actions"][:, 0], ids)
    assert torch.equal(batch["terminations"], (ids % 2 == 0).float())
    assert set(batch) == {"obs", "actions", "rewards", "next_obs", "terminations"}


@pytest.mark.parametrize("num_envs", [1, 2])
def test_what_is_stored_across_autoresets(algo, num_envs):
    """Run the real training loop on a counter env and check every stored transition."""
    result = algo.main(
        ["--env-id", "toy_envs:TerminatesAt3-v0", "--num-envs", str(num_envs)]
        + ["--total-timesteps", "60", "--learning-starts", "100", "--no-cuda"]
    )
    buffer = result["buffer"]
    obs, next_obs = buffer.obs[: buffer.size], buffer.next_obs[: buffer.size]
    assert buffer.size == 60
    # Each transition goes one step forward within one episode: never from a final observation
    # to the reset one (t would fall to 0), never from one env's episode into another's (tag).
    assert torch.equal(next_obs[:, 0], obs[:, 0] + 1)
    assert torch.equal(next_obs[:, 1], obs[:, 1])
    # The episode's real last observation (t = 3) is stored, and only its step is terminal.
    assert torch.equal(buffer.terminations[: buffer.size], (next_obs[:, 0] == 3).float())
    assert (next_obs[:, 0] == 3).sum() == 20


def test_time_limit_truncation_is_not_stored_as_terminal(algo):
    result = algo.main(["--env-id", "toy_envs:Counter-v0", "--total-timesteps", "20", "--learning-starts", "100"])
    buffer = result["buffer"]
    assert buffer.next_obs[:20, 0].tolist() == [1, 2, 3, 4, 5] * 4  # the final t = 5 is stored ...
    assert buffer.terminations[:20].sum() == 0  # ... and bootstraps


def test_real_next_obs_takes_the_final_observation_of_finished_envs(algo):
    next_obs = np.array([[0.0, 0.0], [7.0, 7.0], [0.0, 0.0]])
    infos = {
        "final_obs": np.array([np.array([5.0, 5.0]), None, np.array([9.0, 9.0])], dtype=object),
        "_final_obs": np.array([True, False, True]),
    }
    real = algo.real_next_obs(next_obs, infos)
    assert real.tolist() == [[5, 5], [7, 7], [9, 9]]
    assert next_obs.tolist() == [[0, 0], [7, 7], [0, 0]]  # the env's own array is left alone
    assert algo.real_next_obs(next_obs, {}) is next_obs


def test_episodes_finishing_on_the_same_step_are_all_logged(algo):
    result = algo.main(["--env-id", "toy_envs:Counter-v0", "--num-envs", "2"] + ["--total-timesteps", "30"])
    scalars = read_scalars(result["run_dir"])
    # Both envs finish every 5 steps, on the same step: 3 x 2 episodes of return 5, length 5.
    assert scalars["charts/episodic_return"] == [(10, 5.0)] * 2 + [(20, 5.0)] * 2 + [(30, 5.0)] * 2
    assert [value for _, value in scalars["charts/episodic_length"]] == [5.0] * 6


# The layer whose output goes through tanh to make the (deterministic) action.
PRE_TANH_LAYER = {
    "ddpg_continuous": lambda actor: actor.net[-2],
    "td3_continuous": lambda actor: actor.net[-2],
    "sac_continuous": lambda actor: actor.mean,
}


def test_actions_are_scaled_to_asymmetric_bounds_per_dimension(algo):
    low, high = np.array([-1.0, 0.0, -5.0]), np.array([1.0, 3.0, -2.0])
    actor = algo.Actor(obs_dim=4, action_low=low, action_high=high)
    last = PRE_TANH_LAYER[algo.__name__](actor)
    with torch.no_grad():
        last.weight.zero_()
        for pre_tanh, expected in [(-20.0, low), (20.0, high), (0.0, (low + high) / 2)]:
            last.bias.fill_(pre_tanh)
            action = actor(torch.randn(8, 4))
            assert torch.allclose(action, torch.as_tensor(expected, dtype=torch.float32).expand(8, 3), atol=1e-5)


# Large exploration noise where the algorithm has a flag for it; SAC's policy samples its own.
WIDE_EXPLORATION = {
    "ddpg_continuous": ["--exploration-noise", "5.0"],
    "td3_continuous": ["--exploration-noise", "5.0"],
    "sac_continuous": [],
}


def test_exploration_actions_respect_each_dimensions_bounds(algo):
    result = algo.main(
        ["--env-id", "toy_envs:Counter-v0", "--total-timesteps", "400", "--learning-starts", "100"]
        + ["--batch-size", "32", *WIDE_EXPLORATION[algo.__name__]]
    )
    actions = result["buffer"].actions[:400]
    # The env asserts its own bounds on every step; here check that they are the per-dimension
    # ones, not low[0] and high[0]: the second dimension [0, 3] reaches beyond 1.
    assert actions[:, 0].min() >= -1 and actions[:, 0].max() <= 1
    assert actions[:, 1].min() >= 0 and actions[:, 1].max() <= 3
    assert actions[100:, 1].max() > 1.2  # policy actions are not clipped to the first dimension's [-1, 1]


@pytest.mark.parametrize("script", TWIN_CRITIC_SCRIPTS)
def test_batched_critic_equals_independent_critics(script):
    algo = load_script(script)
    torch.manual_seed(0)
    critic = algo.Critic(obs_dim=5, action_dim=2)
    separate = separate_critics(critic)  # two ordinary MLPs holding the same weights
    obs, actions = torch.randn(16, 5), torch.randn(16, 2)
    q_batched = critic(obs, actions)
    q_separate = torch.stack([net(obs, actions) for net in separate])
    assert q_batched.shape == (2, 16)
    assert torch.allclose(q_batched, q_separate, atol=1e-6)
    assert not torch.allclose(q_batched[0], q_batched[1])  # initialised independently
    assert torch.allclose(critic(obs, actions, critics=1), q_batched[:1], atol=1e-6)  # the first critic alone
    # Gradients agree too.
    q_batched.sum().backward()
    q_separate.sum().backward()
    gradients = {name: parameter.grad for name, parameter in critic.named_parameters()}
    for batched, net in zip(separate_critics(critic, gradients), separate, strict=True):
        for (name, gradient), parameter in zip(batched.named_parameters(), net.parameters(), strict=True):
            assert torch.allclose(gradient, parameter.grad, atol=1e-5), name


@pytest.mark.parametrize(
    "options",
    [{}, {"action_layer": 2}, {"layer_norm": True}, {"action_layer": 2, "layer_norm": True, "num_critics": 3}],
    ids=["plain", "action at layer 2", "layer norm", "all, three critics"],
)
def test_ddpgs_batched_critic_equals_independent_critics(options):
    """DDPG's critic: one by default, with the action at the input or at the second layer, layer norm or not."""
    ddpg = load_script("ddpg_continuous.py")
    torch.manual_seed(0)
    critic = ddpg.Critic(5, 2, (16, 8), **{"num_critics": 1} | options)
    if options.get("layer_norm"):
        with torch.no_grad():  # layer norms that do something (they start as the identity map)
            for parameter in critic.norms.parameters():
                parameter.add_(torch.randn_like(parameter) * 0.1)
    obs, actions = torch.randn(16, 5), torch.randn(16, 2)
    q_separate = torch.stack([net(obs, actions) for net in separate_critics(critic)])
    assert critic(obs, actions).shape == (len(q_separate), 16)
    assert torch.allclose(critic(obs, actions), q_separate, atol=1e-6)
    fan_in = critic.weights[1].shape[1]
    assert fan_in == 16 + (2 if options.get("action_layer") == 2 else 0)


def test_soft_update_is_polyak_averaging(algo):
    target, online = torch.nn.Linear(3, 2), torch.nn.Linear(3, 2)
    before = [p.detach().clone() for p in target.parameters()]
    algo.soft_update(target, online, tau=0.1)
    for old, new, source in zip(before, target.parameters(), online.parameters(), strict=True):
        assert torch.allclose(new, 0.9 * old + 0.1 * source)
    algo.soft_update(target, online, tau=1.0)
    for new, source in zip(target.parameters(), online.parameters(), strict=True):
        assert torch.equal(new, source)


class FakeCuda:
    """Stands in for torch.cuda where a CUDA graph's logic is tested on the CPU: a recording runs nothing (its
    outputs are placeholders, as a real capture leaves them), and a replay recomputes the recorded call on the
    recorded input tensors, writing into the recorded output tensors, as a real replay does."""

    def __init__(self, options: dict):
        self.options, self.replays, self.recording = options, [], None
        owner = self

        class Graph:
            def replay(self):
                function, inputs, outputs = self.recorded
                owner.replays.append(self)
                for output, value in zip(outputs.values(), function(*inputs, **owner.options).values(), strict=True):
                    output.copy_(value)

        class Context:
            def __init__(self, *args, **kwargs):
                self.graph = args[0] if args and isinstance(args[0], Graph) else None

            def __enter__(self):
                owner.recording = self.graph

            def __exit__(self, *exc):
                owner.recording = None

        self.CUDAGraph, self.graph, self.stream = Graph, Context, Context
        self.Stream = self.current_stream = lambda *args: type("Stream", (), {"wait_stream": lambda *a: None})()


def test_cuda_graphs_replay_the_recording_of_each_path_on_each_calls_inputs(monkeypatch):
    """--cudagraphs' logic, checked on the CPU: one recording per path of the update (its count modulo each
    `*_frequency`), each call's batch copied into the recorded one, a fresh dict of the recorded outputs."""
    algo = load_script("td3_continuous.py")
    fake = FakeCuda({"policy_frequency": 2})
    monkeypatch.setattr(algo.torch, "cuda", fake)
    calls = []

    def update(batch, agent, critic_updates, policy_frequency):
        if fake.recording is not None:  # record the call; a capture computes nothing
            fake.recording.recorded = (update, (batch, agent, critic_updates), outputs := {"q": torch.zeros(())})
            return outputs
        calls.append(critic_updates % policy_frequency)
        return {"q": batch["obs"].sum() * (1 if critic_updates % policy_frequency == 0 else -1)}

    recorded = algo.CudaGraphs(update)
    results = []
    for count in range(1, 13):
        batch = {"obs": torch.full((2,), float(count))}
        logs = recorded(batch, "agent", count, policy_frequency=2)
        results.append(logs["q"].item())
        logs["extra"] = 1.0  # a caller that adds to the dict (DDPG's parameter-noise logs) changes no recording
    sign = [1 if count % 2 == 0 else -1 for count in range(1, 13)]
    assert results == [2 * count * s for count, s in zip(range(1, 13), sign, strict=True)]  # each call's batch
    assert len(recorded.graphs) == 2  # one per path: actor updated or not
    # Warm-up calls run eagerly (3 per path), then each path is recorded once and only replayed.
    assert calls[: 2 * recorded.WARMUP_CALLS] == [1, 0] * recorded.WARMUP_CALLS
    assert len(fake.replays) == 12 - 2 * recorded.WARMUP_CALLS
    assert all("extra" not in outputs for _, _, outputs in recorded.graphs.values())
