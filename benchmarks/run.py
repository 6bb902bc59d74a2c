"""Run the algorithm scripts over environments and seeds: in parallel, resumable, here or on a Ray cluster.

    python benchmarks/run.py --scripts td3_continuous.py sac_continuous.py --env-ids Hopper-v4 HalfCheetah-v4 \\
        --seeds 1 2 3 --workers 2 -- --total-timesteps 100000

Every (script, env, seed) is one run, in its own process, everything after `--` passed to the
scripts. A named variant is a script with flags of its own, given as one quoted word in `--scripts`:

    python benchmarks/run.py --scripts td3_continuous.py "td3-single-critic=td3_continuous.py --num-critics 1"

Its runs are named, resumed, plotted and tabled under its name; a plain script under its file name. A
script is one of the three by name, or the path of any file with their command line, such as a changed
copy to compare with the original (`--scripts td3_continuous.py path/to/my_td3.py`; its runs: `my_td3`).
Run `<name>` = `<env>__<script>__<seed>` lives in `<runs-dir>/<name>/`: `log.txt` (its
output), `runs/<the script's run directory>/` (TensorBoard log, checkpoints), `attempts.jsonl`
(command, exit status, duration, machine and versions of each attempt) and, once it has finished,
`result.json`. Stop the benchmark at any time (Ctrl-C, `kill`, a lost machine) and start the same
command again: finished runs are skipped, interrupted ones resume from their last checkpoint (the
runner asks the scripts for one every `--checkpoint-frequency` steps), and runs that never wrote
one start over. A larger `--total-timesteps` extends finished runs the same way.
A failed run is reported with its log and does not stop the others.

`--backend ray` sends the same runs to Ray (`pip install -r benchmarks/requirements.txt`), on this
machine or on the cluster at `--ray-address`: one CPU per run, or one GPU with `--gpus-per-run 1`.
The runs directory must then be on a file system that every node sees.
"""

import concurrent.futures
import contextlib
import dataclasses
import functools
import io
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import tyro
from common import ROOT, SCRIPTS, code_version, find_script, is_ours, load_script, machine_description, versions

USAGE = "python benchmarks/run.py [RUNNER OPTIONS] -- [SCRIPT FLAGS, passed to every run]"


@dataclass
class Args:
    scripts: list[str] = field(default_factory=lambda: list(SCRIPTS))
    """the algorithm scripts to run (by name, or the path of a changed copy), or named variants "NAME=SCRIPT FLAGS..."
    (each one quoted word)"""
    env_ids: list[str] = field(default_factory=lambda: ["Hopper-v4"])
    """the environments"""
    seeds: list[int] = field(default_factory=lambda: [1, 2, 3])
    """the seeds"""
    runs_dir: Path = Path("runs/benchmark")
    """where the runs go; the same directory again resumes the benchmark"""
    workers: int = 1
    """runs at a time on this machine (with --backend local)"""
    threads_per_run: int | None = None
    """torch threads of each run (the scripts' --threads); default: the cores shared among the workers (Ray: 1)"""
    checkpoint_frequency: int = 20000
    """steps between the checkpoints that interrupted runs resume from (0: none, interrupted runs start over)"""
    backend: str = "local"
    """"local" (processes on this machine) or "ray" (tasks on a Ray cluster)"""
    ray_address: str | None = None
    """the Ray cluster to join ("auto": the one this node belongs to); default: start a local Ray"""
    gpus_per_run: float = 0.0
    """GPUs each Ray task asks for; with 0, the scripts are given --no-cuda"""
    progress_seconds: float = 10.0
    """how often the progress line is printed"""


@dataclass(frozen=True)
class Variant:
    """A script, or a named variant of it: the script with flags of its own."""

    script: str  # one of the three by name, or the absolute path of another script (`find_script`)
    name: str = ""  # a variant's name; "" for the plain script
    flags: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        return self.name or Path(self.script).stem


@dataclass(frozen=True)
class Run:
    script: str
    env_id: str
    seed: int
    variant: Variant | None = None

    @property
    def name(self) -> str:
        label = self.variant.label if self.variant else Path(self.script).stem
        return f"{re.sub(r'[^A-Za-z0-9_.-]', '_', self.env_id)}__{label}__{self.seed}"

    def flags(self, script_flags: list[str]) -> list[str]:
        """The script's flags for this run: the variant's own, then those after `--`."""
        return [*(self.variant.flags if self.variant else ()), *script_flags]


def parse_variant(spec: str) -> Variant:
    """`td3_continuous.py`, `path/to/my_td3.py`, or `NAME=td3_continuous.py --flag value ...` (a named variant)."""
    if "=" not in spec.split(maxsplit=1)[0]:
        return Variant(checked_script(spec))
    name, definition = spec.split("=", 1)
    words = shlex.split(definition)
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", name) or not words:
        fail(f"--scripts: a variant is NAME=SCRIPT FLAGS..., NAME of letters, digits, '_', '.', '-'; got {spec!r}")
    return Variant(checked_script(words[0]), name, tuple(words[1:]))


def checked_script(script: str) -> str:
    """`find_script`'s script, or its reason for refusing it in one line."""
    try:
        return find_script(script)
    except ValueError as error:
        fail(f"--scripts: {error}")


def fail(message: str) -> None:
    print(f"run.py: error: {message}", file=sys.stderr)
    sys.exit(2)


@functools.cache
def script_args(script: str, flags: tuple[str, ...]) -> dict:
    """The arguments that `flags` give the script, parsed and checked by the script's own `Args` and
    `check_args`: flags in any order, or spelled `--flag=value`, are the same experiment. A flag the
    script rejects ends the runner here, in one line, before any run starts."""
    module = load_script(script)
    output = io.StringIO()
    try:
        with contextlib.redirect_stderr(output), contextlib.redirect_stdout(output):
            args = tyro.cli(module.Args, args=flags)
    except SystemExit:  # tyro's message is a box of text: keep its first line of content
        lines = [line.strip() for line in output.getvalue().splitlines() if line.strip().strip("-")]
        reason = lines[1] if len(lines) > 1 else "see its --help"
        fail(f"{script} rejects the flags after `--` ({' '.join(flags)}): {reason}")
    module.check_args(args)  # the script's own one-line error and exit status 2 on values it refuses
    return dataclasses.asdict(args)


@functools.cache
def check_env(script: str, env_id: str) -> None:
    """The env can be made as the script makes it (which refuses discrete and unbounded actions, for instance):
    an unknown id or a misspelt one ends the runner in one line, before any run starts."""
    make_vector_env = getattr(load_script(script), "make_vector_env", None)
    if make_vector_env is None:  # a user's changed copy may build its envs otherwise: its runs will say
        return
    try:
        with contextlib.redirect_stderr(io.StringIO()), warnings.catch_warnings(action="ignore"):
            make_vector_env(env_id, 1).close()
    except Exception as error:  # noqa: BLE001  (the env's own error, whatever it is, says why)
        reason = (str(error).strip() or type(error).__name__).splitlines()[0]
        fail(f"--env-ids: {script} cannot make {env_id!r} ({reason})")


def script_run_dir(run_dir: Path) -> Path | None:
    """The directory that the script made inside `run_dir/runs`, if it has started."""
    made = sorted(path for path in (run_dir / "runs").glob("*") if path.is_dir())
    return made[-1] if made else None


def experiment(script: str, flags: tuple[str, ...]) -> dict:
    """The arguments that make the experiment: `script_args` less the script's `RUN_CONTROL_FLAGS`, those that
    say how it is run (device, compilation, checkpoints, evaluation, logging, budget) and that a resume of the
    script may change. (A script without that set: all but the budget.)"""
    control = getattr(load_script(script), "RUN_CONTROL_FLAGS", set()) | {"total_timesteps"}
    return {name: value for name, value in script_args(script, flags).items() if name not in control}


def status(run: "Run", run_dir: Path, script_flags: list[str]) -> str:
    """ "done", "extend" (done, with fewer steps than asked), "resume", "start" or "conflict" (other flags)."""
    result_path = run_dir / "result.json"
    if result_path.exists():
        made_with = tuple(json.loads(result_path.read_text())["script_flags"])
        asked = tuple(run.flags(script_flags))
        if experiment(run.script, made_with) != experiment(run.script, asked):
            return "conflict"  # another experiment: its runs would not be comparable with these
        # The same experiment: only the budget counts. A run-control flag that differs (--no-cuda, the evaluation
        # flags) leaves a finished run done: what it learnt is the same, and its result.json keeps the flags it
        # was made with. A larger budget extends it (resumed with the flags asked); a smaller one cannot be had.
        steps_made = script_args(run.script, made_with)["total_timesteps"]
        steps_asked = script_args(run.script, asked)["total_timesteps"]
        return "done" if steps_asked == steps_made else "extend" if steps_asked > steps_made else "conflict"
    made = script_run_dir(run_dir)
    return "resume" if made is not None and any((made / "checkpoints").glob("step_*.pt")) else "start"


def prepare(run: Run, args: Args, script_flags: list[str]) -> list[str]:
    """The command that starts, resumes or extends this run; clears what a run without checkpoint left."""
    run_dir = args.runs_dir / run.name
    state = status(run, run_dir, script_flags)
    script = ROOT / run.script  # one of the three in the repository, or the absolute path of another
    command = [sys.executable, str(script), "--env-id", run.env_id, "--seed", str(run.seed)]
    command += ["--checkpoint-frequency", str(args.checkpoint_frequency), "--checkpoint-keep", "1"]
    command += ["--threads", str(threads_per_run(args))]
    if args.backend == "ray" and args.gpus_per_run == 0:
        command.append("--no-cuda")
    if state in ("resume", "extend"):
        command += ["--resume", str(script_run_dir(run_dir).resolve())]
        (run_dir / "result.json").unlink(missing_ok=True)
    else:  # from scratch: what an attempt without checkpoint left goes (log.txt keeps its story)
        shutil.rmtree(run_dir / "runs", ignore_errors=True)
        (run_dir / "attempts.jsonl").unlink(missing_ok=True)
        run_dir.mkdir(parents=True, exist_ok=True)
    return command + run.flags(script_flags)


ATTEMPT_RECORD_SECONDS = 60.0  # how often a running attempt's time is written to attempts.jsonl


def wait(process: subprocess.Popen, seconds: float) -> int | None:
    """The process's exit status, or None if it still runs after `seconds`."""
    try:
        return process.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        return None


def write_attempt(run_dir: Path, record: dict, new: bool = False) -> None:
    """Append the record of a new attempt to attempts.jsonl, or replace the last one's (atomically)."""
    path = run_dir / "attempts.jsonl"
    lines = path.read_text().splitlines(keepends=True) if path.exists() else []
    lines = lines if new else lines[:-1]
    temporary = path.with_suffix(".jsonl.tmp")
    temporary.write_text("".join(lines) + json.dumps(record) + "\n")
    temporary.replace(path)


def execute(run: Run, run_dir: str, command: list[str], script_flags: list[str], track=None) -> dict:
    """Run one command to its end in `run_dir`, its output appended to log.txt; on success write result.json.

    The same function runs in a local thread or as a Ray task on any node; `track(process, alive)`,
    if given, is told when the process starts and ends (so that a stop can reach it).
    """
    run_dir = Path(run_dir)
    ran_on = f"{machine_description()}; {versions(command[0])}"  # this node, the scripts' interpreter
    code = code_version(Path(command[1]))  # the commit and script this attempt runs
    env = dict(os.environ, PYTHONWARNINGS="ignore::DeprecationWarning")  # torch threads: the scripts' --threads
    # The attempt's record is written when it starts and its time kept up to date while it runs, so that
    # an attempt killed together with the runner (a lost machine) keeps its record, exit status null.
    record = {"command": command, "returncode": None, "seconds": 0.0, "ran_on": ran_on, **code}
    write_attempt(run_dir, record, new=True)
    start = time.time()
    with open(run_dir / "log.txt", "a") as log:
        log.write(f"\n=== {time.strftime('%Y-%m-%d %H:%M:%S')}: {' '.join(command)}\n")
        log.flush()
        process = subprocess.Popen(command, cwd=run_dir, env=env, stdout=log, stderr=subprocess.STDOUT)
        if track:
            track(process, True)
        try:
            while (returncode := wait(process, ATTEMPT_RECORD_SECONDS)) is None:
                write_attempt(run_dir, {**record, "seconds": time.time() - start})
        except BaseException:  # a cancelled Ray task: let the script checkpoint before it goes
            process.terminate()
            process.wait()
            raise
        finally:
            if track:
                track(process, False)
    seconds = time.time() - start
    outcome = {"returncode": returncode, "seconds": seconds, "wall_time_seconds": seconds}
    write_attempt(run_dir, {**record, "returncode": returncode, "seconds": seconds})
    if returncode == 0:
        records = [json.loads(line) for line in (run_dir / "attempts.jsonl").read_text().splitlines()]
        outcome["wall_time_seconds"] = sum(record["seconds"] for record in records)  # all attempts
        result = {
            "script": Path(run.script).name,  # plotted under it
            **({} if is_ours(ROOT / run.script) else {"script_path": run.script}),  # which copy ran
            "variant": run.variant.name if run.variant and run.variant.name else None,
            "env_id": run.env_id,
            "seed": run.seed,
            "script_flags": run.flags(script_flags),
            "wall_time_seconds": outcome["wall_time_seconds"],
            "tensorboard_dir": str(script_run_dir(run_dir).relative_to(run_dir)),
            # machine and versions of each attempt (a resumed run may have moved), without repeats
            "ran_on": list(dict.fromkeys(record["ran_on"] for record in records if "ran_on" in record)),
            # the code: one commit, or the commits of its attempts joined by "+"; dirty if any attempt's tree was
            "commit": "+".join(dict.fromkeys(str(record.get("commit")) for record in records)),
            "dirty": any(record.get("dirty", True) for record in records),
            "script_sha256": "+".join(dict.fromkeys(str(record.get("script_sha256")) for record in records)),
        }
        (run_dir / "result.json").write_text(json.dumps(result, indent=2))
    return outcome


def format_duration(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


class Progress:
    """Counts of runs done / running / failed / pending, with an estimate of the time left."""

    def __init__(self, total: int, skipped: int, parallel: int):
        self.total, self.skipped, self.parallel = total, skipped, parallel
        self.done, self.failed = skipped, []
        self.started: dict[Run, float] = {}  # the runs in progress, and when they started
        self.durations: list[float] = []
        self.start = self.last_print = time.time()

    @property
    def running(self) -> int:
        return len(self.started)

    def line(self) -> str:
        pending = self.total - self.done - len(self.failed) - self.running
        eta = "n/a"
        if self.durations:  # runs left at the mean duration so far, less what the running ones have done
            mean, now = sum(self.durations) / len(self.durations), time.time()
            left = pending * mean + sum(max(0.0, mean - (now - start)) for start in self.started.values())
            eta = format_duration(left / max(1, self.parallel))
        return (
            f"[{format_duration(time.time() - self.start)}] done {self.done}/{self.total}"
            f" ({self.skipped} before) | running {self.running} | failed {len(self.failed)} | pending {pending}"
            f" | ETA {eta}"
        )

    def maybe_print(self, seconds: float) -> None:
        if time.time() - self.last_print >= seconds:
            print(self.line(), flush=True)
            self.last_print = time.time()

    def finished(self, run: Run, outcome: dict, log_path: Path) -> None:
        del self.started[run]
        if outcome["returncode"] == 0:
            self.done += 1
            self.durations.append(outcome["wall_time_seconds"])
            print(f"finished {run.name} in {format_duration(outcome['wall_time_seconds'])}", flush=True)
        else:
            self.failed.append(run)
            print(f"FAILED {run.name} (exit {outcome['returncode']}); log: {log_path}", flush=True)


def threads_per_run(args: Args) -> int:
    if args.threads_per_run:
        return args.threads_per_run
    return 1 if args.backend == "ray" else max(1, (os.cpu_count() or 1) // args.workers)


def run_local(todo: list[tuple[Run, list[str]]], args: Args, script_flags: list[str], progress: Progress) -> None:
    stopping = threading.Event()
    live, lock = set(), threading.Lock()  # the runs' processes

    def track(process: subprocess.Popen, alive: bool) -> None:
        with lock:
            (live.add if alive else live.discard)(process)

    def stop(signum, frame):
        if not stopping.is_set():
            print(f"\n{signal.Signals(signum).name}: stopping the runs (they checkpoint first)", flush=True)
        stopping.set()
        with lock:
            for process in live:
                process.send_signal(signal.SIGTERM)

    previous = {signum: signal.signal(signum, stop) for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        with concurrent.futures.ThreadPoolExecutor(max_workers=args.workers) as pool:
            pending = list(todo)
            futures = {}
            while pending or futures:
                while pending and len(futures) < args.workers and not stopping.is_set():
                    run, command = pending.pop(0)
                    run_dir = args.runs_dir / run.name
                    futures[pool.submit(execute, run, str(run_dir), command, script_flags, track)] = run
                    progress.started[run] = time.time()
                if stopping.is_set():
                    pending.clear()
                finished, _ = concurrent.futures.wait(futures, timeout=1.0, return_when="FIRST_COMPLETED")
                for future in finished:
                    run = futures.pop(future)
                    outcome = future.result()
                    if stopping.is_set() and outcome["returncode"] != 0:
                        del progress.started[run]  # interrupted, not failed: it resumes next time
                    else:
                        progress.finished(run, outcome, args.runs_dir / run.name / "log.txt")
                progress.maybe_print(args.progress_seconds)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    if stopping.is_set():
        print("stopped; run the same command again to resume", flush=True)
        sys.exit(130)


def run_ray(todo: list[tuple[Run, list[str]]], args: Args, script_flags: list[str], progress: Progress) -> None:
    import ray  # optional: only --backend ray needs it (main checked that it imports)

    ray.init(address=args.ray_address, log_to_driver=False)
    progress.parallel = max(1, int(ray.cluster_resources().get("GPU" if args.gpus_per_run else "CPU", 1)))
    remote_execute = ray.remote(num_cpus=1, num_gpus=args.gpus_per_run, max_retries=0)(execute)
    references = {}
    for run, command in todo:
        run_dir = str((args.runs_dir / run.name).resolve())
        references[remote_execute.remote(run, run_dir, command, script_flags)] = run
        progress.started[run] = time.time()  # submitted: Ray starts it when a CPU is free
    try:
        while references:
            finished, _ = ray.wait(list(references), timeout=1.0)
            for reference in finished:
                run = references.pop(reference)
                progress.finished(run, ray.get(reference), args.runs_dir / run.name / "log.txt")
            progress.maybe_print(args.progress_seconds)
    except KeyboardInterrupt:
        print("\nstopping the runs (they checkpoint first)", flush=True)
        for reference in references:
            ray.cancel(reference)
        ray.wait(list(references), num_returns=len(references), timeout=120)
        print("stopped; run the same command again to resume", flush=True)
        sys.exit(130)
    finally:
        ray.shutdown()


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    split = argv.index("--") if "--" in argv else len(argv)
    description = f"{__doc__.split(chr(10))[0]}\n\nUsage: {USAGE}"
    args = tyro.cli(Args, args=argv[:split], description=description)
    script_flags = argv[split + 1 :]
    for name, values in (("--scripts", args.scripts), ("--env-ids", args.env_ids), ("--seeds", args.seeds)):
        if not values:
            fail(f"{name} is empty: give at least one")
    variants = [parse_variant(spec) for spec in args.scripts]
    if len({variant.label for variant in variants}) < len(variants):
        fail("--scripts: two of them have the same name: give each variant a name of its own")
    if min(args.seeds) < 0:
        fail(f"--seeds must not be negative, got {min(args.seeds)}")
    if args.checkpoint_frequency < 0:
        fail(f"--checkpoint-frequency must not be negative (0: no checkpoints), got {args.checkpoint_frequency}")
    existing = args.runs_dir.resolve()
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
        fail(
            f"cannot write the runs in {args.runs_dir}: {existing} is {'not a directory' if not existing.is_dir() else 'not writable'}"
        )
    if args.backend not in ("local", "ray"):
        fail(f"--backend must be local or ray, got {args.backend!r}")
    if args.workers < 1:
        fail(f"--workers must be at least 1, got {args.workers}")
    if args.threads_per_run is not None and args.threads_per_run < 1:
        fail(f"--threads-per-run must be at least 1, got {args.threads_per_run}")
    if args.backend == "ray":
        try:
            import ray  # noqa: F401  (checked now, before anything is written)
        except ImportError:
            fail("--backend ray needs Ray: pip install -r benchmarks/requirements.txt")
    runner_flags = ("--env-id", "--seed", "--resume", "--checkpoint-frequency", "--threads")
    flags_given = script_flags + [flag for variant in variants for flag in variant.flags]
    bad = sorted({flag.split("=")[0] for flag in flags_given if flag.split("=")[0] in runner_flags})
    if bad:
        fail(f"give {', '.join(bad)} to the runner, not after `--` or in a variant: it sets them for every run")
    not_training = ("--eval-only", "--checkpoint", "--render", "--help", "-h")  # each run must train and log
    odd = sorted({flag.split("=")[0] for flag in flags_given if flag.split("=")[0] in not_training})
    if odd:
        fail(f"{', '.join(odd)} after `--` or in a variant: the runner runs training runs; run the script itself")
    for name, values in (("--env-ids", args.env_ids), ("--seeds", args.seeds)):
        repeated = sorted({str(value) for value in values if values.count(value) > 1})
        if repeated:
            fail(f"{name} names {', '.join(repeated)} more than once: each run is one directory, give each once")
    for variant in variants:  # every script accepts its flags and envs, before any run starts
        script_args(variant.script, (*variant.flags, *script_flags))
        for env_id in args.env_ids:
            check_env(variant.script, env_id)

    # Env by env, seed by seed: a benchmark stopped halfway has every script on its first envs.
    runs = [
        Run(variant.script, env_id, seed, variant if variant.name else None)
        for env_id in args.env_ids
        for seed in args.seeds
        for variant in variants
    ]
    states = {run: status(run, args.runs_dir / run.name, script_flags) for run in runs}
    conflicts = [run.name for run, state in states.items() if state == "conflict"]
    if conflicts:
        fail(
            f"{args.runs_dir} holds finished runs made with other script flags ({', '.join(conflicts[:3])}...): "
            "use another --runs-dir, or the same flags (a finished run can be extended, not shortened)"
        )
    todo = [(run, prepare(run, args, script_flags)) for run in runs if states[run] != "done"]
    skipped = len(runs) - len(todo)
    print(
        f"{len(runs)} runs in {args.runs_dir}: {skipped} finished before, "
        f"{sum(states[run] in ('resume', 'extend') for run, _ in todo)} to resume, "
        f"{sum(states[run] == 'start' for run, _ in todo)} to start",
        flush=True,
    )
    progress = Progress(len(runs), skipped, args.workers)
    for run in runs:  # the durations of runs finished before give a first estimate of the time left
        if states[run] == "done":
            progress.durations.append(
                json.loads((args.runs_dir / run.name / "result.json").read_text())["wall_time_seconds"]
            )
    if todo:
        (run_local if args.backend == "local" else run_ray)(todo, args, script_flags, progress)
    print(progress.line(), flush=True)
    if progress.failed:
        print("failed runs (their logs say why):", flush=True)
        for run in progress.failed:
            print(f"  {run.name}: {args.runs_dir / run.name / 'log.txt'}", flush=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
