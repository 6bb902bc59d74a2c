"""benchmarks/plot.py: per-task statistics, the across-task aggregate, reading any runs directory, the figures."""

import csv
import json
import warnings
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pytest
from plot import (
    CLEANRL_DOCS,
    PAPER_STYLE,
    RANDOM_RETURNS,
    REFERENCE_RETURNS,
    RUNS_CSV_COLUMNS,
    TD3_PAPER,
    TIANSHOU_BENCHMARK,
    RunLog,
    aggregate,
    algorithm_name,
    caption,
    cleanrl_table,
    discounted_state_value,
    draw_panel,
    interval_estimates,
    iqm,
    iqm_and_mean,
    legend_columns,
    machines,
    main,
    normalised,
    performance_profile,
    population_std,
    probability_of_improvement,
    published_cell,
    published_text,
    q_value_table,
    random_policy_return,
    read_runs,
    score_distribution,
    status_line,
    styles,
    table,
    td3_paper_table,
    tianshou_table,
)

START = 1_700_000_000.0  # the wall time of a run's first event
SECONDS_PER_STEP = 3.6  # so that 1,000 steps take one hour


def write_run(log_dir: Path, returns, evaluations=(), args: dict | None = None, episode_length: int = 100) -> Path:
    """A TensorBoard log as the scripts and CleanRL write it: an episode every `episode_length` steps."""
    from torch.utils.tensorboard import SummaryWriter

    writer = SummaryWriter(str(log_dir))
    for i, value in enumerate(returns, 1):
        step = i * episode_length
        writer.add_scalar("charts/episodic_return", value, step, walltime=START + step * SECONDS_PER_STEP)
        writer.add_scalar("charts/episodic_length", episode_length, step, walltime=START + step * SECONDS_PER_STEP)
        writer.add_scalar("losses/qf1_values", value / 2, step, walltime=START + step * SECONDS_PER_STEP)
    for step, value in evaluations:
        writer.add_scalar("eval/episodic_return", value, step, walltime=START + step * SECONDS_PER_STEP + 1)
    writer.close()
    if args is not None:
        (log_dir / "args.json").write_text(json.dumps(args))
    return log_dir


def ours(runs_dir: Path, env_id: str, seed: int, returns, evaluations=(), total_timesteps: int = 1000) -> Path:
    """A run of td3_continuous.py in a plain `runs/` directory: named by the script, with its args.json."""
    args = {"exp_name": "td3_continuous", "env_id": env_id, "seed": seed, "total_timesteps": total_timesteps}
    return write_run(runs_dir / f"{env_id}__td3_continuous__{seed}__{1_700_000_000 + seed}", returns, evaluations, args)


def cleanrl(runs_dir: Path, env_id: str, seed: int, returns) -> Path:
    """A run of CleanRL's td3_continuous_action.py: the same name and tags, no args.json, no evaluations."""
    return write_run(runs_dir / f"{env_id}__td3_continuous_action__{seed}__{1_700_000_000 + seed}", returns)


def evaluated_run(seed: int, final: float, eval_steps=(500.0, 1000.0)) -> RunLog:
    steps = np.arange(100.0, 1001.0, 100.0)
    return RunLog(
        "td3_continuous.py", "Hopper-v4", seed, 60.0, steps, np.ones(10), np.array(eval_steps),
        np.array([0.0] * (len(eval_steps) - 1) + [final]),
    )  # fmt: skip


QUICK = ["--bootstrap-samples", "200", "--format", "png"]  # few resamples, one format: a test in seconds


def rows_of(report: str) -> dict[str, list[str]]:
    """The per-task rows of results.md (its first table), by script: their cells."""
    rows = {}
    for line in report.split("\n## ")[0].splitlines():
        cells = [cell.strip() for cell in line.split("|")[1:-1]]
        if len(cells) == 7 and cells[1].startswith("`"):
            rows[cells[1].strip("`")] = cells
    return rows


# ---------------------------------------------------------------------------------------
# Per task: mean ± sample standard deviation with n, and the standard error of the mean
# ---------------------------------------------------------------------------------------
def test_the_table_gives_the_sample_std_and_the_standard_error_and_says_so():
    text = table([evaluated_run(seed, final) for seed, final in ((1, 10.0), (2, 20.0), (3, 30.0))])
    header, _, row = text.strip().splitlines()
    assert "n (runs)" in header and "mean ± sample std (ddof=1)" in header
    assert "standard error of the mean (sample std / √n)" in header
    assert "bootstrap" not in text and "IQM" not in text  # no per-task interval that 3 seeds cannot give
    cells = [cell.strip() for cell in row.split("|")[1:-1]]
    assert cells[2] == "3"
    assert cells[3] == "20.0 ± 10.0"  # ddof=1; the population std (ddof=0) would be 8.2
    assert cells[4] == "5.8"  # 10 / sqrt(3)
    assert cells[5] == "last evaluation"


def test_a_single_run_has_no_spread():
    (row,) = table([evaluated_run(1, 10.0)]).strip().splitlines()[2:]
    assert "| 10.0 ± n/a | n/a |" in row


# ---------------------------------------------------------------------------------------
# Across tasks: normalised scores, stratified bootstrap IQM, performance profile
# ---------------------------------------------------------------------------------------
def test_scores_are_normalised_from_the_random_policy_to_the_reference():
    for env_id in RANDOM_RETURNS:
        assert normalised(env_id, [RANDOM_RETURNS[env_id], REFERENCE_RETURNS[env_id]]).tolist() == [0.0, 1.0]
    # The TD3 paper's Table 1, TD3 row; Pendulum-v1 is not in it: 0 bounds its returns.
    assert REFERENCE_RETURNS == {
        "HalfCheetah-v4": 9636.95, "Hopper-v4": 3564.07, "Walker2d-v4": 4682.82, "InvertedPendulum-v4": 1000.0,
        "Pendulum-v1": 0.0,
    }  # fmt: skip


def test_the_random_policy_constant_is_what_the_measurement_gives():
    pytest.importorskip("gymnasium")  # imported first: it sets its own warning filters
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # gymnasium: v4 is out of date
        measured = random_policy_return("InvertedPendulum-v4")
    assert round(measured, 2) == RANDOM_RETURNS["InvertedPendulum-v4"]


FEW = 200  # bootstrap resamples in the tests: plot.py's 50,000 take about 10 s an estimate


def test_rliables_stratified_bootstrap_resamples_within_each_task():
    # [runs, tasks]: each column a task. Every resample keeps 3 runs of each task: the IQM of 0,0,0,1,1,1 is
    # always 0.5. A bootstrap over the six runs pooled would draw, say, five zeros, and its interval would not collapse.
    ((iqm_estimate, mean_estimate),) = interval_estimates({"a": np.array([[0.0, 1.0]] * 3)}, iqm_and_mean, FEW).values()
    assert (iqm_estimate.value, iqm_estimate.low, iqm_estimate.high) == (0.5, 0.5, 0.5)
    assert (mean_estimate.value, mean_estimate.low, mean_estimate.high) == (0.5, 0.5, 0.5)
    # Task A's two runs resampled: (0, 0) with probability 1/4, else a 1 among them; task B stays 10, 10. Pooled,
    # 4 runs, one cut at each end: IQM 5 for (0, 0), 5.5 otherwise; the percentile interval spans both.
    ((estimate, _),) = interval_estimates({"a": np.array([[0.0, 10.0], [1.0, 10.0]])}, iqm_and_mean, FEW).values()
    assert (estimate.value, estimate.low, estimate.high) == (5.5, 5.0, 5.5)
    # Seeded: the same resamples again, and NumPy's global generator left as it was.
    state = np.random.get_state()[1].copy()
    scores = {"a": np.random.default_rng(1).random((3, 3))}
    assert interval_estimates(scores, iqm_and_mean, FEW, seed=4) == interval_estimates(
        scores, iqm_and_mean, FEW, seed=4
    )
    assert (np.random.get_state()[1] == state).all()


def test_iqm_drops_a_quarter_at_each_end_of_all_runs():
    assert iqm([3, 0, 1, 2, 7, 6, 5, 4]) == 3.5  # keeps 2, 3, 4, 5
    assert iqm_and_mean(np.array([[0, 4], [1, 5], [2, 6], [3, 7]])).tolist() == [3.5, 3.5]  # over both tasks' runs


def test_the_fast_profile_and_probability_of_improvement_are_rliables():
    from rliable import library, metrics

    rng = np.random.default_rng(0)
    taus = np.linspace(0, 1, 21)
    for x, y in [
        (rng.random((3, 3)), rng.random((4, 3))),
        (rng.integers(0, 3, (3, 2)) / 2, rng.integers(0, 3, (3, 2)) / 2),
    ]:
        assert probability_of_improvement(x, y) == pytest.approx(metrics.probability_of_improvement(x, y), abs=1e-12)
        assert score_distribution(x, taus).tolist() == library.score_distributions(x, taus).tolist()
    same = np.array([[0.1, 0.2], [0.3, 0.4]])  # equal columns: rliable's special case, 0.5
    assert probability_of_improvement(same, same) == metrics.probability_of_improvement(same, same) == 0.5


def test_performance_profile_is_the_fraction_of_runs_above_tau():
    scores = np.array([0.1, 0.5, 0.9, 1.2])
    assert performance_profile(scores, np.array([0.0, 0.5, 1.0, 2.0])).tolist() == [1.0, 0.5, 0.25, 0.0]


def scored_run(script: str, env_id: str, seed: int, evaluations=(), training=0.0) -> RunLog:
    """A run with training episodes of these returns (10 of them if `training` is one number), one every 100
    steps, and evaluations of these returns every 100 steps."""
    returns = np.full(10, training) if np.isscalar(training) else np.array(training, float)
    steps = np.arange(1, len(returns) + 1) * 100.0
    eval_steps = np.arange(1, len(evaluations) + 1) * 100.0
    evaluated = np.array(evaluations, float)
    return RunLog(script, env_id, seed, 60.0, steps, returns, eval_steps, evaluated, last_step=int(steps[-1]))


def test_the_aggregate_is_over_the_locomotion_tasks_that_all_algorithms_ran():
    hopper = REFERENCE_RETURNS["Hopper-v4"]
    runs = [scored_run("td3_continuous.py", "Hopper-v4", 1, training=hopper)]
    runs += [scored_run("td3_continuous_action", "Hopper-v4", 1, training=RANDOM_RETURNS["Hopper-v4"])]
    runs += [
        scored_run("td3_continuous.py", env, 1, training=5.0) for env in ("Walker2d-v4", "MyEnv-v0", "Pendulum-v1")
    ]
    result = aggregate(runs, samples=FEW)
    assert result.tasks == ["Hopper-v4"] and list(result.scores) == ["td3_continuous.py", "td3_continuous_action"]
    assert result.estimates["td3_continuous.py"]["IQM"].value == pytest.approx(1.0)
    assert result.estimates["td3_continuous_action"]["mean"].value == pytest.approx(0.0)
    assert "last IQM" not in result.estimates["td3_continuous.py"]  # no evaluations: no last evaluation
    assert result.score_is["td3_continuous.py"] == "last 10 training episodes"
    ((pair, improvement),) = result.improvement.items()
    assert pair == ("td3_continuous.py", "td3_continuous_action") and improvement.value == 1.0
    assert result.left_out == [
        "MyEnv-v0 (no published 1M-step reference to normalise by)",
        "Pendulum-v1 (its reference, 0, is a bound of the returns that no policy reaches, not a published result)",
        "Walker2d-v4 (no run of CleanRL TD3)",
    ]


def test_each_run_scores_the_mean_of_its_last_five_evaluations_and_the_last_one_is_beside_it():
    reference, random = REFERENCE_RETURNS["Hopper-v4"], RANDOM_RETURNS["Hopper-v4"]
    # Normalised evaluations 0, 0, 0.5, 0.5, 0.5, 0.5, 1: the last five average 0.6, the last is 1.
    evaluations = [random + f * (reference - random) for f in (0, 0, 0.5, 0.5, 0.5, 0.5, 1.0)]
    runs = [scored_run("sac_continuous.py", "Hopper-v4", seed, evaluations) for seed in (1, 2, 3)]
    # Uneven seeds: a fourth on Hopper but not on Walker2d is left out, so that every task has 3 runs.
    runs += [scored_run("sac_continuous.py", "Walker2d-v4", seed, [5.76] * 7) for seed in (1, 2, 3)]
    runs += [scored_run("sac_continuous.py", "Hopper-v4", 4, [reference] * 7)]
    result = aggregate(runs, samples=FEW)
    assert result.scores["sac_continuous.py"].shape == (3, 2)  # [runs, tasks]
    assert result.scores["sac_continuous.py"][:, 0] == pytest.approx([0.6] * 3)
    estimates = result.estimates["sac_continuous.py"]
    assert estimates["mean"].value == pytest.approx(0.3) and estimates["last mean"].value == pytest.approx(0.5)
    assert result.score_is["sac_continuous.py"] == "mean of the last 5 evaluations"
    assert result.left_out == ["SAC's Hopper-v4 seeds 4 (it has 3 runs on another task)"]
    # Half the runs score 0.6, half 0: every resample within a task is the same, and so is the profile.
    profile, low, high = result.profiles["sac_continuous.py"]
    assert profile.tolist() == low.tolist() == high.tolist()
    assert profile[result.taus < 0.59].tolist() == [0.5] * (result.taus < 0.59).sum() and profile[-1] == 0.0


# ---------------------------------------------------------------------------------------
# Reading any directory of runs
# ---------------------------------------------------------------------------------------
def test_plain_runs_and_cleanrl_runs_are_read_named_and_tabulated(tmp_path):
    runs_dir, cleanrl_dir = tmp_path / "runs", tmp_path / "cleanrl"
    for seed in (1, 2):
        ours(runs_dir, "Hopper-v4", seed, [100.0 * seed] * 10, [(500, 5.0), (1000, 300.0 * seed)])
        cleanrl(cleanrl_dir / f"Hopper-v4__td3_continuous_action__{seed}" / "runs", "Hopper-v4", seed, [50.0] * 10)
    main(["--runs-dir", str(runs_dir), str(cleanrl_dir), "--output-dir", str(tmp_path / "out"), *QUICK])
    runs = read_runs([runs_dir, cleanrl_dir])
    assert sorted((run.script, run.seed) for run in runs) == [
        ("td3_continuous.py", 1), ("td3_continuous.py", 2), ("td3_continuous_action", 1), ("td3_continuous_action", 2),
    ]  # fmt: skip
    assert [algorithm_name(s) for s in ("td3_continuous.py", "td3_continuous_action", "my_variant")] == [
        "TD3", "CleanRL TD3", "my_variant",
    ]  # fmt: skip
    (cleanrl_run,) = [run for run in runs if run.script == "td3_continuous_action" and run.seed == 1]
    assert cleanrl_run.wall_time_seconds == pytest.approx(900 * SECONDS_PER_STEP)  # from the events' wall times
    report = (tmp_path / "out" / "results.md").read_text()
    rows = rows_of(report)
    assert (
        rows["td3_continuous.py"][2:4] == ["2", "450.0 ± 212.1"] and rows["td3_continuous.py"][5] == "last evaluation"
    )
    assert rows["td3_continuous_action"][2:4] == ["2", "50.0 ± 0.0"]
    assert rows["td3_continuous_action"][5] == "last 10 training episodes"
    # The aggregate, with its normalisation and the command.
    assert "| TD3 | 1 | 2 |" in report and "| CleanRL TD3 | 1 | 2 |" in report
    assert "| IQM [95% CI] | mean [95% CI] |" in report and "arXiv:1802.09477" in report
    assert "| TD3 | CleanRL TD3 | " in report  # the probability of improvement
    assert f"| `Hopper-v4` | {RANDOM_RETURNS['Hopper-v4']:.2f} | 3564.07 |" in report
    assert f"--runs-dir {runs_dir} {cleanrl_dir}" in report
    # Our script's runs alone (beside others'): their own figure, for the script's page.
    for name in ("Hopper-v4.png", "all_envs.png", "aggregate.png", "td3_continuous.png"):
        assert (tmp_path / "out" / name).stat().st_size > 10_000
    assert not (tmp_path / "out" / "all_envs_evaluation.png").exists()  # CleanRL's runs do not evaluate
    assert not (tmp_path / "out" / "td3_continuous_action.png").exists()  # not one of this project's scripts
    # Only some envs and scripts; the training returns as the final return of every run.
    main(["--runs-dir", str(runs_dir), str(cleanrl_dir), "--output-dir", str(tmp_path / "td3"),
          "--scripts", "td3_continuous.py", "--final", "training", *QUICK])  # fmt: skip
    rows = rows_of((tmp_path / "td3" / "results.md").read_text())
    assert list(rows) == ["td3_continuous.py"] and rows["td3_continuous.py"][3] == "150.0 ± 70.7"
    assert not (tmp_path / "td3" / "td3_continuous.png").exists()  # its runs alone are all_envs.png already


def test_damaged_and_unfinished_runs_are_skipped_with_one_line_each(tmp_path, capsys):
    runs_dir = tmp_path / "runs"
    good = [ours(runs_dir, "Hopper-v4", seed, [10.0] * 10) for seed in (1, 2)]
    damaged = ours(runs_dir, "Hopper-v4", 3, [10.0] * 10)
    (event_file,) = damaged.glob("events.out.tfevents.*")
    data = bytearray(event_file.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one flipped byte
    event_file.write_bytes(bytes(data))
    unfinished = ours(runs_dir, "Hopper-v4", 4, [10.0] * 5, total_timesteps=1000)  # logged up to step 500
    # A run of benchmarks/run.py whose result.json is not JSON.
    runner_run = tmp_path / "runs" / "Hopper-v4__td3_continuous__5"
    ours(runner_run / "runs", "Hopper-v4", 5, [10.0] * 10)
    (runner_run / "result.json").write_text('{"script": "td3_cont')
    # One still going (no result.json yet, every step logged): its log would pass for a plain script's.
    going = ours(runs_dir / "Hopper-v4__td3-variant__6" / "runs", "Hopper-v4", 6, [10.0] * 10)
    (going.parent.parent / "log.txt").write_text("step 1,000/1,000\n")
    runs = read_runs([runs_dir])
    assert sorted(run.source for run in runs) == sorted(str(path.relative_to(tmp_path)) for path in good)
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 4, lines
    assert any(f"skipped {going.relative_to(tmp_path)}: its benchmarks/run.py run has not" in line for line in lines)
    assert any(
        f"skipped {damaged.relative_to(tmp_path)}: {event_file.name}: failed " in line and "crc32 check" in line
        for line in lines
    )
    assert any(
        f"skipped {unfinished.relative_to(tmp_path)}: unfinished: logged up to step 500 of" in line for line in lines
    )
    assert any(
        f"skipped {runner_run.relative_to(tmp_path)}/result.json: unreadable result.json" in line for line in lines
    )
    # CleanRL's runs say nothing of their budget: --min-steps leaves out those still going.
    cleanrl(tmp_path / "cleanrl", "Hopper-v4", 1, [10.0] * 10)
    cleanrl(tmp_path / "cleanrl", "Hopper-v4", 2, [10.0] * 4)
    assert [run.seed for run in read_runs([tmp_path / "cleanrl"], min_steps=1000)] == [1]
    assert "logged up to step 400, under --min-steps 1,000" in capsys.readouterr().err


def test_first_steps_reads_the_runs_of_a_larger_budget_as_runs_of_that_budget(tmp_path, capsys):
    runs_dir = tmp_path / "runs"
    # A 2,000-step run (an episode every 100 steps, evaluations every 500), one still going at step 1,200, and
    # one that stopped at step 800: read for their first 1,000 steps.
    evaluations = [(step, step / 10) for step in range(500, 2001, 500)]
    ours(runs_dir, "Hopper-v4", 1, list(range(1, 21)), evaluations, total_timesteps=2000)
    ours(runs_dir, "Hopper-v4", 2, list(range(1, 13)), evaluations[:2], total_timesteps=2000)
    short = ours(runs_dir, "Hopper-v4", 3, list(range(1, 9)), evaluations[:1], total_timesteps=2000)
    runs = {run.seed: run for run in read_runs([runs_dir], first_steps=1000)}
    assert sorted(runs) == [1, 2]
    assert f"skipped {short.relative_to(tmp_path)}: logged up to step 800, under --first-steps 1,000" in (
        capsys.readouterr().err
    )
    for run in runs.values():
        assert run.last_step == 1000 and run.episode_returns.tolist() == list(range(1, 11))
        assert run.eval_steps.tolist() == [500, 1000] and run.evaluation == 100.0
        assert run.wall_time_seconds == pytest.approx((1000 - 100) * SECONDS_PER_STEP + 1)  # to the cut, not the end
    # Runs of that budget or less are read as usual: whole, and left out if unfinished.
    ours(runs_dir, "Pendulum-v1", 1, list(range(1, 6)), [(500, 7.0)], total_timesteps=500)
    ours(runs_dir, "Pendulum-v1", 2, list(range(1, 4)), [], total_timesteps=500)
    assert [run.last_step for run in read_runs([runs_dir], ["Pendulum-v1"], first_steps=1000)] == [500]
    assert "unfinished: logged up to step 300 of its --total-timesteps 500" in capsys.readouterr().err
    # Without it, the run still going is unfinished and left out; the finished one is read whole.
    assert [run.last_step for run in read_runs([runs_dir], ["Hopper-v4"])] == [2000]
    main(["--runs-dir", str(runs_dir), "--first-steps", "1000", "--output-dir", str(tmp_path / "out"), *QUICK])
    assert "| Hopper-v4 | `td3_continuous.py` | 2 | 100.0 ± 0.0 |" in (tmp_path / "out" / "results.md").read_text()
    with pytest.raises(SystemExit) as exit_info:
        main(["--runs-dir", str(runs_dir), "--first-steps", "0"])
    assert exit_info.value.code == 2 and "--first-steps 0: a number of steps must be positive" in (
        capsys.readouterr().err
    )


def test_ran_on_counts_runs_per_machine_and_says_when_a_run_counts_twice():
    runs = [evaluated_run(seed, 1.0) for seed in (1, 2, 3)]
    runs[0].ran_on, runs[1].ran_on = ["machine A", "machine B"], ["machine A", "machine A"]
    assert machines(runs).splitlines() == [
        "Ran on (3 runs; 1 of them on more than one machine, counted under each):",
        "",
        "- 2 runs: machine A",
        "- 1 run: machine B",
        "- 1 run: not recorded (runs made outside `benchmarks/run.py`, or before it recorded it)",
    ]


def test_nothing_to_plot_is_one_line_and_exit_status_2(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    for argv in (["--runs-dir", str(tmp_path / "empty")], ["--runs-dir", str(tmp_path / "missing")]):
        with pytest.raises(SystemExit) as stopped:
            main(argv)
        assert stopped.value.code == 2
        error = capsys.readouterr().err
        assert error.startswith("plot.py: error: ") and error.count("\n") == 1


# ---------------------------------------------------------------------------------------
# Figures
# ---------------------------------------------------------------------------------------
def labelled(axes) -> list:
    """The lines of a panel that the legend names (the means), not each seed's."""
    return [line for line in axes.lines if not line.get_label().startswith("_")]


def test_evaluations_are_drawn_at_their_steps_with_markers_and_a_thin_line_per_seed():
    runs = [evaluated_run(seed, final, eval_steps=(300.0, 600.0, 900.0)) for seed, final in ((1, 10.0), (2, 40.0))]
    figure, axes = plt.subplots()
    draw_panel(axes, runs, "evaluation", "steps", styles(["td3_continuous.py"]))
    (line,) = labelled(axes)
    assert line.get_xdata().tolist() == [300.0, 600.0, 900.0] and line.get_marker() == "o"
    assert line.get_ydata().tolist() == [0.0, 0.0, 25.0] and line.get_label() == "TD3"
    seeds = [seed_line for seed_line in axes.lines if seed_line is not line]
    assert [seed_line.get_ydata()[-1] for seed_line in seeds] == [10.0, 40.0] and not axes.collections  # no band
    assert all(seed_line.get_linewidth() < line.get_linewidth() for seed_line in seeds)
    assert axes.get_xticks().tolist()[1:-1] == [300.0, 600.0, 900.0]  # the ticks at the evaluation points
    plt.close(figure)
    assert "Thin lines: each seed" in caption("evaluation", "steps", "3 seeds") and "3 seeds" in caption(
        "training", "steps", "3 seeds"
    )


def test_svg_figures_and_wall_clock_hours(tmp_path):
    runs_dir = tmp_path / "runs"
    for seed in (1, 2):
        ours(runs_dir, "Pendulum-v1", seed, [-1000.0 + 100 * i for i in range(10)], [(500, -500.0), (1000, -200.0)])
    main(["--runs-dir", str(runs_dir), "--output-dir", str(tmp_path / "out"), "--format", "svg", "--x", "time"])
    for name in ("Pendulum-v1", "all_envs", "Pendulum-v1_evaluation", "all_envs_evaluation"):
        assert (tmp_path / "out" / f"{name}.svg").read_text().lstrip().startswith("<?xml")
        assert not (tmp_path / "out" / f"{name}.png").exists()
    assert not list((tmp_path / "out").glob("aggregate.*"))  # Pendulum-v1 is not aggregated
    # On the time axis: hours since each run's first event (here step 100, so step 1,000 is 0.9 h later).
    runs = read_runs([runs_dir])
    figure, axes = plt.subplots()
    draw_panel(axes, runs, "training", "time", styles(["td3_continuous.py"]))
    assert labelled(axes)[0].get_xdata().max() == pytest.approx(0.9) and axes.get_xlabel() == "wall-clock hours"
    axes.clear()
    draw_panel(axes, runs, "evaluation", "time", styles(["td3_continuous.py"]))
    assert labelled(axes)[0].get_xdata().tolist() == pytest.approx([(400 * 3.6 + 1) / 3600, (900 * 3.6 + 1) / 3600])
    plt.close(figure)


def test_output_paths_that_cannot_be_written_are_refused_before_any_figure(tmp_path, capsys):
    (tmp_path / "runs").mkdir()
    (tmp_path / "a_file").write_text("")
    for flags, message in [
        (["--update-docs", str(tmp_path / "missing.md")], "no such file"),
        (["--output-dir", str(tmp_path / "a_file")], "is a file, not a directory"),
    ]:
        with pytest.raises(SystemExit) as exit_info:
            main(["--runs-dir", str(tmp_path / "runs"), *flags])
        assert exit_info.value.code == 2 and message in capsys.readouterr().err
    assert sorted(path.name for path in tmp_path.iterdir()) == ["a_file", "runs"]
    ours(tmp_path / "runs", "Hopper-v4", 1, [1.0] * 10)  # something to plot, and nowhere to write it
    for flags, message in [
        (["--output-dir", str(tmp_path / "a_file" / "out")], "cannot write to --output-dir"),
        (["--bootstrap-samples", "0"], "--bootstrap-samples 0: intervals need at least 100 resamples"),
        (["--format"], "--format needs at least one of png, pdf, svg"),
        (["--measure-random-returns", "NoSuchEnv-v0"], "--measure-random-returns NoSuchEnv-v0: "),
    ]:
        with pytest.raises(SystemExit) as exit_info:
            main(["--runs-dir", str(tmp_path / "runs"), *flags])
        err = capsys.readouterr().err
        assert exit_info.value.code == 2 and message in err and len(err.strip().splitlines()) == 1, err


def test_the_state_value_estimate_is_the_mean_discounted_rest_of_each_episode():
    gamma, rewards = 0.9, [2.0] * 5  # a terminated episode of 5 equal rewards
    by_hand = np.mean([sum(r * gamma**j for j, r in enumerate(rewards[t:])) for t in range(5)])
    assert discounted_state_value([10.0], np.array([5.0]), gamma, limit=1000) == pytest.approx(by_hand)
    # cut at the time limit, the episode was bootstrapped: every state is worth reward / (1 - gamma)
    assert discounted_state_value([10.0], np.array([5.0]), gamma, limit=5) == pytest.approx(2.0 / (1 - gamma))
    # episodes weigh as many states as they have: one of 5 states and one of 1
    two = discounted_state_value([10.0, 2.0], np.array([5.0, 1.0]), gamma, limit=None)
    assert two == pytest.approx((by_hand * 5 + 2.0) / 6)


def test_the_q_value_table_compares_the_last_tenth_of_the_steps():
    steps = np.arange(100.0, 10_001.0, 100.0)  # 100 episodes of 100 steps, returns of 100 (reward 1 a step)
    early = steps < 9000  # critic values: absurd early on, then twice the estimate in the last 10%
    estimate = discounted_state_value([100.0], np.array([100.0]), 0.99, limit=1000)
    q_values, lengths = np.where(early, 1e6, 2 * estimate), np.full(100, 100.0)
    runs = [
        RunLog(
            "td3_continuous.py",
            "Hopper-v4",
            seed,
            60.0,
            steps,
            np.full(100, 100.0),
            np.array([]),
            np.array([]),
            q_steps=steps,
            q_values=q_values,
            episode_lengths=lengths,
        )
        for seed in (1, 2)
    ]
    row = q_value_table(runs, ["Hopper-v4"]).strip().splitlines()[-1]
    assert row == (
        f"| Hopper-v4 | `td3_continuous.py` | 2 | {2 * estimate:.1f} ± 0.0 | {estimate:.1f} ± 0.0 | 2.00, 2.00 |"
    )


def test_q_values_add_their_table_to_results_md(tmp_path):
    for seed in (1, 2):
        ours(tmp_path / "runs", "Hopper-v4", seed, [10.0 * i for i in range(1, 11)], [(1000, 50.0)])
    main(
        ["--runs-dir", str(tmp_path / "runs"), "--output-dir", str(tmp_path / "out"), "--q-values", "Hopper-v4", *QUICK]
    )
    report = (tmp_path / "out" / "results.md").read_text()
    assert "## Q-values" in report and "| Hopper-v4 | `td3_continuous.py` | 2 |" in report.split("## Q-values")[1]


def test_results_md_lists_each_run_with_its_best_training_return(tmp_path):
    ours(tmp_path / "runs", "Hopper-v4", 2, [5.0, 90.0] + [-3.0] * 8, [(1000, 7.0)])
    ours(tmp_path / "runs", "Hopper-v4", 1, [-2.0] * 9 + [-1.0], [(1000, 4.0)])
    main(["--runs-dir", str(tmp_path / "runs"), "--output-dir", str(tmp_path / "out"), *QUICK])
    section = (tmp_path / "out" / "results.md").read_text().split("## Each run")[1]
    rows = [line for line in section.splitlines() if line.startswith("| Hopper-v4")]
    assert rows == ["| Hopper-v4 | `td3_continuous.py` | 1 | 4.0 | 10 | -1.0 |",
                    "| Hopper-v4 | `td3_continuous.py` | 2 | 7.0 | 10 | 90.0 |"]  # fmt: skip


def test_the_status_line_counts_the_runs_of_the_chosen_envs_and_scripts(tmp_path):
    for name in ("Hopper-v4__td3_continuous__1", "Hopper-v4__td3-no-delay__1", "Pendulum-v1__td3_continuous__1"):
        (tmp_path / name).mkdir()
    finished = [evaluated_run(1, 100.0)]
    assert status_line(finished, tmp_path, ["Hopper-v4"], ["td3_continuous.py"]) == "All 1 runs have finished."
    assert status_line(finished, tmp_path).startswith("1 of the 3 runs have finished")


def test_the_legend_takes_the_columns_the_figure_is_wide_enough_for():
    figure = plt.figure(figsize=(6.4, 4))
    names = ["TD3", "td3-no-clipped-double-q", "td3-no-target-smoothing", "td3-no-delay", "td3-none-of-the-three"]
    variants = [f"{name} (3 seeds)" for name in names]
    assert legend_columns(figure, variants) == 2
    assert legend_columns(figure, ["DDPG (3 seeds)", "TD3 (3 seeds)", "SAC (3 seeds)"]) == 3
    plt.close(figure)


def test_cleanrl_runs_in_the_runners_layout_are_read(tmp_path):
    """benchmarks/results/cleanrl/run_cleanrl.sh keeps CleanRL's runs as the runner keeps its own, log.txt included."""
    run_dir = tmp_path / "Hopper-v4__td3_continuous_action__1"
    cleanrl(run_dir / "runs", "Hopper-v4", 1, [10.0] * 10)
    (run_dir / "log.txt").write_text("done\n")
    assert [run.script for run in read_runs([tmp_path])] == ["td3_continuous_action"]


# ---------------------------------------------------------------------------------------
# runs.csv, the published results beside ours, figures a paper would take
# ---------------------------------------------------------------------------------------
def runner_run(runs_dir: Path, name: str, seed: int, evaluations, code: dict) -> Path:
    """A run of benchmarks/run.py: its directory, the script's log under runs/, and result.json with `code`."""
    run_dir = runs_dir / f"Hopper-v4__{name}__{seed}"
    log_dir = ours(run_dir / "runs", "Hopper-v4", seed, [10.0 * i for i in range(1, 13)], evaluations, 1200)
    result = {
        "script": "td3_continuous.py",
        "variant": None if name == "td3_continuous" else name,
        "seed": seed,
        "env_id": "Hopper-v4",
        "wall_time_seconds": 125.0,
        "tensorboard_dir": str(log_dir.relative_to(run_dir)),
    }
    (run_dir / "result.json").write_text(json.dumps(result | code))
    return run_dir


def test_runs_csv_has_a_row_per_run_with_the_commit_that_made_it(tmp_path):
    evaluations = [(step, step / 10) for step in range(200, 1201, 200)]  # 20, 40, ..., 120
    runner_run(tmp_path / "runs", "td3_continuous", 1, evaluations, {"commit": "a" * 40, "dirty": False})
    runner_run(tmp_path / "runs", "td3-fast", 2, evaluations, {"commit": "b" * 40, "dirty": True, "script_sha256": "c"})
    ours(tmp_path / "runs", "Hopper-v4", 3, [5.0] * 10)  # a plain run: no evaluations, no result.json
    main(["--runs-dir", str(tmp_path / "runs"), "--output-dir", str(tmp_path / "out"), *QUICK])
    with (tmp_path / "out" / "runs.csv").open() as file:
        rows = list(csv.DictReader(file))
    assert tuple(rows[0]) == RUNS_CSV_COLUMNS and RUNS_CSV_COLUMNS[:8] == (
        "env_id", "name", "seed", "steps", "final_return", "last5_evaluation_return", "last10_training_return",
        "evaluations",
    )  # fmt: skip
    cells = {(row["name"], row["seed"]): row for row in rows}
    assert list(cells) == [("td3_continuous", "1"), ("td3_continuous", "3"), ("td3-fast", "2")]  # the tables' order
    assert {key: cells["td3_continuous", "1"][key] for key in RUNS_CSV_COLUMNS[:12]} == {
        "env_id": "Hopper-v4",
        "name": "td3_continuous",
        "seed": "1",
        "steps": "1200",
        "final_return": "120.00",
        "last5_evaluation_return": "80.00",
        "last10_training_return": "75.00",
        "evaluations": "6",
        "wall_seconds": f"{(1200 - 100) * SECONDS_PER_STEP + 1:.1f}",  # the events' span, over result.json's 125 s
        "commit": "a" * 40,
        "dirty": "false",
        "script_sha256": "",
    }  # fmt: skip  (last 5 evaluations: 40..120; last 10 episodes: 30..120)
    variant = cells["td3-fast", "2"]
    assert (variant["commit"], variant["dirty"], variant["script_sha256"]) == (
        "b" * 40, "true", "c",
    )  # fmt: skip
    plain = cells["td3_continuous", "3"]
    assert (plain["seed"], plain["final_return"], plain["last5_evaluation_return"]) == ("3", "", "")
    assert (plain["last10_training_return"], plain["commit"], plain["dirty"]) == ("5.00", "", "")
    report = (tmp_path / "out" / "results.md").read_text()
    assert f"- 1 run: commit {'a' * 12}\n" in report and f"- 1 run: commit {'b' * 12}, with uncommitted" in report


def test_the_wall_time_counts_attempts_the_runner_missed_and_not_the_pauses_between_them(tmp_path):
    """A run worked 800 s, stopped for a day, then worked 800 s more; the runner recorded one attempt, of 100 s."""
    from torch.utils.tensorboard import SummaryWriter

    run_dir = tmp_path / "runs" / "Hopper-v4__td3_continuous__1"
    log_dir = run_dir / "runs" / "Hopper-v4__td3_continuous__1__1700000001"
    writer = SummaryWriter(str(log_dir))
    for i, step in enumerate(range(100, 1001, 100)):  # every 200 s, and a day's pause after the fifth episode
        wall_time = START + 200 * i + (86_400 if i >= 5 else 0) - (200 if i >= 5 else 0)
        writer.add_scalar("charts/episodic_return", float(step), step, walltime=wall_time)
    writer.close()
    args = {"exp_name": "td3_continuous", "env_id": "Hopper-v4", "seed": 1, "total_timesteps": 1000}
    (log_dir / "args.json").write_text(json.dumps(args))
    result = {"script": "td3_continuous.py", "env_id": "Hopper-v4", "seed": 1, "wall_time_seconds": 100.0}
    (run_dir / "result.json").write_text(json.dumps(result | {"tensorboard_dir": str(log_dir.relative_to(run_dir))}))
    main(["--runs-dir", str(tmp_path / "runs"), "--output-dir", str(tmp_path / "out"), *QUICK])
    with (tmp_path / "out" / "runs.csv").open() as file:
        (row,) = list(csv.DictReader(file))
    assert row["wall_seconds"] == "1600.0"  # 4 + 4 gaps of 200 s; the gap over the pause is not counted


def test_each_published_number_is_beside_ours_computed_the_same_way():
    # TD3 on HalfCheetah: evaluations at steps 100 and 200; the mean over seeds is highest at 200 (250 > 200).
    runs = [scored_run("td3_continuous.py", "HalfCheetah-v4", seed, evaluations, training=10.0 * seed)
            for seed, evaluations in ((2, [200.0, 100.0]), (1, [100.0, 400.0]), (3, [300.0, 250.0]))]  # fmt: skip
    runs += [scored_run("sac_continuous.py", "Hopper-v4", 1, [50.0], training=7.0)]
    runs += [scored_run("td3-no-delay", "Hopper-v4", 1, [50.0])]  # a variant: no published number
    # At step 200 the seeds have 400, 100 and 250: mean 250, std (ddof=0) sqrt((150² + 150² + 0²) / 3) = 122.47.
    ours = "| HalfCheetah-v4 | `td3_continuous.py` | 3 | 1,000 | 250.0 ± 122.5 | 200 | 1: 400.0, 2: 100.0, 3: 250.0 "
    sac = "| Hopper-v4 | `sac_continuous.py` | 1 | 1,000 | 50.0 ± n/a | 100 | 1: 50.0 "
    td3_rows = td3_paper_table(runs).strip().splitlines()[2:]
    assert td3_rows == [ours + "| 9636.95 ± 859.065 (HalfCheetah-v1) |", sac + "| not in it |"]
    # Tianshou's metric is the TD3 paper's: the same numbers of ours, beside its own, with its one decimal.
    tianshou_rows = tianshou_table(runs).strip().splitlines()[2:]
    assert tianshou_rows == [ours + "| 10201.2 ± 772.8 (HalfCheetah-v3) |", sac + "| 3542.2 ± 51.5 (Hopper-v3) |"]
    # Training returns 10, 20 and 30 (fewer than 100 episodes: all of them): mean 20, std sqrt(200 / 3) = 8.16.
    cleanrl_rows = cleanrl_table(runs).strip().splitlines()[2:]
    assert cleanrl_rows == [
        (
            "| HalfCheetah-v4 | `td3_continuous.py` | 3 | 1,000 | 20.0 ± 8.2 | 1: 10.0, 2: 20.0, 3: 30.0 "
            "| 9583.22 ± 126.09 (HalfCheetah-v4) |"
        ),
        "| Hopper-v4 | `sac_continuous.py` | 1 | 1,000 | 7.0 ± n/a | 1: 7.0 | 2310.46 ± 342.82 (Hopper-v4) |",
    ]
    text = published_text(runs)  # each source named, with its environment versions and its metric
    for source in (TD3_PAPER, TIANSHOU_BENCHMARK, CLEANRL_DOCS):
        assert source.source in text and source.metric in text and source.ours in text
    assert "gym MuJoCo v1" in text and "v3 but v2 for InvertedPendulum" in text and "gym MuJoCo v4" in text
    assert text.count("our evaluations are every 100 steps, theirs every 5,000 steps") == 2


def test_cleanrls_metric_is_the_mean_of_each_runs_last_100_training_episodes():
    # Seed 1: 10 episodes of 500, 90 of 0, 10 of 100. Its last 100 average (90 * 0 + 10 * 100) / 100 = 10 (its
    # last 10: 100, all 110: 54.5). Seed 2: 40 throughout. Mean 25, std (ddof=0) 15.
    first = scored_run("ddpg_continuous.py", "Walker2d-v4", 1, training=[500.0] * 10 + [0.0] * 90 + [100.0] * 10)
    second = scored_run("ddpg_continuous.py", "Walker2d-v4", 2, training=[40.0] * 110)
    (row,) = cleanrl_table([first, second]).strip().splitlines()[2:]
    assert row == (
        "| Walker2d-v4 | `ddpg_continuous.py` | 2 | 11,000 | 25.0 ± 15.0 | 1: 10.0, 2: 40.0 "
        "| 1240.16 ± 390.10 (Walker2d-v4) |"
    )
    (row,) = td3_paper_table([first, second]).strip().splitlines()[2:]  # the TD3 paper's metric needs evaluations
    no_evaluations = "| Walker2d-v4 | `ddpg_continuous.py` | 2 | 11,000 | no evaluations | n/a | n/a "
    assert row == no_evaluations + "| 3098.11 (Walker2d-v1) |"


def test_the_published_numbers_are_quoted_as_their_sources_print_them():
    # Table 1 gives "Our DDPG" no ± (not even on InvertedPendulum) and TD3's HalfCheetah std three decimals.
    assert published_cell(TD3_PAPER, "ddpg_continuous.py", "InvertedPendulum-v4") == "1000.00 (InvertedPendulum-v1)"
    assert published_cell(TD3_PAPER, "td3_continuous.py", "HalfCheetah-v4") == "9636.95 ± 859.065 (HalfCheetah-v1)"
    assert published_cell(TIANSHOU_BENCHMARK, "sac_continuous_action", "Walker2d-v4") == "5007.0 ± 251.5 (Walker2d-v3)"
    assert published_cell(TIANSHOU_BENCHMARK, "ddpg_continuous.py", "Pendulum-v1") == "not in it"
    tianshou_envs = {"HalfCheetah-v3", "Hopper-v3", "Walker2d-v3", "InvertedPendulum-v2"}
    assert {algorithm: set(envs) for algorithm, envs in TIANSHOU_BENCHMARK.returns.items()} == dict.fromkeys(
        ("DDPG", "TD3", "SAC"), tianshou_envs
    )
    assert population_std([400.0, 100.0, 250.0]) == pytest.approx(np.sqrt(15_000)) and np.isnan(population_std([1.0]))


def test_one_colour_per_algorithm_in_every_figure_and_no_red():
    study = styles(["td3-no-delay", "ddpg_continuous.py", "td3_continuous_action", "sac_continuous.py", "ddpg-ou"])
    assert styles(["td3_continuous.py"])["td3_continuous.py"] == {"color": "tab:orange", "linestyle": "-"}
    assert study["ddpg_continuous.py"]["color"] == "tab:blue" and study["sac_continuous.py"]["color"] == "tab:green"
    assert study["td3_continuous_action"] == {"color": "tab:orange", "linestyle": "--"}  # CleanRL's: dashed
    variants = [study["ddpg-ou"]["color"], study["td3-no-delay"]["color"]]
    assert len(set(variants)) == 2 and not {"tab:red", "tab:blue", "tab:orange", "tab:green"} & set(variants)
    many = styles([f"variant-{i}" for i in range(8)])
    assert len({(style["color"], style["linestyle"]) for style in many.values()}) == 8


def test_one_call_writes_png_pdf_and_svg_at_column_width_with_legible_text(tmp_path, monkeypatch):
    import matplotlib.text
    import plot

    runs = [evaluated_run(seed, final) for seed, final in ((1, 10.0), (2, 40.0))]
    figures, save = [], plot.save_figure
    monkeypatch.setattr(plot, "save_figure", lambda figure, *rest: figures.append(figure) or save(figure, *rest))
    plot.write_figures(runs, tmp_path, "training", formats=("png", "pdf", "svg"))
    for name in ("Hopper-v4", "all_envs"):
        assert {path.suffix for path in tmp_path.glob(f"{name}.*")} == {".png", ".pdf", ".svg"}
    assert [figure.get_figwidth() for figure in figures] == [3.5, 3.5]  # one env: one panel a figure
    texts = [text for figure in figures for text in figure.findobj(matplotlib.text.Text) if text.get_text()]
    assert min(text.get_fontsize() for text in texts) >= 8 == PAPER_STYLE["font.size"]
    # No date in them: a figure drawn again from the same runs differs only where the drawing does.
    assert b"<dc:date>" not in (tmp_path / "all_envs.svg").read_bytes()
    assert b"/CreationDate" not in (tmp_path / "all_envs.pdf").read_bytes()
