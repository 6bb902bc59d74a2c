"""What the benchmarks and the tests share: load a script, read TensorBoard logs, describe the machine and versions."""

import importlib.util
import os
import platform
import subprocess
import sys
from pathlib import Path
from types import ModuleType

from tensorboard.backend.event_processing.event_accumulator import EventAccumulator, ScalarEvent

ROOT = Path(__file__).resolve().parent.parent
# The algorithm scripts, in the order of the docs: DDPG, then the two that build on it.
SCRIPTS = ["ddpg_continuous.py", "td3_continuous.py", "sac_continuous.py"]


def load_script(script: str | Path) -> ModuleType:
    """Import an algorithm script as a module (its `main` only runs when called)."""
    name = Path(script).stem
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, ROOT / script)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def scalar_events(run_dir: str | Path) -> dict[str, list[ScalarEvent]]:
    """Every scalar event of a run's TensorBoard log, by tag: (wall_time, step, value) each."""
    events = EventAccumulator(str(run_dir), size_guidance={"scalars": 0})  # 0: keep every event
    events.Reload()
    return {tag: events.Scalars(tag) for tag in events.Tags()["scalars"]}


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


def versions(python: str = sys.executable) -> str:
    """One line: the versions of Python and of the libraries the scripts use, in this interpreter."""
    code = (
        "import sys, torch, gymnasium, mujoco, numpy; "
        "print(f'Python {sys.version.split()[0]}, torch {torch.__version__}, gymnasium {gymnasium.__version__}, "
        "mujoco {mujoco.__version__}, NumPy {numpy.__version__}')"
    )
    result = subprocess.run([python, "-c", code], capture_output=True, text=True, check=False)
    return result.stdout.strip() or f"(versions unavailable: {result.stderr.strip().splitlines()[-1:]})"
