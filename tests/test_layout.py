"""The architecture, enforced: which layers may import which, and one wire model for client and server."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from pydantic import BaseModel

from clients import client
from service.api import schemas

ROOT = Path(__file__).resolve().parent.parent


def imported_modules(folder: str) -> dict[str, set[str]]:
    """Every module each file of `folder` (or the one file) imports, at any depth (lazy imports
    inside functions too)."""
    found: dict[str, set[str]] = {}
    root = ROOT / folder
    for path in [root] if root.is_file() else sorted(root.rglob("*.py")):
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module)
        found[str(path.relative_to(ROOT))] = names
    return found


def offenders(folder: str, forbidden: tuple[str, ...]) -> list[str]:
    return [
        f"{file} imports {name}"
        for file, names in imported_modules(folder).items()
        for name in sorted(names)
        if any(name == prefix or name.startswith(prefix + ".") for prefix in forbidden)
    ]


@pytest.mark.parametrize("folder", ["sandboxes", "rm_models", "clients"])
def test_libraries_never_import_the_service(folder: str) -> None:
    assert offenders(folder, ("service",)) == []


@pytest.mark.parametrize("folder", ["service/grading", "service/selection"])
def test_domain_logic_is_plain_python_without_the_server(folder: str) -> None:
    forbidden = ("fastapi", "starlette", "uvicorn", "service.api", "service.rewards", "service.runtime")
    assert offenders(folder, forbidden) == []


def test_rewards_and_the_runtime_sit_below_the_http_layer() -> None:
    """The item model lives in `service.items`; metrics in `service.runtime`: nothing under the HTTP
    layer reaches up into it, and the runtime does not import the rewards that run on it."""
    for folder in ("service/rewards", "service/grading", "service/runtime"):
        assert offenders(folder, ("service.api", "fastapi", "starlette")) == []
    assert offenders("service/runtime", ("service.rewards",)) == []
    assert offenders("service/items.py", ("service",)) == []


def helper_lines(path: Path) -> dict[str, int]:
    """Top-level functions of a reward module that are not rewards themselves, with their lengths."""
    tree = ast.parse(path.read_text(), str(path))
    return {
        node.name: (node.end_lineno or node.lineno) - node.lineno + 1
        for node in tree.body
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and not node.name.endswith("_reward")
    }


@pytest.mark.parametrize(
    "path",
    [p for p in sorted((ROOT / "service" / "rewards").glob("*.py")) if p.stem not in ("base", "registry")],
    ids=lambda p: p.stem,
)
def test_reward_modules_are_thin(path: Path) -> None:
    """A reward module is its params and its reward functions calling into `service.grading`: the
    parsing, checking and grading it needs is plain Python there, usable without the server."""
    helpers = helper_lines(path)
    assert len(path.read_text().splitlines()) <= 400
    assert sum(helpers.values()) <= 120, helpers
    assert all(length <= 40 for length in helpers.values()), helpers


def test_the_thinness_rule_can_fail(tmp_path: Path) -> None:
    fat = tmp_path / "fat.py"
    fat.write_text("def parse(text):\n" + "    text = text.strip()\n" * 50 + "    return text\n")
    assert helper_lines(fat) == {"parse": 52}


def module_graph() -> dict[str, set[str]]:
    """Module -> the project's modules it imports (anywhere in the file, under TYPE_CHECKING too).
    `from package import module` is an edge to the module, not to the package's `__init__`."""
    paths = {}
    for top in ("sandboxes", "service", "rm_models", "clients"):
        for path in (ROOT / top).rglob("*.py"):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            paths[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    graph: dict[str, set[str]] = {}
    for name, path in paths.items():
        edges: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                edges.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                submodules = {f"{node.module}.{alias.name}" for alias in node.names} & paths.keys()
                edges.update(submodules or {node.module})
        graph[name] = {edge for edge in edges if edge in paths and edge != name}
    return graph


def test_no_import_circles() -> None:
    graph = module_graph()
    circles = []
    for start in graph:  # a depth-first walk from each module, back to itself
        stack, seen = [(start, (start,))], set()
        while stack:
            module, path = stack.pop()
            for target in graph[module]:
                if target == start:
                    circles.append(" -> ".join((*path, start)))
                elif target not in seen:
                    seen.add(target)
                    stack.append((target, (*path, target)))
    assert circles == []
    assert "sandboxes.warm" in graph["sandboxes.local"]  # the walker sees the edges it should


def test_the_checker_sees_lazy_imports(tmp_path: Path) -> None:
    """The boundary tests above would pass vacuously if the walker missed imports inside functions."""
    names = imported_modules("service/runtime")
    assert (
        "service.runtime.worker_pool" in names["service/runtime/resources.py"]
    )  # imported inside a function


def wire_shape(model: type[BaseModel]) -> object:
    """The model's JSON schema without the prose: names, types, defaults and required fields."""

    def strip(node: object) -> object:
        if isinstance(node, dict):
            return {key: strip(value) for key, value in node.items() if key not in ("description", "title")}
        if isinstance(node, list):
            return [strip(value) for value in node]
        return node

    return strip(model.model_json_schema())


@pytest.mark.parametrize("name", ["ItemResult", "RewardResponse", "StreamSummary"])
def test_client_models_match_the_server_schemas(name: str) -> None:
    """The client keeps its own copies (it installs without the server); they must not drift."""
    assert wire_shape(getattr(client, name)) == wire_shape(getattr(schemas, name))
