"""Each script run for a few hundred steps: in this process (its `main`, as fast as a test can), and in a
process of its own where that is what is checked (a user's command line, a seed's reproducibility)."""

import json

import pytest
import torch
from helpers import SCRIPTS, check_ok, load_script, only_run_dir, read_scalars, run_script

# CleanRL's tag names, which every script writes.
COMMON_TAGS = {
    "charts/episodic_return",
    "charts/episodic_length",
    "charts/SPS",
    "losses/qf1_values",
    "losses/qf1_loss",
    "losses/qf_loss",
    "losses/actor_loss",
}
TWIN_CRITIC_TAGS = {"losses/qf2_values", "losses/qf2_loss"}
TAGS = {
    "ddpg_continuous.py": COMMON_TAGS,
    "td3_continuous.py": COMMON_TAGS | TWIN_CRITIC_TAGS,
    "sac_continuous.py": COMMON_TAGS | TWIN_CRITIC_TAGS | {"losses/alpha", "losses/alpha_loss", "losses/entropy"},
}
SHORT_RUN = ["--total-timesteps", "400", "--learning-starts", "200", "--batch-size", "64", "--no-cuda"]


@pytest.mark.parametrize("script", SCRIPTS)
@pytest.mark.parametrize("env_id", ["Pendulum-v1", "Hopper-v4"])
def test_short_run_writes_the_logs(script, env_id, tmp_path, capsys):
    load_script(script).main(["--env-id", env_id, *SHORT_RUN])
    run_dir = only_run_dir(tmp_path)
    assert run_dir.name.startswith(f"{env_id}__{script[:-3]}__1__")
    assert json.loads((run_dir / "args.json").read_text())["env_id"] == env_id
    scalars = read_scalars(run_dir)
    assert TAGS[script] <= set(scalars)
    assert scalars["charts/episodic_return"], "no episode was logged"
    assert "SPS" in (out := capsys.readouterr().out) and "step       400/400" in out  # the progress line


@pytest.mark.slow
@pytest.mark.parametrize("script", SCRIPTS)
def test_a_user_runs_the_script_with_a_custom_environment_in_its_own_process(script, tmp_path):
    """`python <script> --env-id module:EnvId`: the fresh process imports the module (here not yet imported)."""
    result = run_script(script, "--env-id", "toy_envs:Counter-v0", *SHORT_RUN, cwd=tmp_path)
    check_ok(result)
    run_dir = only_run_dir(tmp_path)
    assert run_dir.name.startswith(f"toy_envs_Counter-v0__{script[:-3]}__1__")
    assert TAGS[script] <= set(read_scalars(run_dir))
    assert "SPS" in result.stdout and "step       400/400" in result.stdout  # the progress line


@pytest.mark.parametrize("script", SCRIPTS)
def test_several_envs(script, tmp_path):
    load_script(script).main(["--env-id", "Hopper-v4", "--num-envs", "2", *SHORT_RUN])
    scalars = read_scalars(only_run_dir(tmp_path))
    assert TAGS[script] <= set(scalars)
    steps = [step for step, _ in scalars["charts/episodic_return"]]
    assert all(step % 2 == 0 for step in steps)  # steps count transitions over both envs
    assert max(step for step, _ in scalars["losses/qf_loss"]) <= 400


@pytest.mark.parametrize("script", SCRIPTS)
def test_save_model_then_evaluate_the_saved_actor(script, tmp_path, capsys):
    load_script(script).main(["--env-id", "Pendulum-v1", *SHORT_RUN, "--save-model", "--eval-episodes", "3"])
    run_dir = only_run_dir(tmp_path)
    saved = torch.load(run_dir / f"{script[:-3]}.pt", weights_only=True)
    assert {"actor", "critic"} <= set(saved["networks"])
    assert saved["args"]["env_id"] == "Pendulum-v1"
    # The saved actor's mean return over the 3 episodes, at the last step.
    [(step, mean_return)] = read_scalars(run_dir)["eval/episodic_return"]
    assert step == 400 and -2000 < mean_return <= 0  # Pendulum's returns lie in that range
    assert "evaluation over 3 episodes" in capsys.readouterr().out


@pytest.mark.slow
@pytest.mark.parametrize("script", SCRIPTS)
def test_same_seed_same_results(script, tmp_path):
    logged = []
    for attempt in ("first", "second"):
        (tmp_path / attempt).mkdir()
        flags = ["--env-id", "Pendulum-v1", "--total-timesteps", "800", "--learning-starts", "300", "--seed", "7"]
        # A fixed thread count: PyTorch promises identical results only for the same one.
        check_ok(
            run_script(script, *flags, "--batch-size", "64", "--no-cuda", "--threads", "1", cwd=tmp_path / attempt)
        )
        scalars = read_scalars(only_run_dir(tmp_path / attempt))
        logged.append({tag: scalars[tag] for tag in ("charts/episodic_return", "losses/qf_loss")})
    assert logged[0] == logged[1]
    assert len(logged[0]["charts/episodic_return"]) == 4


@pytest.mark.parametrize("script", SCRIPTS)
def test_learning_starts_beyond_the_run_is_a_smoke_run_without_updates(script, tmp_path):
    flags = ["--env-id", "Pendulum-v1", "--total-timesteps", "300", "--learning-starts", "1000", "--save-model"]
    load_script(script).main([*flags, "--eval-episodes", "1"])
    scalars = read_scalars(only_run_dir(tmp_path))
    assert "charts/episodic_return" in scalars and "eval/episodic_return" in scalars
    assert not any(tag.startswith("losses/") for tag in scalars)


ENV_IDS = [
    "Hopper-v4",
    "Hopper-v5",
    "HalfCheetah-v4",
    "Walker2d-v4",
    "Ant-v4",
    "Humanoid-v4",
    "InvertedPendulum-v4",
    "Pendulum-v1",
    "LunarLanderContinuous-v3",
    "BipedalWalker-v3",
    "MountainCarContinuous-v0",
]


@pytest.mark.parametrize("script", SCRIPTS)
@pytest.mark.parametrize("env_id", ENV_IDS)
def test_trains_on_each_supported_environment(script, env_id):
    """A short run with updates on each environment the README names (in this process: faster)."""
    result = load_script(script).main(
        ["--env-id", env_id, "--total-timesteps", "250", "--learning-starts", "100", "--batch-size", "32"]
        + ["--buffer-size", "1000", "--no-cuda"]
    )
    buffer = result["buffer"]
    assert buffer.size == 250
    assert torch.isfinite(buffer.obs[:250]).all()
    # Policy actions stay inside each env's own bounds (Humanoid: +-0.4).
    action_high = result["agent"].actor.action_scale + result["agent"].actor.action_bias
    action_low = result["agent"].actor.action_bias - result["agent"].actor.action_scale
    policy_actions = buffer.actions[100:250]
    assert (policy_actions <= action_high + 1e-6).all() and (policy_actions >= action_low - 1e-6).all()
    assert "losses/qf_loss" in read_scalars(result["run_dir"])


@pytest.mark.slow
@pytest.mark.parametrize("script", SCRIPTS)
def test_compile_trains_on_the_cpu(script, tmp_path):
    load_script(script).main(["--env-id", "Pendulum-v1", *SHORT_RUN, "--compile"])
    scalars = read_scalars(only_run_dir(tmp_path))
    assert TAGS[script] <= set(scalars)
    assert all(torch.isfinite(torch.tensor(value)) for _, value in scalars["losses/qf_loss"])
