"""Training speed: steps per second once learning has started, ours against CleanRL's, and against the FLOP limit.

    python benchmarks/speed.py                                   # the three scripts on Hopper-v4
    python benchmarks/speed.py --cleanrl-dir ~/cleanrl --cleanrl-python ~/cleanrl/.venv/bin/python
    python benchmarks/speed.py --scripts td3_continuous.py --compile --output speed.md

Each run trains a script from scratch in a fresh process: `--learning-starts` random steps, then
`--warmup` and `--steps` training steps (one update each). Its speed is read from the wall times of
its TensorBoard log: the `losses/qf1_values` events, which ours and CleanRL's scripts both write
every 100 updates, between the end of the warm-up and the end of the run. So the random phase,
start-up and compilation are left out, and both projects are timed by the same clock. With
`--cleanrl-dir`, CleanRL's `*_continuous_action.py` run the same work (same hyperparameters) in
turn with ours; the table gives the median of `--repeats` runs each, and their ratio.

The FLOP limit: the matrix products of one training step are counted with PyTorch's
`FlopCounterMode` (a short run of the script), and this machine's matrix product rate is measured
on 256x256 matrices; rate / FLOPs per step is the speed of a step made of nothing but its matrix
products at that rate. Its share shows how much of the time is overhead.
"""

import io
import os
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack, chdir, redirect_stdout
from dataclasses import dataclass, field
from pathlib import Path

import torch
import tyro
from common import ROOT, SCRIPTS, find_script, load_script, machine_description, scalar_events, versions
from torch.utils.flop_counter import FlopCounterMode

TIMED_TAG = "losses/qf1_values"  # logged every 100 updates by our scripts and by CleanRL's
# Our flags that make a script do CleanRL's work where our defaults differ from CleanRL's.
SAME_WORK_AS_CLEANRL = {"ddpg_continuous.py": ["--policy-frequency", "2"]}
VARIANT_FLAGS = {
    "ours": [],
    "ours --compile": ["--compile"],
    "ours --cudagraphs": ["--cudagraphs"],
    "ours --compile --cudagraphs": ["--compile", "--cudagraphs"],
    "ours at batch size 1": ["--batch-size", "1"],
}


@dataclass
class Args:
    scripts: list[str] = field(default_factory=lambda: list(SCRIPTS))
    """the scripts to time: by name, or the path of a changed copy"""
    env_id: str = "Hopper-v4"
    """the environment"""
    learning_starts: int = 5000
    """random steps before learning (not timed)"""
    warmup: int = 500
    """training steps before the timing starts"""
    steps: int = 3000
    """training steps timed"""
    repeats: int = 3
    """runs of each script (and of CleanRL's), interleaved; the table gives their median"""
    threads: int | None = None
    """torch threads of every run (OMP_NUM_THREADS); default: the scripts' own choice, the cores left free"""
    compile: bool = False
    """if toggled, also time our scripts with --compile"""
    cudagraphs: bool = False
    """if toggled, also time our scripts with --cudagraphs (a GPU only), and with --compile: --compile --cudagraphs
    (LeanRL's setting) instead of --compile alone"""
    overhead: bool = False
    """if toggled, also time our scripts at batch size 1: the speed if the arithmetic of the update were free"""
    cleanrl_dir: Path | None = None
    """a CleanRL checkout: also time its `cleanrl/*_continuous_action.py` on the same work"""
    cleanrl_python: str = sys.executable
    """the Python that runs CleanRL (it needs its own environment: gymnasium 0.29, mujoco 2.3)"""
    side_by_side: int = 0
    """also run this many copies of each script at once, as a user starting several seeds by hand would, each with
    its default threads, and report every copy's speed against the script alone"""
    output: Path | None = None
    """also write the Markdown report here"""
    seed: int = 1
    """seed of every run"""


def steps_per_second(events, after_step: int) -> float:
    """Steps per second between the first event at or after `after_step` and the last event."""
    timed = [event for event in events if event.step >= after_step]
    if len(timed) < 2 or timed[-1].wall_time <= timed[0].wall_time:
        raise ValueError(f"fewer than two timed events after step {after_step}")
    return (timed[-1].step - timed[0].step) / (timed[-1].wall_time - timed[0].wall_time)


def timed_runs(commands: list[list[str]], args: Args, log_paths: list[Path]) -> list[float]:
    """Run training commands at the same time, each in a fresh directory; return the steps per second
    of each after its warm-up."""
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    if args.threads is not None:
        env["OMP_NUM_THREADS"] = str(args.threads)
    with ExitStack() as stack:
        workdirs = [stack.enter_context(tempfile.TemporaryDirectory()) for _ in commands]
        logs = [stack.enter_context(open(log_path, "w")) for log_path in log_paths]
        processes = [
            subprocess.Popen(command, cwd=workdir, env=env, stdout=log, stderr=subprocess.STDOUT)
            for command, workdir, log in zip(commands, workdirs, logs, strict=True)
        ]
        for process, command, log_path in zip(processes, commands, log_paths, strict=True):
            if process.wait() != 0:
                raise RuntimeError(f"{' '.join(command)} failed (exit {process.returncode}); see {log_path}")
        speeds = []
        for workdir in workdirs:
            (run_dir,) = Path(workdir, "runs").iterdir()
            speeds.append(
                steps_per_second(scalar_events(run_dir).get(TIMED_TAG, []), args.learning_starts + args.warmup)
            )
        return speeds


def timed_run(command: list[str], args: Args, log_path: Path) -> float:
    """Run one training command in a fresh directory; return its steps per second after the warm-up."""
    return timed_runs([command], args, [log_path])[0]


def work_flags(args: Args) -> list[str]:
    total = args.learning_starts + args.warmup + args.steps
    return ["--env-id", args.env_id, "--seed", str(args.seed)] + [
        "--total-timesteps", str(total), "--learning-starts", str(args.learning_starts)
    ]  # fmt: skip


def flops_per_step(script: str, args: Args) -> float:
    """Matrix-product FLOPs of one training step (update and action), counted by `FlopCounterMode`.

    Two short runs, of 20 and of 40 training steps: their difference, over 20, is the cost of a
    step without whatever happens once per run (the first update, the random steps).
    """
    module = load_script(script)
    learning_starts, counts = 256, []
    for steps in (20, 40):
        flags = ["--env-id", args.env_id, "--total-timesteps", str(learning_starts + steps)]
        flags += ["--learning-starts", str(learning_starts), *SAME_WORK_AS_CLEANRL.get(script, [])]
        with (
            tempfile.TemporaryDirectory() as workdir,
            chdir(workdir),
            redirect_stdout(io.StringIO()),
            FlopCounterMode(display=False) as counter,
        ):
            module.main(flags)
        counts.append(counter.get_total_flops())
    return (counts[1] - counts[0]) / 20


def matmul_flops_per_second(size: int = 256, repeats: int = 200) -> float:
    """This machine's rate on float32 `size` x `size` matrix products: the best of five timings."""
    a, b = torch.randn(size, size), torch.randn(size, size)
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(repeats):
            torch.mm(a, b)
        best = min(best, time.perf_counter() - start)
    return 2 * size**3 * repeats / best


def cleanrl_commit(cleanrl_dir: Path) -> str:
    """The commit of a CleanRL checkout; "unknown commit" for a copy (not the commit of a repository around it)."""
    git = ["git", "-C", str(cleanrl_dir), "rev-parse", "--show-toplevel", "--short", "HEAD"]
    lines = subprocess.run(git, capture_output=True, text=True, check=False).stdout.split()
    if len(lines) == 2 and Path(lines[0]).resolve() == cleanrl_dir.resolve():
        return lines[1]
    return "unknown commit"


def median_cell(values: list[float]) -> str:
    if not values:
        return "-"
    runs = ", ".join(f"{v:.0f}" for v in values)
    return f"**{statistics.median(values):.0f}** ({runs})"


def fail(message: str) -> None:
    print(f"speed.py: error: {message}", file=sys.stderr)
    sys.exit(2)


def check(args: Args) -> None:
    """Refuse, in one line and before any run, what would fail later."""
    if not args.scripts:
        fail("--scripts is empty: give at least one")
    try:  # one of the three by name, or the absolute path of a copy
        args.scripts = [find_script(script) for script in args.scripts]
    except ValueError as error:
        fail(f"--scripts: {error}")
    copies = [script for script in args.scripts if script not in SCRIPTS]
    if args.cleanrl_dir is not None and copies:
        fail(f"--cleanrl-dir times CleanRL's counterparts of the three scripts: {copies[0]} has none")
    if args.repeats < 1 or args.warmup < 0:
        fail(f"--repeats must be at least 1 and --warmup not negative, got {args.repeats} and {args.warmup}")
    if args.steps < 200:  # the clock reads the losses logged every 100 updates: two of them at least
        fail(f"--steps must be at least 200, got {args.steps}")
    if args.learning_starts < 1:
        fail(f"--learning-starts must be at least 1 (the buffer needs data), got {args.learning_starts}")
    if args.threads is not None and args.threads < 1:
        fail(f"--threads must be at least 1, got {args.threads}")
    if args.cudagraphs and not torch.cuda.is_available():
        fail("--cudagraphs times CUDA graphs: it needs a GPU, and none is available")
    if args.side_by_side < 0:
        fail(f"--side-by-side must not be negative, got {args.side_by_side}")
    if args.cleanrl_dir is not None and not (args.cleanrl_dir / "cleanrl").is_dir():
        fail(f"--cleanrl-dir {args.cleanrl_dir} has no cleanrl/ folder: give a CleanRL checkout")
    try:  # the env the scripts will time: refused here, in one line, if they cannot make it
        load_script(args.scripts[0]).make_vector_env(args.env_id, 1).close()
    except Exception as error:  # noqa: BLE001  (an unknown id, a missing package: whatever the env raises)
        fail(f"cannot make --env-id {args.env_id!r} ({(str(error).strip() or type(error).__name__).splitlines()[0]})")


def main() -> None:
    args = tyro.cli(Args, description=__doc__.split("\n\n")[0])
    check(args)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    logs = Path(tempfile.mkdtemp(prefix="speed_logs_"))
    print(f"run logs in {logs}", flush=True)

    variants = ["ours"] + [
        variant
        for variant, wanted in [
            ("ours --compile", args.compile and not args.cudagraphs),
            ("ours --cudagraphs", args.cudagraphs),
            ("ours --compile --cudagraphs", args.compile and args.cudagraphs),
            ("ours at batch size 1", args.overhead),
        ]
        if wanted
    ]
    variants += ["CleanRL"] if args.cleanrl_dir else []
    sps = {(script, variant): [] for script in args.scripts for variant in variants}
    for repeat in range(args.repeats):
        for script in args.scripts:
            for variant in variants:
                if variant == "CleanRL":
                    cleanrl_script = args.cleanrl_dir / "cleanrl" / script.replace(".py", "_action.py")
                    command = [args.cleanrl_python, str(cleanrl_script), *work_flags(args)]
                else:
                    command = [sys.executable, str(ROOT / script), *work_flags(args)]
                    command += SAME_WORK_AS_CLEANRL.get(script, []) + VARIANT_FLAGS[variant]
                log_path = logs / f"{Path(script).stem}_{variant.replace(' ', '_')}_{repeat}.log"
                sps[script, variant].append(timed_run(command, args, log_path))
                print(f"{script:22s} {variant:15s} run {repeat + 1}: {sps[script, variant][-1]:7.1f} SPS", flush=True)

    together = {}  # the speeds of the copies of each script run side by side
    for script in args.scripts if args.side_by_side > 1 else []:
        command = [sys.executable, str(ROOT / script), *work_flags(args), *SAME_WORK_AS_CLEANRL.get(script, [])]
        log_paths = [logs / f"{Path(script).stem}_side_by_side_{copy}.log" for copy in range(args.side_by_side)]
        together[script] = timed_runs([command] * args.side_by_side, args, log_paths)
        print(f"{script:22s} {args.side_by_side} side by side: {', '.join(f'{v:.1f}' for v in together[script])} SPS")

    # The FLOP limit is the CPU's: on a GPU the table gives the speeds alone.
    on_gpu = torch.cuda.is_available()
    rate = None if on_gpu else matmul_flops_per_second()
    header = ["script", *(f"{variant} (SPS)" for variant in variants)]
    ours_variants = [variant for variant in variants if variant.startswith("ours") and "batch size" not in variant]
    if args.cleanrl_dir:
        header += ["ours / CleanRL"] + (["fastest of ours / CleanRL"] if len(ours_variants) > 1 else [])
    if not on_gpu:
        header += ["GFLOP per step", "FLOP limit (SPS)", "ours: share of the limit"]
    rows = []
    for script in args.scripts:
        ours = statistics.median(sps[script, "ours"])
        row = [f"`{script}`", *(median_cell(sps[script, variant]) for variant in variants)]
        if args.cleanrl_dir:
            cleanrl = statistics.median(sps[script, "CleanRL"])
            row.append(f"{ours / cleanrl:.2f}x")
            if len(ours_variants) > 1:
                row.append(f"{max(statistics.median(sps[script, v]) for v in ours_variants) / cleanrl:.2f}x")
        if not on_gpu:
            flops = flops_per_step(script, args)
            row += [f"{flops / 1e9:.3f}", f"{rate / flops:.0f}", f"{ours / (rate / flops):.0%}"]
        rows.append(row)

    command = "python benchmarks/speed.py " + " ".join(sys.argv[1:])
    same_work = ", ".join(f"`{script}` with `{' '.join(flags)}`" for script, flags in SAME_WORK_AS_CLEANRL.items())
    machine = f"{machine_description()}; torch threads: {args.threads or 'the scripts default (the free cores)'}"
    if on_gpu:
        machine += f"; GPU: {torch.cuda.get_device_name()} (CUDA {torch.version.cuda})"
    else:
        machine += f"; matrix products (256x256, float32): {rate / 1e9:.0f} GFLOP/s"
    work = (
        f"{args.learning_starts:,} random steps, then {args.warmup:,} training steps of warm-up and "
        f"{args.steps:,} timed training steps, one update each, seed {args.seed}; "
        f"median of {args.repeats} runs (each run in brackets), interleaved"
    )
    lines = [
        f"# Training speed on {args.env_id}",
        "",
        f"Command: `{command.strip()}`, {time.strftime('%Y-%m-%d')}.",
        "",
        f"- Machine: {machine}.",
        f"- Ours: {versions(sys.executable)}.",
    ]
    if args.cleanrl_dir:
        lines.append(f"- CleanRL {cleanrl_commit(args.cleanrl_dir)}: {versions(args.cleanrl_python)}.")
    lines += [
        f"- Work: {work}.",
        f"- CleanRL's default hyperparameters in both; {same_work}.",
        "",
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
        *("| " + " | ".join(row) + " |" for row in rows),
        "",
    ]
    if together:
        n = args.side_by_side
        lines += [
            f"{n} copies of each script started at once (threads: "
            + (f"--threads {args.threads}" if args.threads else "the scripts' default")
            + "), each against the median of the script alone:",
            "",
            f"| script | alone (SPS) | each of {n} side by side (SPS) | the slowest copy / alone |",
            "|---|---|---|---|",
        ]
        for script, speeds in together.items():
            alone = statistics.median(sps[script, "ours"])
            each = ", ".join(f"{v:.0f}" for v in speeds)
            lines.append(f"| `{script}` | {alone:.0f} | {each} | {min(speeds) / alone:.0%} |")
        lines.append("")
    report = "\n".join(lines)
    print(report)
    if args.output is not None:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(report)
        print(f"written to {args.output}")


if __name__ == "__main__":
    main()
