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
- The critics see (s, a) concatenated at the input, 256-256 ReLU, as in the authors'
  released code (the paper's table says 400-300; the code and later work use 256-256).
- Both critics are one batched network (weights shaped [2, in, out]): the same maths as two
  networks, in one matrix product per layer instead of two.
- `--num-envs N` collects N transitions per step and makes N updates, so one update per
  transition, as in the paper, whatever N is. `--total-timesteps`, `--learning-starts` and
  the logged step count environment transitions summed over all envs.
"""

import copy
import glob
import itertools
import json
import os
import pickle
import random
import re
import signal
import sys
import time
from collections import deque
from dataclasses import asdict, dataclass

import gymnasium as gym
import numpy as np
import torch
import torch.nn.functional as F
import tyro
from torch import nn
from torch.utils.tensorboard import SummaryWriter


@dataclass
class Args:
    exp_name: str = os.path.basename(__file__)[: -len(".py")]
    """the name of this experiment, part of the run directory's name"""
    seed: int = 1
    """seed of Python, NumPy, PyTorch and the environments"""
    torch_deterministic: bool = True
    """if toggled, `torch.backends.cudnn.deterministic=True`, so that CUDA runs repeat too"""
    cuda: bool = True
    """if toggled, train on CUDA when it is available (else on the CPU)"""
    compile: bool = False
    """if toggled, `torch.compile` the losses and the policy (CUDA graphs on a GPU): same results; helps on GPUs"""
    save_model: bool = False
    """if toggled, save the networks to the run directory at the end and evaluate the saved actor"""
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
    stop_on_nonfinite: bool = True
    """if toggled, a NaN or infinite loss stops the run and checkpoints the last good state"""
    track: bool = False
    """if toggled, also log to Weights & Biases (`pip install wandb`; WANDB_MODE=offline needs no network)"""
    wandb_project_name: str = "cleanRL"
    """the Weights & Biases project"""
    wandb_entity: str | None = None
    """the Weights & Biases entity (user or team)"""

    # Algorithm arguments; the defaults are the authors' code's (and CleanRL's): the paper's table 3 with
    # learning rate 3e-4 and batch 256 (Fujimoto et al., 2018).
    env_id: str = "Hopper-v4"
    """the id of the environment: anything `gymnasium.make` accepts, including `my_package:MyEnv-v0`"""
    total_timesteps: int = 1000000
    """total environment transitions, summed over all envs"""
    learning_rate: float = 3e-4
    """the learning rate of the Adam optimizers of the actor and the critics"""
    num_envs: int = 1
    """the number of parallel environments (one update per collected transition whatever the number)"""
    buffer_size: int = int(1e6)
    """the replay memory capacity, in transitions"""
    gamma: float = 0.99
    """the discount factor gamma"""
    tau: float = 0.005
    """target smoothing coefficient: theta' <- tau theta + (1 - tau) theta'"""
    batch_size: int = 256
    """the number of transitions sampled from the replay memory for each update"""
    policy_noise: float = 0.2
    """standard deviation of the target policy smoothing noise, as a fraction of the action range's half-width"""
    exploration_noise: float = 0.1
    """standard deviation of the Gaussian exploration noise, as a fraction of the action range's half-width"""
    learning_starts: int = int(25e3)
    """transitions collected with uniformly random actions before learning starts"""
    policy_frequency: int = 2
    """the actor and the target networks are updated once every this many critic updates"""
    noise_clip: float = 0.5
    """the target policy smoothing noise is clipped to +-noise_clip (fraction of the half-width)"""


def fail(message: str) -> None:
    """End the run on bad input: one line on stderr and exit status 2, like argparse."""
    print(f"{os.path.basename(__file__)}: error: {message}", file=sys.stderr)
    sys.exit(2)


def check_args(args: Args) -> None:
    """Refuse impossible flag combinations before anything is built or written."""
    if args.num_envs < 1:
        fail(f"--num-envs must be at least 1, got {args.num_envs}")
    if args.buffer_size < 1:
        fail(f"--buffer-size must be at least 1, got {args.buffer_size}")
    if not 1 <= args.batch_size <= args.buffer_size:
        fail(f"--batch-size ({args.batch_size}) must be between 1 and --buffer-size ({args.buffer_size})")
    if args.total_timesteps < 0 or args.learning_starts < 0:
        fail("--total-timesteps and --learning-starts must not be negative")
    if args.policy_frequency < 1:
        fail(f"--policy-frequency must be at least 1, got {args.policy_frequency}")
    if args.exploration_noise < 0 or args.policy_noise < 0 or args.noise_clip < 0:
        fail("--exploration-noise, --policy-noise and --noise-clip must not be negative")
    if not 0.0 < args.tau <= 1.0:
        fail(f"--tau must be in (0, 1], got {args.tau}")
    if not 0.0 <= args.gamma <= 1.0:
        fail(f"--gamma must be in [0, 1], got {args.gamma}")
    if args.eval_episodes < 0:
        fail(f"--eval-episodes must not be negative, got {args.eval_episodes}")
    if args.checkpoint_frequency < 0 or args.eval_frequency < 0:
        fail("--checkpoint-frequency and --eval-frequency must not be negative (0 turns them off)")
    if args.checkpoint_keep < 1:
        fail(f"--checkpoint-keep must be at least 1, got {args.checkpoint_keep}")


# ---------------------------------------------------------------------------------------
# Environment
# ---------------------------------------------------------------------------------------
def make_env(env_id: str, video_dir: str | None = None, record_every_episode: bool = False):
    """Return a thunk that builds one environment, as vector envs expect; with `video_dir`, filmed."""

    def thunk() -> gym.Env:
        if video_dir:
            env = gym.make(env_id, render_mode="rgb_array")
            # Every episode, or gymnasium's default: episodes 0, 1, 8, 27, ..., 1000, 2000, 3000, ...
            trigger = (lambda episode: True) if record_every_episode else None
            env = gym.wrappers.RecordVideo(env, video_dir, episode_trigger=trigger, disable_logger=True)
        else:
            env = gym.make(env_id)  # no `render_mode` argument: custom envs need not accept one
        if not (isinstance(env.observation_space, gym.spaces.Box) and len(env.observation_space.shape) == 1):
            env = gym.wrappers.FlattenObservation(env)  # the networks take flat vectors
        return env

    return thunk


def make_vector_env(env_id: str, num_envs: int, video_dir: str | None = None) -> gym.vector.VectorEnv:
    """N copies of the environment, with episode statistics, that reset in the same step; the first filmed.

    SAME_STEP autoreset: when an episode ends, `step` returns the first observation of the
    next episode and puts the last one of the ended episode in `infos["final_obs"]`. So every
    step is a real transition and nothing is stored across the reset (gymnasium >= 1.0's
    default, NEXT_STEP, instead spends one extra step on the reset and ignores its action).
    """
    try:
        envs = gym.vector.SyncVectorEnv(
            [make_env(env_id, video_dir if i == 0 else None) for i in range(num_envs)],
            autoreset_mode=gym.vector.AutoresetMode.SAME_STEP,
        )
    except (gym.error.Error, ModuleNotFoundError) as error:
        fail(f"cannot make --env-id {env_id!r}: {str(error).splitlines()[0]}")
    action_space = envs.single_action_space
    if not isinstance(action_space, gym.spaces.Box):
        envs.close()
        fail(
            f"{env_id} has a {action_space} action space; this script needs a continuous (Box) one; "
            "for discrete actions use DQN or PPO"
        )
    if not (np.all(np.isfinite(action_space.low)) and np.all(np.isfinite(action_space.high))):
        envs.close()
        fail(f"{env_id} has unbounded actions {action_space}; wrap it with gymnasium.wrappers.ClipAction")
    return gym.wrappers.vector.RecordEpisodeStatistics(envs)


# ---------------------------------------------------------------------------------------
# Networks
# ---------------------------------------------------------------------------------------
class Actor(nn.Module):
    """Deterministic policy mu(s): an MLP whose tanh output is rescaled to the action bounds.

    PyTorch's default initialisation, as in the authors' code.
    """

    def __init__(self, obs_dim: int, action_low: np.ndarray, action_high: np.ndarray, hidden: int = 256):
        super().__init__()
        action_dim = len(action_low)
        self.net = nn.Sequential(
            nn.Linear(obs_dim, hidden),
            nn.ReLU(),
            nn.Linear(hidden, hidden),
            nn.ReLU(),
            nn.Linear(hidden, action_dim),
            nn.Tanh(),
        )
        # Per-dimension affine map from [-1, 1] to [low, high]; buffers, so saved with the weights.
        low = torch.as_tensor(action_low, dtype=torch.float32)
        high = torch.as_tensor(action_high, dtype=torch.float32)
        self.register_buffer("action_scale", (high - low) / 2)
        self.register_buffer("action_bias", (high + low) / 2)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return self.net(obs) * self.action_scale + self.action_bias


class TwinCritic(nn.Module):
    """Q_1(s, a) and Q_2(s, a), two independent MLPs computed as one batched network.

    Each layer holds the weights of both critics, shaped [2, in, out], and `torch.baddbmm`
    computes both in one matrix product: the same numbers as two networks, half the calls.
    Initialised like `nn.Linear` (uniform in +-1/sqrt(fan_in)), each critic independently.
    """

    def __init__(self, obs_dim: int, action_dim: int, hidden: int = 256, num_critics: int = 2):
        super().__init__()
        sizes = [obs_dim + action_dim, hidden, hidden, 1]
        self.weights = nn.ParameterList()
        self.biases = nn.ParameterList()
        for fan_in, fan_out in itertools.pairwise(sizes):
            bound = fan_in**-0.5
            self.weights.append(nn.Parameter(torch.empty(num_critics, fan_in, fan_out).uniform_(-bound, bound)))
            self.biases.append(nn.Parameter(torch.empty(num_critics, 1, fan_out).uniform_(-bound, bound)))

    def forward(self, obs: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        """Return the Q-values of every critic, shaped [num_critics, batch]."""
        x = torch.cat([obs, actions], dim=-1).expand(len(self.weights[0]), -1, -1)
        for layer, (weight, bias) in enumerate(zip(self.weights, self.biases)):
            x = torch.baddbmm(bias, x, weight)
            if layer < len(self.weights) - 1:
                x = F.relu(x)
        return x.squeeze(-1)

    def q1(self, obs: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        """Return Q_1 alone, shaped [batch]: the actor only needs the first critic."""
        x = torch.cat([obs, actions], dim=-1)
        for layer, (weight, bias) in enumerate(zip(self.weights, self.biases)):
            x = torch.addmm(bias[0], x, weight[0])
            if layer < len(self.weights) - 1:
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
        """Draw `batch_size` transitions uniformly, with replacement: one `randint`, one gather."""
        index = torch.randint(0, self.size, (batch_size,), device=self.device)
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
# Update
# ---------------------------------------------------------------------------------------
def critic_target(batch, target_actor, target_critic, args: Args, action_low, action_high) -> torch.Tensor:
    """The TD3 target y = r + gamma (1 - terminated) min_i Q'_i(s', a'), without gradient."""
    with torch.no_grad():
        # Target policy smoothing (paper, eq. 14): a' = clip(mu'(s') + clip(eps, -c, c), low, high),
        # eps ~ N(0, sigma); noise and clip are scaled to each dimension's half-width.
        epsilon = torch.randn_like(batch["actions"]) * args.policy_noise
        noise = epsilon.clamp(-args.noise_clip, args.noise_clip) * target_actor.action_scale
        next_actions = (target_actor(batch["next_obs"]) + noise).clamp(action_low, action_high)
        # Clipped double Q (eq. 10): bootstrap from the smaller target critic, which counters
        # the overestimation that maximising a noisy Q would otherwise compound.
        next_q = target_critic(batch["next_obs"], next_actions).min(dim=0).values
        # `terminations` is 1 only where the MDP ended; time-limit truncations bootstrap.
        return batch["rewards"] + args.gamma * (1.0 - batch["terminations"]) * next_q


def critic_loss(batch, critic, target: torch.Tensor):
    """Mean squared TD error of each critic, L_i = E[(Q_i(s, a) - y)^2], summed over i."""
    q_values = critic(batch["obs"], batch["actions"])  # [2, batch]
    per_critic_loss = (q_values - target).pow(2).mean(dim=1)
    return per_critic_loss.sum(), per_critic_loss.detach(), q_values.detach().mean(dim=1)


def actor_loss(batch, actor, critic) -> torch.Tensor:
    """Deterministic policy gradient (eq. 6 of Silver et al., 2014): maximise Q_1(s, mu(s))."""
    return -critic.q1(batch["obs"], actor(batch["obs"])).mean()


class NonFiniteLoss(Exception):
    """A loss became NaN or infinite: training has diverged."""


def check_finite(name: str, loss: torch.Tensor, global_step: int) -> None:
    """Stop before a NaN or infinite loss reaches the weights (reading it costs a device sync on CUDA)."""
    if not torch.isfinite(loss):
        raise NonFiniteLoss(f"{name} is {loss.item()} at step {global_step}")


@torch.no_grad()
def soft_update(target: nn.Module, online: nn.Module, tau: float) -> None:
    """Polyak averaging theta' <- tau theta + (1 - tau) theta', as one fused lerp over all tensors."""
    torch._foreach_lerp_(list(target.parameters()), list(online.parameters()), tau)


def compiled(function, args: Args, device: torch.device):
    """`function` compiled by `torch.compile` with --compile, else `function` itself.

    Compiling fuses each function's elementwise operations, and those of its backward pass, into
    a few kernels; on CUDA, "reduce-overhead" also records them as CUDA graphs, launched at once.
    """
    if not args.compile:
        return function
    torch._inductor.config.fallback_random = True  # eager's random numbers, hence eager's results
    return torch.compile(function, mode="reduce-overhead" if device.type == "cuda" else "default")


# ---------------------------------------------------------------------------------------
# Evaluation and checkpoints
# ---------------------------------------------------------------------------------------
EVAL_SEED_OFFSET = 1_000_000  # evaluation episodes start from seeds that training never uses


def evaluate(
    actor: Actor, env_id: str, episodes: int, seed: int, device: torch.device, video_dir: str | None = None
) -> list[float]:
    """Run deterministic episodes (the actor's action, no noise) and return their returns."""
    env = make_env(env_id, video_dir, record_every_episode=True)()
    returns = []
    for episode in range(episodes):
        obs, _ = env.reset(seed=seed + episode)
        episode_return, done = 0.0, False
        while not done:
            with torch.no_grad():
                action = actor(torch.as_tensor(obs, dtype=torch.float32, device=device).unsqueeze(0))
            obs, reward, terminated, truncated, _ = env.step(action.squeeze(0).cpu().numpy())
            episode_return += float(reward)
            done = terminated or truncated
        returns.append(episode_return)
    env.close()
    return returns


def build_actor(args: Args, obs_dim: int, action_low: np.ndarray, action_high: np.ndarray) -> Actor:
    """The actor the arguments describe (for training, and for evaluating a saved one)."""
    return Actor(obs_dim, action_low, action_high)


CHECKPOINT_FORMAT = f"{os.path.basename(__file__)} v1"  # marks the files this script writes
# Flags that may differ when a run resumes or is evaluated; all the others define the experiment.
RUN_CONTROL_FLAGS = {
    "total_timesteps", "cuda", "compile", "save_model", "checkpoint_frequency", "checkpoint_buffer",
    "checkpoint_keep", "resume", "eval_frequency", "eval_episodes", "eval_only", "checkpoint", "capture_video",
    "stop_on_nonfinite", "track", "wandb_project_name", "wandb_entity",
}  # fmt: skip


def rng_state(envs: gym.vector.VectorEnv) -> dict:
    """Every random number generator the training loop draws from, as tensors and plain Python values."""
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


def write_checkpoint(run_dir: str, global_step: int, state: dict, keep: int) -> str:
    """Write `checkpoints/step_<n>.pt` atomically and keep the latest `keep` checkpoints.

    The file is written under a temporary name, flushed to disk, then renamed: a rename is atomic,
    so a crash while writing leaves the previous checkpoints whole and no half-written one.
    """
    directory = os.path.join(run_dir, "checkpoints")
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, f"step_{global_step:012d}.pt")  # zero-padded: names sort by step
    with open(path + ".tmp", "wb") as file:
        torch.save(state, file)
        file.flush()
        os.fsync(file.fileno())
    os.replace(path + ".tmp", path)
    for old in sorted(glob.glob(os.path.join(directory, "step_*.pt")))[:-keep]:
        os.remove(old)
    return path


def find_checkpoint(path: str) -> str:
    """A checkpoint file as given, or the latest checkpoint of a run directory."""
    if os.path.isdir(path):
        checkpoints = sorted(glob.glob(os.path.join(path, "checkpoints", "step_*.pt")))
        if not checkpoints:
            fail(f"{path} holds no checkpoints (in {os.path.join(path, 'checkpoints')})")
        return checkpoints[-1]
    if not os.path.isfile(path):
        fail(f"no such checkpoint: {path}")
    return path


def read_checkpoint(path: str) -> dict:
    """Load a checkpoint or saved model of this script.

    `weights_only=True` restricts unpickling to tensors and plain containers: a file that holds
    code (a malicious pickle) is refused instead of run.
    """
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError, OSError) as error:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        fail(f"cannot load {path}: not a file this script wrote, or damaged ({reason[:200]})")
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        fail(f"cannot load {path}: it was not written by {os.path.basename(__file__)}")
    return state


def args_from_checkpoint(argv: list[str] | None, saved_args: dict, source: str, may_change: set[str]) -> Args:
    """The checkpoint's arguments, overridden by the flags given now; refuse changes to the experiment."""
    try:
        saved = Args(**saved_args)
    except TypeError:
        fail(f"{source} was written by another version of {os.path.basename(__file__)}")
    args = tyro.cli(Args, args=argv, default=saved)
    changed = [name for name, value in asdict(args).items() if name not in may_change and value != saved_args[name]]
    if changed:
        flags = ", ".join("--" + name.replace("_", "-") for name in changed)
        fail(f"{source} was trained with other values of {flags}: drop them to use it, or start a new run")
    return args


def check_shapes(state: dict, obs_dim: int, action_dim: int, env_id: str) -> None:
    if (state["obs_dim"], state["action_dim"]) != (obs_dim, action_dim):
        fail(
            f"the checkpoint is for observations of size {state['obs_dim']} and actions of size "
            f"{state['action_dim']}; {env_id} has {obs_dim} and {action_dim}"
        )


def evaluate_checkpoint(args: Args, state: dict, path: str, device: torch.device) -> None:
    """--eval-only: run deterministic episodes of a checkpoint's or saved model's actor, print mean +- std."""
    envs = make_vector_env(args.env_id, 1)
    obs_dim = int(np.prod(envs.single_observation_space.shape))
    action_low, action_high = envs.single_action_space.low, envs.single_action_space.high
    envs.close()
    check_shapes(state, obs_dim, len(action_low), args.env_id)
    actor = build_actor(args, obs_dim, action_low, action_high).to(device)
    actor.load_state_dict(state["networks"]["actor"])
    run_dir = os.path.dirname(os.path.abspath(path))
    if os.path.basename(run_dir) == "checkpoints":
        run_dir = os.path.dirname(run_dir)
    video_dir = os.path.join(run_dir, "videos", "eval") if args.capture_video else None
    returns = evaluate(actor, args.env_id, args.eval_episodes, args.seed + EVAL_SEED_OFFSET, device, video_dir)
    print(f"{args.env_id}: {np.mean(returns):.1f} +- {np.std(returns):.1f} over {len(returns)} episodes", flush=True)
    if video_dir:
        print(f"videos in {video_dir}", flush=True)


# ---------------------------------------------------------------------------------------
# Training
# ---------------------------------------------------------------------------------------
PROGRESS_SECONDS = 5.0  # how often the progress line is printed
LOG_EVERY_UPDATES = 100  # how often the losses are logged: reading them forces a device sync


def format_duration(seconds: float) -> str:
    minutes, seconds = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}"


def main(argv: list[str] | None = None) -> dict | None:
    """Train (or evaluate, with --eval-only); return the run directory, networks and buffer, for notebooks and tests."""
    args = tyro.cli(Args, args=argv)
    checkpoint, checkpoint_path = None, None
    if args.resume is not None and args.eval_only:
        fail("--resume continues training and --eval-only evaluates: give one of them")
    if args.resume is not None or args.eval_only:
        if args.eval_only and args.checkpoint is None:
            fail("--eval-only needs --checkpoint PATH (a checkpoint, a saved model or a run directory)")
        source = args.resume if args.resume is not None else args.checkpoint
        checkpoint_path = find_checkpoint(source)
        checkpoint = read_checkpoint(checkpoint_path)
        if args.resume is not None and "buffer" not in checkpoint:
            fail(f"{checkpoint_path} is a saved model, not a training checkpoint: it cannot be resumed")
        # Evaluating may use another env with the same shapes, and another seed.
        may_change = RUN_CONTROL_FLAGS | ({"env_id", "seed"} if args.eval_only else set())
        args = args_from_checkpoint(argv, checkpoint["args"], checkpoint_path, may_change)
    check_args(args)

    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)
    torch.backends.cudnn.deterministic = args.torch_deterministic
    device = torch.device("cuda" if torch.cuda.is_available() and args.cuda else "cpu")
    if args.capture_video:
        os.environ.setdefault("MUJOCO_GL", "egl")  # MuJoCo renders headless (a desktop may set glfw)
    if args.eval_only:
        evaluate_checkpoint(args, checkpoint, checkpoint_path, device)
        return None

    if checkpoint is None:
        run_name = f"{re.sub(r'[^A-Za-z0-9_.-]', '_', args.env_id)}__{args.exp_name}__{args.seed}__{int(time.time())}"
        run_dir = os.path.join("runs", run_name)
        suffix = 1
        while os.path.exists(run_dir):  # two runs started in the same second must not share a log
            run_dir, suffix = os.path.join("runs", f"{run_name}_{suffix}"), suffix + 1
        start_step = 0
    else:  # the run directory holds `checkpoints/`, wherever it has been moved
        run_dir = os.path.dirname(os.path.dirname(os.path.abspath(checkpoint_path)))
        start_step = checkpoint["global_step"]
    video_dir = None
    if args.capture_video:
        video_dir = os.path.join(run_dir, "videos" if start_step == 0 else f"videos_from_step_{start_step}")
    envs = make_vector_env(args.env_id, args.num_envs, video_dir)
    obs_dim = int(np.prod(envs.single_observation_space.shape))
    action_low, action_high = envs.single_action_space.low, envs.single_action_space.high
    action_dim = len(action_low)
    if checkpoint is not None:
        check_shapes(checkpoint, obs_dim, action_dim, args.env_id)

    tracking = None
    if args.track:
        import wandb  # optional: only --track needs it

        tracking = wandb.init(
            project=args.wandb_project_name,
            entity=args.wandb_entity,
            sync_tensorboard=True,
            config=asdict(args),
            name=os.path.basename(run_dir),
            id=re.sub(r"[^A-Za-z0-9_-]", "_", os.path.basename(run_dir)),  # resuming continues the same W&B run
            resume="allow",
            save_code=True,
        )
    # `purge_step` drops events that a killed run logged after its last checkpoint: no step twice.
    writer = SummaryWriter(run_dir, purge_step=start_step + 1 if start_step else None)
    with open(os.path.join(run_dir, "args.json"), "w") as file:
        json.dump(asdict(args), file, indent=2)
    if start_step == 0:
        writer.add_text(
            "hyperparameters",
            "|param|value|\n|-|-|\n" + "\n".join(f"|{key}|{value}|" for key, value in asdict(args).items()),
        )
    print(f"run directory: {run_dir} (device: {device})", flush=True)

    actor = build_actor(args, obs_dim, action_low, action_high).to(device)
    critic = TwinCritic(obs_dim, action_dim).to(device)
    # Target networks start as copies and only follow the online networks slowly (soft updates).
    target_actor = copy.deepcopy(actor).requires_grad_(False)
    target_critic = copy.deepcopy(critic).requires_grad_(False)
    # fused Adam updates all of a network's tensors in one kernel (faster than the default here).
    actor_optimizer = torch.optim.Adam(actor.parameters(), lr=args.learning_rate, fused=True)
    critic_optimizer = torch.optim.Adam(critic.parameters(), lr=args.learning_rate, fused=True)
    buffer = ReplayBuffer(args.buffer_size, obs_dim, action_dim, device)
    low = torch.as_tensor(action_low, dtype=torch.float32, device=device)
    high = torch.as_tensor(action_high, dtype=torch.float32, device=device)
    # Everything a checkpoint saves and a resumed run restores, by name.
    networks = {"actor": actor, "critic": critic, "target_actor": target_actor, "target_critic": target_critic}
    optimizers = {"actor": actor_optimizer, "critic": critic_optimizer}
    policy = compiled(actor, args, device)
    compute_target = compiled(critic_target, args, device)
    compute_critic_loss = compiled(critic_loss, args, device)
    compute_actor_loss = compiled(actor_loss, args, device)

    global_step, num_updates = start_step, 0
    recent_returns: deque[float] = deque(maxlen=10)
    if checkpoint is None:
        envs.action_space.seed(args.seed)
        obs, _ = envs.reset(seed=args.seed)
    else:
        for name, network in networks.items():
            network.load_state_dict(checkpoint["networks"][name])
        for name, optimizer in optimizers.items():
            optimizer.load_state_dict(checkpoint["optimizers"][name])
        if checkpoint["buffer"] is not None:
            buffer.load_state_dict(checkpoint["buffer"])
        num_updates = checkpoint["num_updates"]
        recent_returns.extend(checkpoint["recent_returns"])
        # The environments cannot be saved: they start new episodes, with seeds of their own.
        obs, _ = envs.reset(seed=args.seed + start_step)
        set_rng_state(checkpoint["rng"], envs)
        print(f"resumed from {checkpoint_path} at step {start_step:,}", flush=True)

    def training_state() -> dict:
        return {
            "format": CHECKPOINT_FORMAT,
            "args": asdict(args),
            "obs_dim": obs_dim,
            "action_dim": action_dim,
            "global_step": global_step,
            "num_updates": num_updates,
            "recent_returns": list(recent_returns),
            "networks": {name: network.state_dict() for name, network in networks.items()},
            "optimizers": {name: optimizer.state_dict() for name, optimizer in optimizers.items()},
            "rng": rng_state(envs),
            "buffer": buffer.state_dict() if args.checkpoint_buffer else None,
        }

    # SIGINT (Ctrl-C) and SIGTERM (schedulers, `kill`) end the current step, then stop cleanly;
    # a second signal stops at once, unless it comes within a second of the first: the same stop
    # can arrive twice (Ctrl-C reaches a whole process group, a scheduler signals every process).
    stop_signal, stop_time = None, 0.0

    def request_stop(signum, frame):
        nonlocal stop_signal, stop_time
        if stop_signal is not None:
            if time.time() - stop_time < 1.0:
                return
            raise KeyboardInterrupt
        stop_signal, stop_time = signum, time.time()
        print(f"\n{signal.Signals(signum).name}: stopping after this step (again to stop at once)", flush=True)

    def crossed(frequency: int) -> bool:
        """Whether this step passed a multiple of `frequency` (global_step moves by num_envs at a time)."""
        return frequency > 0 and global_step // frequency > (global_step - args.num_envs) // frequency

    previous_handlers = {signum: signal.signal(signum, request_stop) for signum in (signal.SIGINT, signal.SIGTERM)}
    start_time = last_print_time = time.time()
    last_print_step = global_step
    learning_start_time, learning_start_step = None, 0
    try:
        while global_step < args.total_timesteps and stop_signal is None:
            # Act: uniformly random actions first, to fill the buffer with diverse data, then the
            # policy plus Gaussian exploration noise scaled to each dimension, clipped to the bounds.
            if global_step < args.learning_starts:
                actions = envs.action_space.sample()
            else:
                with torch.no_grad():
                    mean_action = policy(torch.as_tensor(obs, dtype=torch.float32, device=device))
                    noise = torch.randn_like(mean_action) * args.exploration_noise * actor.action_scale
                    actions = (mean_action + noise).clamp(low, high).cpu().numpy()

            # `truncations` (time limits) are not stored: the state after a cut-off still has a
            # future, so its target bootstraps; only `terminations` end the return.
            next_obs, rewards, terminations, _truncations, infos = envs.step(actions)
            global_step += args.num_envs

            # Several envs can finish on the same step: log every finished episode.
            if "episode" in infos:
                for i in np.flatnonzero(infos["_episode"]):
                    episodic_return = float(infos["episode"]["r"][i])
                    recent_returns.append(episodic_return)
                    writer.add_scalar("charts/episodic_return", episodic_return, global_step)
                    writer.add_scalar("charts/episodic_length", int(infos["episode"]["l"][i]), global_step)

            buffer.add(obs, real_next_obs(next_obs, infos), actions, rewards, terminations)
            obs = next_obs

            if global_step >= args.learning_starts:
                if learning_start_time is None:
                    learning_start_time, learning_start_step = time.time(), global_step
                for _ in range(args.num_envs):  # one update per collected transition
                    if args.compile:
                        torch.compiler.cudagraph_mark_step_begin()  # CUDA graphs may reuse the last update's memory
                    batch = buffer.sample(args.batch_size)
                    target = compute_target(batch, target_actor, target_critic, args, low, high)
                    qf_loss, qf_losses, qf_values = compute_critic_loss(batch, critic, target)
                    if args.stop_on_nonfinite:
                        check_finite("qf_loss", qf_loss, global_step)
                    critic_optimizer.zero_grad(set_to_none=True)
                    qf_loss.backward()
                    critic_optimizer.step()
                    num_updates += 1

                    # Delayed policy updates: the actor and the targets move once per
                    # `policy_frequency` critic updates, so they follow a settled critic.
                    if num_updates % args.policy_frequency == 0:
                        policy_loss = compute_actor_loss(batch, actor, critic)
                        if args.stop_on_nonfinite:
                            check_finite("actor_loss", policy_loss, global_step)
                        actor_optimizer.zero_grad(set_to_none=True)
                        # Gradients for the actor's weights only: the critic is not trained here,
                        # so computing its weight gradients would be wasted work.
                        policy_loss.backward(inputs=list(actor.parameters()))
                        actor_optimizer.step()
                        soft_update(target_actor, actor, args.tau)
                        soft_update(target_critic, critic, args.tau)

                    if num_updates % LOG_EVERY_UPDATES == 0:
                        writer.add_scalar("losses/qf1_values", qf_values[0].item(), global_step)
                        writer.add_scalar("losses/qf2_values", qf_values[1].item(), global_step)
                        writer.add_scalar("losses/qf1_loss", qf_losses[0].item(), global_step)
                        writer.add_scalar("losses/qf2_loss", qf_losses[1].item(), global_step)
                        writer.add_scalar("losses/qf_loss", qf_loss.item() / 2.0, global_step)
                        if num_updates % args.policy_frequency == 0:  # the actor was updated just now
                            writer.add_scalar("losses/actor_loss", policy_loss.item(), global_step)

            if crossed(args.eval_frequency) and global_step < args.total_timesteps:
                returns = evaluate(actor, args.env_id, args.eval_episodes, args.seed + EVAL_SEED_OFFSET, device)
                writer.add_scalar("eval/episodic_return", np.mean(returns), global_step)
                print(
                    f"evaluation at step {global_step:,}: {np.mean(returns):.1f} +- {np.std(returns):.1f}", flush=True
                )
            if crossed(args.checkpoint_frequency):
                write_checkpoint(run_dir, global_step, training_state(), args.checkpoint_keep)

            now = time.time()
            if now - last_print_time >= PROGRESS_SECONDS or global_step >= args.total_timesteps:
                sps = (global_step - last_print_step) / max(now - last_print_time, 1e-9)
                writer.add_scalar("charts/SPS", sps, global_step)
                eta = format_duration((args.total_timesteps - global_step) / max(sps, 1e-9))
                mean_return = f"{np.mean(recent_returns):.1f}" if recent_returns else "n/a"
                print(
                    f"step {global_step:>9,}/{args.total_timesteps:,} ({100 * global_step / args.total_timesteps:5.1f}%)"
                    f" | {sps:6.0f} SPS | ETA {eta} | return {mean_return} (last {len(recent_returns)} episodes)",
                    flush=True,
                )
                last_print_time, last_print_step = now, global_step

        if stop_signal is not None:
            if args.checkpoint_frequency > 0:
                path = write_checkpoint(run_dir, global_step, training_state(), args.checkpoint_keep)
                print(f"stopped at step {global_step:,}; checkpoint {path}", flush=True)
                print(f"resume with: python {os.path.basename(__file__)} --resume {run_dir}", flush=True)
            else:
                print(f"stopped at step {global_step:,}; no checkpoint (--checkpoint-frequency is 0)", flush=True)
            raise SystemExit(128 + stop_signal)  # the shell's convention for "ended by this signal"

        elapsed = time.time() - start_time
        summary = f"trained {global_step:,} steps in {format_duration(elapsed)}"
        if learning_start_time is not None and global_step > learning_start_step:
            learning_sps = (global_step - learning_start_step) / (time.time() - learning_start_time)
            summary += f"; {learning_sps:.1f} SPS after learning_starts"
        print(summary, flush=True)
        if args.checkpoint_frequency > 0 and not crossed(args.checkpoint_frequency):
            write_checkpoint(run_dir, global_step, training_state(), args.checkpoint_keep)

        eval_actor = actor
        if args.save_model:
            model_path = os.path.join(run_dir, f"{args.exp_name}.pt")
            model = training_state()
            torch.save({key: model[key] for key in ("format", "args", "obs_dim", "action_dim", "networks")}, model_path)
            print(f"model saved to {model_path}", flush=True)
            eval_actor = build_actor(args, obs_dim, action_low, action_high).to(device)  # evaluate what was saved
            eval_actor.load_state_dict(read_checkpoint(model_path)["networks"]["actor"])
        if (args.save_model or args.eval_frequency > 0) and args.eval_episodes > 0:
            returns = evaluate(eval_actor, args.env_id, args.eval_episodes, args.seed + EVAL_SEED_OFFSET, device)
            writer.add_scalar("eval/episodic_return", np.mean(returns), global_step)
            print(
                f"evaluation over {len(returns)} episodes: {np.mean(returns):.1f} +- {np.std(returns):.1f}", flush=True
            )
        return {"run_dir": run_dir, "args": args, "actor": actor, "critic": critic, "buffer": buffer}
    except NonFiniteLoss as error:
        # The failing loss has not been applied: the networks still hold the last good state.
        path = write_checkpoint(run_dir, global_step, training_state(), args.checkpoint_keep)
        message = f"{error}; the last good state is in {path} (--no-stop-on-nonfinite trains on regardless)"
        print(f"{os.path.basename(__file__)}: error: {message}", file=sys.stderr)
        sys.exit(1)
    finally:
        for signum, handler in previous_handlers.items():
            signal.signal(signum, handler)
        envs.close()
        writer.close()
        if tracking is not None:
            tracking.finish()


if __name__ == "__main__":
    main()
