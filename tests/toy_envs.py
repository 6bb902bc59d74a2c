"""Tiny environments whose exact values are known, registered on import.

Used as `--env-id toy_envs:Counter-v0` (the tests put this folder on PYTHONPATH), which also
checks that custom `module:EnvId` ids work.
"""

import os
import signal
import time

import gymnasium as gym
import numpy as np


class CounterEnv(gym.Env):
    """Reward 1 every step; the observation is [t, tag]: t the step in the episode, tag a random
    number drawn at each reset, the same for the whole episode, so a transition that crosses
    from one episode into another shows.

    Terminates after `terminate_after` steps when it is given; the registration's time limit
    truncates otherwise. The action space has asymmetric, per-dimension bounds, and the action
    is ignored, so every Q-value is known exactly: with time limits only, Q = 1 / (1 - gamma)
    everywhere (truncation must bootstrap); with `terminate_after=1`, Q = 1 (nothing to bootstrap).
    """

    def __init__(self, terminate_after: int | None = None):
        self.terminate_after = terminate_after
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, shape=(2,), dtype=np.float32)
        self.action_space = gym.spaces.Box(
            low=np.array([-1.0, 0.0], dtype=np.float32), high=np.array([1.0, 3.0], dtype=np.float32)
        )
        self.t, self.tag = 0, 0.0

    def _obs(self) -> np.ndarray:
        return np.array([self.t, self.tag], dtype=np.float32)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t, self.tag = 0, float(self.np_random.uniform())
        return self._obs(), {}

    def step(self, action):
        assert self.action_space.contains(np.asarray(action, dtype=np.float32)), action
        self.t += 1
        terminated = self.terminate_after is not None and self.t >= self.terminate_after
        return self._obs(), 1.0, terminated, False, {}


gym.register("Counter-v0", entry_point=CounterEnv, max_episode_steps=5)
gym.register("OneStep-v0", entry_point=CounterEnv, kwargs={"terminate_after": 1}, max_episode_steps=5)
gym.register("TerminatesAt3-v0", entry_point=CounterEnv, kwargs={"terminate_after": 3}, max_episode_steps=5)


class UnboundedActionEnv(CounterEnv):
    """The counter with actions in (-inf, inf), which cannot be rescaled from tanh's [-1, 1]."""

    def __init__(self, bound: float = np.inf):
        super().__init__()
        self.action_space = gym.spaces.Box(-bound, bound, shape=(2,), dtype=np.float32)


gym.register("Unbounded-v0", entry_point=UnboundedActionEnv, max_episode_steps=5)
# Bounds at float32's largest: finite, but their width overflows, and the actor's actions with it.
gym.register("HugeBounds-v0", entry_point=UnboundedActionEnv, kwargs={"bound": 3.4e38}, max_episode_steps=5)
# No time limit, and episodes that never terminate: an evaluation would never end.
gym.register("Endless-v0", entry_point=CounterEnv)


class EmptyObservationEnv(CounterEnv):
    def __init__(self):
        super().__init__()
        self.observation_space = gym.spaces.Box(-1.0, 1.0, shape=(0,), dtype=np.float32)

    def _obs(self) -> np.ndarray:
        return np.zeros(0, dtype=np.float32)


gym.register("EmptyObservation-v0", entry_point=EmptyObservationEnv, max_episode_steps=5)


class DivergingEnv(CounterEnv):
    """The counter whose reward turns infinite after 300 steps: the losses become non-finite."""

    def __init__(self):
        super().__init__()
        self.total_steps = 0

    def step(self, action):  # takes any action: once the weights are NaN, so are the actions
        self.t += 1
        self.total_steps += 1
        return self._obs(), (np.inf if self.total_steps > 300 else 1.0), False, False, {}


gym.register("Diverging-v0", entry_point=DivergingEnv, max_episode_steps=5)


class RaisesEnv(CounterEnv):
    """An environment whose constructor fails, as a user's unfinished one might."""

    def __init__(self):
        raise RuntimeError("the constructor fails")


class InterruptedEnv(CounterEnv):
    """An environment during whose making the user presses Ctrl-C (as while a slow one builds, or downloads)."""

    def __init__(self):
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(10)  # the signal's handler runs here


class MatrixActionEnv(CounterEnv):
    def __init__(self, shape=(2, 2)):
        super().__init__()
        self.action_space = gym.spaces.Box(-1.0, 1.0, shape=shape, dtype=np.float32)


class SequenceObservationEnv(CounterEnv):
    def __init__(self):
        super().__init__()
        self.observation_space = gym.spaces.Sequence(gym.spaces.Box(-1.0, 1.0, shape=(2,), dtype=np.float32))


class WrongObservationShapeEnv(CounterEnv):
    """Declares observations of shape (3,) and returns the counter's (2,): an env with a mistake in its space."""

    def __init__(self):
        super().__init__()
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, shape=(3,), dtype=np.float32)


gym.register("Raises-v0", entry_point=RaisesEnv)
gym.register("Interrupted-v0", entry_point=InterruptedEnv)
gym.register("WrongObservationShape-v0", entry_point=WrongObservationShapeEnv, max_episode_steps=5)
gym.register("MatrixAction-v0", entry_point=MatrixActionEnv, max_episode_steps=5)
gym.register("ScalarAction-v0", entry_point=MatrixActionEnv, kwargs={"shape": ()}, max_episode_steps=5)
gym.register("NoAction-v0", entry_point=MatrixActionEnv, kwargs={"shape": (0,)}, max_episode_steps=5)
gym.register("SequenceObservation-v0", entry_point=SequenceObservationEnv, max_episode_steps=5)
