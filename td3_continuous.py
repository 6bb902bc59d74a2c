"""TD3: Twin Delayed Deep Deterministic policy gradient, for continuous actions.

TD3 learns a deterministic policy mu(s) and an action-value function Q(s, a) from a
replay buffer, like DDPG, and fixes DDPG's overestimation with three changes: it learns
two critics and bootstraps from the smaller of their targets (clipped double Q-learning),
it smooths the target policy with clipped noise, and it updates the actor and the target
networks less often than the critics (delayed policy updates).

Paper: Fujimoto, van Hoof, Meger (2018), "Addressing Function Approximation Error in
Actor-Critic Methods", https://arxiv.org/abs/1802.09477

Run:
    python td3_continuous.py --env-id Hopper-v4
    python td3_continuous.py --help                  # every flag, with its default
    tensorboard --logdir runs                        # watch the curves

Differences from the paper, and why:
- The defaults are the authors' released code's: 256-256 ReLU networks, learning rate 3e-4, batch
  256, 25k random steps (the paper's table 3: 400-300, 1e-3, batch 100, 1k or 10k random steps).
- `--num-envs N` collects N transitions per step and makes N updates, so one update per
  transition, as in the paper, whatever N is. `--total-timesteps`, `--learning-starts` and
  the logged step count environment transitions summed over all envs.

Reading map: everything above the "Run control" banner is the algorithm, in the order it runs: the
flags, the environment, the networks, the replay buffer, one gradient step (`update`) and the
training loop (`train`). Below the banner is machinery you can skip: evaluation, checkpoints and
resume, stop signals, the progress line, W&B and the command line (`main`).
"""

import copy
import datetime
import functools
import glob
import itertools
import json
import os
import random
import re
import signal
import sys
import time
import warnings
from collections import deque
from dataclasses import asdict, dataclass, fields

import gymnasium as gym
import numpy as np
import torch
import torch.nn.functional as F
import tyro
from torch import nn
from torch.utils import _pytree as pytree
from torch.utils.tensorboard import SummaryWriter


@dataclass
class Args:
    # The algorithm; the docstring says where the defaults come from.
    env_id: str = "Hopper-v4"
    """the id of the environment: anything `gymnasium.make` accepts, including `my_package:MyEnv-v0`"""
    seed: int = 1
    """seed of Python, NumPy, PyTorch and the environments"""
    total_timesteps: int = 1000000
    """total environment transitions, summed over all envs"""
    num_envs: int = 1
    """the number of parallel environments (one update per collected transition whatever the number)"""
    learning_rate: float = 3e-4
    """the learning rate of the Adam optimizers of the actor and the critic networks"""
    policy_lr: float | None = None
    """the actor's learning rate, when it differs from --learning-rate"""
    q_lr: float | None = None
    """the critics' learning rate, when it differs from --learning-rate"""
    buffer_size: int = int(1e6)
    """the replay memory capacity, in transitions"""
    gamma: float = 0.99
    """the discount factor gamma"""
    tau: float = 0.005
    """target smoothing coefficient: theta' <- tau theta + (1 - tau) theta'"""
    batch_size: int = 256
    """the number of transitions sampled from the replay memory for each update"""
    hidden_sizes: tuple[int, ...] = (256, 256)
    """the sizes of the hidden layers of the actor and the critic networks"""
    num_critics: int = 2
    """the number of critics; the target takes the smallest of their values (clipped double Q): 1 turns it off"""
    learning_starts: int = int(25e3)
    """transitions collected with uniformly random actions before learning starts (after a resume without the replay buffer, the policy's exploring actions refill it to this many before updates go on)"""
    updates_per_step: int = 1
    """gradient updates per collected transition (the update-to-data ratio); delays count updates, not steps"""
    policy_frequency: int = 2
    """the actor and the target networks are updated once every this many critic updates"""
    exploration_noise: float = 0.1
    """the std of the Gaussian exploration noise, as a fraction of the action range's half-width"""
    exploration_noise_final: float | None = None
    """if given, the exploration noise decays linearly from --exploration-noise to this value once learning starts"""
    exploration_noise_decay_steps: int | None = None
    """the steps that decay takes; default: until --total-timesteps"""
    policy_noise: float = 0.2
    """standard deviation of the target policy smoothing noise, as a fraction of the action range's half-width"""
    noise_clip: float = 0.5
    """the target policy smoothing noise is clipped to +-noise_clip (fraction of the half-width)"""

    # Run control: how the run is computed, logged, checkpointed and evaluated.
    exp_name: str = os.path.basename(__file__)[: -len(".py")]
    """the name of this experiment, part of the run directory's name"""
    torch_deterministic: bool = True
    """sets `torch.backends.cudnn.deterministic` (CleanRL's flag); these MLPs use no cuDNN kernel, so it changes nothing"""
    cuda: bool = True
    """if toggled, train on CUDA when it is available (else on the CPU)"""
    compile: bool = False
    """if toggled, `torch.compile` the update and the policy: fewer, fused kernels; the same maths, not bit-identical results"""
    cudagraphs: bool = False
    """if toggled, record the whole update and the policy as CUDA graphs and replay them (CUDA only; LeanRL's flag)"""
    save_model: bool = False
    """if toggled, save the networks to the run directory at the end and evaluate the saved actor"""
    save_best: bool = False
    """if toggled, keep the networks of the best evaluation so far in `checkpoints/best.pt` (needs --eval-frequency)"""
    checkpoint_frequency: int = 0
    """write a full training checkpoint (networks, optimizers, buffer, RNG states) every this many steps; 0: never"""
    checkpoint_buffer: bool = True
    """if toggled, checkpoints include the replay buffer, so that a resumed run continues exactly (larger files)"""
    checkpoint_keep: int = 3
    """the number of latest checkpoints kept in the run directory's `checkpoints/`"""
    resume: str | None = None
    """continue the run of this checkpoint file, or of the latest checkpoint in this run directory"""
    eval_frequency: int = 0
    """evaluate the actor every this many steps and at the end (0: only at the end, with --save-model)"""
    eval_episodes: int = 10
    """the number of deterministic episodes of each evaluation"""
    eval_only: bool = False
    """if toggled, evaluate --checkpoint instead of training, and print the mean return"""
    checkpoint: str | None = None
    """what --eval-only evaluates: a checkpoint, a saved model (--save-model's file) or a run directory"""
    capture_video: bool = False
    """if toggled, record videos of the first env into the run's `videos/` (with --eval-only: every episode)"""
    render: bool = False
    """if toggled, with --eval-only, show the episodes live in a window (needs a display)"""
    threads: int | None = None
    """torch threads; default: $OMP_NUM_THREADS if set, else the cores other processes leave free, re-checked at each progress line (bit-identical results need a fixed number)"""
    stop_on_nonfinite: bool = True
    """if toggled, a NaN or infinite loss or weight stops the run (exit status 1; checked as the losses are logged) and the checkpoints written before stay"""
    track: bool = False
    """if toggled, also log to Weights & Biases (`pip install wandb`; WANDB_MODE=offline needs no network)"""
    wandb_project_name: str = "cleanRL"
    """the Weights & Biases project"""
    wandb_entity: str | None = None
    """the Weights & Biases entity (user or team)"""


# ---------------------------------------------------------------------------------------
# Environment
# ---------------------------------------------------------------------------------------
def make_env(env_id: str, video_dir: str | None = None, record_every_episode: bool = False, render: bool = False):
    """Return a thunk that builds one environment, as vector envs expect; with `video_dir`, filmed."""

    def thunk() -> gym.Env:
        if render:
            env = gym.make(env_id, render_mode="human")  # a live window
        elif video_dir:
            env = gym.make(env_id, render_mode="rgb_array")
            # Every episode, or gymnasium's default: episodes 0, 1, 8, 27, ..., 1000, 2000, 3000, ...
            trigger = (lambda episode: True) if record_every_episode else None
            env = gym.wrappers.RecordVideo(env, video_dir, episode_trigger=trigger, disable_logger=True)
        else:
            env = gym.make(env_id)  # no `render_mode` argument: custom envs need not accept one
        if not (isinstance(env.observation_space, gym.spaces.Box) and len(env.observation_space.shape) == 1):
            env = gym.wrappers.FlattenObservation(env)  # the networks take flat vectors
        if not (isinstance(env.observation_space, gym.spaces.Box) and env.observation_space.shape[0] > 0):
            raise TypeError(f"its observations, {env.observation_space}, do not flatten into a non-empty vector")
        return env

    return thunk


def make_vector_env(env_id: str, num_envs: int, video_dir: str | None = None) -> gym.vector.VectorEnv:
    """N copies of the environment, with episode statistics, that reset in the same step; the first filmed.

    SAME_STEP autoreset: when an episode ends, `step` returns the first observation of the
    next episode and puts the last one of the ended episode in `infos["final_obs"]`. So every
    step is a real transition and nothing is stored across the reset (gymnasium >= 1.0's
    default, NEXT_STEP, instead spends one extra step on the reset and ignores its action).
    """
    envs = gym.vector.SyncVectorEnv(
        [make_env(env_id, video_dir if i == 0 else None) for i in range(num_envs)],
        autoreset_mode=gym.vector.AutoresetMode.SAME_STEP,
    )
    action_space = envs.single_action_space
    if not isinstance(action_space, gym.spaces.Box):
        raise TypeError(f"it has a {action_space} action space; this script needs a continuous (Box) one")
    if len(action_space.shape) != 1 or action_space.shape[0] == 0:
        raise ValueError(f"it has actions shaped {action_space.shape}; this script needs a vector of actions")
    if not np.all(np.abs(np.concatenate([action_space.low, action_space.high])) < 1e6):  # inf, nan, float32 max
        raise ValueError(f"its actions, {action_space}, need finite bounds within 1e6: the actor squashes into them")
    return gym.wrappers.vector.RecordEpisodeStatistics(envs)


# ---------------------------------------------------------------------------------------
# Networks
# ---------------------------------------------------------------------------------------
class Actor(nn.Module):
    """Deterministic policy mu(s): an MLP whose tanh output is rescaled to the action bounds.

    PyTorch's default initialisation, as in the authors' code.
    """

    def __init__(
        self,
        obs_dim: int,
        action_low: np.ndarray,
        action_high: np.ndarray,
        hidden_sizes: tuple[int, ...] = (256, 256),
    ):
        super().__init__()
        layers = []
        for fan_in, fan_out in itertools.pairwise((obs_dim, *hidden_sizes)):
            layers += [nn.Linear(fan_in, fan_out), nn.ReLU()]
        self.net = nn.Sequential(*layers, nn.Linear(hidden_sizes[-1], len(action_low)), nn.Tanh())
        # The bounds, and the per-dimension affine map from [-1, 1] to them; buffers, so saved with the weights.
        self.register_buffer("action_low", torch.as_tensor(action_low, dtype=torch.float32))
        self.register_buffer("action_high", torch.as_tensor(action_high, dtype=torch.float32))
        self.register_buffer("action_scale", (self.action_high - self.action_low) / 2)
        self.register_buffer("action_bias", (self.action_high + self.action_low) / 2)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return self.net(obs) * self.action_scale + self.action_bias


class Critic(nn.Module):
    """Q_1(s, a), ..., Q_n(s, a): n independent MLPs on (s, a), computed as one batched network.

    Each layer holds the weights of every critic, shaped [n, in, out], and `torch.baddbmm`
    computes them all in one matrix product: the same numbers as n networks, one call per layer.
    Initialised like `nn.Linear` (uniform in +-1/sqrt(fan_in)), each critic independently.
    """

    def __init__(
        self,
        obs_dim: int,
        action_dim: int,
        hidden_sizes: tuple[int, ...] = (256, 256),
        num_critics: int = 2,
    ):
        super().__init__()
        self.weights = nn.ParameterList()
        self.biases = nn.ParameterList()
        for fan_in, fan_out in itertools.pairwise((obs_dim + action_dim, *hidden_sizes, 1)):
            bound = fan_in**-0.5
            self.weights.append(nn.Parameter(torch.empty(num_critics, fan_in, fan_out).uniform_(-bound, bound)))
            self.biases.append(nn.Parameter(torch.empty(num_critics, 1, fan_out).uniform_(-bound, bound)))

    def forward(self, obs: torch.Tensor, actions: torch.Tensor, critics: int | None = None) -> torch.Tensor:
        """Return the Q-values of every critic (or of the first `critics`), shaped [critics, batch]."""
        critics = critics or len(self.weights[0])
        x = torch.cat([obs, actions], dim=-1).expand(critics, -1, -1)
        for layer, (weight, bias) in enumerate(zip(self.weights, self.biases), start=1):
            x = torch.baddbmm(bias[:critics], x, weight[:critics])
            if layer < len(self.weights):
                x = F.relu(x)
        return x.squeeze(-1)


# ---------------------------------------------------------------------------------------
# Replay buffer
# ---------------------------------------------------------------------------------------
class ReplayBuffer:
    """A circular buffer of transitions in one preallocated tensor on the training device.

    Stores `terminated` (the MDP ended: do not bootstrap), never `truncated` (a time limit cut
    the episode: the state still has a future, so the target must bootstrap through it), and the
    true next observation, also at the end of an episode.
    Each transition is one row (obs, next_obs, action, reward, terminated) of a single tensor, so
    storing is one write and sampling one `index_select`: five tensors would cost five of each.
    `obs`, `next_obs`, `actions`, `rewards` and `terminations` are views of its columns.
    """

    FIELDS = ("obs", "next_obs", "actions", "rewards", "terminations")

    def __init__(self, capacity: int, obs_dim: int, action_dim: int, device: torch.device):
        self.capacity, self.device = capacity, device
        self.widths = (obs_dim, obs_dim, action_dim, 1, 1)  # the columns of each field
        self.rows = torch.zeros((capacity, sum(self.widths)), dtype=torch.float32, device=device)
        self.obs, self.next_obs, self.actions, rewards, terminations = self.rows.split(self.widths, dim=1)
        self.rewards, self.terminations = rewards[:, 0], terminations[:, 0]
        self.position = 0  # where the next transition goes
        self.size = 0  # how many transitions are stored

    def add(self, obs, next_obs, actions, rewards, terminations) -> None:
        """Store a batch of transitions (one per env), overwriting the oldest when full."""
        n = len(obs)
        rows = np.column_stack([obs, next_obs, actions, rewards, terminations])  # 1-D fields become columns
        index = torch.arange(self.position, self.position + n, device=self.device) % self.capacity
        self.rows[index] = torch.as_tensor(rows, dtype=torch.float32, device=self.device)
        self.position = (self.position + n) % self.capacity
        self.size = min(self.size + n, self.capacity)

    def state_dict(self) -> dict:
        """The stored transitions (copies of the filled part only) and the write position."""
        return {"position": self.position, "size": self.size} | {
            name: getattr(self, name)[: self.size].clone() for name in self.FIELDS
        }

    def load_state_dict(self, state: dict) -> None:
        self.position, self.size = state["position"], state["size"]
        for name in self.FIELDS:
            getattr(self, name)[: self.size] = state[name].to(self.device)

    def sample(self, batch_size: int) -> dict[str, torch.Tensor]:
        """Draw `batch_size` transitions uniformly, with replacement: one random draw, one gather."""
        index = (torch.rand(batch_size, dtype=torch.float64, device=self.device) * self.size).long()
        obs, next_obs, actions, rewards, terminations = self.rows.index_select(0, index).split(self.widths, dim=1)
        return {
            "obs": obs,
            "next_obs": next_obs,
            "actions": actions,
            "rewards": rewards[:, 0],
            "terminations": terminations[:, 0],
        }


def real_next_obs(next_obs: np.ndarray, infos: dict) -> np.ndarray:
    """The observation each env reached, which differs from `next_obs` where an episode ended.

    With SAME_STEP autoreset, `next_obs[i]` of a finished env is already the next episode's first
    observation; the state the action led to is in `infos["final_obs"][i]`.
    """
    if "final_obs" not in infos:
        return next_obs
    next_obs = next_obs.copy()
    for i in np.flatnonzero(infos["_final_obs"]):
        next_obs[i] = infos["final_obs"][i]
    return next_obs


# ---------------------------------------------------------------------------------------
# Exploration
# ---------------------------------------------------------------------------------------
def noise_scale(args: Args, global_step: int) -> float:
    """The factor on the exploration noise: 1, or with --exploration-noise-final a linear decay from 1 when
    learning starts to final / initial after --exploration-noise-decay-steps."""
    if args.exploration_noise_final is None:
        return 1.0
    decay_steps = args.exploration_noise_decay_steps or args.total_timesteps - args.learning_starts
    progress = min((global_step - args.learning_starts) / max(decay_steps, 1), 1.0)
    return 1.0 + progress * (args.exploration_noise_final / args.exploration_noise - 1.0)


# ---------------------------------------------------------------------------------------
# Update
# ---------------------------------------------------------------------------------------
@dataclass
class Agent:
    """What learns: the networks and their optimizers, and the target networks that follow them slowly."""

    actor: Actor
    critic: Critic
    target_actor: Actor
    target_critic: Critic
    actor_optimizer: torch.optim.Optimizer
    critic_optimizer: torch.optim.Optimizer


def make_agent(
    args: Args, obs_dim: int, action_low: np.ndarray, action_high: np.ndarray, device: torch.device
) -> Agent:
    """A new agent: networks with fresh weights, their target copies, and the optimizers."""
    actor = Actor(obs_dim, action_low, action_high, args.hidden_sizes).to(device)
    critic = Critic(obs_dim, len(action_low), args.hidden_sizes, args.num_critics).to(device)
    policy_lr = args.learning_rate if args.policy_lr is None else args.policy_lr
    q_lr = args.learning_rate if args.q_lr is None else args.q_lr
    # fused Adam updates all of a network's tensors in one kernel (faster than the default here);
    # `capturable`: its step can be recorded in a CUDA graph (--cudagraphs).
    adam = functools.partial(torch.optim.Adam, fused=True, capturable=args.cudagraphs)
    return Agent(
        actor=actor,
        critic=critic,
        # Target networks start as copies and only follow the online networks slowly (soft updates).
        target_actor=copy.deepcopy(actor).requires_grad_(False),
        target_critic=copy.deepcopy(critic).requires_grad_(False),
        actor_optimizer=adam(actor.parameters(), lr=policy_lr),
        critic_optimizer=adam(critic.parameters(), lr=q_lr),
    )


def update(
    batch: dict[str, torch.Tensor],
    agent: Agent,
    critic_updates: int,
    gamma: float,
    tau: float,
    policy_noise: float,
    noise_clip: float,
    policy_frequency: int,
) -> dict[str, torch.Tensor]:
    """One gradient step (the paper's algorithm 1) on a batch; return the values to log, by TensorBoard tag.

    `critic_updates` counts the critic updates, this one included.
    """
    with torch.no_grad():
        # Target policy smoothing (paper, eq. 14; the clip to the bounds is from the authors' code):
        # a' = clip(mu'(s') + clip(eps, -c, c), low, high), eps ~ N(0, sigma), in units of the half-width.
        epsilon = torch.randn_like(batch["actions"]) * policy_noise
        noise = epsilon.clamp(-noise_clip, noise_clip) * agent.target_actor.action_scale
        low, high = agent.target_actor.action_low, agent.target_actor.action_high
        next_actions = (agent.target_actor(batch["next_obs"]) + noise).clamp(low, high)
        # Clipped double Q (TD3 paper, eq. 10): bootstrap from the smaller target critic, which counters
        # the overestimation that maximising a noisy Q would otherwise compound.
        next_q = agent.target_critic(batch["next_obs"], next_actions).min(dim=0).values
        # y = r + gamma (1 - terminated) min_i Q'_i(s', a'): only `terminations` end the return;
        # time-limit truncations bootstrap.
        target_q = batch["rewards"] + gamma * (1.0 - batch["terminations"]) * next_q

    # The critics regress onto y: L = sum_i E[(Q_i(s, a) - y)^2].
    q_values = agent.critic(batch["obs"], batch["actions"])  # [critics, batch]
    qf_losses = (q_values - target_q).pow(2).mean(dim=1)
    gradient_step(agent.critic_optimizer, qf_losses.sum())
    # CleanRL's tags: each critic's mean Q-value and loss, and their mean loss (CleanRL's qf_loss / 2).
    logs = {"losses/qf_loss": qf_losses.detach().mean()}
    for i, (q_value, qf_loss) in enumerate(zip(q_values.detach().mean(dim=1), qf_losses.detach()), start=1):
        logs |= {f"losses/qf{i}_values": q_value, f"losses/qf{i}_loss": qf_loss}

    # The actor and the targets move once per `policy_frequency` critic updates: delayed (TD3: 2), they follow
    # a critic that has settled; the DDPG paper moves them at every update (1).
    if critic_updates % policy_frequency == 0:
        # Deterministic policy gradient (Silver et al., 2014, eq. 6): maximise Q_1(s, mu(s)), the first
        # critic alone.
        actor_loss = -agent.critic(batch["obs"], agent.actor(batch["obs"]), critics=1)[0].mean()
        # Gradients for the actor's weights only: this loss does not train the critic.
        gradient_step(agent.actor_optimizer, actor_loss, inputs=list(agent.actor.parameters()))
        soft_update(agent.target_actor, agent.actor, tau)
        soft_update(agent.target_critic, agent.critic, tau)
        logs["losses/actor_loss"] = actor_loss.detach()
    return logs


def gradient_step(optimizer: torch.optim.Optimizer, loss: torch.Tensor, inputs=None) -> None:
    """One step down `loss`: clear the old gradients, backpropagate (into `inputs` alone, if given), step."""
    optimizer.zero_grad(set_to_none=True)
    loss.backward(inputs=inputs)
    optimizer.step()


@torch.no_grad()
def soft_update(target: nn.Module, online: nn.Module, tau: float) -> None:
    """Polyak averaging theta' <- tau theta + (1 - tau) theta', as one fused lerp over all tensors."""
    torch._foreach_lerp_(list(target.parameters()), list(online.parameters()), tau)


# ---------------------------------------------------------------------------------------
# Training loop
# ---------------------------------------------------------------------------------------
def train(args: Args, run: "Run") -> tuple[Agent, ReplayBuffer]:
    """Collect experience and learn from it; `run` (below) logs, evaluates, checkpoints and hears stop requests."""
    envs = make_vector_env(args.env_id, args.num_envs, run.video_dir)
    obs_dim = int(np.prod(envs.single_observation_space.shape))
    action_low, action_high = envs.single_action_space.low, envs.single_action_space.high
    agent = make_agent(args, obs_dim, action_low, action_high, run.device)
    buffer = ReplayBuffer(args.buffer_size, obs_dim, len(action_low), run.device)
    hyperparameters = {
        "gamma": args.gamma,
        "tau": args.tau,
        "policy_noise": args.policy_noise,
        "noise_clip": args.noise_clip,
        "policy_frequency": args.policy_frequency,
    }
    # With --compile or --cudagraphs, the same functions compiled or recorded (below the banner).
    act, learn = compiled(agent.actor, args), compiled(update, args)
    # Seed the random actions and the environments (a resumed run starts new episodes, seeded by its step).
    envs.action_space.seed(args.seed)
    obs, _ = envs.reset(seed=args.seed + run.global_step)
    global_step, critic_updates = run.start(envs, agent, buffer, exploration=None)  # restores a resumed run

    while global_step < args.total_timesteps and not run.stop_requested:
        # Act: uniformly random actions first, to fill the buffer with diverse data, then the
        # policy's actions, exploring.
        if global_step < args.learning_starts:
            actions = envs.action_space.sample()
        else:
            with torch.no_grad():
                actions = act(torch.as_tensor(obs, dtype=torch.float32, device=run.device))
                # Explore: a = mu(s) + N(0, sigma^2), sigma = --exploration-noise in units of each dimension's
                # half-width (decaying with --exploration-noise-final), clipped to the bounds.
                noise = torch.randn_like(actions) * noise_scale(args, global_step) * args.exploration_noise
                noisy_actions = actions + noise * agent.actor.action_scale
                actions = noisy_actions.clamp(agent.actor.action_low, agent.actor.action_high).cpu().numpy()

        next_obs, rewards, terminations, _truncations, infos = envs.step(actions)
        global_step += args.num_envs
        run.log_episodes(infos, global_step)

        # Store `terminations`, not `truncations`: the state after a time limit still has a future,
        # so its target bootstraps. The true next observation differs from `next_obs` at a reset.
        buffer.add(obs, real_next_obs(next_obs, infos), actions, rewards, terminations)
        obs = next_obs

        # Learn once the buffer holds --learning-starts transitions (or is full): after a resume without
        # the buffer, too, while the policy's actions refill it.
        if buffer.size >= min(args.learning_starts, args.buffer_size):
            for _ in range(args.num_envs * args.updates_per_step):  # updates_per_step per collected transition
                critic_updates += 1
                batch = buffer.sample(args.batch_size)
                logs = learn(batch, agent, critic_updates, **hyperparameters)
                run.log_losses(logs, global_step, critic_updates)
        run.after_step(global_step, critic_updates)  # evaluation, checkpoint, progress line
    return agent, buffer


# =======================================================================================
# Run control. The algorithm is complete above; what follows is machinery for long runs
# that a reader may skip: evaluation, checkpoints and resume, stop signals, the progress
# line, Weights & Biases, and the command line (`main`).
# =======================================================================================
EVAL_SEED_OFFSET = 1_000_000  # evaluation episodes start from seeds that training never uses
PROGRESS_SECONDS = 5.0  # how often the progress line is printed
LOG_EVERY_UPDATES = 100  # how often the losses are logged: reading them forces a device sync
CHECKPOINT_FORMAT = "checkpoint v3"  # the same in the three scripts: each knows its own files by their flags
# Flags that may differ when a run resumes or is evaluated (Args' run control, the budget); the others: the experiment.
FLAGS = [field.name for field in fields(Args)]
RUN_CONTROL_FLAGS = {"total_timesteps", *FLAGS[FLAGS.index("exp_name") :]}
MAY_BE_ZERO = {"seed", "total_timesteps", "learning_starts", "checkpoint_frequency", "eval_frequency"}


def fail(message: str, error: BaseException | None = None, status: int = 2) -> None:
    """End the run on bad input: one line on stderr (with the first line of `error`'s), exit status 2, like argparse."""
    reason = f" ({(str(error).strip() or type(error).__name__).splitlines()[0]})" if error else ""
    print(f"{os.path.basename(__file__)}: error: {message}{reason}", file=sys.stderr)
    sys.exit(status)


def check_args(args: Args) -> None:
    """Refuse the values the script cannot use (whole numbers, but MAY_BE_ZERO's: at least 1), before any work."""
    for name, value in asdict(args).items():
        flag, least = "--" + name.replace("_", "-"), 0 if name in MAY_BE_ZERO else 1
        if isinstance(value, float) and not np.isfinite(value):  # nan or inf would train into nonsense
            fail(f"{flag} must be a finite number, got {value}")
        if (type(value) is int and value < least) or (type(value) is float and value < 0):
            fail(f"{flag} must {'be at least 1' if type(value) is int and least else 'not be negative'}, got {value}")
    if args.seed >= 2**31:
        fail(f"--seed must be between 0 and 2**31 - 1, got {args.seed}")
    for flag, value in (("--batch-size", args.batch_size), ("--num-envs", args.num_envs)):  # rows of the buffer
        if value > args.buffer_size:
            fail(f"{flag} ({value}) must be at most --buffer-size ({args.buffer_size})")
    if not args.hidden_sizes or min(args.hidden_sizes) < 1:
        fail(f"--hidden-sizes must be one or more positive sizes, got {args.hidden_sizes}")
    if not 0.0 < args.tau <= 1.0 or not 0.0 <= args.gamma <= 1.0:
        fail(f"--tau must be in (0, 1] and --gamma in [0, 1], got {args.tau} and {args.gamma}")
    if args.exploration_noise_final is not None and args.exploration_noise == 0:
        fail("--exploration-noise-final decays the exploration noise: --exploration-noise must be positive")
    if args.exploration_noise_decay_steps is not None and args.exploration_noise_final is None:
        fail("--exploration-noise-decay-steps is the length of a decay: it needs --exploration-noise-final")
    if args.save_best and args.eval_frequency == 0:
        fail("--save-best keeps the networks of the best evaluation: it needs --eval-frequency")
    if args.render and (not args.eval_only or args.capture_video):
        fail("--render shows the episodes of --eval-only in a window: add --eval-only, leave out --capture-video")
    if not args.exp_name or args.exp_name in (".", "..") or re.search(r"[/\\\x00-\x1f]|.{101}", args.exp_name):
        fail(f"--exp-name names a directory and a file: 1-100 characters, no '/', got {args.exp_name!r}")
    if (args.threads or 0) > (os.cpu_count() or 1):  # more threads than cores only wait for each other
        fail(f"--threads must be at most the {os.cpu_count()} cores of this machine, got {args.threads}")
    rates = {"actor": args.policy_lr, "critic": args.q_lr}  # legitimate, but rarely meant: no learning at all
    why = [f"the {n} learning rate is 0" for n, lr in rates.items() if (args.learning_rate if lr is None else lr) == 0]
    if min(args.learning_starts, args.buffer_size) > args.total_timesteps and not args.eval_only:
        why.append("--learning-starts is above --total-timesteps")
    for cause in why:
        print(f"{os.path.basename(__file__)}: warning: {cause}: no learning", file=sys.stderr)


def check_environment(args: Args, device: torch.device, checkpoint: dict | None) -> None:
    """Before anything is written: the env suits the script and checkpoint, steps, renders, and the buffer fits."""
    if args.cudagraphs and device.type != "cuda":
        fail("--cudagraphs records CUDA graphs: it needs a GPU (none is available, or --no-cuda); leave it out")
    if args.render and sys.platform.startswith("linux") and not os.environ.keys() & {"DISPLAY", "WAYLAND_DISPLAY"}:
        fail("--render opens a window, and there is no display (DISPLAY is not set): use --capture-video instead")
    try:
        envs = make_vector_env(args.env_id, 1)
    except Exception as error:  # noqa: BLE001  (an unknown id, a missing package, an env that raises: the user's)
        fail(f"cannot make --env-id {args.env_id!r}", error)
    obs_dim, action_dim = envs.single_observation_space.shape[0], envs.single_action_space.shape[0]
    if args.eval_frequency + args.save_model + args.eval_only and envs.unwrapped.envs[0].spec.max_episode_steps is None:
        fail(f"{args.env_id} has no time limit: an evaluation might never end; register it with max_episode_steps")
    try:  # a step as training takes it (observations that do not fit their space fail), a frame as videos do
        with warnings.catch_warnings(action="ignore"):  # gymnasium's warnings about it: the error says it
            envs.reset(seed=args.seed)
            envs.step(envs.action_space.sample())
            envs.close()
            if args.capture_video:
                os.environ.setdefault("MUJOCO_GL", "egl")  # MuJoCo renders headless (a desktop may set glfw)
                with gym.make(args.env_id, render_mode="rgb_array") as env:
                    env.reset(seed=args.seed)
                    env.render()
    except Exception as error:  # noqa: BLE001  (whatever the env or its renderer raises, the message says it)
        shape = f": are its observations of shape ({obs_dim},) and its rewards single numbers?"
        hint = "; MuJoCo renders with EGL (apt install libegl1) or OSMesa" if "GL" in str(error) else shape
        fail(f"{args.env_id} fails in its first step or frame{hint}", error)
    if checkpoint is not None and (checkpoint["obs_dim"], checkpoint["action_dim"]) != (obs_dim, action_dim):
        sizes = f"observations of size {checkpoint['obs_dim']} and actions of size {checkpoint['action_dim']}"
        fail(f"the checkpoint is for {sizes}; {args.env_id} has {obs_dim} and {action_dim}")
    widths = (obs_dim + action_dim, *args.hidden_sizes, action_dim)  # networks with copies, gradients, Adam's moments
    need = 60 * sum((fan_in + 1) * fan_out for fan_in, fan_out in itertools.pairwise(widths))
    need += 0 if args.eval_only else args.buffer_size * (2 * obs_dim + action_dim + 2) * 4  # the buffer's float32 rows
    with open("/proc/meminfo" if os.path.exists("/proc/meminfo") else os.devnull) as file:  # Linux, without swap
        free = next((int(line.split()[1]) * 1024 for line in file if line.startswith("MemAvailable:")), np.inf)
    free = torch.cuda.mem_get_info(device)[0] if device.type == "cuda" else free
    if need > free:
        fail(f"the buffer and networks need {need / 2**30:,.1f} GiB, {free / 2**30:,.1f} free: lower their sizes")


def compiled(function, args: Args):
    """`function` compiled with --compile (fewer, fused kernels), recorded as CUDA graphs with --cudagraphs."""
    if args.compile:
        torch._inductor.config.fallback_random = True  # eager's random numbers, hence eager's results
        function = torch.compile(function)
    return CudaGraphs(function) if args.cudagraphs else function


class CudaGraphs:
    """A function recorded as CUDA graphs and replayed: each call's tensors are copied into the recorded ones, the
    outputs are the recorded ones. An update's path (which networks train) is its count modulo each `*_frequency`."""

    WARMUP_CALLS = 3  # eager calls of each path before recording: optimizers create their state, compiling ends

    def __init__(self, function):
        self.function, self.graphs, self.calls = function, {}, {}

    def __call__(self, *inputs, **options):
        key = tuple(n % v for n in inputs if type(n) is int for name, v in options.items() if "frequency" in name)
        if key not in self.graphs:
            self.calls[key] = self.calls.get(key, 0) + 1
            side_stream = torch.cuda.Stream()  # warm-up and recording run off the default stream, as PyTorch asks
            side_stream.wait_stream(torch.cuda.current_stream())
            if self.calls[key] <= self.WARMUP_CALLS:
                with torch.cuda.stream(side_stream):
                    outputs = self.function(*inputs, **options)
                torch.cuda.current_stream().wait_stream(side_stream)
                return outputs
            graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(graph, stream=side_stream):
                outputs = self.function(*inputs, **options)
            # This call's tensors (a batch), kept with their strides for compiled code: later calls' are copied in.
            self.graphs[key] = (graph, inputs, outputs)
        graph, recorded_inputs, outputs = self.graphs[key]
        for recorded, new in zip(pytree.tree_leaves(recorded_inputs), pytree.tree_leaves(inputs), strict=True):
            if torch.is_tensor(recorded):
                recorded.copy_(new)
        graph.replay()  # the first replay, right after recording, is that call's work
        return dict(outputs) if isinstance(outputs, dict) else outputs  # a dict the caller may change


@torch.no_grad()
def evaluate(actor: Actor, args: Args, device: torch.device, video_dir: str | None = None) -> list:
    """Run --eval-episodes deterministic episodes (the actor's action, no noise); return their returns."""
    env = make_env(args.env_id, video_dir, record_every_episode=True, render=args.render)()
    returns = []
    for episode in range(args.eval_episodes):
        obs, _ = env.reset(seed=args.seed + EVAL_SEED_OFFSET + episode)
        episode_return, done = 0.0, False
        while not done:
            action = actor(torch.as_tensor(obs, dtype=torch.float32, device=device).unsqueeze(0))
            obs, reward, terminated, truncated, _ = env.step(action.squeeze(0).cpu().numpy())
            episode_return += float(reward)
            done = terminated or truncated
        returns.append(episode_return)
    env.close()
    return returns


def state_of(thing, optimizers: bool | None = None) -> dict:
    """The attributes of an agent or exploration (only the optimizers', or all but theirs, if `optimizers` is set)."""
    return {
        name: value.state_dict() if hasattr(value, "state_dict") else value.clone() if torch.is_tensor(value) else value
        for name, value in vars(thing).items()
        if optimizers is None or optimizers == isinstance(value, torch.optim.Optimizer)
    }


def load_state(thing, state: dict) -> None:
    for name, value in state.items():
        current = getattr(thing, name)
        if isinstance(current, torch.optim.Optimizer):  # the saved moments, this run's settings (`capturable`)
            settings = [{key: v for key, v in group.items() if key != "params"} for group in current.param_groups]
            current.load_state_dict(value)
            for group, own in zip(current.param_groups, settings):
                group.update(own)
        elif hasattr(current, "load_state_dict"):
            current.load_state_dict(value)
        elif torch.is_tensor(current):
            current.data.copy_(value)
        else:
            setattr(thing, name, value)


def rng_state(envs: gym.vector.VectorEnv) -> dict:  # every generator training draws from, as tensors and numbers
    numpy_state = np.random.get_state()
    return {
        "python": random.getstate(),
        "numpy": (numpy_state[0], torch.from_numpy(numpy_state[1].astype(np.int64)), *numpy_state[2:]),
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "action_space": envs.action_space.np_random.bit_generator.state,
    }


def set_rng_state(state: dict, envs: gym.vector.VectorEnv) -> None:
    random.setstate(state["python"])
    name, keys, *rest = state["numpy"]
    np.random.set_state((name, keys.numpy().astype(np.uint32), *rest))
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    envs.action_space.np_random.bit_generator.state = state["action_space"]


def write_checkpoint(run_dir: str, state: dict, keep: int, name: str, folder="checkpoints") -> str:
    """Write `<folder>/<name>.pt` atomically (a crash leaves no half-written file); keep `keep` step_*.pt."""
    path = os.path.join(run_dir, folder, f"{name}.pt")
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path + ".tmp", "wb") as file:
            torch.save(state, file)
            file.flush()
            os.fsync(file.fileno())
        os.replace(path + ".tmp", path)
    except (OSError, RuntimeError) as error:  # a full disk, a read-only directory: keep the earlier checkpoints
        if os.path.exists(path + ".tmp"):
            os.remove(path + ".tmp")
        reason = (error.strerror or str(error)) if isinstance(error, OSError) else "is the disk full?"
        resume = f"python {os.path.basename(__file__)} --resume {run_dir}"
        fail(f"cannot write {path} ({reason}); the earlier checkpoints are intact: make room, then {resume}")
    for old in sorted(glob.glob(os.path.join(run_dir, "checkpoints", "step_*.pt")))[:-keep]:
        os.remove(old)
    return path


def read_checkpoint(path: str, model: bool = False) -> tuple[dict, str]:
    """A checkpoint (a run directory's latest, or with `model` its --save-model file) and its path. `weights_only`
    unpickles only tensors and containers: a file holding code is refused, not run."""
    if os.path.isdir(path):
        files = sorted(glob.glob(os.path.join(path, "checkpoints", "step_*.pt")))
        files += sorted(glob.glob(os.path.join(path, "*.pt")), key=os.path.getmtime) if model else []
        if not files:
            fail(f"{path} holds no checkpoints (in {os.path.join(path, 'checkpoints')}){' or saved model' * model}")
        path = files[-1]
    try:
        with warnings.catch_warnings(action="ignore"):  # torch's warnings on a foreign file: the error says it
            state = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        fail(f"no such checkpoint: {path!r}")
    except Exception as error:  # noqa: BLE001  (any file at all may be given: a text, a damaged or a foreign one)
        fail(f"cannot load {path}: not a checkpoint or model of this script, or damaged", error)
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        fail(f"cannot load {path}: it was not written by this version of {os.path.basename(__file__)}")
    needed = ["args", "obs_dim", "action_dim", "networks"]
    if "buffer" in state:  # a training checkpoint, not a saved model
        needed += ["global_step", "critic_updates", "recent_returns", "best_return", "optimizers", "rng"]
    if missing := [key for key in needed if key not in state]:
        fail(f"cannot load {path}: damaged, it lacks {', '.join(missing)}")
    return state, path


class Run:
    """The run directory, logs, checkpoints and resume, evaluations, progress, threads and stop signals."""

    def __init__(self, args: Args, device, checkpoint: dict | None, checkpoint_path: str | None):
        self.args, self.device, self.checkpoint, self.checkpoint_path = args, device, checkpoint, checkpoint_path
        # A resumed run goes on in its run directory; a new one, or one from a checkpoint kept elsewhere, in a new one.
        folder = os.path.dirname(os.path.abspath(checkpoint_path or "."))
        self.run_dir = os.path.dirname(folder) if checkpoint and os.path.basename(folder) == "checkpoints" else None
        if self.run_dir is None:
            name = f"{re.sub(r'[^A-Za-z0-9_.-]', '_', args.env_id)}__{args.exp_name}__{args.seed}__{int(time.time())}"
            self.run_dir, suffix = os.path.join("runs", name), 1
            while os.path.exists(self.run_dir):  # two runs started in the same second must not share a log
                self.run_dir, suffix = os.path.join("runs", f"{name}_{suffix}"), suffix + 1
        self.global_step = self.last_print_step = 0 if checkpoint is None else checkpoint["global_step"]
        videos = "videos" if self.global_step == 0 else f"videos_from_step_{self.global_step}"
        self.video_dir = os.path.join(self.run_dir, videos) if args.capture_video else None
        self.critic_updates, self.recent_returns, self.best_return = 0, deque(maxlen=10), -np.inf
        self.stop_signal, self.stop_time, self.stop_requested, self.previous_handlers = None, 0.0, False, {}
        self.envs = self.writer = self.tracking = self.cpu_seconds = None
        # A thread per core (torch's default) collapses beside another run (2 steps/s, not 120): take the free cores.
        self.adaptive_threads = args.threads is None and "OMP_NUM_THREADS" not in os.environ
        torch.set_num_threads(args.threads or torch.get_num_threads())

    def start(self, envs, agent: Agent, buffer: ReplayBuffer, exploration) -> tuple[int, int]:
        """Open the logs, restore a resumed run, catch stop signals; return the step and the critic updates."""
        self.envs, self.agent, self.buffer, self.exploration = envs, agent, buffer, exploration
        args, name = self.args, os.path.basename(self.run_dir)
        if args.track:
            try:
                import wandb  # optional: only --track needs it

                run_id = re.sub(r"[^A-Za-z0-9_-]", "_", name)  # a resumed run continues its W&B run
                config = {"project": args.wandb_project_name, "entity": args.wandb_entity, "config": asdict(args)}
                self.tracking = wandb.init(**config, name=name, id=run_id, resume="allow", sync_tensorboard=True)
            except Exception as error:  # noqa: BLE001  (not installed, not logged in, offline: nothing written yet)
                fail("--track logs to Weights & Biases: pip install wandb, wandb login (or WANDB_MODE=offline)", error)
        try:  # `purge_step` drops events that a killed run logged after its last checkpoint: no step twice
            self.writer = SummaryWriter(self.run_dir, purge_step=self.global_step + 1 if self.global_step else None)
            with open(os.path.join(self.run_dir, "args.json"), "w") as file:
                json.dump(asdict(args), file, indent=2)
        except OSError as error:
            fail(f"cannot write the run into {self.run_dir} ({error.strerror}): run the script where you may write")
        print(f"run directory: {self.run_dir} (device: {self.device})", flush=True)
        if (checkpoint := self.checkpoint) is not None:
            load_state(agent, checkpoint["networks"] | checkpoint["optimizers"])
            if checkpoint["buffer"] is not None:
                buffer.load_state_dict(checkpoint["buffer"])
            load_state(exploration, checkpoint["exploration"] or {})  # TD3 and SAC explore without a state
            self.critic_updates, self.best_return = checkpoint["critic_updates"], checkpoint["best_return"]
            self.recent_returns.extend(checkpoint["recent_returns"])
            set_rng_state(checkpoint["rng"], envs)
            print(f"resumed from {self.checkpoint_path} at step {self.global_step:,}", flush=True)
        self.previous_handlers = {s: signal.signal(s, self.request_stop) for s in (signal.SIGINT, signal.SIGTERM)}
        self.start_time = self.last_print_time = time.time()
        self.adjust_threads()
        return self.global_step, self.critic_updates

    def model_state(self) -> dict:
        return {
            "format": CHECKPOINT_FORMAT,
            "args": asdict(self.args),
            "obs_dim": self.envs.single_observation_space.shape[0],
            "action_dim": self.envs.single_action_space.shape[0],
            "networks": state_of(self.agent, optimizers=False),
        }

    def save_checkpoint(self) -> str:
        state = self.model_state() | {
            "global_step": self.global_step,
            "critic_updates": self.critic_updates,
            "recent_returns": list(self.recent_returns),
            "best_return": self.best_return,  # --save-best goes on from the best evaluation before the stop
            "optimizers": state_of(self.agent, optimizers=True),
            "exploration": None if self.exploration is None else state_of(self.exploration),
            "rng": rng_state(self.envs),
            "buffer": self.buffer.state_dict() if self.args.checkpoint_buffer else None,
        }
        return write_checkpoint(self.run_dir, state, self.args.checkpoint_keep, f"step_{self.global_step:012d}")

    def request_stop(self, signum, frame) -> None:
        """Ctrl-C, `kill`, a scheduler: stop after this step; again: at once, but not within a second (a group's)."""
        if not self.stop_requested:
            self.stop_signal, self.stop_time, self.stop_requested = signum, time.time(), True
            print(f"\n{signal.Signals(signum).name}: stopping after this step (again to stop at once)", flush=True)
        elif time.time() - self.stop_time >= 1.0:
            self.end_early("a second stop request", "stopped at once", f"--resume {self.run_dir}", 128 + signum)

    def log_episodes(self, infos: dict, global_step: int) -> None:
        """Log every episode that ended at this step: several envs can finish on the same one."""
        self.global_step = global_step
        for i in np.flatnonzero(infos["_episode"]) if "episode" in infos else []:
            self.recent_returns.append(float(infos["episode"]["r"][i]))
            self.writer.add_scalar("charts/episodic_return", float(infos["episode"]["r"][i]), global_step)
            self.writer.add_scalar("charts/episodic_length", int(infos["episode"]["l"][i]), global_step)

    def log_losses(self, logs: dict, global_step: int, critic_updates: int) -> None:
        """Log an update's values every LOG_EVERY_UPDATES updates (reading a tensor's value syncs the device)."""
        self.critic_updates = critic_updates
        if critic_updates % LOG_EVERY_UPDATES == 0:
            values = {tag: float(value) for tag, value in logs.items()}
            self.check_finite(values)
            for tag, value in values.items():
                self.writer.add_scalar(tag, value, global_step)

    def check_finite(self, values: dict[str, float]) -> None:
        """--stop-on-nonfinite: checked where values are read anyway (no sync), and with any optimizer."""
        bad = [f"{tag} is {value}" for tag, value in values.items() if not np.isfinite(value)]
        for name, value in vars(self.agent).items():  # SAC's log alpha may be -inf: --alpha 0 (its loss is checked)
            if isinstance(value, nn.Module) and not torch.nn.utils.get_total_norm(value.parameters()).isfinite():
                bad.append(f"{name} has non-finite weights")
        if bad and self.args.stop_on_nonfinite:  # the env's fault if it answered a finite action with any
            from_env = self.buffer.rows[: self.buffer.size][self.buffer.actions[: self.buffer.size].isfinite().all(1)]
            blame = "training diverged" if from_env.isfinite().all() else "the env returned a non-finite value"
            self.end_early(bad[0], blame, "--no-stop-on-nonfinite trains on", 1)

    def after_step(self, global_step: int, critic_updates: int) -> None:
        """Evaluate and checkpoint when the step passes a multiple of their frequency; print the progress."""
        previous, self.global_step, self.critic_updates = global_step - self.args.num_envs, global_step, critic_updates
        frequency, last = self.args.eval_frequency, global_step >= self.args.total_timesteps  # `finish` does the last
        if 0 < frequency and global_step // frequency > previous // frequency and not last:
            self.log_evaluation(self.agent.actor, f"evaluation at step {global_step:,}")
        if 0 < (frequency := self.args.checkpoint_frequency) and global_step // frequency > previous // frequency:
            self.save_checkpoint()
        if time.time() - self.last_print_time >= PROGRESS_SECONDS or global_step >= self.args.total_timesteps:
            self.print_progress()

    def log_evaluation(self, actor: Actor, label: str) -> None:
        returns = evaluate(actor, self.args, self.device)
        self.writer.add_scalar("eval/episodic_return", np.mean(returns), self.global_step)
        print(f"{label}: {np.mean(returns):.1f} +- {np.std(returns):.1f}", flush=True)
        if self.args.save_best and np.mean(returns) > self.best_return:  # the networks of the best evaluation
            self.best_return = float(np.mean(returns))
            state = self.model_state() | {"global_step": self.global_step, "eval_return": self.best_return}
            write_checkpoint(self.run_dir, state, self.args.checkpoint_keep, "best")

    def print_progress(self) -> None:
        now, total, step = time.time(), self.args.total_timesteps, self.global_step
        sps = (step - self.last_print_step) / max(now - self.last_print_time, 1e-9)
        self.writer.add_scalar("charts/SPS", sps, step)
        eta = datetime.timedelta(seconds=int((total - step) / max(sps, 1e-9)))
        mean_return = f"{np.mean(self.recent_returns):.1f}" if self.recent_returns else "n/a"
        line = f"step {step:>9,}/{total:,} ({100 * step / total:5.1f}%) | {sps:6.0f} SPS | ETA {eta} | return {mean_return}"
        print(f"{line} (last {len(self.recent_returns)} episodes) | threads {self.adjust_threads()}", flush=True)
        self.last_print_time, self.last_print_step = now, step

    def adjust_threads(self) -> int:
        """Take the cores that other processes left free since the last call (from Linux's /proc/stat)."""
        if self.adaptive_threads and os.path.exists("/proc/stat"):
            with open("/proc/stat") as file:  # every process's CPU ticks: all but idle and iowait are busy
                ticks = [int(value) for value in file.readline().split()[1:]]
            busy, own = (sum(ticks[:8]) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK"), os.times()
            now = (time.monotonic(), busy - own.user - own.system)  # the CPU seconds of the other processes
            if self.cpu_seconds is not None and now[0] > self.cpu_seconds[0]:
                others = (now[1] - self.cpu_seconds[1]) / (now[0] - self.cpu_seconds[0])  # their busy cores
                torch.set_num_threads(max(1, min(os.cpu_count(), round(os.cpu_count() - others))))
            self.cpu_seconds = now
        return torch.get_num_threads()

    def finish(self) -> None:
        """On a stop request, checkpoint and exit; else the final checkpoint, model and evaluation."""
        args, global_step = self.args, self.global_step
        self.check_finite({})
        if self.stop_requested:  # always resumable, whatever --checkpoint-frequency says
            print(f"stopped at step {global_step:,}; checkpoint {self.save_checkpoint()}", flush=True)
            print(f"resume with: python {os.path.basename(__file__)} --resume {self.run_dir}", flush=True)
            raise SystemExit(128 + self.stop_signal)  # the shell's convention for "ended by this signal"
        print(f"trained {global_step:,} steps in {time.time() - self.start_time:,.0f} s", flush=True)
        if args.checkpoint_frequency > 0 and global_step % args.checkpoint_frequency >= args.num_envs:
            self.save_checkpoint()  # the last one, unless this step wrote it
        if args.save_model:
            model_path = write_checkpoint(self.run_dir, self.model_state(), args.checkpoint_keep, args.exp_name, "")
            print(f"model saved to {model_path}", flush=True)
            self.agent.actor.load_state_dict(read_checkpoint(model_path)[0]["networks"]["actor"])  # evaluate the file
        if args.save_model or args.eval_frequency > 0:
            self.log_evaluation(self.agent.actor, f"evaluation over {args.eval_episodes} episodes")

    def end_early(self, event: str, why: str, hint: str, status: int) -> None:
        """Diverged, or stopped twice: one line naming the last checkpoint (the checkpoints are intact); exit."""
        last = sorted(glob.glob(os.path.join(self.run_dir, "checkpoints", "step_*.pt")))[-1:] or ["none"]
        message = f"{event} at step {self.global_step:,}: {why}; the last checkpoint before it: {last[0]} ({hint})"
        fail(message, status=status)

    def close(self) -> None:
        for signum, handler in self.previous_handlers.items():
            signal.signal(signum, handler)
        for resource, method in ((self.envs, "close"), (self.writer, "close"), (self.tracking, "finish")):
            if resource is not None:
                getattr(resource, method)()


def parse_args(argv: list[str] | None) -> tuple[Args, dict | None, str | None]:
    """The flags, and the checkpoint that --resume or --eval-only names (whose flags the given ones override)."""
    args = tyro.cli(Args, args=argv)
    checkpoint, path = None, args.checkpoint if args.resume is None else args.resume
    if args.resume is not None and args.eval_only:
        fail("--resume continues training and --eval-only evaluates: give one of them")
    if args.eval_only != (args.checkpoint is not None):  # to train on from a checkpoint: --resume PATH
        fail("--eval-only evaluates --checkpoint PATH (a checkpoint, a saved model or a run directory): give both")
    if args.resume is not None or args.eval_only:
        checkpoint, path = read_checkpoint(path, model=args.eval_only)
        if args.resume is not None and "buffer" not in checkpoint:
            fail(f"{path} is a saved model, not a training checkpoint: it cannot be resumed")
        if unknown := sorted(checkpoint["args"].keys() - asdict(Args()).keys()):
            fail(f"cannot load {path}: another script or version wrote it, with flags this one lacks: {unknown}")
        saved = asdict(Args()) | checkpoint["args"]  # flags newer than the file: their defaults, what it did
        args = tyro.cli(Args, args=argv, default=Args(**saved))
        may_change = RUN_CONTROL_FLAGS | ({"env_id", "seed"} if args.eval_only else set())  # evaluate anywhere
        if changed := [name for name, value in asdict(args).items() if name not in may_change and value != saved[name]]:
            flags = ", ".join("--" + name.replace("_", "-") for name in changed)
            fail(f"{path} was trained with other values of {flags}: drop them to use it, or start a new run")
        if not args.eval_only and args.total_timesteps < checkpoint["global_step"]:  # --resume, not a saved one
            fail(f"{path} is at step {checkpoint['global_step']:,}: --total-timesteps must be at least that to go on")
    check_args(args)
    return args, checkpoint, path


def main(argv: list[str] | None = None) -> dict | None:
    """Train (or evaluate, with --eval-only); return the run directory, agent and buffer, for notebooks and tests."""
    warnings.filterwarnings("ignore", ".*The environment .* is out of date", DeprecationWarning)  # -v4: CleanRL's
    args, checkpoint, checkpoint_path = parse_args(argv)
    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)
    torch.backends.cudnn.deterministic = args.torch_deterministic
    device = torch.device("cuda" if torch.cuda.is_available() and args.cuda else "cpu")
    check_environment(args, device, checkpoint)
    if args.eval_only:  # deterministic episodes of the checkpoint's actor, filmed or shown if asked
        space = gym.make(args.env_id).action_space
        actor = make_agent(args, checkpoint["obs_dim"], space.low, space.high, device).actor
        actor.load_state_dict(checkpoint["networks"]["actor"])
        videos = os.path.join(os.path.dirname(checkpoint_path), "videos", "eval")  # beside the file
        returns = evaluate(actor, args, device, videos if args.capture_video else None)
        filmed = f"; videos in {videos}" if args.capture_video else ""
        print(f"{args.env_id}: {np.mean(returns):.1f} +- {np.std(returns):.1f} over {len(returns)} episodes{filmed}")
        return None
    run = Run(args, device, checkpoint, checkpoint_path)
    try:
        agent, buffer = train(args, run)
        run.finish()
        return {"run_dir": run.run_dir, "args": args, "agent": agent, "buffer": buffer}
    finally:
        run.close()


if __name__ == "__main__":
    signal.signal(signal.SIGINT, lambda *_: fail("interrupted (Ctrl-C) before training began", status=130))
    main()
