"""Promises about the repository itself: CI runs the README's command; each script stands alone."""

import ast
import re
import sys

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


# The parts every script has in common, which must read the same in each (only the algorithm differs).
SHARED = [
    "fail",
    "make_env",
    "make_vector_env",
    "ReplayBuffer",
    "real_next_obs",
    "NonFiniteLoss",
    "check_finite",
    "soft_update",
    "evaluate",
    "rng_state",
    "set_rng_state",
    "write_checkpoint",
    "find_checkpoint",
    "read_checkpoint",
    "args_from_checkpoint",
    "check_shapes",
    "evaluate_checkpoint",
    "format_duration",
]


def top_level_sources(script: str) -> dict[str, str]:
    source = (ROOT / script).read_text()
    tree = ast.parse(source)
    return {
        node.name: ast.get_source_segment(source, node)
        for node in tree.body
        if isinstance(node, ast.FunctionDef | ast.ClassDef)
    }


@pytest.mark.parametrize("name", SHARED)
def test_shared_parts_read_the_same_in_every_script(name):
    sources = {script: top_level_sources(script).get(name) for script in SCRIPTS}
    assert all(sources.values()), f"{name} is missing from some script"
    reference = sources[SCRIPTS[0]]
    assert all(source == reference for source in sources.values()), f"{name} differs between the scripts"
