"""The docs do not rot: every relative link resolves, every line link shows the code it names, and
every hyperparameter table lists each flag with its true default.

A link to a script line is written [`code`](../td3_continuous.py#L123) (or #L123-L125): the code
in the link text must be on that line (or in that range). When a script changes, this test says
where the code went.
"""

import dataclasses
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import ROOT, load_script

DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), *sorted((ROOT / "benchmarks").rglob("*.md"))]
LINK = re.compile(r"(?<!!)\[((?:[^\[\]]|\[[^\]]*\])*)\]\(([^)\s]+)\)|!\[[^\]]*\]\(([^)\s]+)\)")
ALGORITHM_PAGES = {
    "docs/td3.md": "td3_continuous.py",
    "docs/sac.md": "sac_continuous.py",
    "docs/ddpg.md": "ddpg_continuous.py",
}


def links(path: Path):
    """(text, target) of every Markdown link and image in a file, outside fenced code blocks."""
    text = re.sub(r"```.*?```", "", path.read_text(), flags=re.DOTALL)
    for match in LINK.finditer(text):
        yield (match.group(1) or "", match.group(2) or match.group(3))


def github_anchor(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces to hyphens."""
    heading = re.sub(r"[`*_]", "", heading.strip().lower())
    return re.sub(r"[^\w\- ]", "", heading).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    text = re.sub(r"```.*?```", "", path.read_text(), flags=re.DOTALL)
    return {github_anchor(line.lstrip("#")) for line in text.splitlines() if line.startswith("#")}


def check_line_link(text: str, file: Path, anchor: str) -> None:
    match = re.fullmatch(r"L(\d+)(?:-L(\d+))?", anchor)
    assert match, f"line anchors look like #L12 or #L12-L15, not #{anchor}"
    first, last = int(match.group(1)), int(match.group(2) or match.group(1))
    lines = file.read_text().splitlines()
    assert 1 <= first <= last <= len(lines), f"{file.name} has {len(lines)} lines, not #{anchor}"
    code = re.fullmatch(r"`([^`]+)`", text)
    assert code, f"a link to #{anchor} of {file.name} must name its code as `code`, not {text!r}"
    if code.group(1) not in "\n".join(lines[first - 1 : last]):
        now = [number for number, line in enumerate(lines, 1) if code.group(1) in line]
        pytest.fail(f"`{code.group(1)}` is not at {file.name}#{anchor}; it is now at line(s) {now}")


@pytest.mark.parametrize("doc", DOCS, ids=lambda path: str(path.relative_to(ROOT)))
def test_every_relative_link_resolves(doc):
    checked = 0
    for text, target in links(doc):
        if re.match(r"[a-z]+:", target):  # http:, https:, mailto:
            continue
        path_part, _, anchor = target.partition("#")
        file = (doc.parent / path_part).resolve() if path_part else doc
        assert file.exists(), f"{doc.name}: [{text}]({target}) points to a missing {file}"
        if anchor and file.suffix == ".py":
            check_line_link(text, file, anchor)
        elif anchor and file.suffix == ".md":
            assert anchor in anchors(file), f"{doc.name}: no heading #{anchor} in {file.name}"
        checked += 1
    assert checked > 0 or doc.name != "README.md"


def flag_default(value) -> str:
    """How a default is written in the tables: as tyro shows it on the command line."""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, (list, tuple)):
        return " ".join(str(item) for item in value)
    return str(value)


@pytest.mark.parametrize("page", ALGORITHM_PAGES, ids=list(ALGORITHM_PAGES))
def test_hyperparameter_tables_give_every_flag_its_true_default(page):
    module = load_script(ALGORITHM_PAGES[page])
    text = (ROOT / page).read_text()
    rows = dict(re.findall(r"^\| `--([a-z0-9-]+)` \| `([^`]*)` \|", text, flags=re.MULTILINE))
    defaults = {
        field.name.replace("_", "-"): field.default
        if field.default is not dataclasses.MISSING
        else field.default_factory()
        for field in dataclasses.fields(module.Args)
    }
    hyperparameters = {name for name in defaults if name.replace("-", "_") not in module.RUN_CONTROL_FLAGS}
    hyperparameters -= {"exp-name", "seed", "torch-deterministic", "cuda", "eval-only", "env-id"}
    assert hyperparameters <= set(rows), f"{page} lacks {sorted(hyperparameters - set(rows))}"
    for flag, written in rows.items():
        assert flag in defaults, f"{page} documents --{flag}, which {ALGORITHM_PAGES[page]} does not have"
        assert written == flag_default(defaults[flag]), f"{page}: --{flag} defaults to {defaults[flag]!r}"


@pytest.mark.parametrize("page", ALGORITHM_PAGES, ids=list(ALGORITHM_PAGES))
def test_algorithm_pages_open_with_pseudo_code_quick_facts_and_a_map_of_the_script(page):
    """Before the prose: the algorithm as a pseudo-code box, the quick facts, and line links to the
    script's sections, from its flags to its update, its training loop and the run-control banner."""
    text = (ROOT / page).read_text()
    opening = text[: text.index("## ")]  # everything before the first section
    assert re.search(r"^```text\n(.+\n){8,}```$", opening, flags=re.MULTILINE), f"{page}: no pseudo-code box"
    assert opening.index("```text") < opening.index("**Quick facts**")
    for fact in ("Off-policy", "Actions", "Learns", "Key hyperparameters"):
        assert f"**{fact}**" in opening, f"{page}'s quick facts lack {fact}"
    script = ALGORITHM_PAGES[page]
    for code in ("class Args:", "def update(", "def train(", "# Run control. The algorithm is complete above"):
        assert f"[`{code}`](../{script}#L" in opening, f"{page}'s map of the script does not link `{code}`"


def test_documented_plot_commands_parse():
    """Every `python benchmarks/plot.py ...` command in the docs uses flags that plot.py has."""
    plot = pytest.importorskip("plot")
    tyro = pytest.importorskip("tyro")
    commands = 0
    for doc in DOCS:
        text = doc.read_text().replace("\\\n", " ")  # join continued lines
        for line in re.findall(r"^python benchmarks/plot\.py(.*)$", text, flags=re.MULTILINE):
            argv = line.split("#")[0].split()
            tyro.cli(plot.Args, args=[arg for arg in argv if arg != "..."])
            commands += 1
    assert commands > 0


def test_quoted_benchmark_rows_are_the_committed_results():
    """A results row quoted in the docs (| env | `script` | seeds | ...) is a row plot.py wrote: in the main
    benchmark's results.md, or in the results.md beside the doc (a study's README quotes its own tables)."""
    main_results = ROOT / "benchmarks" / "results" / "results.md"
    row = re.compile(r"^\| [\w.-]+ \| `\w+_continuous\.py` \| \d+ \|.*$", flags=re.MULTILINE)
    for doc in (doc for doc in DOCS if doc.name != "results.md"):  # not the tables plot.py writes itself
        tables = [path for path in (main_results, doc.parent / "results.md") if path.exists()]
        committed = {line for path in tables for line in path.read_text().splitlines()}
        for quoted in row.findall(doc.read_text()):
            assert quoted in committed, (
                f"{doc.name} quotes a row that is not in {' or '.join(map(str, tables))}: {quoted}"
            )


def test_the_custom_environment_example_runs(tmp_path, monkeypatch):
    """docs/index.md's example environment, saved as my_envs.py, trains under a script's own flags."""
    blocks = re.findall(r"```python\n(.*?)```", (ROOT / "docs" / "index.md").read_text(), flags=re.DOTALL)
    (code,) = [block for block in blocks if "class Reach" in block]
    (tmp_path / "my_envs.py").write_text(code)
    monkeypatch.syspath_prepend(str(tmp_path))
    result = load_script("sac_continuous.py").main(
        ["--env-id", "my_envs:Reach-v0", "--total-timesteps", "300", "--learning-starts", "200", "--batch-size", "32"]
    )
    assert result["buffer"].size == 300


def test_the_recipe_that_uses_a_saved_actor_runs(tmp_path):
    """docs/index.md's recipe loads the actor that --save-model saved and acts, as a user's own code would."""
    recipe = re.search(
        r"<!-- recipe: use the saved actor.*?-->\n```python\n(.*?)```",
        (ROOT / "docs" / "index.md").read_text(),
        flags=re.DOTALL,
    )
    assert recipe, "docs/index.md has no recipe block"
    result = load_script("td3_continuous.py").main(
        [
            "--env-id",
            "Pendulum-v1",
            "--total-timesteps",
            "300",
            "--learning-starts",
            "200",
            "--save-model",
            "--eval-episodes",
            "1",
        ]
    )
    model = Path(result["run_dir"]) / "td3_continuous.pt"
    code = re.sub(r'torch\.load\("[^"]+"', f'torch.load("{model}"', recipe.group(1))
    code += "\nassert action.shape == env.action_space.shape and env.action_space.contains(action.astype('float32'))\nprint('acted')\n"
    run = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=dict(os.environ, PYTHONPATH=str(ROOT)),
                         capture_output=True, text=True, check=False, timeout=300)  # fmt: skip
    assert run.returncode == 0 and "acted" in run.stdout, run.stderr[-2000:]
