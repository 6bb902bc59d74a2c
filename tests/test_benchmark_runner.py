"""benchmarks/run.py and benchmarks/plot.py: a tiny benchmark, killed and resumed, then plotted; the statistics."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import matplotlib.image
import numpy as np
import pytest
import run
import speed
from common import code_version, load_script, machine_description, versions
from helpers import ROOT, TESTS, script_environment
from plot import RunLog, bootstrap_interval, final_return, iqm, mean_band, recent_mean_curve, update_docs

TINY = ["--total-timesteps", "600", "--learning-starts", "200", "--batch-size", "32"]
EVALUATED = [*TINY, "--eval-frequency", "300", "--eval-episodes", "2"]
# One thread per run, as each test process has (tests/conftest.py): the runner would give a run every free core.
RUNNER = [sys.executable, str(ROOT / "benchmarks" / "run.py"), "--threads-per-run", "1"]


def runner_command(runs_dir, *flags: str) -> list[str]:
    return [
        *RUNNER, "--scripts", "td3_continuous.py", "ddpg_continuous.py", "--env-ids", "Pendulum-v1",
        "--seeds", "1", "2", "--runs-dir", str(runs_dir), "--checkpoint-frequency", "200", *flags, "--", *EVALUATED,
    ]  # fmt: skip


def call(command: list[str], timeout: float = 600) -> subprocess.CompletedProcess:
    env = script_environment()  # the toy environments importable
    return subprocess.run(command, capture_output=True, text=True, check=False, timeout=timeout, env=env)


def attempts(run_dir) -> list[dict]:
    path = run_dir / "attempts.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


@pytest.mark.slow
def test_a_killed_benchmark_resumes_without_redoing_finished_runs_and_plots(tmp_path):
    runs_dir = tmp_path / "runs"
    # In the runner's order: env by env, seed by seed.
    names = [f"Pendulum-v1__{script}__{seed}" for seed in (1, 2) for script in ("td3_continuous", "ddpg_continuous")]
    # One run at a time, so that when the second run has checkpointed the first is finished and
    # the last two have not started. Then the whole process group dies at once, like a lost machine.
    env = dict(os.environ, PYTHONPATH=str(TESTS))
    runner = subprocess.Popen(
        runner_command(runs_dir, "--workers", "1"), env=env, start_new_session=True,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    deadline = time.time() + 300
    second_checkpoints = runs_dir / names[1] / "runs"
    while not list(second_checkpoints.glob("*/checkpoints/step_*.pt")):
        assert runner.poll() is None and time.time() < deadline, runner.stdout.read()
        time.sleep(0.2)
    os.killpg(runner.pid, signal.SIGKILL)
    runner.wait()
    assert (runs_dir / names[0] / "result.json").exists()
    assert not (runs_dir / names[1] / "result.json").exists()

    result = call(runner_command(runs_dir, "--workers", "2"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "4 runs in" in result.stdout and "1 finished before, 1 to resume, 2 to start" in result.stdout
    assert "done 4/4" in result.stdout
    assert len(attempts(runs_dir / names[0])) == 1  # not redone
    killed, resumed = attempts(runs_dir / names[1])  # the killed attempt kept its record
    assert killed["returncode"] is None and killed["seconds"] >= 0 and "--resume" not in killed["command"]
    assert resumed["returncode"] == 0 and "--resume" in resumed["command"]
    for name in names:
        result_json = json.loads((runs_dir / name / "result.json").read_text())
        assert result_json["wall_time_seconds"] > 0 and result_json["script_flags"] == EVALUATED
        assert result_json["ran_on"] == [f"{machine_description()}; {versions()}"]  # where and with what
        assert result_json["commit"] == code_version(ROOT / f"{name.split('__')[1]}.py")["commit"]
        assert result_json["commit"] and isinstance(result_json["dirty"], bool)  # which code made it

    # Nothing left to do: every run is skipped.
    again = call(runner_command(runs_dir))
    assert again.returncode == 0 and "4 finished before, 0 to resume, 0 to start" in again.stdout

    plotted = call([sys.executable, str(ROOT / "benchmarks" / "plot.py"), "--runs-dir", str(runs_dir)])
    assert plotted.returncode == 0, plotted.stderr
    for figure in ("Pendulum-v1.png", "all_envs.png", "Pendulum-v1_evaluation.png", "all_envs_evaluation.png"):
        pixels = matplotlib.image.imread(runs_dir / figure)
        assert pixels.shape[0] > 200 and pixels.std() > 0.05  # a drawn figure, not a blank page
    report = (runs_dir / "results.md").read_text()
    per_task, each_run = report.split("## Across tasks")[0], report.split("## Each run")[1]
    rows = [line for line in per_task.splitlines() if line.startswith("| Pendulum-v1")]
    assert len(rows) == 2 and sum(line.startswith("| Pendulum-v1") for line in each_run.splitlines()) == 4
    assert f"- 4 runs: {machine_description()}; {versions()}" in report
    for row, script in zip(sorted(rows), ["ddpg_continuous.py", "td3_continuous.py"], strict=True):
        cells = [cell.strip() for cell in row.split("|")[1:-1]]
        assert cells[1] == f"`{script}`" and cells[2] == "2"
        mean, std = (float(x) for x in cells[3].split(" ± "))
        assert -2000 < mean < 0 and std >= 0  # Pendulum returns
        assert cells[5] == "last evaluation"
        assert cells[6].endswith(" min")


def test_a_running_attempt_keeps_its_record_up_to_date(tmp_path, monkeypatch):
    # A runner killed during an attempt leaves its last copy of the record: the time so far, exit status null.
    script = tmp_path / "sleeps_then_fails.py"
    script.write_text("import sys, time\ntime.sleep(1.0)\nsys.exit(3)\n")
    monkeypatch.setattr(run, "ATTEMPT_RECORD_SECONDS", 0.1)
    written, write_attempt = [], run.write_attempt

    def write_and_keep(*arguments, **keywords):  # every version of the record, as a killed runner would leave it
        write_attempt(*arguments, **keywords)
        written.append(attempts(tmp_path)[-1])

    monkeypatch.setattr(run, "write_attempt", write_and_keep)
    outcome = run.execute(run.Run(str(script), "Pendulum-v1", 1), str(tmp_path), [sys.executable, str(script)], [])
    assert outcome["returncode"] == 3 and not (tmp_path / "result.json").exists()
    *running, final = written
    assert len(running) >= 5 and all(record["returncode"] is None for record in running)
    seconds = [record["seconds"] for record in running]
    assert seconds[0] == 0.0 and seconds == sorted(seconds) and 0.5 < seconds[-1] <= final["seconds"]
    assert attempts(tmp_path) == [final] and final["returncode"] == 3 and final["command"][1] == str(script)


@pytest.mark.slow
def test_a_larger_budget_extends_finished_runs(tmp_path):
    runs_dir = tmp_path / "runs"
    command = [*RUNNER, "--scripts", "td3_continuous.py", "--env-ids", "Pendulum-v1", "--seeds", "1"]
    command += ["--runs-dir", str(runs_dir), "--checkpoint-frequency", "200", "--"]
    first = call([*command, *TINY])
    assert first.returncode == 0, first.stdout + first.stderr
    longer = [flag if flag != "600" else "800" for flag in TINY]
    second = call([*command, *longer])
    assert second.returncode == 0 and "1 to resume" in second.stdout, second.stdout + second.stderr
    (run_attempts,) = [attempts(runs_dir / "Pendulum-v1__td3_continuous__1")]
    assert len(run_attempts) == 2 and "--resume" in run_attempts[1]["command"]
    # Other flags than the budget: refused, with what to do.
    other = call([*command, *TINY, "--gamma", "0.9"])
    assert other.returncode == 2 and "other script flags" in other.stderr and "Traceback" not in other.stderr


@pytest.mark.slow
def test_a_failed_run_is_reported_and_the_others_go_on(tmp_path):
    runs_dir = tmp_path / "runs"
    command = [*RUNNER, "--scripts", "td3_continuous.py", "--env-ids", "toy_envs:Diverging-v0", "Pendulum-v1"]
    command += ["--seeds", "1", "--runs-dir", str(runs_dir), "--", *TINY]
    result = call(command)
    assert result.returncode == 1
    failed = "toy_envs_Diverging-v0__td3_continuous__1"  # its reward turns infinite: the run stops, exit status 1
    assert f"FAILED {failed} (exit 1); log: " in result.stdout
    assert "the env returned a non-finite value" in (runs_dir / failed / "log.txt").read_text()
    assert (runs_dir / "Pendulum-v1__td3_continuous__1" / "result.json").exists()


def test_flags_the_runner_owns_are_refused_after_the_separator(tmp_path):
    result = call([*RUNNER, "--runs-dir", str(tmp_path), "--", "--seed", "3"])
    assert result.returncode == 2 and "give --seed to the runner" in result.stderr


@pytest.mark.slow
def test_ray_backend_runs_a_tiny_benchmark(tmp_path):
    pytest.importorskip("ray")
    runs_dir = tmp_path / "runs"
    command = [*RUNNER, "--backend", "ray", "--scripts", "sac_continuous.py", "--env-ids", "Pendulum-v1"]
    command += ["--seeds", "1", "2", "--runs-dir", str(runs_dir), "--", *TINY]
    result = call(command)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    for seed in (1, 2):
        assert (runs_dir / f"Pendulum-v1__sac_continuous__{seed}" / "result.json").exists()


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--seeds", "-1"], "--seeds must not be negative"),
        (["--seeds"], "--seeds is empty"),
        (["--scripts"], "--scripts is empty"),
        (["--env-ids"], "--env-ids is empty"),
        (["--scripts", "README.md"], "is not one of the algorithm scripts"),
        (["--checkpoint-frequency", "-1"], "--checkpoint-frequency must not be negative"),
        (["--threads-per-run", "-1"], "--threads-per-run must be at least 1"),
        (["--", "--seed=7"], "give --seed to the runner"),
        (["--", "--env-id=Hopper-v4"], "give --env-id to the runner"),
        (["--", "--threads", "2"], "give --threads to the runner"),
        (["--", "--gamma", "2"], "and --gamma in [0, 1], got 0.005 and 2.0"),
        (["--", "--no-such-flag"], "rejects the flags after `--`"),
        (["--", "--total-timesteps", "-5"], "must not be negative"),
        (["--", "--eval-only", "--checkpoint", "model.pt"], "--checkpoint, --eval-only after `--`"),
        (["--", "--help"], "--help after `--`"),
        (["--seeds", "1", "1"], "--seeds names 1 more than once"),
        (["--env-ids", "Pendulum-v1", "Pendulum-v1"], "--env-ids names Pendulum-v1 more than once"),
        (
            ["--env-ids", "Pendulum-v1", "NoSuchEnv-v0"],
            "cannot make 'NoSuchEnv-v0' (Environment `NoSuchEnv` doesn't exist",
        ),
        (["--env-ids", "CartPole-v1"], "needs a continuous (Box) one"),
    ],
)
def test_bad_runner_input_ends_in_one_line_before_any_run(tmp_path, flags, message, capsys):
    runs_dir = tmp_path / "runs"
    with pytest.raises(SystemExit) as exit_info:
        run.main(["--runs-dir", str(runs_dir), *flags])
    error = capsys.readouterr().err
    assert exit_info.value.code == 2 and message in error, error
    assert len(error.strip().splitlines()) == 1 and not runs_dir.exists()


def test_a_runs_dir_that_is_a_file_is_refused(tmp_path, capsys):
    (tmp_path / "file").write_text("not a directory")
    with pytest.raises(SystemExit) as exit_info:
        run.main(["--runs-dir", str(tmp_path / "file" / "runs")])
    assert exit_info.value.code == 2 and "is not a directory" in capsys.readouterr().err


def test_the_ray_backend_without_ray_stops_before_writing(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` now fails as if it were not installed
    runs_dir = tmp_path / "runs"
    with pytest.raises(SystemExit) as exit_info:
        run.main(["--backend", "ray", "--runs-dir", str(runs_dir), "--", *TINY])
    assert exit_info.value.code == 2 and "needs Ray" in capsys.readouterr().err
    assert not runs_dir.exists()


def test_the_help_says_that_script_flags_go_after_the_separator(capsys):
    with pytest.raises(SystemExit) as exit_info:
        run.main(["--help"])
    assert exit_info.value.code == 0 and "-- [SCRIPT FLAGS" in capsys.readouterr().out


def test_the_same_flags_in_another_order_or_spelling_are_the_same_benchmark(tmp_path):
    task = run.Run("td3_continuous.py", "Pendulum-v1", 1)
    (tmp_path / "result.json").write_text(json.dumps({"script_flags": ["--gamma", "0.9", "--batch-size", "32"]}))
    assert run.status(task, tmp_path, ["--batch-size", "32", "--gamma", "0.9"]) == "done"
    assert run.status(task, tmp_path, ["--batch-size=32", "--gamma=0.9"]) == "done"
    assert (
        run.status(task, tmp_path, ["--batch-size", "32", "--gamma", "0.9", "--total-timesteps", "2000000"]) == "extend"
    )
    assert run.status(task, tmp_path, ["--batch-size", "32", "--gamma", "0.9", "--total-timesteps", "10"]) == "conflict"
    assert run.status(task, tmp_path, ["--batch-size", "64", "--gamma", "0.9"]) == "conflict"


def test_flags_that_only_control_the_run_leave_a_finished_run_done(tmp_path):
    """The script's RUN_CONTROL_FLAGS (--no-cuda, the evaluation's) say how a run is run, not what it learns."""
    task = run.Run("td3_continuous.py", "Pendulum-v1", 1)
    (tmp_path / "result.json").write_text(json.dumps({"script_flags": TINY}))
    assert run.status(task, tmp_path, [*TINY, "--no-cuda"]) == "done"
    assert run.status(task, tmp_path, [*TINY, "--eval-frequency", "300", "--eval-episodes", "3"]) == "done"
    longer, shorter = ([flag if flag != "600" else steps for flag in TINY] for steps in ("800", "400"))
    assert run.status(task, tmp_path, [*longer, "--no-cuda", "--eval-episodes", "3"]) == "extend"
    assert run.status(task, tmp_path, [*shorter, "--no-cuda"]) == "conflict"  # a finished run is not shortened
    assert run.status(task, tmp_path, [*TINY, "--no-cuda", "--gamma", "0.9"]) == "conflict"  # another experiment


def test_runs_get_the_scripts_threads_flag(tmp_path):
    args = run.Args(runs_dir=tmp_path, workers=2, threads_per_run=None)
    command = run.prepare(run.Run("td3_continuous.py", "Pendulum-v1", 1), args, [])
    assert command[command.index("--threads") + 1] == str(max(1, (os.cpu_count() or 1) // 2))


# ---------------------------------------------------------------------------------------
# The statistics, against values worked out by hand
# ---------------------------------------------------------------------------------------
def test_iqm_drops_a_quarter_at_each_end():
    assert iqm([1, 2, 3, 4]) == 2.5  # drops 1 and 4
    assert iqm([100, 1, 7, 2, 6, 3, 5, 4]) == 4.5  # sorted 1..7, 100: keeps 3, 4, 5, 6
    assert iqm([5, 1, 9]) == 5.0  # three values: nothing to drop, the mean


def test_recent_mean_curve_averages_the_last_episodes_at_each_step():
    steps = np.array([10, 20, 30, 40])
    returns = np.array([1.0, 2.0, 3.0, 10.0])
    curve = recent_mean_curve(steps, returns, grid=np.array([5, 10, 25, 40, 100]), window=2)
    assert np.isnan(curve[0])  # no episode yet
    assert curve[1:].tolist() == [1.0, 1.5, 6.5, 6.5]


def test_bootstrap_intervals():
    rng = np.random.default_rng(0)
    assert bootstrap_interval([3.0, 3.0, 3.0], np.mean, rng) == (3.0, 3.0)
    low, high = bootstrap_interval([0.0, 1.0], np.mean, rng)
    assert (low, high) == (0.0, 1.0)  # resamples of two values: means 0, 0.5 or 1
    curves = np.array([[1.0, 2.0], [3.0, 4.0]])
    mean, low, high = mean_band(curves, rng)
    assert mean.tolist() == [2.0, 3.0] and low.tolist() == [1.0, 2.0] and high.tolist() == [3.0, 4.0]


def test_final_return_is_the_last_evaluation_else_the_last_ten_episodes():
    episodes = np.arange(1.0, 13.0)  # returns 1 .. 12
    run = RunLog("td3_continuous.py", "Pendulum-v1", 1, 60.0, episodes * 100, episodes, np.array([]), np.array([]))
    assert final_return(run) == (np.mean(episodes[2:]), "last 10 training episodes")
    run.eval_steps, run.eval_returns = np.array([500.0, 1000.0]), np.array([-7.0, -3.0])
    assert final_return(run) == (-3.0, "last evaluation")


def test_update_docs_rewrites_only_the_marked_sections(tmp_path):
    table_text = (
        "| env | script | seeds |\n|---|---|---|\n| A | `td3_continuous.py` | 3 |\n| A | `sac_continuous.py` | 3 |\n"
    )
    doc = tmp_path / "docs" / "page.md"
    doc.parent.mkdir()
    doc.write_text(
        "intro\n<!-- results: td3_continuous.py -->\nold\n<!-- end of results -->\nmiddle\n"
        "<!-- results: status -->\nold\n<!-- end of results -->\nend\n"
    )
    update_docs([doc], tmp_path / "results", table_text, "2 of 2 runs.")
    text = doc.read_text()
    assert text.startswith("intro\n<!-- results: td3_continuous.py -->\n![") and "middle\n" in text
    assert "](../results/all_envs.png)" in text  # relative to the page
    assert "| A | `td3_continuous.py` | 3 |" in text and "sac_continuous" not in text
    assert "<!-- results: status -->\n2 of 2 runs.\n<!-- end of results -->\nend\n" in text
    assert "old" not in text
    update_docs([doc], tmp_path / "results", table_text, "2 of 2 runs.")
    assert doc.read_text() == text  # the same again: nothing accumulates
    # With a figure of the script's runs alone, its section shows that one, and the published results beside them.
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "td3_continuous.png").write_bytes(b"")
    published = {"td3_continuous.py": "**TD3 beside the published results.**\n\n| A | `td3_continuous.py` | 9 |\n"}
    update_docs([doc], tmp_path / "results", table_text, "2 of 2 runs.", published=published)
    text = doc.read_text()
    assert "](../results/td3_continuous.png)" in text and "all_envs" not in text
    assert (
        "| A | `td3_continuous.py` | 3 |\n\n**TD3 beside the published results.**\n\n| A | `td3_continuous.py` | 9 |"
        in text
    )


@pytest.mark.slow
def test_a_named_variant_runs_resumes_and_plots_under_its_name(tmp_path):
    """`NAME=SCRIPT FLAGS` in --scripts: a variant, run beside the plain script, skipped when finished, plotted by name."""
    from plot import read_runs

    runs_dir = tmp_path / "runs"
    one_critic = "td3-one-critic=td3_continuous.py --num-critics 1"
    rest = ["--env-ids", "Pendulum-v1", "--seeds", "1", "--runs-dir", str(runs_dir), "--", *TINY]
    command = [*RUNNER, "--scripts", "td3_continuous.py", one_critic, *rest]
    result = call(command)
    assert result.returncode == 0, result.stdout + result.stderr
    variant = json.loads((runs_dir / "Pendulum-v1__td3-one-critic__1" / "result.json").read_text())
    assert variant["variant"] == "td3-one-critic" and variant["script_flags"][:2] == ["--num-critics", "1"]
    plain = json.loads((runs_dir / "Pendulum-v1__td3_continuous__1" / "result.json").read_text())
    assert plain["variant"] is None and "--num-critics" not in plain["script_flags"]
    again = call(command)
    assert again.returncode == 0 and "2 finished before" in again.stdout, again.stdout
    assert sorted(run.script for run in read_runs([runs_dir])) == ["td3-one-critic", "td3_continuous.py"]
    # A variant whose flags its script refuses, or two with one name: one line, nothing run.
    refused = call([*RUNNER, "--scripts", "bad=td3_continuous.py --num-critics 0", *rest])
    assert refused.returncode == 2 and "--num-critics must be at least 1" in refused.stderr
    same = call([*RUNNER, "--scripts", "a=td3_continuous.py", "a=sac_continuous.py", *rest])
    assert same.returncode == 2 and "the same name" in same.stderr


def test_a_changed_copy_of_a_script_is_benchmarked_under_its_file_name(tmp_path, monkeypatch, capsys):
    """--scripts takes the path of any file with the scripts' command line, plain or in a named variant: its runs
    are named by its stem and run the copy itself; two copies of one file name stay two modules."""
    copies = [tmp_path / folder / "my_td3.py" for folder in ("a", "b")]
    for copy in copies:
        copy.parent.mkdir()
        shutil.copy(ROOT / "td3_continuous.py", copy)
    started = []
    monkeypatch.setattr(run, "run_local", lambda todo, *rest: started.extend(todo))  # the commands, not the runs
    runner = ["--env-ids", "Pendulum-v1", "--seeds", "1", "--runs-dir", str(tmp_path / "runs")]
    run.main(["--scripts", "a/my_td3.py", f"one-critic={copies[1]} --num-critics 1", *runner, "--", *TINY])
    commands = {task.name: command for task, command in started}
    assert list(commands) == ["Pendulum-v1__my_td3__1", "Pendulum-v1__one-critic__1"]
    assert commands["Pendulum-v1__my_td3__1"][1] == str(copies[0])  # relative to the current directory
    assert commands["Pendulum-v1__one-critic__1"][1] == str(copies[1])
    assert len({load_script(copies[0]), load_script(copies[1]), load_script("td3_continuous.py")}) == 3
    args = speed.Args(scripts=["a/my_td3.py"], env_id="Pendulum-v1")
    speed.check(args)
    assert args.scripts == [str(copies[0])]
    # Two copies of one name in one benchmark, or a file without the scripts' command line: one line, exit 2.
    (tmp_path / "notes.py").write_text("ARGS = None\n")
    for scripts, message in [(["a/my_td3.py", "b/my_td3.py"], "the same name"), (["notes.py"], "lacks the scripts")]:
        with pytest.raises(SystemExit) as exit_info:
            run.main(["--scripts", *scripts, *runner])
        error = capsys.readouterr().err
        assert exit_info.value.code == 2 and message in error and len(error.strip().splitlines()) == 1
