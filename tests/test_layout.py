"""The code's shape: no import cycles anywhere in the project (function-level imports included, since they are how
a cycle hides), the video and command-line modules in their own packages, and small modules."""

from __future__ import annotations

import ast
from pathlib import Path

from conftest import ROOT

PACKAGES = ("fer_app", "training", "benchmarks", "research", "app_pages", "scripts")


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def project_modules() -> dict[str, Path]:
    return {module_name(p): p for pkg in PACKAGES if (ROOT / pkg).is_dir() for p in (ROOT / pkg).rglob("*.py")}


def imports_of(path: Path, modules: dict) -> set[str]:
    """Every project module ``path`` imports, at the top or inside a function ("from a import b" counts a.b when
    b is a module)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found |= {node.module} | {f"{node.module}.{a.name}" for a in node.names}
    return {m for m in found if m in modules and m != module_name(path)}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan), each a cycle of imports."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in graph:
        if v not in index:
            visit(v)
    return found


def test_no_import_cycles_even_through_function_level_imports():
    modules = project_modules()
    graph = {name: imports_of(path, modules) for name, path in modules.items()}
    assert len(graph) > 60 and any(graph.values())
    assert cycles(graph) == []
    # the check sees a cycle that a function-level import hides
    assert cycles({"a": {"b"}, "b": {"a"}, "c": set()}) == [["a", "b"]]


def test_video_and_command_line_modules_live_in_their_packages():
    flat = sorted(p.stem for p in (ROOT / "fer_app").glob("*.py"))
    assert not [name for name in flat if name.startswith(("video", "webcam", "cli"))], flat
    for name in ("tracker", "clip_pass", "file", "encode", "report", "webcam", "limits"):
        assert (ROOT / "fer_app" / "video" / f"{name}.py").is_file(), name
    for name in ("__init__", "explain", "video"):
        assert (ROOT / "fer_app" / "cli" / f"{name}.py").is_file(), name


def test_modules_stay_small():
    big = {str(p.relative_to(ROOT)): n for p in project_modules().values()
           if (n := len(p.read_text().splitlines())) > 400}
    assert not big, big


def test_default_face_sizes_are_set_once_in_fer_app_defaults():
    import re

    literal = re.compile(r"min_face(?:: int)? ?= ?\d|--min-face.*default=\d|MIN_FACE = \d")
    found = {str(p.relative_to(ROOT)): m.group(0) for p in project_modules().values() if p.name != "defaults.py"
             for m in [literal.search(p.read_text())] if m}
    assert not found, found
    from fer_app import defaults
    from fer_app.pipeline import PHOTO_DETECTOR
    from fer_app.video.limits import MIN_FACE

    assert PHOTO_DETECTOR == defaults.PHOTO_DETECTOR and MIN_FACE == defaults.VIDEO_MIN_FACE


def test_the_build_step_that_rewrites_models_names_real_commands():
    import importlib.util

    from scripts.refresh_model_figures import steps

    planned = steps("FER", "REAL", "models")
    assert [s[0] for s in planned] == ["training.evaluate", "benchmarks.real_faces", "benchmarks.explain_faithfulness"]
    assert all(importlib.util.find_spec(s[0]) for s in planned)
    assert all("models" in s for s in planned) and len(steps("FER", None, "models")) == 2
