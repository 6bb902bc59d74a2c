"""Long runs: checkpoints, resume, signals, safe loading, evaluation, videos, divergence, tracking."""

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

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
    first = algo.write_checkpoint(str(tmp_path), 100, {"weights": torch.ones(3)}, keep=3)

    def crash(state, file):
        file.write(b"half a checkpoint")
        raise OSError("disk full")

    # A write that fails (a full disk) ends the run in one line, naming the last good checkpoint, and leaves
    # no half-written file.
    with monkeypatch.context() as patched:
        patched.setattr(torch, "save", crash)
        with pytest.raises(SystemExit) as exit_info:
            algo.write_checkpoint(str(tmp_path), 200, {"weights": torch.zeros(3)}, keep=3)
    assert exit_info.value.code == 2
    error = capsys.readouterr().err
    assert error.startswith(f"{script}: error: cannot write ") and error.count("\n") == 1, error
    assert f"(disk full); the last good checkpoint is {first}" in error
    assert checkpoint_names(tmp_path) == ["step_000000000100.pt"]
    # A process killed while writing leaves its temporary file: it is never taken for a checkpoint.
    (tmp_path / "checkpoints" / "step_000000000200.pt.tmp").write_bytes(b"half a checkpoint")
    assert algo.find_checkpoint(str(tmp_path)) == first
    assert torch.equal(torch.load(first, weights_only=True)["weights"], torch.ones(3))


@pytest.mark.parametrize("script", SCRIPTS)
def test_a_killed_run_resumes_where_its_checkpoint_left_it(script, tmp_path):
    process = start_script(script, *SHORT, "--total-timesteps", "1600", "--checkpoint-frequency", "400", cwd=tmp_path)
    run_dir = wait_for_checkpoint(tmp_path, 800, process)
    time.sleep(1.0)  # let it log past the checkpoint: those steps must not appear twice
    process.send_signal(signal.SIGKILL)
    process.communicate()
    latest = max((run_dir / "checkpoints").glob("step_*.pt"))
    saved = torch.load(latest, weights_only=True)

    # Resumed to the checkpoint's own step, nothing trains: the state is the checkpoint's.
    resumed = load_script(script).main(["--resume", str(run_dir), "--total-timesteps", str(saved["global_step"])])
    for name in ("actor", "critic"):
        for key, value in getattr(resumed["agent"], name).state_dict().items():
            assert torch.equal(value, saved["networks"][name][key]), (name, key)
    buffer = resumed["buffer"]
    assert (buffer.size, buffer.position) == (saved["buffer"]["size"], saved["buffer"]["position"])
    for field in buffer.FIELDS:
        assert torch.equal(getattr(buffer, field)[: buffer.size], saved["buffer"][field]), field

    # Resumed in a new process, it finishes the run in the same directory and log.
    result = run_script(script, "--resume", str(run_dir), cwd=tmp_path)
    check_ok(result)
    assert f"resumed from {latest}" in result.stdout
    assert only_run_dir(tmp_path) == run_dir
    assert checkpoint_names(run_dir)[-1] == "step_000000001600.pt"
    scalars = read_scalars(run_dir)
    # Every 100 updates from the first (at step 200): no step missing, none twice.
    assert [step for step, _ in scalars["losses/qf_loss"]] == list(range(299, 1600, 100))
    episode_steps = [step for step, _ in scalars["charts/episodic_return"]]
    assert episode_steps == sorted(set(episode_steps)) and episode_steps[-1] == 1600


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


@pytest.mark.parametrize("script", SCRIPTS)
@pytest.mark.parametrize(
    "signals",
    [[signal.SIGINT], [signal.SIGTERM], [signal.SIGINT, signal.SIGTERM]],
    ids=["SIGINT", "SIGTERM", "SIGINT and SIGTERM at once"],  # the last: Ctrl-C to a group, and a runner
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
        (["--resume", str(older)], f"{older} was written by another version of {script}"),
        (["--resume", str(tmp_path / "nothing.pt")], f"no such checkpoint: {tmp_path / 'nothing.pt'}"),
        (["--resume", str(tmp_path / "empty_run")], "holds no checkpoints"),
        (["--eval-only"], "--eval-only needs --checkpoint PATH"),
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


@pytest.mark.parametrize(
    ("script", "env_id"),
    [("td3_continuous.py", "Hopper-v4"), ("sac_continuous.py", "Pendulum-v1"), ("ddpg_continuous.py", "Hopper-v4")],
)
def test_videos_of_training_and_of_evaluation(script, env_id, tmp_path):
    flags = ["--env-id", env_id, "--total-timesteps", "300", "--learning-starts", "250", "--batch-size", "32"]
    result = run_script(script, *flags, "--capture-video", "--save-model", "--eval-episodes", "1", cwd=tmp_path)
    check_ok(result)
    run_dir = only_run_dir(tmp_path)
    videos = list((run_dir / "videos").glob("*.mp4"))
    assert videos and all(video.stat().st_size > 1000 for video in videos)
    model = run_dir / f"{script[:-3]}.pt"
    result = run_script(
        script, "--eval-only", "--checkpoint", str(model), "--eval-episodes", "2", "--capture-video", cwd=tmp_path
    )
    check_ok(result)
    assert len(list((run_dir / "videos" / "eval").glob("*.mp4"))) == 2


@pytest.mark.parametrize("script", SCRIPTS)
def test_a_nonfinite_loss_stops_the_run_after_checkpointing_the_last_good_state(script, capsys):
    algo = load_script(script)
    flags = ["--env-id", "toy_envs:Diverging-v0", "--learning-starts", "100", "--total-timesteps", "600"]
    with pytest.raises(SystemExit) as exit_info:
        algo.main([*flags, "--batch-size", "32"])
    assert exit_info.value.code == 1
    error = capsys.readouterr().err
    # The steps with non-finite gradients were skipped on the device and seen when the losses were logged.
    match = re.search(
        r"error: (\w+) has non-finite gradients \((\d+) steps skipped\) at step (\d+); "
        r"the last good state is in (\S+) \(",
        error,
    )
    assert match and match.group(1) in ("qf_loss", "actor_loss", "alpha_loss"), error
    assert int(match.group(2)) >= 1 and int(match.group(3)) > 300
    state = torch.load(match.group(4), weights_only=True)
    for network in state["networks"].values():  # networks' state dicts, and SAC's log_alpha tensor
        assert all(
            torch.isfinite(value).all() for value in (network.values() if isinstance(network, dict) else [network])
        )
    # --no-stop-on-nonfinite trains on.
    assert algo.main([*flags, "--batch-size", "32", "--no-stop-on-nonfinite"])["buffer"].size == 600


def test_tracking_with_weights_and_biases_offline(tmp_path):
    pytest.importorskip("wandb")
    offline = {"WANDB_MODE": "offline", "WANDB_DIR": str(tmp_path), "WANDB_SILENT": "true"}
    result = run_script("td3_continuous.py", *SHORT, "--total-timesteps", "300", "--track", cwd=tmp_path, env=offline)
    check_ok(result)
    runs = list((tmp_path / "wandb").glob("offline-run-*"))
    assert len(runs) == 1 and list(runs[0].glob("*.wandb"))
