"""Bad input ends with one clear line on stderr and exit status 2: no traceback, no run directory."""

import pytest
from helpers import SCRIPTS, load_script, run_script

BAD_FLAGS = [
    (["--env-id", "NoSuchEnv-v0"], "cannot make --env-id 'NoSuchEnv-v0'"),
    (["--env-id", "no_such_module:Thing-v0"], "cannot make --env-id 'no_such_module:Thing-v0'"),
    (["--env-id", "CartPole-v1"], "needs a continuous (Box) one"),
    (["--env-id", "toy_envs:Unbounded-v0"], "wrap it with gymnasium.wrappers.ClipAction"),
    (["--batch-size", "512", "--buffer-size", "256"], "--batch-size (512) must be between 1 and --buffer-size (256)"),
    (["--batch-size", "0"], "--batch-size (0) must be between 1"),
    (["--num-envs", "0"], "--num-envs must be at least 1, got 0"),
    (["--buffer-size", "0"], "--buffer-size must be at least 1, got 0"),
    (["--total-timesteps", "-5"], "--total-timesteps and --learning-starts must not be negative"),
    (["--learning-starts", "-1"], "--total-timesteps and --learning-starts must not be negative"),
    (["--policy-frequency", "0"], "--policy-frequency must be at least 1, got 0"),
    (["--tau", "0"], "--tau must be in (0, 1], got 0.0"),
    (["--gamma", "1.5"], "--gamma must be in [0, 1], got 1.5"),
    (["--eval-episodes", "-1"], "--eval-episodes must not be negative, got -1"),
]


# The flags that only some scripts have.
OWN_BAD_FLAGS = {
    "ddpg_continuous.py": [
        (["--critic-action-layer", "3"], "--critic-action-layer must be 1 or 2, got 3"),
        (["--hidden-sizes", "0", "300"], "--hidden-sizes must be positive, got (0, 300)"),
        (["--ou-sigma", "-1"], "--exploration-noise, --ou-sigma and --ou-theta must not be negative"),
        (["--exploration-noise", "-0.1"], "--exploration-noise, --ou-sigma and --ou-theta must not be negative"),
        (["--ou-dt", "0"], "--ou-dt, --param-noise-initial-std and --param-noise-adapt-every must be positive"),
        (["--param-noise-adapt-every", "0"], "--ou-dt, --param-noise-initial-std and --param-noise-adapt-every"),
    ],
    "td3_continuous.py": [
        (["--policy-noise", "-0.2"], "--exploration-noise, --policy-noise and --noise-clip must not be negative"),
        (["--noise-clip", "-1"], "--exploration-noise, --policy-noise and --noise-clip must not be negative"),
    ],
    "sac_continuous.py": [
        (["--target-network-frequency", "0"], "--target-network-frequency must be at least 1, got 0"),
        (["--no-autotune", "--alpha", "-0.1"], "--alpha must not be negative, got -0.1"),
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


@pytest.mark.parametrize("script", SCRIPTS)
@pytest.mark.parametrize(
    "flags",
    [["--env-id", "NoSuchEnv-v0"], ["--env-id", "CartPole-v1"], ["--batch-size", "300", "--buffer-size", "200"]]
    + [["--num-envs", "0"]],
)
def test_bad_input_in_a_real_process(script, flags, tmp_path):
    result = run_script(script, *flags, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith(f"{script}: error: ") and result.stderr.count("\n") == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "runs").exists()
