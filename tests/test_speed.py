"""benchmarks/speed.py: its clock, its FLOP count, and a whole (tiny) report beside a stand-in CleanRL."""

import re
import subprocess
import sys
import textwrap

import pytest
import speed
from helpers import ROOT
from tensorboard.backend.event_processing.event_accumulator import ScalarEvent

# A stand-in for a CleanRL checkout: logs `losses/qf1_values` every 100 steps after learning starts,
# taking about 2 ms a step, as CleanRL's scripts do (with their flag names).
FAKE_CLEANRL_SCRIPT = textwrap.dedent("""
    import argparse, time
    from torch.utils.tensorboard import SummaryWriter
    parser = argparse.ArgumentParser()
    for flag in ("--env-id", "--seed", "--total-timesteps", "--learning-starts"):
        parser.add_argument(flag)
    args = parser.parse_args()
    writer = SummaryWriter("runs/fake")
    for step in range(int(args.total_timesteps)):
        if step >= int(args.learning_starts):
            time.sleep(0.002)
            if step % 100 == 0:
                writer.add_scalar("losses/qf1_values", 0.0, step)
    writer.close()
""")


def test_steps_per_second_counts_only_the_events_after_the_warmup():
    events = [
        ScalarEvent(wall_time=t, step=s, value=0.0) for t, s in [(0.0, 100), (10.0, 200), (12.0, 400), (16.0, 800)]
    ]
    assert speed.steps_per_second(events, after_step=200) == (800 - 200) / (16.0 - 10.0)
    with pytest.raises(ValueError, match="fewer than two"):
        speed.steps_per_second(events, after_step=801)


def td3_flops_per_step(obs_dim: int, action_dim: int, hidden: int = 256, batch: int = 256) -> int:
    """The matrix-product FLOPs of one TD3 training step, by hand (2 m n k per product, two critics)."""
    actor = obs_dim * hidden + hidden * hidden + hidden * action_dim  # multiply-adds per sample
    critic = (obs_dim + action_dim) * hidden + hidden * hidden + hidden  # of one critic
    act = 2 * actor  # one observation
    target = 2 * batch * (actor + 2 * critic)  # target actor, both target critics
    critic_forward = 2 * batch * 2 * critic
    # Backward: every weight's gradient, and the inputs' gradients of layers 2 and 3 (not of the data).
    critic_backward = 2 * batch * 2 * (critic + hidden * hidden + hidden)
    # Actor step: actor and Q1 forward; Q1 backward to its input (all three layers), actor backward
    # to its weights and to the inputs of its layers 2 and 3; once every two steps (policy_frequency 2).
    actor_step = 2 * batch * (actor + critic + critic + actor + hidden * hidden + hidden * action_dim)
    return act + target + critic_forward + critic_backward + actor_step // 2


def test_flop_count_of_a_td3_step_matches_the_hand_count():
    counted = speed.flops_per_step("td3_continuous.py", speed.Args(env_id="Pendulum-v1"))
    assert counted == td3_flops_per_step(obs_dim=3, action_dim=1)


@pytest.mark.slow
def test_a_tiny_report_against_a_stand_in_cleanrl(tmp_path):
    fake = tmp_path / "cleanrl_checkout" / "cleanrl"
    fake.mkdir(parents=True)
    (fake / "td3_continuous_action.py").write_text(FAKE_CLEANRL_SCRIPT)
    output = tmp_path / "results" / "speed.md"
    flags = ["--scripts", "td3_continuous.py", "--env-id", "Pendulum-v1", "--learning-starts", "300"]
    flags += ["--warmup", "100", "--steps", "300", "--repeats", "1", "--overhead"]
    flags += ["--cleanrl-dir", str(fake.parent), "--output", str(output)]
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "speed.py"), *flags], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = output.read_text()
    assert "speed.py --scripts td3_continuous.py" in report  # the command that made it
    header, _, row = [line for line in report.splitlines() if line.startswith("|")]
    assert header.split("|")[2:-1] == [
        " ours (SPS) ", " ours at batch size 1 (SPS) ", " CleanRL (SPS) ", " ours / CleanRL ",
        " GFLOP per step ", " FLOP limit (SPS) ", " ours: share of the limit ",
    ]  # fmt: skip
    cells = [cell.strip() for cell in row.split("|")[1:-1]]
    assert cells[0] == "`td3_continuous.py`"
    ours, batch_one, cleanrl = (float(re.match(r"\*\*(\d+)\*\*", cell).group(1)) for cell in cells[1:4])
    # Speeds are measured, not asserted (a busy machine changes them): only what holds on any machine.
    assert ours > 0 and batch_one > 0
    assert 0 < cleanrl < 500  # the stand-in sleeps 2 ms a step: never faster than 500 steps a second
    assert float(cells[4].rstrip("x")) == pytest.approx(ours / cleanrl, abs=0.01)
    assert float(cells[5]) == pytest.approx(td3_flops_per_step(3, 1) / 1e9, abs=1e-3)
    assert float(cells[7].rstrip("%")) == pytest.approx(100 * ours / float(cells[6]), abs=1)


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--scripts", "ppo.py"], "'ppo.py' is not one of the algorithm scripts"),
        (["--cleanrl-dir", "."], "has no cleanrl/ folder"),
        (["--repeats", "0"], "--repeats must be at least 1"),
        (["--threads", "0"], "--threads must be at least 1"),
        (["--steps", "0"], "--steps must be at least 200"),
        (["--learning-starts", "-1"], "--learning-starts must be at least 1"),
        (["--env-id", "NoSuchEnv-v0"], "cannot make --env-id 'NoSuchEnv-v0'"),
    ],
)
def test_bad_input_is_a_one_line_error_before_any_run(tmp_path, flags, message, monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", ["speed.py", *flags])
    with pytest.raises(SystemExit) as exit_info:
        speed.main()
    error = capsys.readouterr().err
    assert exit_info.value.code == 2 and message in error, error
    assert len(error.strip().splitlines()) == 1 and not list(tmp_path.iterdir())
