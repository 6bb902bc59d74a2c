"""The fast updates learn what a plain textbook update learns, and `--compile` changes nothing either.

Each script's update, as its training loop runs it (batched twin critics, fused Adam, actor
gradients for the actor's weights only, the actor's log-probabilities reused by the temperature,
`_foreach_lerp_` target updates), is compared with a straightforward reference written here:
separate `nn.Linear` critics, plain Adam, full backward passes, a Python loop of soft updates.
Same seed, same batch: the losses, the gradients and the weights after the step agree.
"""

import copy
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from helpers import load_script, separate_critics
from torch.distributions import AffineTransform, Normal, TanhTransform, TransformedDistribution

td3, sac, ddpg = (load_script(f"{name}_continuous.py") for name in ("td3", "sac", "ddpg"))
CPU = torch.device("cpu")
OBS_DIM, BATCH_SIZE = 5, 64
LOW, HIGH = np.array([-1.0, -2.0]), np.array([1.0, 0.5])  # asymmetric bounds, two dimensions
LOW_T, HIGH_T = torch.as_tensor(LOW, dtype=torch.float32), torch.as_tensor(HIGH, dtype=torch.float32)
TARGET_ENTROPY = -2.0


def make_batch() -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    return {
        "obs": torch.randn(BATCH_SIZE, OBS_DIM, generator=generator),
        "next_obs": torch.randn(BATCH_SIZE, OBS_DIM, generator=generator),
        "actions": torch.rand(BATCH_SIZE, 2, generator=generator) * (HIGH_T - LOW_T) + LOW_T,
        "rewards": torch.randn(BATCH_SIZE, generator=generator),
        "terminations": (torch.rand(BATCH_SIZE, generator=generator) < 0.3).float(),
    }


def make_networks(algo, critic_class) -> dict[str, torch.nn.Module]:
    """Online networks, and target networks nudged away from them (as they are after some training)."""
    torch.manual_seed(0)
    networks = {"actor": algo.build_actor(algo.Args(), OBS_DIM, LOW, HIGH), "critic": critic_class(OBS_DIM, 2)}
    for name in ("critic",) if algo is sac else ("actor", "critic"):  # SAC has no target actor
        target = copy.deepcopy(networks[name]).requires_grad_(False)
        with torch.no_grad():
            for parameter in target.parameters():
                parameter.add_(torch.randn_like(parameter) * 0.01)
        networks[f"target_{name}"] = target
    return networks


def grads(module: torch.nn.Module) -> list[torch.Tensor]:
    return [p.grad.clone() for p in module.parameters()]


def values(module: torch.nn.Module) -> list[torch.Tensor]:
    return [p.detach().clone() for p in module.parameters()]


def as_separate(tensors: list[torch.Tensor], twin_critic) -> list[torch.Tensor]:
    """Tensors laid out like a TwinCritic's parameters, reordered like `separate_critics`' parameters."""
    layers = len(twin_critic.weights)
    weights, biases = tensors[:layers], tensors[layers:]
    return [t for i in range(2) for w, b in zip(weights, biases, strict=True) for t in (w[i].T, b[i, 0])]


def assert_all_close(actual, expected, atol: float = 1e-5) -> None:
    assert len(actual) == len(expected)
    for a, e in zip(actual, expected, strict=True):
        assert a.shape == e.shape
        assert torch.allclose(a, e, atol=atol, rtol=1e-4), (a - e).abs().max()


def soft_update_loop(target: torch.nn.Module, online: torch.nn.Module, tau: float) -> None:
    with torch.no_grad():
        for target_parameter, parameter in zip(target.parameters(), online.parameters(), strict=True):
            target_parameter.copy_(tau * parameter + (1 - tau) * target_parameter)


def adam(module_or_params, lr: float) -> torch.optim.Adam:
    """Plain single-tensor Adam, the textbook loop."""
    params = module_or_params.parameters() if isinstance(module_or_params, torch.nn.Module) else module_or_params
    return torch.optim.Adam(params, lr=lr, foreach=False, fused=False)


def record(result: dict, networks: dict) -> dict:
    """What an update leaves behind: its numbers plus every network's weights after the step."""
    return result | {f"{name} after": values(network) for name, network in networks.items()}


def min_target_q(target_critics, next_obs: torch.Tensor, next_actions: torch.Tensor) -> torch.Tensor:
    next_inputs = torch.cat([next_obs, next_actions], 1)
    return torch.min(target_critics[0](next_inputs), target_critics[1](next_inputs)).squeeze(1)


def twin_critic_step(fast: dict, twin_critic, critics, batch: dict, y: torch.Tensor, lr: float) -> None:
    """The reference step of two separate critics toward y, checked against the fast update's numbers."""
    inputs = torch.cat([batch["obs"], batch["actions"]], 1)
    critic_loss = sum(F.mse_loss(q(inputs).squeeze(1), y) for q in critics)
    critic_params = [p for q in critics for p in q.parameters()]
    critic_optimizer = adam(critic_params, lr)
    critic_loss.backward()
    assert torch.allclose(fast["critic loss"], critic_loss)
    assert_all_close(as_separate(fast["critic grads"], twin_critic), [p.grad for p in critic_params])
    critic_optimizer.step()


def check_twin_weights_after(fast: dict, twin_critic, critics, target_critics) -> None:
    for name, networks in [("critic", critics), ("target_critic", target_critics)]:
        reference = [p for q in networks for p in q.parameters()]
        assert_all_close(as_separate(fast[f"{name} after"], twin_critic), reference, atol=1e-6)


# ---------------------------------------------------------------------------------------
# The scripts' updates, in the order of their training loops
# ---------------------------------------------------------------------------------------
def gradient_step(optimizer, loss: torch.Tensor, network: torch.nn.Module, only_network: bool = False) -> list:
    """As the loops do: zero the gradients, backward (into `network` alone, if asked), step; the gradients used."""
    optimizer.zero_grad(set_to_none=True)
    loss.backward(inputs=list(network.parameters()) if only_network else None)
    used = grads(network)
    optimizer.step()
    return used


def fused_adams(networks: dict, actor_lr: float, critic_lr: float) -> tuple[torch.optim.Adam, torch.optim.Adam]:
    """The scripts' optimizers: one fused Adam for the actor, one for the critic."""
    actor, critic = networks["actor"], networks["critic"]
    return (
        torch.optim.Adam(actor.parameters(), lr=actor_lr, fused=True),
        torch.optim.Adam(critic.parameters(), lr=critic_lr, fused=True),
    )


def td3_update(networks: dict, batch: dict, compile_: bool = False) -> dict:
    args = td3.Args(compile=compile_)
    actor, critic = networks["actor"], networks["critic"]
    actor_optimizer, critic_optimizer = fused_adams(networks, args.learning_rate, args.learning_rate)
    result = {}
    torch.manual_seed(1)
    target = td3.compiled(td3.critic_target, args, CPU)(
        batch, networks["target_actor"], networks["target_critic"], args, LOW_T, HIGH_T
    )
    result["critic loss"], _, _ = td3.compiled(td3.critic_loss, args, CPU)(batch, critic, target)
    result["critic grads"] = gradient_step(critic_optimizer, result["critic loss"], critic)
    result["actor loss"] = td3.compiled(td3.actor_loss, args, CPU)(batch, actor, critic)
    result["actor grads"] = gradient_step(actor_optimizer, result["actor loss"], actor, only_network=True)
    result["critic grads after the actor loss"] = grads(critic)  # untouched: still the critic loss's
    td3.soft_update(networks["target_actor"], actor, args.tau)
    td3.soft_update(networks["target_critic"], critic, args.tau)
    return record(result, networks)


def sac_update(networks: dict, batch: dict, compile_: bool = False) -> dict:
    args = sac.Args(compile=compile_)
    actor, critic = networks["actor"], networks["critic"]
    actor_optimizer, critic_optimizer = fused_adams(networks, args.policy_lr, args.q_lr)
    log_alpha = torch.tensor(math.log(0.3), requires_grad=True)
    alpha_optimizer = torch.optim.Adam([log_alpha], lr=args.q_lr)
    alpha = log_alpha.exp().detach()
    result = {}
    torch.manual_seed(1)
    target = sac.compiled(sac.critic_target, args, CPU)(batch, actor, networks["target_critic"], args, alpha)
    result["critic loss"], _, _ = sac.compiled(sac.critic_loss, args, CPU)(batch, critic, target)
    result["critic grads"] = gradient_step(critic_optimizer, result["critic loss"], critic)
    result["actor loss"], log_prob = sac.compiled(sac.actor_loss, args, CPU)(batch, actor, critic, alpha)
    result["actor grads"] = gradient_step(actor_optimizer, result["actor loss"], actor, only_network=True)
    result["critic grads after the actor loss"] = grads(critic)  # untouched: still the critic loss's
    result["alpha loss"] = sac.temperature_loss(log_alpha, log_prob, TARGET_ENTROPY)
    alpha_optimizer.zero_grad(set_to_none=True)
    result["alpha loss"].backward()
    alpha_optimizer.step()
    result["log alpha after"] = log_alpha.detach().clone()
    sac.soft_update(networks["target_critic"], critic, args.tau)
    return record(result, networks)


def ddpg_update(networks: dict, batch: dict, compile_: bool = False) -> dict:
    args = ddpg.Args(compile=compile_)
    actor, critic = networks["actor"], networks["critic"]
    actor_optimizer, critic_optimizer = fused_adams(networks, args.learning_rate, args.learning_rate)
    result = {}
    target = ddpg.compiled(ddpg.critic_target, args, CPU)(
        batch, networks["target_actor"], networks["target_critic"], args
    )
    result["critic loss"], _ = ddpg.compiled(ddpg.critic_loss, args, CPU)(batch, critic, target)
    result["critic grads"] = gradient_step(critic_optimizer, result["critic loss"], critic)
    result["actor loss"] = ddpg.compiled(ddpg.actor_loss, args, CPU)(batch, actor, critic)
    result["actor grads"] = gradient_step(actor_optimizer, result["actor loss"], actor, only_network=True)
    result["critic grads after the actor loss"] = grads(critic)  # untouched: still the critic loss's
    ddpg.soft_update(networks["target_actor"], actor, args.tau)
    ddpg.soft_update(networks["target_critic"], critic, args.tau)
    return record(result, networks)


# ---------------------------------------------------------------------------------------
# The references
# ---------------------------------------------------------------------------------------
def test_td3_update_equals_the_reference():
    networks = make_networks(td3, td3.TwinCritic)
    args, batch = td3.Args(), make_batch()
    actor, target_actor = copy.deepcopy(networks["actor"]), copy.deepcopy(networks["target_actor"])
    critics = separate_critics(networks["critic"])
    target_critics = separate_critics(networks["target_critic"])
    fast = td3_update(networks, batch)

    torch.manual_seed(1)
    with torch.no_grad():
        noise = (torch.randn(BATCH_SIZE, 2) * args.policy_noise).clamp(-args.noise_clip, args.noise_clip)
        next_actions = (target_actor(batch["next_obs"]) + noise * (HIGH_T - LOW_T) / 2).clamp(LOW_T, HIGH_T)
        next_q = min_target_q(target_critics, batch["next_obs"], next_actions)
        y = batch["rewards"] + args.gamma * (1 - batch["terminations"]) * next_q
    twin_critic_step(fast, networks["critic"], critics, batch, y, args.learning_rate)

    actor_optimizer = adam(actor, args.learning_rate)
    actor_loss = -critics[0](torch.cat([batch["obs"], actor(batch["obs"])], 1)).mean()
    actor_loss.backward()  # into the critics' weights too: the fast update skips them
    assert torch.allclose(fast["actor loss"], actor_loss)
    assert_all_close(fast["actor grads"], grads(actor))
    assert all(map(torch.equal, fast["critic grads after the actor loss"], fast["critic grads"]))
    actor_optimizer.step()
    soft_update_loop(target_actor, actor, args.tau)
    for target_q, q in zip(target_critics, critics, strict=True):
        soft_update_loop(target_q, q, args.tau)

    assert_all_close(fast["actor after"], values(actor), atol=1e-6)
    assert_all_close(fast["target_actor after"], values(target_actor), atol=1e-6)
    check_twin_weights_after(fast, networks["critic"], critics, target_critics)


def reference_sample(actor, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """a ~ pi(.|s) and log pi(a|s) by torch.distributions: N(mean, std), then tanh, then the affine map."""
    features = actor.trunk(obs)
    mean, raw_log_std = actor.mean(features), actor.log_std(features)
    log_std = actor.LOG_STD_MIN + 0.5 * (actor.LOG_STD_MAX - actor.LOG_STD_MIN) * (torch.tanh(raw_log_std) + 1)
    u = mean + log_std.exp() * torch.randn_like(mean)
    transforms = [TanhTransform(cache_size=1), AffineTransform(actor.action_bias, actor.action_scale, cache_size=1)]
    policy = TransformedDistribution(Normal(mean, log_std.exp()), transforms)
    actions = transforms[1](transforms[0](u))
    return actions, policy.log_prob(actions).sum(-1)


def test_sac_update_equals_the_reference():
    networks = make_networks(sac, sac.TwinCritic)
    args, batch = sac.Args(), make_batch()
    actor = copy.deepcopy(networks["actor"])
    critics = separate_critics(networks["critic"])
    target_critics = separate_critics(networks["target_critic"])
    log_alpha = torch.tensor(math.log(0.3), requires_grad=True)
    fast = sac_update(networks, batch)

    torch.manual_seed(1)
    with torch.no_grad():
        next_actions, next_log_prob = reference_sample(actor, batch["next_obs"])
        next_q = min_target_q(target_critics, batch["next_obs"], next_actions)
        alpha = log_alpha.exp()
        y = batch["rewards"] + args.gamma * (1 - batch["terminations"]) * (next_q - alpha * next_log_prob)
    twin_critic_step(fast, networks["critic"], critics, batch, y, args.q_lr)

    actor_optimizer = adam(actor, args.policy_lr)
    actions, log_prob = reference_sample(actor, batch["obs"])
    inputs = torch.cat([batch["obs"], actions], 1)
    actor_loss = (alpha * log_prob - torch.min(critics[0](inputs), critics[1](inputs)).squeeze(1)).mean()
    actor_loss.backward()
    assert torch.allclose(fast["actor loss"], actor_loss, atol=1e-5)
    assert_all_close(fast["actor grads"], grads(actor))
    assert all(map(torch.equal, fast["critic grads after the actor loss"], fast["critic grads"]))
    actor_optimizer.step()
    # The temperature: J(alpha) = E[-alpha (log pi(a|s) + target entropy)] on the same sampled actions.
    alpha_optimizer = adam([log_alpha], args.q_lr)
    alpha_loss = -(log_alpha.exp() * (log_prob.detach() + TARGET_ENTROPY)).mean()
    alpha_loss.backward()
    alpha_optimizer.step()
    assert torch.allclose(fast["alpha loss"], alpha_loss, atol=1e-6)
    assert torch.allclose(fast["log alpha after"], log_alpha.detach(), atol=1e-7)
    for target_q, q in zip(target_critics, critics, strict=True):
        soft_update_loop(target_q, q, args.tau)

    assert_all_close(fast["actor after"], values(actor), atol=1e-6)
    check_twin_weights_after(fast, networks["critic"], critics, target_critics)


def test_ddpg_update_equals_the_reference():
    networks = make_networks(ddpg, ddpg.Critic)
    args, batch = ddpg.Args(), make_batch()
    actor, critic = copy.deepcopy(networks["actor"]), copy.deepcopy(networks["critic"])
    target_actor, target_critic = copy.deepcopy(networks["target_actor"]), copy.deepcopy(networks["target_critic"])
    fast = ddpg_update(networks, batch)

    with torch.no_grad():
        y = batch["rewards"] + args.gamma * (1 - batch["terminations"]) * target_critic(
            batch["next_obs"], target_actor(batch["next_obs"])
        )
    critic_optimizer = adam(critic, args.learning_rate)
    critic_loss = F.mse_loss(critic(batch["obs"], batch["actions"]), y)
    critic_loss.backward()
    assert torch.allclose(fast["critic loss"], critic_loss)
    assert_all_close(fast["critic grads"], grads(critic))
    critic_optimizer.step()

    actor_optimizer = adam(actor, args.learning_rate)
    actor_loss = -critic(batch["obs"], actor(batch["obs"])).mean()
    actor_loss.backward()
    assert torch.allclose(fast["actor loss"], actor_loss)
    assert_all_close(fast["actor grads"], grads(actor))
    assert all(map(torch.equal, fast["critic grads after the actor loss"], fast["critic grads"]))
    actor_optimizer.step()
    soft_update_loop(target_actor, actor, args.tau)
    soft_update_loop(target_critic, critic, args.tau)

    for name, network in [("actor", actor), ("critic", critic), ("target_actor", target_actor)]:
        assert_all_close(fast[f"{name} after"], values(network), atol=1e-6)
    assert_all_close(fast["target_critic after"], values(target_critic), atol=1e-6)


# ---------------------------------------------------------------------------------------
# --compile
# ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("algo", "critic_class", "update"),
    [(td3, "TwinCritic", td3_update), (sac, "TwinCritic", sac_update), (ddpg, "Critic", ddpg_update)],
    ids=["td3", "sac", "ddpg"],
)
def test_compiled_update_equals_the_eager_one(algo, critic_class, update):
    batch = make_batch()
    eager = update(make_networks(algo, getattr(algo, critic_class)), batch)
    compiled = update(make_networks(algo, getattr(algo, critic_class)), batch, compile_=True)
    assert eager.keys() == compiled.keys()
    for key, value in eager.items():
        if isinstance(value, list):
            assert_all_close(compiled[key], value, atol=1e-5)
        else:
            assert torch.allclose(compiled[key], value, atol=1e-5), key
