"""The committed results are this code's: the first steps of a committed run, replayed, log what it logged.

A change to a script that changes any number it computes (an update, the buffer's sampling, the seeding) fails
this test the day it is made; the committed results then need rerunning, or a note beside them saying what
changed since (benchmarks/results/README.md).

The replay runs 2,000 steps of a 20,000-step run: it also checks that a run's first steps do not depend on its
budget (`--total-timesteps`), on which the 100k-step results read from the 1M-step runs rely
(`benchmarks/plot.py --first-steps`).
"""

import json

import numpy as np
from helpers import ROOT, load_script, read_scalars

RUN = ROOT / "benchmarks" / "results" / "runs" / "Pendulum-v1__td3_continuous__1"
REPLAYED_STEPS = 2000  # 1,000 random steps, then 1,000 updates (--learning-starts 1000)


def committed_command(result: dict) -> list[str]:
    """The flags the runner gave the committed run (its log's first line), with the budget cut to REPLAYED_STEPS."""
    first_attempt = json.loads((RUN / "attempts.jsonl").read_text().splitlines()[0])
    flags = first_attempt["command"][2:]  # after the interpreter and the script
    flags[flags.index("--total-timesteps") + 1] = str(REPLAYED_STEPS)
    assert flags[flags.index("--threads") + 1] == "1"  # one thread: the same arithmetic in the same order
    return flags


def test_the_first_steps_of_a_committed_run_log_what_it_logged(tmp_path):
    result = json.loads((RUN / "result.json").read_text())
    replayed = read_scalars(load_script(result["script"]).main(committed_command(result))["run_dir"])
    committed = read_scalars(RUN / result["tensorboard_dir"])
    tags = [tag for tag in committed if tag.startswith("losses/") or tag == "charts/episodic_return"]
    assert "losses/qf1_loss" in tags and "losses/actor_loss" in tags
    for tag in tags:
        expected = [(step, value) for step, value in committed[tag] if step <= REPLAYED_STEPS]
        steps, values = zip(*replayed[tag], strict=True)
        assert list(steps) == [step for step, _ in expected], tag
        # Bit-identical on the processor that made the run; another one may round its matrix products in
        # another order, which moves the losses by far less than any change to the computation does.
        np.testing.assert_allclose(values, [value for _, value in expected], rtol=1e-3, err_msg=tag)
