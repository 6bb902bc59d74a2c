"""Make finished runs' TensorBoard logs small enough to commit: every episode and evaluation, fewer of the rest.

    python benchmarks/compact.py runs/mujoco-1m --keep-every 10

Each run directory under the given directories (a folder with `args.json` and TensorBoard event files, as the
scripts write them) gets one event file in place of its own: `charts/episodic_return`, `charts/episodic_length`
and every `eval/` tag whole; every other tag (the losses and Q-values the scripts log every 100 updates, SPS,
the noise's scale) at every `--keep-every`-th of its logged steps, and its last. Steps and wall times are kept,
so that the curves, the tables and the wall-clock figures of `plot.py` read the same. A resumed run's
overlapping values are resolved as TensorBoard does (`common.checked_scalar_events`). A 1M-step run's log goes
from about 3-6 MB to about a tenth of that.

The compacted file is named `events.out.tfevents.<time>.compact-every-<N>`; a run that already has one is left
as it is. The full logs come back by running the run again: the command of each attempt is in its
`attempts.jsonl` (the same seed and one thread give the same numbers on the same kind of processor).
"""

import json
import sys
from dataclasses import dataclass
from pathlib import Path

import tyro
from common import DamagedLogError, checked_scalar_events

WHOLE = ("charts/episodic_return", "charts/episodic_length")  # and every eval/ tag: what the figures and tables use


@dataclass
class Args:
    runs_dirs: tyro.conf.Positional[list[Path]]
    """directories to search for run directories (each with an `args.json`)"""
    keep_every: int = 10
    """keep every this many-th value of the tags that are not kept whole"""


def kept(tag: str, events: list, keep_every: int) -> list:
    """The events of a tag that the compacted log keeps."""
    if tag in WHOLE or tag.startswith("eval/"):
        return events
    return [event for index, event in enumerate(events) if index % keep_every == 0 or index == len(events) - 1]


def compact(run_dir: Path, keep_every: int) -> tuple[int, int] | None:
    """Replace `run_dir`'s event files by one compacted file; return the bytes before and after (None: done before)."""
    from torch.utils.tensorboard import SummaryWriter  # the writer the scripts use

    files = sorted(path for path in run_dir.iterdir() if "tfevents" in path.name and path.is_file())
    if any(".compact-every-" in path.name for path in files):
        return None
    scalars = checked_scalar_events(run_dir)
    if not any(scalars.values()):
        raise DamagedLogError("no scalar logged in its event files")
    last_step = max(event.step for events in scalars.values() for event in events)
    budget = json.loads((run_dir / "args.json").read_text()).get("total_timesteps")
    finished_by_runner = (run_dir.parent.parent / "result.json").exists()  # benchmarks/run.py's layout
    if not finished_by_runner and budget is not None and last_step < budget:
        raise ValueError(f"unfinished (logged up to step {last_step:,} of {budget:,}): compact it once it has finished")
    start = min(event.wall_time for events in scalars.values() for event in events)
    suffix = f".compact-every-{keep_every}"
    writer = SummaryWriter(str(run_dir), filename_suffix=suffix)
    for tag, events in scalars.items():
        for event in kept(tag, events, keep_every):
            writer.add_scalar(tag, event.value, event.step, walltime=event.wall_time)
    writer.close()
    (written,) = [path for path in run_dir.iterdir() if path.name.endswith(suffix)]
    written.rename(run_dir / f"events.out.tfevents.{int(start)}{suffix}")  # sorts before a later resume's files
    before = sum(path.stat().st_size for path in files)
    for path in files:
        path.unlink()
    return before, (run_dir / f"events.out.tfevents.{int(start)}{suffix}").stat().st_size


def main(argv: list[str] | None = None) -> None:
    args = tyro.cli(Args, args=argv, description=__doc__.split("\n\n")[0])
    if args.keep_every < 1:
        print(f"compact.py: error: --keep-every must be at least 1, got {args.keep_every}", file=sys.stderr)
        sys.exit(2)
    if not args.runs_dirs:
        print("compact.py: error: give the directories of the runs to compact", file=sys.stderr)
        sys.exit(2)
    for root in args.runs_dirs:
        if not root.is_dir():
            print(f"compact.py: error: {root} is not a directory", file=sys.stderr)
            sys.exit(2)
    run_dirs = sorted({path.parent for root in args.runs_dirs for path in root.rglob("args.json")})
    total_before = total_after = skipped = 0
    for run_dir in run_dirs:
        try:
            sizes = compact(run_dir, args.keep_every)
        except (OSError, ValueError) as error:  # DamagedLogError is a ValueError: left as it is, and said
            print(f"compact.py: skipped {run_dir}: {error}", file=sys.stderr)
            skipped += 1
            continue
        if sizes is None:
            print(f"{run_dir}: compacted before")
            continue
        total_before, total_after = total_before + sizes[0], total_after + sizes[1]
        print(f"{run_dir}: {sizes[0] / 1e6:.2f} MB -> {sizes[1] / 1e6:.2f} MB")
    print(f"{len(run_dirs) - skipped} runs: {total_before / 1e6:.1f} MB -> {total_after / 1e6:.1f} MB")
    if skipped:
        print(f"compact.py: {skipped} run(s) skipped, left as they were (above)", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
