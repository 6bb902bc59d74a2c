"""Each script's `update` learns what a plain textbook update learns, and `--compile` changes nothing either.

Each script's real `update`, as `train` calls it (batched critics, fused Adam, actor gradients for the
actor's weights only, the actor's log-probabilities reused by the temperature, `_foreach_lerp_` target
updates), is compared with a straightforward reference written here: separate `nn.Linear` critics, plain
single-tensor Adam, full backward passes, torch.distributions for SAC's log-probabilities, a Python loop
of soft updates. Same agent, same batch, same seed: the losses, the gradients each optimizer applies and
every weight after the update agree.

The tolerances come from float32 arithmetic, not from one machine (a fixed tolerance that an Intel AMX
machine met once failed on an AMD EPYC). The two computations sum the same products in other orders (one
batched matrix product against separate ones, fused kernels, another CPU's vector width), so they differ
by rounding: a few float32 epsilons (1.2e-7) of the magnitudes summed. Hence:
- losses: a relative 1e-5 (and 1e-7, float32's epsilon, for a value near zero);
- gradients: a relative 1e-4, plus 1e-5 of the tensor's largest gradient for the elements that cancel
  down to nearly zero (their rounding is that of the larger terms that cancel);
- weights after the step: Adam's first step moves each weight by lr * g / (|g| + 1e-8), about lr whatever
  the gradient's size, so a rounding difference in g barely moves the weight, except where |g| is near
  Adam's epsilon 1e-8: there the last bits of g decide how far the weight goes (up to 2 lr, if g's sign
  flips). The bound is 1e-3 lr (far above the float32 rounding of a step, about 1e-7 lr), plus what
  Adam's own formula makes of the two gradient histories (`adam_steps`: zero but for such elements), plus
  float32 rounding of the weight itself, a few epsilons of |w|. A target network moves by tau times that.
  (Where this was written, SAC's actor had one, a hidden weight's gradient of 1.3e-9: the weight moved
  0.016 lr further on one side than on the other, like the 4.75e-6 = 0.016 lr that failed a fixed
  tolerance of 1e-6 on the EPYC.)
The compiled update is compared with the eager one in the same way.
"""

import copy
import dataclasses
import functools
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from helpers import load_script, record_optimizer_steps, separate_critics, update_hyperparameters
from torch.distributions import AffineTransform, Normal, TanhTransform, TransformedDistribution

td3, sac, ddpg = (load_script(f"{name}_continuous.py") for name in ("td3", "sac", "ddpg"))
CPU = torch.device("cpu")
OBS_DIM, ACTION_DIM, BATCH_SIZE = 5, 2, 64
LOW, HIGH = np.array([-1.0, -2.0]), np.array([1.0, 0.5])  # asymmetric bounds, two dimensions
LOW_T, HIGH_T = torch.as_tensor(LOW, dtype=torch.float32), torch.as_tensor(HIGH, dtype=torch.float32)
EPS32 = torch.finfo(torch.float32).eps
# DDPG as the paper builds it: the action at the critic's second layer, an L2 penalty on its weights; and layer norm.
DDPG_PAPER = {"critic_action_layer": 2, "critic_weight_decay": 1e-2, "layer_norm": True, "paper_init": True}


def make_batch() -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    return {
        "obs": torch.randn(BATCH_SIZE, OBS_DIM, generator=generator),
        "next_obs": torch.randn(BATCH_SIZE, OBS_DIM, generator=generator),
        "actions": torch.rand(BATCH_SIZE, ACTION_DIM, generator=generator) * (HIGH_T - LOW_T) + LOW_T,
        "rewards": torch.randn(BATCH_SIZE, generator=generator),
        "terminations": (torch.rand(BATCH_SIZE, generator=generator) < 0.3).float(),
    }


def make_agent(algo, **flags):
    """The script's agent, with target networks nudged away from the online ones (as after some training)."""
    args = algo.Args(**flags)
    torch.manual_seed(0)
    agent = algo.make_agent(args, OBS_DIM, LOW, HIGH, CPU)
    with torch.no_grad():
        for field in dataclasses.fields(agent):
            if field.name.startswith("target_"):
                for parameter in getattr(agent, field.name).parameters():
                    parameter.add_(torch.randn_like(parameter) * 0.01)
        for module in [*agent.actor.modules(), *agent.critic.modules()]:  # DDPG's layer norms start as identities
            if isinstance(module, torch.nn.LayerNorm):
                module.weight.add_(torch.randn_like(module.weight) * 0.1)
                module.bias.add_(torch.randn_like(module.bias) * 0.1)
        if hasattr(agent, "log_alpha"):
            agent.log_alpha.fill_(math.log(0.3))  # a temperature other than SAC's initial 1
    return args, agent


def state(agent) -> dict[str, dict[str, torch.Tensor]]:
    """Every network's (and tensor's) weights, by field and parameter name."""
    weights = {}
    for field in dataclasses.fields(agent):
        value = getattr(agent, field.name)
        if isinstance(value, torch.nn.Module):
            weights[field.name] = {name: p.detach().clone() for name, p in value.named_parameters()}
        elif torch.is_tensor(value):
            weights[field.name] = {field.name: value.detach().clone()}
    return weights


def run_update(algo, args, agent, batch: dict) -> dict:
    """The script's update, as `train` calls it (compiled with --compile), with the actor's step included."""
    steps = record_optimizer_steps(agent)
    update = algo.compiled(functools.partial(algo.update, **update_hyperparameters(algo, args, ACTION_DIM)), args)
    torch.manual_seed(1)
    logs = update(batch, agent, args.policy_frequency)  # critic_updates: a multiple of policy_frequency
    return {
        "logs": {tag: torch.as_tensor(value).detach().clone() for tag, value in logs.items()},
        "steps": steps,
        "after": state(agent),
        "critic gradients after": {name: p.grad.clone() for name, p in agent.critic.named_parameters()},
    }


# ---------------------------------------------------------------------------------------
# The references
# ---------------------------------------------------------------------------------------
def adam(params, lr: float) -> torch.optim.Adam:
    """Plain single-tensor Adam, the textbook loop."""
    return torch.optim.Adam(params, lr=lr, foreach=False, fused=False)


def gradients(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {name: p.grad.clone() for name, p in module.named_parameters()}


def soft_update_loop(target: torch.nn.Module, online: torch.nn.Module, tau: float) -> None:
    with torch.no_grad():
        for target_parameter, parameter in zip(target.parameters(), online.parameters(), strict=True):
            target_parameter.copy_(tau * parameter + (1 - tau) * target_parameter)


def as_batched(critics: list, get=lambda parameter: parameter.detach()) -> dict[str, torch.Tensor]:
    """The separate critics' weights (or with `get`, their gradients), laid out as the batched critic's parameters."""
    tensors = {}
    for layer in range(len(critics[0].linears)):
        tensors[f"weights.{layer}"] = torch.stack([get(q.linears[layer].weight).T for q in critics])
        tensors[f"biases.{layer}"] = torch.stack([get(q.linears[layer].bias)[None] for q in critics])
    for name, _ in critics[0].norms.named_parameters():
        assert len(critics) == 1  # the batched critics share their layer norms: DDPG's, which has one critic
        tensors[f"norms.{name}"] = get(critics[0].norms.get_parameter(name))
    return tensors


def critic_step(critics: list, batch: dict, y: torch.Tensor, lr: float, weight_decay: float = 0.0) -> dict:
    """Separate critics regress onto y, each with its own loss; one plain Adam (L2 on the weight matrices)."""
    weights = [q.linears[layer].weight for q in critics for layer in range(len(q.linears))]
    others = [p for q in critics for p in q.parameters() if all(p is not weight for weight in weights)]
    optimizer = adam([{"params": weights, "weight_decay": weight_decay}, {"params": others}], lr)
    q_values = [q(batch["obs"], batch["actions"]) for q in critics]
    losses = [F.mse_loss(q, y) for q in q_values]
    sum(losses).backward()
    optimizer.step()
    logs = {"losses/qf_loss": sum(losses) / len(losses)}
    for i, (q, loss) in enumerate(zip(q_values, losses, strict=True), start=1):
        logs |= {f"losses/qf{i}_values": q.mean(), f"losses/qf{i}_loss": loss}
    return {"logs": logs, "steps": {"critic": [as_batched(critics, lambda p: p.grad.clone())]}}


def learning_rates(args) -> dict[str, float]:
    """Each network's learning rate: --policy-lr for the actor, --q-lr for the critics and SAC's temperature
    (where given, else --learning-rate)."""
    q_lr = args.learning_rate if args.q_lr is None else args.q_lr
    return {
        "actor": args.learning_rate if args.policy_lr is None else args.policy_lr,
        "critic": q_lr,
        "log_alpha": q_lr,
    }


def td3_reference(args, agent, batch: dict) -> dict:
    actor, target_actor = copy.deepcopy(agent.actor), copy.deepcopy(agent.target_actor)
    critics, target_critics = separate_critics(agent.critic), separate_critics(agent.target_critic)
    lr = learning_rates(args)
    torch.manual_seed(1)
    with torch.no_grad():
        noise = (torch.randn(BATCH_SIZE, ACTION_DIM) * args.policy_noise).clamp(-args.noise_clip, args.noise_clip)
        next_actions = (target_actor(batch["next_obs"]) + noise * (HIGH_T - LOW_T) / 2).clamp(LOW_T, HIGH_T)
        next_q = torch.min(*[q(batch["next_obs"], next_actions) for q in target_critics])
        y = batch["rewards"] + args.gamma * (1 - batch["terminations"]) * next_q
    reference = critic_step(critics, batch, y, lr["critic"])

    actor_optimizer = adam(actor.parameters(), lr["actor"])
    actor_loss = -critics[0](batch["obs"], actor(batch["obs"])).mean()
    actor_loss.backward()  # into the critics' weights too: the script's update skips them
    reference["steps"]["actor"] = [gradients(actor)]
    actor_optimizer.step()
    reference["logs"]["losses/actor_loss"] = actor_loss
    soft_update_loop(target_actor, actor, args.tau)
    for target_q, q in zip(target_critics, critics, strict=True):
        soft_update_loop(target_q, q, args.tau)
    reference["after"] = {
        "actor": {name: p.detach() for name, p in actor.named_parameters()},
        "critic": as_batched(critics),
        "target_actor": {name: p.detach() for name, p in target_actor.named_parameters()},
        "target_critic": as_batched(target_critics),
    }
    return reference


def reference_sample(actor, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """a ~ pi(.|s) by torch.distributions (N(mean, std), then tanh, then the affine map to the bounds) and the
    log-probability of the squashed action tanh(u) in [-1, 1], whose entropy target -dim(A) is in normalised units."""
    features = actor.trunk(obs)
    mean, raw_log_std = actor.mean(features), actor.log_std(features)
    log_std = actor.LOG_STD_MIN + 0.5 * (actor.LOG_STD_MAX - actor.LOG_STD_MIN) * (torch.tanh(raw_log_std) + 1)
    u = mean + log_std.exp() * torch.randn_like(mean)
    squash = TanhTransform(cache_size=1)
    policy = TransformedDistribution(Normal(mean, log_std.exp()), [squash])
    squashed = squash(u)
    actions = AffineTransform(actor.action_bias, actor.action_scale)(squashed)
    return actions, policy.log_prob(squashed).sum(-1)


def sac_reference(args, agent, batch: dict) -> dict:
    actor = copy.deepcopy(agent.actor)
    critics, target_critics = separate_critics(agent.critic), separate_critics(agent.target_critic)
    log_alpha = agent.log_alpha.detach().clone().requires_grad_(True)
    lr = learning_rates(args)
    target_entropy = -ACTION_DIM  # the paper's heuristic
    torch.manual_seed(1)
    alpha = log_alpha.exp().detach()
    with torch.no_grad():
        next_actions, next_log_prob = reference_sample(actor, batch["next_obs"])
        next_q = torch.min(*[q(batch["next_obs"], next_actions) for q in target_critics])
        y = batch["rewards"] + args.gamma * (1 - batch["terminations"]) * (next_q - alpha * next_log_prob)
    reference = critic_step(critics, batch, y, lr["critic"])

    actor_optimizer, alpha_optimizer = adam(actor.parameters(), lr["actor"]), adam([log_alpha], lr["log_alpha"])
    reference["steps"] |= {"actor": [], "alpha": []}
    for _ in range(args.policy_frequency):  # CleanRL's burst of actor updates, on the same batch
        actions, log_prob = reference_sample(actor, batch["obs"])
        min_q = torch.min(*[q(batch["obs"], actions) for q in critics])
        actor_loss = (alpha * log_prob - min_q).mean()
        actor_optimizer.zero_grad()
        actor_loss.backward()  # into the critics' weights too: the script's update skips them
        reference["steps"]["actor"].append(gradients(actor))
        actor_optimizer.step()
        # The temperature: J(alpha) = E[-alpha (log pi(a|s) + target entropy)] on the same sampled actions.
        alpha_loss = -(log_alpha.exp() * (log_prob.detach() + target_entropy)).mean()
        alpha_optimizer.zero_grad()
        alpha_loss.backward()
        reference["steps"]["alpha"].append({"log_alpha": log_alpha.grad.clone()})
        alpha_optimizer.step()
        alpha = log_alpha.exp().detach()
    reference["logs"] |= {
        "losses/actor_loss": actor_loss,
        "losses/entropy": -log_prob.mean(),
        "losses/alpha_loss": alpha_loss,
        "losses/alpha": alpha,
    }
    if args.policy_frequency % args.target_network_frequency == 0:  # the update's critic_updates: policy_frequency
        for target_q, q in zip(target_critics, critics, strict=True):
            soft_update_loop(target_q, q, args.tau)
    reference["after"] = {
        "actor": {name: p.detach() for name, p in actor.named_parameters()},
        "critic": as_batched(critics),
        "target_critic": as_batched(target_critics),
        "log_alpha": {"log_alpha": log_alpha.detach()},
    }
    return reference


def ddpg_reference(args, agent, batch: dict) -> dict:
    actor, target_actor = copy.deepcopy(agent.actor), copy.deepcopy(agent.target_actor)
    [critic], [target_critic] = separate_critics(agent.critic), separate_critics(agent.target_critic)
    lr = learning_rates(args)
    with torch.no_grad():
        y = batch["rewards"] + args.gamma * (1 - batch["terminations"]) * target_critic(
            batch["next_obs"], target_actor(batch["next_obs"])
        )
    reference = critic_step([critic], batch, y, lr["critic"], args.critic_weight_decay)

    actor_optimizer = adam(actor.parameters(), lr["actor"])
    actor_loss = -critic(batch["obs"], actor(batch["obs"])).mean()
    actor_loss.backward()  # into the critic's weights too: the script's update skips them
    reference["steps"]["actor"] = [gradients(actor)]
    actor_optimizer.step()
    reference["logs"]["losses/actor_loss"] = actor_loss
    soft_update_loop(target_actor, actor, args.tau)
    soft_update_loop(target_critic, critic, args.tau)
    reference["after"] = {
        "actor": {name: p.detach() for name, p in actor.named_parameters()},
        "critic": as_batched([critic]),
        "target_actor": {name: p.detach() for name, p in target_actor.named_parameters()},
        "target_critic": as_batched([target_critic]),
    }
    return reference


# ---------------------------------------------------------------------------------------
# The comparisons
# ---------------------------------------------------------------------------------------
def assert_gradients_close(actual: torch.Tensor, expected: torch.Tensor, label) -> None:
    """Close to float32 rounding: relative 1e-4, and 1e-5 of the largest gradient for those that cancel to ~0."""
    assert actual.shape == expected.shape, label
    atol = 1e-5 * float(expected.abs().max())
    assert torch.allclose(actual, expected, rtol=1e-4, atol=atol), (label, (actual - expected).abs().max(), atol)


def adam_steps(history: list[torch.Tensor], initial: torch.Tensor, weight_decay: float = 0.0) -> torch.Tensor:
    """The sum of Adam's steps over a history of gradients, in learning rates: exact arithmetic (float64).

    torch's defaults: betas (0.9, 0.999), eps 1e-8; weight decay adds weight_decay * w to each gradient
    (with the initial weights: exact for the first step, a vanishing difference for the next).
    """
    (beta1, beta2), eps = (0.9, 0.999), 1e-8
    m = v = total = torch.zeros_like(initial, dtype=torch.float64)
    for t, gradient in enumerate(history, start=1):
        gradient = gradient.double() + weight_decay * initial.double()
        m, v = beta1 * m + (1 - beta1) * gradient, beta2 * v + (1 - beta2) * gradient**2
        total = total + (m / (1 - beta1**t)) / ((v / (1 - beta2**t)).sqrt() + eps)
    return total


def assert_weights_close(
    actual: dict, expected: dict, lr: float, histories: tuple, initial: dict, scale: float, weight_decay: float
) -> None:
    """The weights after a step, within what the gradients' rounding makes of them (see the module's docstring).

    `histories`: each side's gradients at each step, by parameter name; `scale`: tau for a target network;
    `weight_decay`: the L2 penalty of the weight matrices (`weights.<layer>`, DDPG's critic).
    """
    assert actual.keys() == expected.keys()
    for name, weight in expected.items():
        decay = weight_decay if name.startswith("weights.") else 0.0
        steps = [adam_steps([step[name] for step in history], initial[name], decay) for history in histories]
        tolerance = scale * lr * (1e-3 + (steps[0] - steps[1]).abs()) + 4 * EPS32 * weight.abs()
        difference = (actual[name] - weight).abs()
        assert (difference <= tolerance).all(), (name, difference.max(), (difference / tolerance).max())


def assert_same_update(fast: dict, reference: dict, initial: dict, args) -> None:
    """The losses, each optimizer's gradients at each step, and every weight after, agree."""
    assert fast["logs"].keys() == reference["logs"].keys()
    for tag, value in reference["logs"].items():
        assert torch.allclose(fast["logs"][tag], value, rtol=1e-5, atol=1e-7), tag
    assert fast["steps"].keys() == reference["steps"].keys()
    for optimizer, steps in reference["steps"].items():
        assert len(fast["steps"][optimizer]) == len(steps), optimizer
        for k, (actual, expected) in enumerate(zip(fast["steps"][optimizer], steps)):
            assert actual.keys() == expected.keys(), optimizer
            for name in expected:
                assert_gradients_close(actual[name], expected[name], (optimizer, k, name))
    assert fast["after"].keys() == reference["after"].keys()
    weight_decay = getattr(args, "critic_weight_decay", 0.0)  # DDPG's, on the critic's weight matrices
    for network, weights in reference["after"].items():
        online = network.removeprefix("target_")  # a target network moves by tau times its online network's step
        optimizer = {"log_alpha": "alpha"}.get(online, online)
        assert_weights_close(
            fast["after"][network],
            weights,
            learning_rates(args)[online],
            (fast["steps"][optimizer], reference["steps"][optimizer]),
            initial[online],
            scale=args.tau if network.startswith("target_") else 1.0,
            weight_decay=weight_decay if online == "critic" else 0.0,
        )


@pytest.mark.parametrize(
    ("algo", "reference", "flags"),
    [
        (td3, td3_reference, {}),
        (sac, sac_reference, {}),
        (ddpg, ddpg_reference, {}),
        (ddpg, ddpg_reference, DDPG_PAPER),
    ],
    ids=["td3", "sac", "ddpg", "ddpg paper"],
)
def test_update_equals_the_reference(algo, reference, flags):
    args, agent = make_agent(algo, **flags)
    batch = make_batch()
    initial = state(agent)
    expected = reference(args, agent, batch)  # on copies: the agent is left as it is
    fast = run_update(algo, args, agent, batch)
    assert_same_update(fast, expected, initial, args)
    # The actor's loss trains the actor alone: the critics' gradients are still those of their own step.
    for name, gradient in fast["critic gradients after"].items():
        assert torch.equal(gradient, fast["steps"]["critic"][-1][name]), name


# ---------------------------------------------------------------------------------------
# --compile
# ---------------------------------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize("algo", [td3, sac, ddpg], ids=["td3", "sac", "ddpg"])
def test_compiled_update_equals_the_eager_one(algo):
    batch = make_batch()
    args, agent = make_agent(algo)
    initial = state(agent)
    eager = run_update(algo, args, agent, batch)
    compiled_args, compiled_agent = make_agent(algo, compile=True)
    compiled = run_update(algo, compiled_args, compiled_agent, batch)
    assert_same_update(compiled, eager, initial, args)
