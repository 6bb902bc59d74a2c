"""benchmarks/compact.py: a committed run's log made small keeps every episode and evaluation, and its times."""

import json
from pathlib import Path

import compact
import pytest
from common import scalar_events
from helpers import load_script, read_scalars


def test_a_compacted_log_keeps_episodes_and_evaluations_whole_and_thins_the_rest(tmp_path, capsys):
    flags = ["--env-id", "Pendulum-v1", "--total-timesteps", "1000", "--learning-starts", "200"]
    run_dir = load_script("td3_continuous.py").main([*flags, "--batch-size", "32", "--eval-frequency", "500"])[
        "run_dir"
    ]
    before = scalar_events(run_dir)
    assert len(before["losses/qf1_loss"]) == 8  # every 100 updates from step 200

    compact.main(["runs", "--keep-every", "3"])
    after = scalar_events(run_dir)
    assert set(after) == set(before)
    for tag in ("charts/episodic_return", "charts/episodic_length", "eval/episodic_return"):
        assert after[tag] == before[tag]  # steps, values and wall times
    assert after["losses/qf1_loss"] == [before["losses/qf1_loss"][i] for i in (0, 3, 6, 7)]  # and the last
    (event_file,) = [path.name for path in (tmp_path / run_dir).iterdir() if "tfevents" in path.name]
    assert event_file.endswith(".compact-every-3")
    assert "1 runs:" in capsys.readouterr().out

    compact.main(["runs", "--keep-every", "3"])  # once only: a compacted run is left as it is
    assert "compacted before" in capsys.readouterr().out
    assert scalar_events(run_dir) == after and read_scalars(run_dir)["eval/episodic_return"]


def test_runs_that_cannot_be_compacted_are_left_as_they_are_with_one_line_each(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for argv, message in (([], "give the directories"), (["missing"], "missing is not a directory")):
        with pytest.raises(SystemExit) as exit_info:
            compact.main(argv)
        assert exit_info.value.code == 2 and message in capsys.readouterr().err
    no_log, garbage, going = (Path("runs") / name for name in ("no_log", "garbage", "going"))
    for run_dir, budget in ((no_log, 100), (garbage, 100), (going, 1000)):
        run_dir.mkdir(parents=True)
        (run_dir / "args.json").write_text(json.dumps({"total_timesteps": budget}))
    (garbage / "events.out.tfevents.1.host").write_bytes(b"not a TensorBoard record")
    from torch.utils.tensorboard import SummaryWriter

    with SummaryWriter(str(going)) as writer:  # a run still going: logged up to step 500 of 1,000
        writer.add_scalar("charts/episodic_return", 1.0, 500)
    files = {path: path.read_bytes() for path in (tmp_path / "runs").rglob("*") if path.is_file()}
    with pytest.raises(SystemExit) as exit_info:
        compact.main(["runs"])
    err = capsys.readouterr().err
    assert exit_info.value.code == 1 and "3 run(s) skipped" in err
    assert f"skipped {no_log}: no TensorBoard event file" in err and f"skipped {garbage}: " in err
    assert f"skipped {going}: unfinished (logged up to step 500 of 1,000)" in err
    assert {path: path.read_bytes() for path in (tmp_path / "runs").rglob("*") if path.is_file()} == files
