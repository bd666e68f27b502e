"""House rules that code review would otherwise have to catch."""

import ast
import dataclasses
import re
from pathlib import Path

from jaxopt_lab.rl import TrainConfig

PACKAGE = Path(__file__).resolve().parents[1] / "jaxopt_lab"
SOURCES = sorted(PACKAGE.rglob("*.py"))


def test_no_function_is_longer_than_80_lines():
    long = []
    for path in SOURCES:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                lines = node.end_lineno - node.lineno + 1
                if lines > 80:
                    long.append(f"{path.relative_to(PACKAGE)}:{node.lineno} {node.name} ({lines})")
    assert not long


def test_no_shared_setting_belongs_to_one_algorithm():
    """Every field of TrainConfig is read by the shared trainer code (outside rl/algos/) or by
    more than one algorithm module; settings of one algorithm live on that algorithm."""
    readers: dict[str, set[str]] = {}
    for path in SOURCES:
        if path.name in ("config.py", "presets.py", "cli.py"):
            continue
        text = path.read_text()
        for name in {f.name for f in dataclasses.fields(TrainConfig)}:
            if re.search(rf"\.{name}\b", text):
                readers.setdefault(name, set()).add(str(path.relative_to(PACKAGE)))
    for name, modules in readers.items():
        shared = [m for m in modules if not m.startswith("rl/algos/")]
        assert shared or len(modules) > 1, (name, modules)
    assert set(readers) == {f.name for f in dataclasses.fields(TrainConfig)}


def test_docstrings_refer_only_to_files_in_the_repository():
    outside = re.compile(r"\bSPEC\b|DESIGN\.md|\.\./shared")
    hits = [str(p.relative_to(PACKAGE)) for p in SOURCES if outside.search(p.read_text())]
    assert not hits
