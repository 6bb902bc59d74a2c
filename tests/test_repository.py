"""Promises about the repository itself: CI runs the README's command; each script stands alone."""

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import ROOT, SCRIPTS

ALLOWED_IMPORTS = {"torch", "gymnasium", "numpy", "tyro", "tensorboard"} | set(sys.stdlib_module_names)


def readme_commands() -> list[str]:
    return re.findall(r"```bash\n(python3 -m venv .*)\n```", (ROOT / "README.md").read_text())


def test_ci_runs_the_readme_test_command():
    train, test = readme_commands()
    assert train.endswith("python td3_continuous.py --env-id Hopper-v4")
    assert "pytest" in test
    ci_lines = (ROOT / ".ci" / "run").read_text().splitlines()
    assert test in ci_lines


@pytest.mark.parametrize("script", SCRIPTS)
def test_scripts_import_only_the_standard_library_and_the_stack_at_module_level(script):
    tree = ast.parse((ROOT / script).read_text())
    for node in tree.body:  # optional extras may be imported inside the function that needs them
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, "relative import"
            modules = [node.module]
        else:
            continue
        for module in modules:
            assert module.split(".")[0] in ALLOWED_IMPORTS, f"{script} imports {module}"


# The parts of the scripts that are the algorithm, and the scripts whose version may differ from the others'
# (the others', where they have the part, must still read the same). Everything else that two scripts
# define, function, method, class body or module constant, must read the same in both: the machinery
# around the algorithm is shared, so that a fix in one script is a fix in all, and a reader who knows one
# script knows the others' run control.
ALL = frozenset(SCRIPTS)
ALLOWED_TO_DIFFER = {
    "module docstring": ALL,  # what the algorithm is, and how the script differs from its paper
    "Args": ALL,  # each algorithm's flags and defaults
    "Actor": ALL,  # its docstring (how it is initialised; SAC's: a stochastic policy, its log-std bounds)
    "Actor.__init__": ALL,  # DDPG: layer norm and the paper's initialisation; SAC: mean and log-std heads
    "Actor.forward": {"sac_continuous.py"},  # SAC's deterministic action is tanh of the Gaussian's mean
    "Critic": {"ddpg_continuous.py"},  # DDPG's critic: the action at layer 1 or 2 (the paper), layer norm,
    "Critic.__init__": {"ddpg_continuous.py"},  # the paper's initialisation
    "Critic.forward": {"ddpg_continuous.py"},
    "Agent": {"sac_continuous.py"},  # SAC: no target actor, a learned temperature
    "make_agent": ALL,  # the networks each algorithm builds, their optimizers
    "update": ALL,  # the algorithm itself
    "train": ALL,  # each algorithm's exploration and hyperparameters
    "check_args": {"sac_continuous.py"},  # SAC has no exploration noise to decay: no checks of its flags
}
# Lines one script adds to a part the others share, found by a word they hold: otherwise the part must read the same.
ADDED_LINES = {("check_args", "ddpg_continuous.py"): "args.ou_theta"}  # only DDPG has OU noise to check


def script_parts(path: Path) -> dict[str, str]:
    """Each part of a script by name, with its source (its decorators and the comment lines just above it):
    top-level functions, each method of a class as `Class.method`, a class's own body (docstring,
    attributes) as `Class`, module constants, the module docstring and the `__main__` block."""
    source = path.read_text()
    lines = source.splitlines()
    tree = ast.parse(source)

    def span(node: ast.AST) -> tuple[int, int]:
        first = min([node.lineno] + [decorator.lineno for decorator in getattr(node, "decorator_list", [])])
        while first > 1 and lines[first - 2].lstrip().startswith("#"):
            first -= 1
        return first, node.end_lineno

    def text(first: int, last: int, leave_out: list[tuple[int, int]] = ()) -> str:
        kept = range(first, last + 1)
        return "\n".join(lines[n - 1] for n in kept if not any(a <= n <= b for a, b in leave_out))

    parts = {}
    for node in tree.body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            continue  # each script imports what it uses; test_scripts_import_only_... checks them
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            parts[node.name] = text(*span(node))
        elif isinstance(node, ast.ClassDef):
            methods = [n for n in node.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]
            parts |= {f"{node.name}.{method.name}": text(*span(method)) for method in methods}
            parts[node.name] = text(*span(node), leave_out=[span(method) for method in methods])
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            parts[", ".join(n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name))] = text(*span(node))
        elif node is tree.body[0] and isinstance(node, ast.Expr):
            parts["module docstring"] = text(*span(node))
        else:  # any other statement (`if __name__ == "__main__":`), by its first line
            parts[lines[node.lineno - 1].strip()] = text(*span(node))
    return parts


def shared_part_differences(scripts: dict[str, Path]) -> list[str]:
    """The parts defined by two scripts or more that differ where ALLOWED_TO_DIFFER does not allow it."""
    parts = {script: script_parts(path) for script, path in scripts.items()}
    differences = []
    for name in sorted(set().union(*parts.values())):
        sources = {
            script: "\n".join(
                line for line in found[name].splitlines() if ADDED_LINES.get((name, script), "\0") not in line
            )
            for script, found in parts.items()
            if name in found and script not in ALLOWED_TO_DIFFER.get(name, ())
        }
        if len(set(sources.values())) > 1:
            differences.append(f"{name} differs between {', '.join(sources)}")
    return differences


def test_what_two_scripts_share_reads_the_same_in_both():
    differences = shared_part_differences({script: ROOT / script for script in SCRIPTS})
    assert not differences, "make them read the same, or allow it in ALLOWED_TO_DIFFER:\n" + "\n".join(differences)


def test_the_allowed_differences_are_real():
    """Each script allowed to differ in a part has the part, and its version differs from every other script's."""
    parts = {script: script_parts(ROOT / script) for script in SCRIPTS}
    for name, scripts in ALLOWED_TO_DIFFER.items():
        for script in scripts:
            assert name in parts[script], f"{script} has no {name}: drop it from ALLOWED_TO_DIFFER"
            same = [other for other in SCRIPTS if other != script and parts[other].get(name) == parts[script][name]]
            assert not same, f"{name} reads the same in {script} and {same}: narrow ALLOWED_TO_DIFFER[{name!r}]"


def test_a_difference_in_a_shared_part_is_caught(tmp_path):
    """The check itself: a method of the run control edited in one copy of the scripts, a constant in another."""
    copies = {script: tmp_path / script for script in SCRIPTS}
    for script, path in copies.items():
        path.write_text((ROOT / script).read_text())
    for script, name, edit in [
        ("td3_continuous.py", "Run.finish", "\n        return None"),  # one more line in the method
        ("sac_continuous.py", "PROGRESS_SECONDS", "  # edited"),  # a comment on the constant's line
    ]:
        part, source = script_parts(copies[script])[name], copies[script].read_text()
        assert source.count(part) == 1
        copies[script].write_text(source.replace(part, part + edit))
    assert shared_part_differences(copies) == [
        "PROGRESS_SECONDS differs between ddpg_continuous.py, td3_continuous.py, sac_continuous.py",
        "Run.finish differs between ddpg_continuous.py, td3_continuous.py, sac_continuous.py",
    ]


def test_a_license_and_a_citation_let_researchers_copy_and_cite():
    license_text = (ROOT / "LICENSE").read_text()
    assert license_text.startswith("MIT License") and "Permission is hereby granted, free of charge" in license_text
    yaml = pytest.importorskip("yaml")
    citation = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    assert citation["cff-version"] == "1.2.0" and citation["license"] == "MIT" and citation["type"] == "software"
    assert citation["title"] and citation["message"] and citation["authors"]


def test_the_committed_results_stay_small_enough_to_clone():
    """benchmarks/results/ holds what the figures and tables need, at most 90 MB in all: finished runs' logs go
    through benchmarks/compact.py, and checkpoints are never committed (those of local runs are ignored)."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "benchmarks/results"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    if listed.returncode != 0:
        pytest.skip("not a git checkout")
    files = [ROOT / name for name in listed.stdout.split("\0") if name]
    assert len(files) > 100  # the committed runs, figures and tables are there
    assert not [path for path in files if path.suffix == ".pt"], "a checkpoint is committed under benchmarks/results/"
    assert sum(path.stat().st_size for path in files if path.exists()) <= 90 * 2**20
