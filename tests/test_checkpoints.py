"""Long runs: checkpoints, resume, signals, safe loading, evaluation, videos, divergence, tracking."""

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
import toy_envs  # noqa: F401  (registers the toy environments)
from helpers import ROOT, SCRIPTS, check_ok, load_script, only_run_dir, read_scalars, run_script, script_environment

SHORT = ["--env-id", "Pendulum-v1", "--learning-starts", "200", "--batch-size", "64", "--no-cuda"]


def checkpoint_names(run_dir) -> list[str]:
    return sorted(path.name for path in (Path(run_dir) / "checkpoints").iterdir())


def start_script(script: str, *flags: str, cwd: Path) -> subprocess.Popen:
    command = [sys.executable, str(ROOT / script), *flags]
    return subprocess.Popen(
        command, cwd=cwd, env=script_environment(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def wait_for_checkpoint(cwd: Path, step: int, process: subprocess.Popen, timeout: float = 300) -> Path:
    deadline = time.time() + timeout
    while time.time() < deadline:
        found = list(cwd.glob(f"runs/*/checkpoints/step_{step:012d}.pt"))
        if found:
            return found[0].parent.parent
        assert process.poll() is None, process.communicate()
        time.sleep(0.2)
    raise TimeoutError(f"no checkpoint of step {step}")


@pytest.mark.parametrize("script", SCRIPTS)
def test_checkpoints_hold_the_training_state_and_only_the_last_ones_are_kept(script):
    flags = [*SHORT, "--total-timesteps", "700", "--checkpoint-frequency", "200", "--checkpoint-keep", "2"]
    result = load_script(script).main(flags)
    assert checkpoint_names(result["run_dir"]) == ["step_000000000600.pt", "step_000000000700.pt"]
    state = torch.load(Path(result["run_dir"]) / "checkpoints" / "step_000000000700.pt", weights_only=True)
    assert state["global_step"] == 700 and state["critic_updates"] == 501  # from step 200 on
    assert {"actor", "critic"} <= set(state["networks"]) and state["optimizers"]
    assert {"python", "numpy", "torch", "action_space"} <= set(state["rng"])
    assert state["buffer"]["size"] == 700 and len(state["buffer"]["obs"]) == 700
    assert len(state["recent_returns"]) == 3  # Pendulum's 200-step episodes


def test_checkpoints_without_the_buffer():
    result = load_script("td3_continuous.py").main(
        [*SHORT, "--total-timesteps", "300", "--checkpoint-frequency", "300", "--no-checkpoint-buffer"]
    )
    state = torch.load(Path(result["run_dir"]) / "checkpoints" / "step_000000000300.pt", weights_only=True)
    assert state["buffer"] is None


@pytest.mark.parametrize("script", SCRIPTS)
def test_a_crash_while_writing_leaves_the_previous_checkpoint_whole(script, tmp_path, monkeypatch, capsys):
    algo = load_script(script)
    model = {"format": algo.CHECKPOINT_FORMAT, "args": {}, "obs_dim": 3, "action_dim": 1, "networks": {}}
    first = algo.write_checkpoint(str(tmp_path), model | {"weights": torch.ones(3)}, 3, "step_000000000100")

    def crash(state, file):
        file.write(b"half a checkpoint")
        raise OSError("disk full")

    # A write that fails (a full disk) ends the run in one line, naming the last good checkpoint, and leaves
    # no half-written file.
    with monkeypatch.context() as patched:
        patched.setattr(torch, "save", crash)
        with pytest.raises(SystemExit) as exit_info:
            algo.write_checkpoint(str(tmp_path), model | {"weights": torch.zeros(3)}, 3, "step_000000000200")
    assert exit_info.value.code == 2
    error = capsys.readouterr().err
    assert error.startswith(f"{script}: error: cannot write ") and error.count("\n") == 1, error
    assert f"(disk full); the earlier checkpoints are intact: make room, then python {script} --resume" in error
    assert checkpoint_names(tmp_path) == ["step_000000000100.pt"]
    # A process killed while writing leaves its temporary file: it is never taken for a checkpoint.
    (tmp_path / "checkpoints" / "step_000000000200.pt.tmp").write_bytes(b"half a checkpoint")
    assert algo.read_checkpoint(str(tmp_path))[1] == first
    assert torch.equal(torch.load(first, weights_only=True)["weights"], torch.ones(3))


@pytest.mark.slow
@pytest.mark.parametrize("script", SCRIPTS)
def test_a_killed_run_resumes_where_its_checkpoint_left_it(script, tmp_path, capsys):
    process = start_script(script, *SHORT, "--total-timesteps", "1200", "--checkpoint-frequency", "400", cwd=tmp_path)
    run_dir = wait_for_checkpoint(tmp_path, 400, process)
    time.sleep(1.0)  # let it log past the checkpoint: those steps must not appear twice
    process.send_signal(signal.SIGKILL)
    process.communicate()
    latest = max((run_dir / "checkpoints").glob("step_*.pt"))
    saved = torch.load(latest, weights_only=True)

    # Resumed to the checkpoint's own step, nothing trains: the state is the checkpoint's.
    algo = load_script(script)
    resumed = algo.main(["--resume", str(run_dir), "--total-timesteps", str(saved["global_step"])])
    for name in ("actor", "critic"):
        for key, value in getattr(resumed["agent"], name).state_dict().items():
            assert torch.equal(value, saved["networks"][name][key]), (name, key)
    buffer = resumed["buffer"]
    assert (buffer.size, buffer.position) == (saved["buffer"]["size"], saved["buffer"]["position"])
    for field in buffer.FIELDS:
        assert torch.equal(getattr(buffer, field)[: buffer.size], saved["buffer"][field]), field

    # Resumed again, it finishes the run in the same directory and log.
    capsys.readouterr()
    algo.main(["--resume", str(run_dir)])
    assert f"resumed from {latest}" in capsys.readouterr().out
    assert only_run_dir(tmp_path) == run_dir
    assert checkpoint_names(run_dir)[-1] == "step_000000001200.pt"
    scalars = read_scalars(run_dir)
    # Every 100 updates from the first (at step 200): no step missing, none twice.
    assert [step for step, _ in scalars["losses/qf_loss"]] == list(range(299, 1200, 100))
    # A resumed run starts a new episode at its checkpoint's step (a multiple of Pendulum's 200 steps here).
    episode_steps = [step for step, _ in scalars["charts/episodic_return"]]
    assert episode_steps == sorted(set(episode_steps)) and episode_steps[-1] == 1200


@pytest.mark.parametrize("script", SCRIPTS)
def test_resuming_with_other_algorithm_flags_is_refused(script, capsys):
    algo = load_script(script)
    result = algo.main([*SHORT, "--total-timesteps", "300", "--checkpoint-frequency", "300"])
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_info:
        algo.main(["--resume", result["run_dir"], "--gamma", "0.5", "--batch-size", "32", "--total-timesteps", "900"])
    assert exit_info.value.code == 2
    error = capsys.readouterr().err
    assert "other values of --batch-size, --gamma" in error or "other values of --gamma, --batch-size" in error


# Each stop request once, each on another script: their run control is the same text (test_repository.py).
@pytest.mark.slow
@pytest.mark.parametrize(
    ("script", "signals"),
    [
        ("ddpg_continuous.py", [signal.SIGINT]),
        ("td3_continuous.py", [signal.SIGTERM]),
        ("sac_continuous.py", [signal.SIGINT, signal.SIGTERM]),  # Ctrl-C to a group, and a runner, at once
    ],
    ids=["SIGINT", "SIGTERM", "SIGINT and SIGTERM at once"],
)
def test_a_signal_stops_the_run_with_a_checkpoint_and_says_how_to_resume(script, signals, tmp_path):
    flags = [*SHORT, "--total-timesteps", "100000", "--checkpoint-frequency", "300"]
    process = start_script(script, *flags, cwd=tmp_path)
    run_dir = wait_for_checkpoint(tmp_path, 300, process)
    for signum in signals:
        process.send_signal(signum)
    signum = signals[0]
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 128 + signum, stderr[-3000:]
    assert "Traceback" not in stderr
    assert f"resume with: python {script} --resume {run_dir.relative_to(tmp_path)}" in stdout
    stopped_at = int(re.search(r"stopped at step ([\d,]+)", stdout).group(1).replace(",", ""))
    assert checkpoint_names(run_dir)[-1] == f"step_{stopped_at:012d}.pt"
    assert read_scalars(run_dir)["charts/episodic_return"]  # the log was flushed


def evil_file(path: Path, marker: Path, script: str) -> None:
    """A file that runs a shell command when unpickled without restriction."""

    class Exploit:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    torch.save({"format": load_script(script).CHECKPOINT_FORMAT, "payload": Exploit()}, path)


@pytest.mark.parametrize("script", SCRIPTS)
def test_files_that_are_not_ours_or_damaged_or_malicious_are_refused_clearly(script, tmp_path, capsys):
    algo = load_script(script)
    trained = algo.main(
        [*SHORT, "--total-timesteps", "300", "--checkpoint-frequency", "300", "--save-model", "--eval-episodes", "1"]
    )
    run_dir = Path(trained["run_dir"])
    checkpoint = run_dir / "checkpoints" / "step_000000000300.pt"
    model = run_dir / f"{script[:-3]}.pt"
    evil, truncated, foreign = tmp_path / "evil.pt", tmp_path / "truncated.pt", tmp_path / "foreign.pt"
    marker = tmp_path / "the-exploit-ran"
    evil_file(evil, marker, script)
    truncated.write_bytes(checkpoint.read_bytes()[: checkpoint.stat().st_size // 2])
    torch.save({"weights": torch.ones(2)}, foreign)
    version_1 = tmp_path / "version_1.pt"  # the format before the scripts' restructuring
    torch.save(torch.load(checkpoint, weights_only=True) | {"format": f"{script} v1"}, version_1)
    older = tmp_path / "older.pt"  # written by a version of the script with a flag that no longer exists
    state = torch.load(checkpoint, weights_only=True)
    state["args"]["removed_flag"] = 1
    torch.save(state, older)
    (tmp_path / "empty_run").mkdir()
    cases = [
        (["--resume", str(evil)], f"cannot load {evil}: not a checkpoint or model of this script, or damaged"),
        (["--eval-only", "--checkpoint", str(evil)], f"cannot load {evil}"),
        (
            ["--resume", str(truncated)],
            f"cannot load {truncated}: not a checkpoint or model of this script, or damaged",
        ),
        (["--resume", str(foreign)], f"cannot load {foreign}: it was not written by this version of {script}"),
        (["--resume", str(version_1)], f"cannot load {version_1}: it was not written by this version of {script}"),
        (["--resume", str(model)], f"{model} is a saved model, not a training checkpoint"),
        (
            ["--resume", str(older)],
            f"cannot load {older}: another script or version wrote it, with flags this one lacks: ['removed_flag']",
        ),
        (["--resume", str(tmp_path / "nothing.pt")], f"no such checkpoint: '{tmp_path / 'nothing.pt'}'"),
        (["--resume", str(tmp_path / "empty_run")], "holds no checkpoints"),
        (["--eval-only"], "--eval-only evaluates --checkpoint PATH (a checkpoint, a saved model or a run directory)"),
        (["--checkpoint", str(model)], "--eval-only evaluates --checkpoint PATH (a checkpoint, a saved model"),
        (["--eval-only", "--checkpoint", str(model), "--resume", str(checkpoint)], "give one of them"),
        (
            ["--eval-only", "--checkpoint", str(model), "--env-id", "Hopper-v4"],
            "the checkpoint is for observations of size 3 and actions of size 1; Hopper-v4 has 11 and 3",
        ),
    ]
    capsys.readouterr()
    for flags, message in cases:
        with pytest.raises(SystemExit) as exit_info:
            algo.main(flags)
        error = capsys.readouterr().err
        assert exit_info.value.code == 2, flags
        assert error.startswith(f"{script}: error: ") and error.count("\n") == 1, error
        assert message in error, (flags, error)
    assert not marker.exists()


@pytest.mark.parametrize("script", SCRIPTS)
def test_evaluation_during_training_and_of_saved_files(script, capsys):
    algo = load_script(script)
    result = algo.main([*SHORT, "--total-timesteps", "600", "--eval-frequency", "200", "--eval-episodes", "2"])
    evaluations = read_scalars(result["run_dir"])["eval/episodic_return"]
    assert [step for step, _ in evaluations] == [200, 400, 600]
    assert all(-2000 < value <= 0 for _, value in evaluations)
    saved = algo.main([*SHORT, "--total-timesteps", "300", "--save-model", "--checkpoint-frequency", "300"])
    capsys.readouterr()
    for target in (Path(saved["run_dir"]) / f"{script[:-3]}.pt", saved["run_dir"]):  # a model, a run directory
        assert algo.main(["--eval-only", "--checkpoint", str(target), "--eval-episodes", "3"]) is None
        assert re.search(r"Pendulum-v1: -?\d+\.\d \+- \d+\.\d over 3 episodes", capsys.readouterr().out)
    # A model saved by a resumed run (its flags include --resume) is evaluated, not resumed.
    resumed = algo.main(["--resume", saved["run_dir"], "--total-timesteps", "400", "--save-model"])
    capsys.readouterr()
    assert algo.main(["--eval-only", "--checkpoint", str(Path(resumed["run_dir"]) / f"{script[:-3]}.pt")]) is None
    assert re.search(r"Pendulum-v1: -?\d+\.\d \+- \d+\.\d over 10 episodes", capsys.readouterr().out)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("script", "env_id"),
    [("td3_continuous.py", "Hopper-v4"), ("sac_continuous.py", "Pendulum-v1"), ("ddpg_continuous.py", "Hopper-v4")],
)
def test_videos_of_training_and_of_evaluation(script, env_id, tmp_path):
    algo = load_script(script)
    flags = ["--env-id", env_id, "--total-timesteps", "300", "--learning-starts", "250", "--batch-size", "32"]
    algo.main([*flags, "--capture-video", "--save-model", "--eval-episodes", "1"])
    run_dir = only_run_dir(tmp_path)
    videos = list((run_dir / "videos").glob("*.mp4"))
    assert videos and all(video.stat().st_size > 1000 for video in videos)
    model = run_dir / f"{script[:-3]}.pt"
    algo.main(["--eval-only", "--checkpoint", str(model), "--eval-episodes", "2", "--capture-video"])
    assert len(list((run_dir / "videos" / "eval").glob("*.mp4"))) == 2


DIVERGING = ["--env-id", "toy_envs:Diverging-v0", "--learning-starts", "100", "--total-timesteps", "600"]


@pytest.mark.parametrize("script", SCRIPTS)
def test_a_nonfinite_loss_stops_the_run_and_keeps_the_checkpoints_before_it(script, capsys):
    algo = load_script(script)
    flags = [*DIVERGING, "--batch-size", "32", "--checkpoint-frequency", "300"]
    with pytest.raises(SystemExit) as exit_info:
        algo.main(flags)
    assert exit_info.value.code == 1
    error = capsys.readouterr().err
    # The reward turns infinite after step 300: seen at the next logging of the losses (every 100 updates), and
    # blamed on the env, which gave it for a finite action.
    match = re.search(r"error: (\S+) is (nan|inf|-inf) at step (\d+): the env returned a non-finite value; "
                      r"the last checkpoint before it: (\S+) \(--no-stop-on-nonfinite trains on\)", error)  # fmt: skip
    assert match and match.group(1).startswith("losses/") and 300 < int(match.group(3)) <= 500, error
    state = torch.load(match.group(4), weights_only=True)  # written at step 300, before the divergence: whole
    assert state["global_step"] == 300
    for network in state["networks"].values():  # networks' state dicts, and SAC's log_alpha tensor
        assert all(
            torch.isfinite(value).all() for value in (network.values() if isinstance(network, dict) else [network])
        )
    assert checkpoint_names(Path(match.group(4)).parent.parent) == ["step_000000000300.pt"]  # nothing after
    # --no-stop-on-nonfinite trains on.
    assert algo.main([*DIVERGING, "--batch-size", "32", "--no-stop-on-nonfinite"])["buffer"].size == 600


def test_a_diverging_training_is_told_apart_from_an_env_that_returns_nonfinite_values(capsys):
    """Pendulum's values are finite: the non-finite loss that a huge learning rate makes is training's own."""
    with pytest.raises(SystemExit) as exit_info:
        load_script("td3_continuous.py").main([*SHORT, "--learning-rate", "1e30", "--total-timesteps", "600"])
    error = capsys.readouterr().err
    assert exit_info.value.code == 1 and ": training diverged; the last checkpoint before it: none (" in error, error


@pytest.mark.parametrize(
    "optimizer",
    [
        lambda parameters, lr: torch.optim.AdamW(parameters, lr=lr),  # no `fused`: no private `found_inf`
        lambda parameters, lr: torch.optim.SGD(parameters, lr=lr),
    ],
    ids=["AdamW", "SGD"],
)
@pytest.mark.parametrize("script", SCRIPTS)
def test_the_nonfinite_guard_works_with_any_optimizer(script, optimizer, monkeypatch, capsys):
    """A researcher swaps the optimizer: the run trains, and the guard still stops a diverging one in one line."""
    algo = load_script(script)
    make_agent = algo.make_agent

    def with_other_optimizers(*args, **kwargs):
        agent = make_agent(*args, **kwargs)
        for name, value in vars(agent).items():
            if isinstance(value, torch.optim.Optimizer):
                parameters = [p for group in value.param_groups for p in group["params"]]
                setattr(agent, name, optimizer(parameters, value.param_groups[0]["lr"]))
        return agent

    monkeypatch.setattr(algo, "make_agent", with_other_optimizers)
    result = algo.main([*SHORT, "--total-timesteps", "400", "--batch-size", "32"])
    assert type(result["agent"].critic_optimizer) is not torch.optim.Adam and result["buffer"].size == 400
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_info:
        algo.main([*DIVERGING, "--batch-size", "32"])
    error = capsys.readouterr().err
    assert exit_info.value.code == 1 and "the env returned a non-finite value" in error and "Traceback" not in error


@pytest.mark.slow
def test_tracking_with_weights_and_biases_offline(tmp_path):
    pytest.importorskip("wandb")
    offline = {"WANDB_MODE": "offline", "WANDB_DIR": str(tmp_path), "WANDB_SILENT": "true"}
    result = run_script("td3_continuous.py", *SHORT, "--total-timesteps", "300", "--track", cwd=tmp_path, env=offline)
    check_ok(result)
    runs = list((tmp_path / "wandb").glob("offline-run-*"))
    assert len(runs) == 1 and list(runs[0].glob("*.wandb"))


def test_a_second_stop_request_ends_the_run_at_once_in_one_line(monkeypatch, capsys):
    """An evaluation finishes its episodes before a first request is heard; a second one, a second later, ends the
    run at once (an episode that never ends cannot hold it), in one line naming the last checkpoint, still intact."""
    algo = load_script("td3_continuous.py")
    evaluate = algo.evaluate

    def interrupted_evaluation(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(1.1)  # a second request within a second is taken for the same one (a process group's)
        os.kill(os.getpid(), signal.SIGINT)
        raise AssertionError("the second request did not end the run")

    monkeypatch.setattr(algo, "evaluate", interrupted_evaluation)
    with pytest.raises(SystemExit) as exit_info:
        algo.main([*SHORT, "--total-timesteps", "600", "--checkpoint-frequency", "200", "--eval-frequency", "300"])
    assert exit_info.value.code == 128 + signal.SIGINT
    error = capsys.readouterr().err
    message = re.fullmatch(
        r"td3_continuous.py: error: a second stop request at step 300: stopped at once; "
        r"the last checkpoint before it: (\S+) \(--resume (\S+)\)\n",
        error,
    )
    assert message and Path(message.group(1)).name == "step_000000000200.pt", error
    assert torch.load(message.group(1), weights_only=True)["global_step"] == 200  # whole
    monkeypatch.setattr(algo, "evaluate", evaluate)
    assert algo.main(["--resume", message.group(2), "--total-timesteps", "400"])["buffer"].size == 400


@pytest.mark.parametrize("script", SCRIPTS)
def test_a_stop_request_leaves_the_run_resumable_without_checkpoint_frequency(script, monkeypatch, capsys):
    """Ctrl-C (or SIGTERM) always writes a checkpoint: a requested stop never loses the run."""
    algo = load_script(script)
    log_episodes = algo.Run.log_episodes

    def stop_at_step_300(run, infos, global_step):
        log_episodes(run, infos, global_step)
        if global_step == 300:
            os.kill(os.getpid(), signal.SIGINT)  # the handler of the run asks it to stop after this step

    monkeypatch.setattr(algo.Run, "log_episodes", stop_at_step_300)
    with pytest.raises(SystemExit) as exit_info:
        algo.main([*SHORT, "--total-timesteps", "600"])  # no --checkpoint-frequency
    assert exit_info.value.code == 128 + signal.SIGINT
    out = capsys.readouterr().out
    run_dir = re.search(r"--resume (\S+)", out).group(1)
    assert checkpoint_names(run_dir) == ["step_000000000300.pt"]
    monkeypatch.setattr(algo.Run, "log_episodes", log_episodes)
    assert algo.main(["--resume", run_dir])["buffer"].size == 600


def test_a_checkpoint_kept_elsewhere_resumes_in_a_new_run_directory(tmp_path):
    """`--resume ~/Downloads/step.pt` must not take the file's grandparent for its run directory."""
    algo = load_script("td3_continuous.py")
    trained = algo.main([*SHORT, "--total-timesteps", "300", "--checkpoint-frequency", "300"])
    kept = tmp_path / "elsewhere" / "mine.pt"
    kept.parent.mkdir()
    (Path(trained["run_dir"]) / "checkpoints" / "step_000000000300.pt").rename(kept)
    resumed = algo.main(["--resume", str(kept), "--total-timesteps", "400"])
    assert resumed["buffer"].size == 400
    assert sorted(path.name for path in tmp_path.iterdir()) == ["elsewhere", "runs"]
    assert sorted(path.name for path in kept.parent.iterdir()) == ["mine.pt"]  # nothing written beside it
    new_run = Path(resumed["run_dir"])
    assert new_run.parent == Path("runs") and new_run != Path(trained["run_dir"])
    assert read_scalars(new_run)["losses/qf_loss"][0][0] > 300  # the new directory logs from the resumed step


@pytest.mark.parametrize("script", SCRIPTS)
def test_a_resume_without_the_buffer_learns_only_once_it_is_refilled(script, monkeypatch):
    """The buffer starts empty again: no update until it holds --learning-starts transitions, which the policy's
    own exploring actions collect (a batch of copies of one transition would overfit at once)."""
    algo = load_script(script)
    trained = algo.main([*SHORT, "--total-timesteps", "300", "--checkpoint-frequency", "300", "--no-checkpoint-buffer"])
    sizes = []
    sample = algo.ReplayBuffer.sample
    monkeypatch.setattr(algo.ReplayBuffer, "sample", lambda buffer, n: sizes.append(buffer.size) or sample(buffer, n))
    resumed = algo.main(["--resume", trained["run_dir"], "--total-timesteps", "600"])
    assert resumed["buffer"].size == 300 and sizes  # the steps 301 to 600
    assert min(sizes) == 200  # --learning-starts (SHORT): the first batch comes from 200 transitions


@pytest.mark.slow
def test_a_renamed_copy_loads_the_originals_checkpoints_and_another_scripts_are_refused(tmp_path, capsys):
    """`cp td3_continuous.py my_td3.py` is a researcher's first step: the copy reads what the original wrote."""
    copy = tmp_path / "my_td3.py"
    copy.write_text((ROOT / "td3_continuous.py").read_text())
    trained = load_script("td3_continuous.py").main([*SHORT, "--total-timesteps", "300", "--save-model"])
    model = Path(trained["run_dir"]) / "td3_continuous.pt"
    result = run_script(str(copy), "--eval-only", "--checkpoint", str(model), "--eval-episodes", "1", cwd=tmp_path)
    check_ok(result)
    assert "Pendulum-v1: " in result.stdout
    # Another algorithm's file is refused by its flags, in one line.
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_info:
        load_script("sac_continuous.py").main(["--eval-only", "--checkpoint", str(model)])
    error = capsys.readouterr().err
    assert exit_info.value.code == 2 and error.count("\n") == 1
    assert "another script or version wrote it, with flags this one lacks: ['exploration_noise'" in error


@pytest.mark.parametrize("script", SCRIPTS)
def test_a_resumed_run_keeps_its_own_optimizer_settings(script):
    """A run trained without --cudagraphs and resumed with it: the optimizers take the saved moments but keep
    this run's settings (`capturable`, which recording their step in a CUDA graph needs). Checked on the CPU."""
    algo = load_script(script)
    low, high = np.array([-1.0, 0.0]), np.array([1.0, 3.0])
    trained = algo.make_agent(algo.Args(), 3, low, high, torch.device("cpu"))
    resumed = algo.make_agent(algo.Args(cudagraphs=True), 3, low, high, torch.device("cpu"))
    algo.load_state(resumed, algo.state_of(trained, optimizers=True))
    for name, optimizer in vars(resumed).items():
        if isinstance(optimizer, torch.optim.Optimizer):
            assert all(group["capturable"] for group in optimizer.param_groups), name
            assert not any(group["capturable"] for group in getattr(trained, name).param_groups), name
