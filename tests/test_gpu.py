"""The GPU paths: --cudagraphs records the whole update and the policy as CUDA graphs, with and without --compile.

Skipped without CUDA (CI has no GPU); run on a GPU machine with `pytest tests/test_gpu.py`.
"""

import numpy as np
import pytest
import torch
from helpers import SCRIPTS, load_script, read_scalars, update_hyperparameters

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")

CUDA = torch.device("cuda")
OBS_DIM, ACTION_DIM, BATCH_SIZE, UPDATES = 5, 2, 64, 40
LOW, HIGH = np.array([-1.0, -2.0]), np.array([1.0, 0.5])
SHORT = ["--env-id", "Pendulum-v1", "--learning-starts", "200", "--batch-size", "64"]


def filled_buffer(algo) -> object:
    """A replay buffer on the GPU holding 1,000 random transitions, the same every time."""
    generator = np.random.default_rng(0)
    buffer = algo.ReplayBuffer(2000, OBS_DIM, ACTION_DIM, CUDA)
    for _ in range(10):
        buffer.add(
            generator.normal(size=(100, OBS_DIM)),
            generator.normal(size=(100, OBS_DIM)),
            generator.uniform(LOW, HIGH, size=(100, ACTION_DIM)),
            generator.normal(size=100),
            generator.random(100) < 0.1,
        )
    return buffer


def train_updates(algo, **flags) -> tuple[list[dict], dict]:
    """UPDATES updates as `train` makes them (a batch sampled, then the update, compiled or recorded), from the
    same seed: every update's logged values, and the weights at the end."""
    args = algo.Args(**flags)
    torch._dynamo.reset()  # compile this script's update afresh
    torch.manual_seed(0)
    agent = algo.make_agent(args, OBS_DIM, LOW, HIGH, CUDA)
    buffer = filled_buffer(algo)
    hyperparameters = update_hyperparameters(algo, args, ACTION_DIM)
    learn = algo.compiled(algo.update, args)
    torch.manual_seed(1)
    logs = []
    for n in range(1, UPDATES + 1):
        batch = buffer.sample(BATCH_SIZE)
        logs.append({tag: value.clone() for tag, value in learn(batch, agent, n, **hyperparameters).items()})
    weights = {name: p.detach().clone() for name, p in agent.critic.named_parameters()}
    weights |= {f"actor.{name}": p.detach().clone() for name, p in agent.actor.named_parameters()}
    return logs, weights


# Compiling takes a minute a script: recorded compiled kernels are checked on TD3 alone.
@pytest.mark.parametrize(("script", "compile"), [(script, False) for script in SCRIPTS] + [("td3_continuous.py", True)])
def test_the_recorded_update_equals_the_eager_one(script, compile):
    """Recording changes nothing: each update's losses and the final weights are the eager ones (the
    replayed kernels are the recorded ones, fed the same random numbers); compiled kernels round differently."""
    algo = load_script(script)
    eager_logs, eager_weights = train_updates(algo, compile=compile)
    graph_logs, graph_weights = train_updates(algo, compile=compile, cudagraphs=True)
    tolerance = {"rtol": 1e-4, "atol": 1e-5}
    for n, (eager, graph) in enumerate(zip(eager_logs, graph_logs, strict=True), start=1):
        assert eager.keys() == graph.keys()
        for tag in eager:
            torch.testing.assert_close(graph[tag], eager[tag], **tolerance, msg=f"update {n}: {tag}")
    for name in eager_weights:
        torch.testing.assert_close(graph_weights[name], eager_weights[name], **tolerance, msg=name)


@pytest.mark.parametrize("script", SCRIPTS)
def test_a_run_with_cuda_graphs_checkpoints_and_resumes(script, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    algo = load_script(script)
    flags = [*SHORT, "--cudagraphs", "--checkpoint-frequency", "300", "--eval-frequency", "300"]
    first = algo.main([*flags, "--total-timesteps", "600", "--eval-episodes", "1"])
    assert first["buffer"].size == 600 and first["buffer"].rows.is_cuda
    resumed = algo.main(["--resume", first["run_dir"], "--total-timesteps", "900"])
    assert resumed["buffer"].size == 900
    for parameter in resumed["agent"].actor.parameters():
        assert torch.isfinite(parameter).all()


def test_a_run_trained_without_cuda_graphs_resumes_with_them(tmp_path, monkeypatch):
    """The optimizers' saved state says `capturable=False`; the resumed run's own settings must win, or
    recording their step fails."""
    monkeypatch.chdir(tmp_path)
    algo = load_script("td3_continuous.py")
    first = algo.main([*SHORT, "--checkpoint-frequency", "300", "--total-timesteps", "300"])
    resumed = algo.main(["--resume", first["run_dir"], "--total-timesteps", "600", "--cudagraphs"])
    assert resumed["buffer"].size == 600
    assert all(group["capturable"] for group in resumed["agent"].critic_optimizer.param_groups)


def test_parameter_noise_logs_do_not_change_the_recorded_outputs(tmp_path, monkeypatch):
    """DDPG adds its parameter-noise values to an update's logs: the dict the graph returns must be a copy, or
    the values of one adaptation would be logged again at every later logging."""
    monkeypatch.chdir(tmp_path)
    algo = load_script("ddpg_continuous.py")
    flags = [*SHORT, "--cudagraphs", "--exploration-noise-type", "parameter", "--param-noise-adapt-every", "300"]
    result = algo.main([*flags, "--total-timesteps", "800"])
    scalars = read_scalars(result["run_dir"])
    # Updates 300 and 600 adapt (at steps 499 and 799); the losses are logged at every 100th update.
    assert [step for step, _ in scalars["charts/param_noise_distance"]] == [499, 799]
    assert len(scalars["losses/qf_loss"]) == 6


def test_a_nonfinite_loss_stops_a_recorded_run(capsys):
    """Inside a CUDA graph nothing may sync: the losses are checked when they are logged, as without graphs."""
    import toy_envs  # noqa: F401  (registers toy_envs:Diverging-v0 in this process)

    algo = load_script("td3_continuous.py")
    flags = ["--env-id", "toy_envs:Diverging-v0", "--learning-starts", "100", "--total-timesteps", "600"]
    with pytest.raises(SystemExit) as exit_info:
        algo.main([*flags, "--batch-size", "32", "--cudagraphs"])
    assert exit_info.value.code == 1
    assert "the env returned a non-finite value" in capsys.readouterr().err
