"""What the benchmarks and the tests share: load a script, read TensorBoard logs, describe the machine and versions."""

import dataclasses
import functools
import hashlib
import importlib.util
import os
import platform
import subprocess
import sys
from pathlib import Path
from types import ModuleType

from google.protobuf.message import DecodeError
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator, ScalarEvent
from tensorboard.compat.proto import event_pb2
from tensorboard.compat.tensorflow_stub import errors as record_errors
from tensorboard.compat.tensorflow_stub.pywrap_tensorflow import PyRecordReader_New
from tensorboard.util import tensor_util

ROOT = Path(__file__).resolve().parent.parent
# The algorithm scripts, in the order of the docs: DDPG, then the two that build on it.
SCRIPTS = ["ddpg_continuous.py", "td3_continuous.py", "sac_continuous.py"]


def load_script(script: str | Path) -> ModuleType:
    """Import an algorithm script as a module (its `main` only runs when called): a path relative to the
    repository root (the three scripts by name), or absolute.

    The three scripts are modules named by their stem (`td3_continuous`), as everywhere else; any other
    file by its stem and its path, so that two copies with the same file name stay two modules.
    """
    path = (ROOT / script).resolve()
    name = path.stem if is_ours(path) else f"{path.stem}_{hashlib.sha256(str(path).encode()).hexdigest()[:12]}"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # before it runs: its dataclasses look their module up there
        try:
            spec.loader.exec_module(module)
        except BaseException:
            del sys.modules[name]  # a file that fails to import is not kept half made
            raise
    return sys.modules[name]


def is_ours(path: Path) -> bool:
    """Whether a resolved path is one of the three scripts of this repository."""
    return path.parent == ROOT and path.name in SCRIPTS


def find_script(script: str) -> str:
    """The script that `--scripts` of the benchmarks names: one of the three by name (as it is), or the
    absolute path of any file, given relative to the current directory or absolute, that has the scripts'
    command line (a copy changed to be compared with the original, say): a module-level `Args` dataclass,
    parsed by tyro, and `check_args(args)`. ValueError, in one line, says why a script is refused."""
    if script in SCRIPTS:
        return script
    path = Path(script).resolve()
    if is_ours(path):  # ./td3_continuous.py in the root: the same script, the same runs
        return path.name
    if not path.is_file():
        raise ValueError(f"{script!r} is not one of the algorithm scripts ({', '.join(SCRIPTS)}) nor a file")
    if path.suffix != ".py":
        raise ValueError(f"{script!r} is not a Python file (.py)")
    try:
        module = load_script(path)
    except (Exception, SystemExit) as error:  # noqa: BLE001  (any file may be given: whatever it raises, say it)
        reason = " ".join(str(error).split())  # on one line
        raise ValueError(f"{script!r} fails to import: {type(error).__name__}: {reason}") from None
    if not dataclasses.is_dataclass(getattr(module, "Args", None)) or not callable(getattr(module, "check_args", None)):
        raise ValueError(f"{script!r} lacks the scripts' command line: a module-level `Args` dataclass, `check_args`")
    return str(path)


def scalar_events(run_dir: str | Path) -> dict[str, list[ScalarEvent]]:
    """Every scalar event of a run's TensorBoard log, by tag: (wall_time, step, value) each."""
    events = EventAccumulator(str(run_dir), size_guidance={"scalars": 0})  # 0: keep every event
    events.Reload()
    return {tag: events.Scalars(tag) for tag in events.Tags()["scalars"]}


class DamagedLogError(ValueError):
    """A TensorBoard log that cannot be read as written: no event file, a failed checksum, a cut-off record."""


def checked_scalar_events(run_dir: str | Path, complete: bool = True) -> dict[str, list[ScalarEvent]]:
    """`scalar_events`, but a damaged log raises `DamagedLogError` saying which file and what, instead of
    being read silently up to the damage (TensorBoard's reader stops at the first bad record and says nothing).

    Every record's checksums are verified. A record cut off at the end of a file is what an attempt killed
    while writing leaves (a resumed run goes on in a later file), or a run that is still writing: the records
    before it are returned, except at the end of the last file of a run that has finished (`complete=True`),
    where it is damage. As TensorBoard does, a restart marker
    (SessionLog.START, written by a resumed run) drops the values logged at or after its step before it.
    """
    files = sorted(path for path in Path(run_dir).iterdir() if "tfevents" in path.name and path.is_file())
    if not files:
        raise DamagedLogError(f"no TensorBoard event file in {run_dir}")
    scalars: dict[str, list[ScalarEvent]] = {}
    for number, path in enumerate(files, 1):
        reader = PyRecordReader_New(str(path))
        while True:
            try:
                reader.GetNext()
            except record_errors.OutOfRangeError:  # the end of the file
                break
            except record_errors.DataLossError as error:
                if "truncated record" in error.message and (number < len(files) or not complete):
                    break  # an attempt killed while writing (a later file goes on), or a run still writing
                raise DamagedLogError(f"{path.name}: {error.message.replace(f'{path} ', '')}") from None
            try:
                event = event_pb2.Event.FromString(reader.record())
            except DecodeError as error:
                raise DamagedLogError(f"{path.name}: a record is not an event ({error})") from None
            if event.HasField("session_log") and event.session_log.status == event_pb2.SessionLog.START:
                scalars = {tag: [e for e in events if e.step < event.step] for tag, events in scalars.items()}
            for value in event.summary.value:
                if value.HasField("simple_value"):
                    number_value = value.simple_value
                elif value.HasField("tensor") and value.metadata.plugin_data.plugin_name == "scalars":
                    number_value = float(tensor_util.make_ndarray(value.tensor))
                else:
                    continue
                scalars.setdefault(value.tag, []).append(ScalarEvent(event.wall_time, event.step, number_value))
    return {tag: events for tag, events in scalars.items() if events}


def read_scalars(run_dir: str | Path) -> dict[str, list[tuple[int, float]]]:
    """Every scalar of a run's TensorBoard log: {tag: [(step, value), ...]}."""
    return {tag: [(e.step, e.value) for e in events] for tag, events in scalar_events(run_dir).items()}


def cpu_model() -> str:
    """The processor's name as the OS reports it."""
    try:
        with open("/proc/cpuinfo") as file:
            for line in file:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_description() -> str:
    """One line: processor, cores, memory, OS."""
    memory = ""
    if hasattr(os, "sysconf") and "SC_PHYS_PAGES" in os.sysconf_names:
        memory = f", {os.sysconf('SC_PHYS_PAGES') * os.sysconf('SC_PAGE_SIZE') / 2**30:.0f} GiB"
    return f"{cpu_model()}, {os.cpu_count()} cores{memory}, {platform.system()} {platform.release()}"


def code_version(script: Path) -> dict:
    """Which code a run ran: the commit of the script's repository, whether its tracked files had changes
    (`dirty`), and the script file's own hash (the same hash at two commits: the same script)."""

    def git(*arguments: str) -> str:
        result = subprocess.run(["git", *arguments], cwd=script.parent, capture_output=True, text=True, check=False)
        return result.stdout.strip() if result.returncode == 0 else ""

    return {
        "commit": git("rev-parse", "HEAD") or None,  # None: not in a git repository
        "dirty": bool(git("status", "--porcelain", "--untracked-files=no")),
        "script_sha256": hashlib.sha256(script.read_bytes()).hexdigest(),
    }


@functools.cache  # one interpreter's versions do not change while a benchmark runs
def versions(python: str = sys.executable) -> str:
    """One line: the versions of Python and of the libraries the scripts use, in this interpreter."""
    code = (
        "import sys, torch, gymnasium, mujoco, numpy; "
        "print(f'Python {sys.version.split()[0]}, torch {torch.__version__}, gymnasium {gymnasium.__version__}, "
        "mujoco {mujoco.__version__}, NumPy {numpy.__version__}')"
    )
    result = subprocess.run([python, "-c", code], capture_output=True, text=True, check=False)
    return result.stdout.strip() or f"(versions unavailable: {result.stderr.strip().splitlines()[-1:]})"
