"""The docs do not rot: every relative link resolves, every line link shows the code it names, every
hyperparameter table lists each flag with its true default, and the figures they quote (results rows,
speed tables and ratios, diff sizes) are those of the committed results and the current files.

A link to a script line is written [`code`](../td3_continuous.py#L123) (or #L123-L125): the code
in the link text must be on that line (or in that range). When a script changes, this test says
where the code went.
"""

import dataclasses
import difflib
import os
import re
import statistics
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import ROOT, SCRIPTS, load_script

DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), *sorted((ROOT / "benchmarks").rglob("*.md"))]
LINK = re.compile(r"(?<!!)\[((?:[^\[\]]|\[[^\]]*\])*)\]\(([^)\s]+)\)|!\[[^\]]*\]\(([^)\s]+)\)")
RESULTS = ROOT / "benchmarks" / "results"
SPEED_FILES = sorted(RESULTS.glob("speed_*.md"))  # written by benchmarks/speed.py
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


def one_line(path: Path) -> str:
    """A doc's text with every run of line breaks and spaces as one space, so that a phrase is found across a wrap."""
    return " ".join(path.read_text().split())


def table_cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def markdown_tables(text: str) -> list[list[dict[str, str]]]:
    """Every table in Markdown text, as its rows, each a dict from the header's cells to the row's cells."""
    lines, tables = text.splitlines(), []
    for i, line in enumerate(lines[:-1]):
        starts = line.startswith("|") and not (i and lines[i - 1].startswith("|"))
        if starts and re.fullmatch(r"\|(\s*:?-+:?\s*\|)+", lines[i + 1].strip()):
            header, rows = table_cells(line), []
            for row in lines[i + 2 :]:
                if not row.startswith("|"):
                    break
                rows.append(dict(zip(header, table_cells(row))))
            tables.append(rows)
    return tables


def numbers(cell: str) -> list[float]:
    return [float(number) for number in re.findall(r"\d+(?:\.\d+)?", cell)]


def speed_column(header: str) -> str:
    """A speed table's column, named alike in the docs and in benchmarks/speed.py's files: `ours --compile (SPS)`
    and `` `--compile` `` are `--compile`, `ours (SPS)` is `ours`, `ours / CleanRL` is `/ CleanRL`."""
    name = header.replace("`", "").removesuffix(" (SPS)").strip()
    return name if name == "ours" else name.removeprefix("ours ")


def script_in(cell: str) -> str | None:
    match = re.search(r"\w+_continuous\.py", cell)
    return match and match.group()


def speed_measurements(path: Path) -> dict[tuple[str, str], list[list[float]]]:
    """What a file of benchmarks/speed.py holds: per (script, column), the cell of each of its tables that has one,
    as numbers: the median (in bold), then each run (in brackets)."""
    measured = {}
    for table in markdown_tables(path.read_text()):
        for row in table:
            if script := script_in(row.get("script", "")):
                for header, cell in row.items():
                    measured.setdefault((script, speed_column(header)), []).append(numbers(cell))
    return measured


def changed_lines(a: Path, b: Path) -> int:
    """Lines removed plus lines added from a to b, counted as ../shared/anatomy.py counts them (difflib, no context)."""
    diff = difflib.unified_diff(a.read_text().splitlines(), b.read_text().splitlines(), lineterm="", n=0)
    return sum(1 for line in diff if line[:1] in "+-" and line[:3] not in ("+++", "---"))


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


def test_quoted_speed_tables_are_the_committed_measurements():
    """A speed table in the docs (| script | ours | ...) quotes a file of benchmarks/speed.py: each cell is the median
    of that script and column in one of its tables, or, where the doc lists runs, every run of them in the file."""
    measured = {path.name: speed_measurements(path) for path in SPEED_FILES}

    def differences(rows: list[dict[str, str]], measurements: dict) -> list[str]:
        wrong = []
        for row in rows:
            for header, cell in row.items():
                committed = measurements.get((script_in(row["script"]), speed_column(header)), [])
                medians, every_run = [cell[:1] for cell in committed], [run for cell in committed for run in cell[1:]]
                if header != "script" and numbers(cell) not in medians and numbers(cell) != every_run:
                    wrong.append(f"{script_in(row['script'])}, {header}: {cell}")
        return wrong

    quoted = 0
    for doc in (doc for doc in DOCS if doc not in SPEED_FILES):
        for table in markdown_tables(doc.read_text()):
            rows = [row for row in table if script_in(row.get("script", "")) and "ours" in map(speed_column, row)]
            if rows:
                wrong = {name: differences(rows, measurements) for name, measurements in measured.items()}
                closest = min(wrong, key=lambda name: len(wrong[name]))
                assert not wrong[closest], (
                    f"{doc.name} quotes a speed table that {closest} does not hold: {wrong[closest]}"
                )
                quoted += 1
    assert quoted >= 3  # README's, and docs/benchmarks.md's CPU and GPU tables


def test_quoted_speed_ratios_follow_from_the_committed_measurements():
    """The speed ratios the docs write in prose, recomputed from the committed files of benchmarks/speed.py: rerun
    a measurement and this test names each sentence that has to change with it."""
    cpu, gpu, side_by_side = (
        speed_measurements(RESULTS / f"speed_{name}.md") for name in ("cpu", "gpu", "side_by_side")
    )
    readme, index, benchmarks = (one_line(ROOT / page) for page in ("README.md", "docs/index.md", "docs/benchmarks.md"))
    ddpg, td3, sac = SCRIPTS

    def median(measured, script, column):
        return measured[(script, column)][0][0]

    def runs(measured, script, column):
        return [run for cell in measured[(script, column)] for run in cell[1:]]

    # The CPU table (speed_cpu.md): SAC's time per step against TD3's, the largest gain over CleanRL, the loop at
    # batch size 1 under twice the full speed, the FLOP limit about 4x away, `--compile` beside eager.
    assert f"about {median(cpu, td3, 'ours') / median(cpu, sac, 'ours'):.1f} times TD3's time per step" in index
    gains = {script: median(cpu, script, "/ CleanRL") for script in SCRIPTS}
    assert max(gains, key=gains.get) == sac and f"largest for SAC ({gains[sac]:.2f}x)" in benchmarks
    assert all(1.5 < median(cpu, script, "at batch size 1") / median(cpu, script, "ours") < 2 for script in SCRIPTS)
    assert "less than twice the full speed, so about half of each step is such overhead" in benchmarks
    shares = [median(cpu, script, "ours: share of the limit") for script in SCRIPTS]
    assert f"is about {round(100 / statistics.mean(shares))}x away" in readme
    assert all(20 <= share <= 30 for share in shares) and "Our scripts reach a quarter of it" in benchmarks
    compiled = re.findall(r"(TD3|SAC|DDPG) (\d+) vs (\d+)", readme)
    assert len(compiled) == 3
    for name, with_compile, eager in compiled:
        script = {"DDPG": ddpg, "TD3": td3, "SAC": sac}[name]
        assert [float(with_compile), float(eager)] == [median(cpu, script, "--compile"), median(cpu, script, "ours")]
    # The GPU runs (speed_gpu.md), eager: SAC's against CleanRL's, TD3's and DDPG's within 10% of CleanRL's.
    ratios = [ours / cleanrl for ours in runs(gpu, sac, "ours") for cleanrl in runs(gpu, sac, "CleanRL")]
    assert f"about {statistics.median(ratios):.1f}x faster on SAC ({min(ratios):.2f}-{max(ratios):.2f}x" in benchmarks
    alike = [ours / cleanrl for script in (td3, ddpg) for ours in runs(gpu, script, "ours") for cleanrl in runs(gpu, script, "CleanRL")]  # fmt: skip
    assert all(0.9 <= ratio <= 1.1 for ratio in alike) and "match CleanRL's on TD3 and DDPG" in benchmarks
    # Two runs side by side against one alone (speed_side_by_side.md).
    kept = [median(side_by_side, script, "the slowest copy / alone") for script in (td3, sac)]
    assert "each kept {:.0f}% (TD3) and {:.0f}% (SAC)".format(*kept) in readme


def test_quoted_diff_sizes_are_the_scripts_diffs():
    """A quoted `diff a.py b.py` "is about N" holds: N is within 10 lines (5% of the 200 that the anatomy check
    allows) of the lines that the diff of the two files changes now."""
    quoted = 0
    for doc in DOCS:
        for a, b, size in re.findall(r"`diff (\w+\.py) (\w+\.py)` is about (\d+)", one_line(doc)):
            changed = changed_lines(ROOT / a, ROOT / b)
            assert abs(int(size) - changed) <= 10, (
                f"{doc.name}: `diff {a} {b}` changes {changed} lines, not about {size}"
            )
            quoted += 1
    assert quoted >= 2  # docs/index.md: TD3 against SAC and against DDPG


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
