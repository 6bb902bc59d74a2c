"""Bad input ends with one clear line on stderr and exit status 2: no traceback, no run directory."""

import contextlib
import errno
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import SCRIPTS, load_script, run_script

BAD_FLAGS = [
    (["--env-id", "NoSuchEnv-v0"], "cannot make --env-id 'NoSuchEnv-v0'"),
    (["--env-id", "no_such_module:Thing-v0"], "cannot make --env-id 'no_such_module:Thing-v0'"),
    (["--env-id", "CartPole-v1"], "needs a continuous (Box) one"),
    (["--env-id", "toy_envs:Unbounded-v0"], "need finite bounds within 1e6: the actor squashes into them"),
    (["--env-id", "toy_envs:HugeBounds-v0"], "need finite bounds within 1e6: the actor squashes into them"),
    (["--env-id", "toy_envs:Endless-v0", "--save-model"], "toy_envs:Endless-v0 has no time limit: an evaluation might"),
    (["--env-id", "toy_envs:EmptyObservation-v0"], "do not flatten into a non-empty vector"),
    (["--batch-size", "512", "--buffer-size", "256"], "--batch-size (512) must be at most --buffer-size (256)"),
    (["--batch-size", "0"], "--batch-size must be at least 1, got 0"),
    (["--num-envs", "0"], "--num-envs must be at least 1, got 0"),
    # One `add` of more envs' transitions than the buffer holds would write some rows twice.
    (["--num-envs", "300", "--buffer-size", "256"], "--num-envs (300) must be at most --buffer-size (256)"),
    (["--buffer-size", "0"], "--buffer-size must be at least 1, got 0"),
    (["--total-timesteps", "-5"], "--total-timesteps must not be negative, got -5"),
    (["--learning-starts", "-1"], "--learning-starts must not be negative, got -1"),
    (["--updates-per-step", "0"], "--updates-per-step must be at least 1, got 0"),
    (["--eval-frequency", "-1"], "--eval-frequency must not be negative, got -1"),
    (["--save-best"], "--save-best keeps the networks of the best evaluation: it needs --eval-frequency"),
    (["--policy-frequency", "0"], "--policy-frequency must be at least 1, got 0"),
    (["--tau", "0"], "--tau must be in (0, 1] and --gamma in [0, 1], got 0.0 and 0.99"),
    (["--gamma", "1.5"], "--tau must be in (0, 1] and --gamma in [0, 1], got 0.005 and 1.5"),
    (["--eval-episodes", "-1"], "--eval-episodes must be at least 1, got -1"),
    (["--hidden-sizes", "0", "300"], "--hidden-sizes must be one or more positive sizes, got (0, 300)"),
    (["--threads", "0"], "--threads must be at least 1, got 0"),
    (["--learning-rate", "-1"], "--learning-rate must not be negative, got -1.0"),
    (["--q-lr", "-0.1"], "--q-lr must not be negative, got -0.1"),
    (["--gamma", "nan"], "--gamma must be a finite number, got nan"),
    (["--seed", "-1"], "--seed must not be negative, got -1"),
    (["--exp-name", "a/b"], "--exp-name names a directory and a file: 1-100 characters, no '/', got 'a/b'"),
    (["--exp-name", "a\nb"], "--exp-name names a directory and a file: 1-100 characters, no '/', got 'a\\nb'"),
    (["--exp-name", "x" * 101], "--exp-name names a directory and a file: 1-100 characters"),
    (["--threads", "100000"], "--threads must be at most the"),
    (["--resume", ""], "no such checkpoint: ''"),
    (["--cudagraphs", "--no-cuda"], "--cudagraphs records CUDA graphs: it needs a GPU"),
]


# The flags that only some scripts have.
OWN_BAD_FLAGS = {
    "ddpg_continuous.py": [
        (["--ou-sigma", "-1"], "--ou-sigma must not be negative, got -1.0"),
        (["--exploration-noise", "-0.1"], "--exploration-noise must not be negative, got -0.1"),
        (["--critic-weight-decay", "-1"], "--critic-weight-decay must not be negative, got -1.0"),
        (["--ou-dt", "-0.01"], "--ou-dt must not be negative, got -0.01"),
        (["--exploration-noise-type", "ou", "--ou-theta", "200"], "--ou-theta x --ou-dt must be below 2"),
        (["--exploration-noise-final", "-1"], "--exploration-noise-final must not be negative, got -1.0"),
        (["--exploration-noise-decay-steps", "100"], "--exploration-noise-decay-steps is the length of a decay"),
        (["--param-noise-adapt-every", "0"], "--param-noise-adapt-every must be at least 1, got 0"),
    ],
    "td3_continuous.py": [
        (["--policy-noise", "-0.2"], "--policy-noise must not be negative, got -0.2"),
        (["--noise-clip", "-1"], "--noise-clip must not be negative, got -1.0"),
        (["--num-critics", "0"], "--num-critics must be at least 1, got 0"),
        (
            ["--exploration-noise", "0", "--exploration-noise-final", "0.1"],
            "--exploration-noise-final decays the exploration noise: --exploration-noise must be positive",
        ),
    ],
    "sac_continuous.py": [
        (["--target-network-frequency", "0"], "--target-network-frequency must be at least 1, got 0"),
        (["--no-autotune", "--alpha", "-0.1"], "--alpha must not be negative, got -0.1"),
        (["--num-critics", "0"], "--num-critics must be at least 1, got 0"),
    ],
}
CASES = [(script, flags, message) for script in SCRIPTS for flags, message in BAD_FLAGS + OWN_BAD_FLAGS[script]]


@pytest.mark.parametrize(("script", "flags", "message"), CASES, ids=[f"{s} {' '.join(f)}" for s, f, _ in CASES])
def test_bad_input_message(script, flags, message, capsys, tmp_path):
    import toy_envs  # noqa: F401  (registers toy_envs:Unbounded-v0 in this process)

    with pytest.raises(SystemExit) as exit_info:
        load_script(script).main(flags)
    assert exit_info.value.code == 2
    error = capsys.readouterr().err
    assert error.startswith(f"{script}: error: ") and error.count("\n") == 1, error
    assert message in error
    assert not (tmp_path / "runs").exists()


def refused(script: str, flags: list[str], capsys) -> str:
    """Run the script's `main` in this process on bad input: it exits with status 2 and one line on stderr."""
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_info:
        load_script(script).main(flags)
    error = capsys.readouterr().err
    assert exit_info.value.code == 2 and error.startswith(f"{script}: error: ") and error.count("\n") == 1, error
    return error


# In a real process: exit status 2 and one line, with nothing above it (Python's and the libraries' warnings
# show there, not in a test's process). Each refusal once, on each script in turn: every message is checked on
# every script in this process above.
REAL_PROCESS = [
    ("ddpg_continuous.py", ["--env-id", "NoSuchEnv-v0"]),
    ("td3_continuous.py", ["--env-id", "CartPole-v1"]),
    ("sac_continuous.py", ["--batch-size", "300", "--buffer-size", "200"]),
    ("ddpg_continuous.py", ["--num-envs", "0"]),
]


@pytest.mark.slow
@pytest.mark.parametrize(("script", "flags"), REAL_PROCESS, ids=[f"{s} {' '.join(f)}" for s, f in REAL_PROCESS])
def test_bad_input_in_a_real_process(script, flags, tmp_path):
    result = run_script(script, *flags, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith(f"{script}: error: ") and result.stderr.count("\n") == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "runs").exists()


# Inputs that reach further before they can be refused: every one still ends in one line, exit 2, nothing written.
MORE_BAD_FLAGS = [
    (["--env-id", "Hopper-v3"], "cannot make --env-id 'Hopper-v3'"),
    (["--env-id", ":Pendulum-v1"], "cannot make --env-id ':Pendulum-v1'"),
    (["--env-id", "toy_envs:Raises-v0"], "cannot make --env-id 'toy_envs:Raises-v0' (the constructor fails)"),
    # Observations that do not have the shape of the observation space: numpy's error inside the vector env.
    (["--env-id", "toy_envs:WrongObservationShape-v0"], "toy_envs:WrongObservationShape-v0 fails in its first step"),
    (["--env-id", "toy_envs:MatrixAction-v0"], "has actions shaped (2, 2)"),
    (["--env-id", "toy_envs:ScalarAction-v0"], "has actions shaped ()"),
    (["--env-id", "toy_envs:NoAction-v0"], "has actions shaped (0,)"),
    (["--env-id", "toy_envs:SequenceObservation-v0"], "cannot make --env-id 'toy_envs:SequenceObservation-v0'"),
    (["--env-id", "Pendulum-v1", "--buffer-size", "10000000000000"], "the buffer and networks need"),
    (["--env-id", "Pendulum-v1", "--hidden-sizes", "1000000000", "1000000000"], "the buffer and networks need"),
    (["--env-id", "Pendulum-v1", "--num-envs", "1000000000"], "--num-envs (1000000000) must be at most --buffer-size"),
    (["--env-id", "Pendulum-v1", "--learning-rate", "-1"], "--learning-rate must not be negative"),
    (["--env-id", "Pendulum-v1", "--exploration-noise", "nan"], "--exploration-noise must be a finite number"),
    (["--env-id", "Pendulum-v1", "--seed", "4294967296"], "--seed must be between 0 and 2**31 - 1"),
    (["--env-id", "Pendulum-v1", "--render"], "--render shows the episodes of --eval-only"),
    (["--env-id", "toy_envs:Counter-v0", "--capture-video"], "toy_envs:Counter-v0 fails in its first step or frame"),
    (["--resume", "notes.txt"], "cannot load notes.txt: not a checkpoint or model of this script"),
    (["--eval-only", "--checkpoint", "notes.txt"], "cannot load notes.txt: not a checkpoint or model of this script"),
]
# Those whose refusal follows warnings of gymnasium, MuJoCo or torch, which the scripts silence: in a real process.
WARNED = {"Hopper-v3", "toy_envs:Raises-v0", "toy_envs:WrongObservationShape-v0", "--resume"}


@pytest.mark.parametrize(("flags", "message"), MORE_BAD_FLAGS, ids=[" ".join(f) for f, _ in MORE_BAD_FLAGS])
def test_more_bad_input(flags, message, tmp_path, capsys):
    """One script (TD3: the shared run control is the same text in all three)."""
    import toy_envs  # noqa: F401  (registers the toy environments in this process)

    (tmp_path / "notes.txt").write_text("not a checkpoint\n")
    assert message in refused("td3_continuous.py", flags, capsys)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["notes.txt"]  # nothing written


@pytest.mark.slow
@pytest.mark.parametrize(
    ("flags", "message"),
    [case for case in MORE_BAD_FLAGS if WARNED & set(case[0])],
    ids=[" ".join(f) for f, _ in MORE_BAD_FLAGS if WARNED & set(f)],
)
def test_more_bad_input_in_a_real_process(flags, message, tmp_path):
    (tmp_path / "notes.txt").write_text("not a checkpoint\n")
    result = run_script("td3_continuous.py", *flags, cwd=tmp_path)
    assert result.returncode == 2 and message in result.stderr, result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr, result.stderr
    assert sorted(path.name for path in tmp_path.iterdir()) == ["notes.txt"]  # nothing written


@pytest.mark.parametrize("script", SCRIPTS)
def test_a_ctrl_c_before_training_ends_in_one_line(script, tmp_path):
    """A Ctrl-C while the env is made (a slow one, a download) is not a traceback: one line, the shell's status 130."""
    result = run_script(script, "--env-id", "toy_envs:Interrupted-v0", cwd=tmp_path)
    assert result.returncode == 130 and result.stderr.count("\n") == 1, result.stderr
    assert result.stderr == f"{script}: error: interrupted (Ctrl-C) before training began\n", result.stderr
    assert not list(tmp_path.iterdir())  # nothing written


def test_a_runs_path_that_is_a_file_is_refused_before_anything_is_written(tmp_path, capsys):
    (tmp_path / "runs").write_text("a file where the runs go")
    flags = ["--env-id", "Pendulum-v1", "--total-timesteps", "10", "--learning-starts", "10"]
    error = refused("td3_continuous.py", flags, capsys)
    assert "cannot write the run into runs/" in error and "(Not a directory)" in error, error
    assert (tmp_path / "runs").read_text() == "a file where the runs go"


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory) -> Path:
    """A run directory with a checkpoint at step 300 and a saved model."""
    flags = ["--env-id", "Pendulum-v1", "--total-timesteps", "300", "--learning-starts", "200", "--batch-size", "32"]
    with contextlib.chdir(tmp_path_factory.mktemp("trained")):
        result = load_script("td3_continuous.py").main(
            [*flags, "--checkpoint-frequency", "300", "--save-model", "--eval-episodes", "1"]
        )
        return Path(result["run_dir"]).resolve()


def test_a_resume_to_fewer_steps_than_done_is_refused(trained_run, capsys):
    before = (trained_run / "args.json").read_text()
    error = refused("td3_continuous.py", ["--resume", str(trained_run), "--total-timesteps", "100"], capsys)
    assert "is at step 300: --total-timesteps must be at least that" in error
    assert (trained_run / "args.json").read_text() == before


def test_a_checkpoint_that_lacks_a_field_is_refused(trained_run, tmp_path, capsys):
    (checkpoint,) = (trained_run / "checkpoints").glob("step_*.pt")
    state = torch.load(checkpoint, weights_only=True)
    del state["rng"], state["optimizers"]
    torch.save(state, tmp_path / "damaged.pt")
    error = refused("td3_continuous.py", ["--resume", str(tmp_path / "damaged.pt")], capsys)
    assert "damaged, it lacks optimizers, rng" in error, error


def test_a_checkpoint_from_before_the_newer_flags_resumes_with_their_defaults(trained_run, tmp_path, capsys):
    (checkpoint,) = (trained_run / "checkpoints").glob("step_*.pt")
    state = torch.load(checkpoint, weights_only=True)
    for name in ("cudagraphs", "save_best", "updates_per_step", "num_critics", "exploration_noise_final"):
        del state["args"][name]
    (tmp_path / "run" / "checkpoints").mkdir(parents=True)
    torch.save(state, tmp_path / "run" / "checkpoints" / checkpoint.name)
    load_script("td3_continuous.py").main(["--resume", str(tmp_path / "run"), "--total-timesteps", "350"])
    assert "resumed from" in capsys.readouterr().out
    assert json.loads((tmp_path / "run" / "args.json").read_text())["num_critics"] == 2


def test_eval_only_of_a_run_directory_finds_the_saved_model(trained_run, tmp_path, capsys):
    (trained_run / "checkpoints" / "step_000000000300.pt").rename(tmp_path / "moved.pt")  # only the model is left
    try:
        load_script("td3_continuous.py").main(["--eval-only", "--checkpoint", str(trained_run), "--eval-episodes", "1"])
    finally:
        (tmp_path / "moved.pt").rename(trained_run / "checkpoints" / "step_000000000300.pt")
    assert "Pendulum-v1: " in capsys.readouterr().out


def test_render_without_a_display_says_so(trained_run, monkeypatch, capsys):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    error = refused("td3_continuous.py", ["--eval-only", "--checkpoint", str(trained_run), "--render"], capsys)
    assert "there is no display" in error, error


@pytest.mark.slow
def test_render_shows_the_episodes_where_there_is_a_display(trained_run, tmp_path):
    # pygame draws Pendulum; SDL's dummy driver stands in for a screen.
    result = run_script("td3_continuous.py", "--eval-only", "--checkpoint", str(trained_run), "--render",
                        "--eval-episodes", "1", cwd=tmp_path, env={"DISPLAY": ":0", "SDL_VIDEODRIVER": "dummy"})  # fmt: skip
    assert result.returncode == 0 and "Pendulum-v1: " in result.stdout, result.stderr


# A full disk as the OS says it, and as torch's writer says it (in its C++ internals' words, which the user cannot act on).
DISK_FULL = [
    (OSError(errno.ENOSPC, "No space left on device"), "(No space left on device)"),
    (RuntimeError("[enforce fail at inline_container.cc:664] . unexpected pos 64 vs 0"), "(is the disk full?)"),
]


@pytest.mark.parametrize(("failure", "reason"), DISK_FULL, ids=["OSError", "torch's RuntimeError"])
def test_a_checkpoint_that_cannot_be_written_keeps_the_last_good_one(failure, reason, tmp_path, monkeypatch, capsys):
    td3 = load_script("td3_continuous.py")
    good = tmp_path / "checkpoints" / "step_000000000100.pt"
    good.parent.mkdir()
    good.write_bytes(b"the last good checkpoint")

    def full_disk(state, file):
        file.write(b"half a checkpoint")
        raise failure

    monkeypatch.setattr(td3.torch, "save", full_disk)
    with pytest.raises(SystemExit) as exit_info:
        td3.write_checkpoint(str(tmp_path), {}, keep=3, name="step_000000000200")
    assert exit_info.value.code == 2
    error = capsys.readouterr().err
    assert f"{reason}; the earlier checkpoints are intact" in error and error.count("\n") == 1
    assert "enforce fail" not in error
    assert error.strip().endswith(f"make room, then python td3_continuous.py --resume {tmp_path}")
    assert sorted(path.name for path in good.parent.iterdir()) == [good.name]  # no .tmp left behind


def test_a_choice_outside_its_list_is_refused_by_the_parser(capsys, tmp_path):
    """`--critic-action-layer` takes 1 or 2 (a Literal): tyro refuses 3 with its own message and exit 2."""
    with pytest.raises(SystemExit) as exit_info:
        load_script("ddpg_continuous.py").main(["--critic-action-layer", "3"])
    assert exit_info.value.code == 2 and "critic-action-layer" in capsys.readouterr().err
    assert not (tmp_path / "runs").exists()


def test_a_zero_learning_rate_is_accepted_with_one_warning(capsys, tmp_path, monkeypatch):
    """A zero learning rate is odd but legitimate (it freezes a network): one warning line, then the run."""
    monkeypatch.chdir(tmp_path)
    td3 = load_script("td3_continuous.py")
    flags = ["--env-id", "Pendulum-v1", "--total-timesteps", "300", "--learning-starts", "100", "--batch-size", "32"]
    result = td3.main([*flags, "--policy-lr", "0"])
    warnings = [line for line in capsys.readouterr().err.splitlines() if "warning" in line]
    assert warnings == ["td3_continuous.py: warning: the actor learning rate is 0: no learning"]
    torch.manual_seed(1)  # the actor as `main` made it, from the same seed: still the same weights
    fresh = td3.make_agent(result["args"], 3, np.array([-2.0]), np.array([2.0]), torch.device("cpu"))
    for trained, initial in zip(result["agent"].actor.parameters(), fresh.actor.parameters(), strict=True):
        assert torch.equal(trained, initial)


def test_a_budget_within_the_random_phase_is_accepted_with_one_warning(capsys):
    """--learning-starts above --total-timesteps: no update ever happens, which a user rarely means."""
    flags = ["--env-id", "Pendulum-v1", "--total-timesteps", "50", "--learning-starts", "100", "--eval-frequency", "0"]
    assert load_script("td3_continuous.py").main(flags)["buffer"].size == 50
    warnings = [line for line in capsys.readouterr().err.splitlines() if "warning" in line]
    assert warnings == ["td3_continuous.py: warning: --learning-starts is above --total-timesteps: no learning"]
