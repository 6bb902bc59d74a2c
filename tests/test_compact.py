"""benchmarks/compact.py: a committed run's log made small keeps every episode and evaluation, and its times."""

import compact
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
