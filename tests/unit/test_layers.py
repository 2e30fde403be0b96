"""The layers run one way (README, Layout): no import cycle between our modules, and no import upward.

Every `import strongroom...` / `from strongroom... import ...` in src/ counts, wherever it stands:
at module level, under `if TYPE_CHECKING:` or inside a function (a lazy import that dodges a
cycle is the cycle). A failure names the modules, so the fix is to move the shared piece down.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src"
ROOT = "strongroom"

# What each low layer may import of ours (its own package is always allowed). A new top-level
# module or package must be placed here or in UPWARD before it can land.
ONLY = {
    "errors": set(),
    "crypto": set(),
    "policy": set(),
    "checksums": set(),
    "config": set(),
    "process": set(),
    "clock": set(),
    "periodic": set(),
    "object_lock": {"errors"},
    "lifecycle": set(),
    "readiness": set(),
    "metrics": set(),
    "logs": set(),
    "audit": set(),
    "progress": set(),
    "tables": set(),
    "sigv4": {"errors"},
    "blobs": {"errors", "metrics"},
    "db": {"errors", "metrics"},
}
# What the middle layers must never import.
TOP = {"s3", "app", "server", "cli", "cli_parser", "__main__"}
UPWARD = {
    "catalog": TOP | {"vault", "kms", "identity", "user_policies", "rotation", "verify", "encryption_report"},
    "kms": TOP | {"vault", "identity", "rotation", "verify", "encryption_report"},
    "vault": TOP | {"rotation", "verify", "encryption_report"},
    "identity": TOP,
    "user_policies": TOP,
    "account": TOP | {"vault", "kms"},
    "rotation": TOP,
    "verify": TOP,
    "encryption_report": TOP,
    "deployment": TOP | {"vault", "kms", "rotation", "servers"},
    "servers": TOP | {"vault", "kms", "rotation", "identity", "user_policies"},
    "inventory": TOP | {"vault", "rotation", "identity", "user_policies", "servers"},
}
# The composition root and the command line: anything.
ENTRY = {"app", "server", "cli", "cli_parser", "__main__"}
# Pure packages: the standard library and what ONLY allows them of ours, no third-party library.
STDLIB_ONLY = {"policy", "sigv4", "errors"}
# The HTTP server side is the wire's alone (kms/external.py is an HTTP *client* of another KMS).
HTTP_SERVER = ("aiohttp.web", "aiohttp.web_request", "aiohttp.web_response")
SERVES_HTTP = {"s3", "app", "server"}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted((SRC / ROOT).rglob("*.py"))}


def imports_of(name: str, path: Path, known: set[str]) -> Iterator[tuple[str, int]]:
    """(module of ours imported, line) for every import in the file; `from pkg import mod` names mod."""
    is_package = path.name == "__init__.py"
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == ROOT:
                    yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolve against this module's package
                package = name.split(".") if is_package else name.split(".")[:-1]
                package = package[: len(package) - node.level + 1]
                base = ".".join([*package, base] if base else package)
            if base.split(".")[0] != ROOT:
                continue
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                yield (sub if sub in known else base), node.lineno


def graph() -> dict[str, set[str]]:
    mods = modules()
    known = set(mods)
    edges: dict[str, set[str]] = {m: set() for m in mods}
    for name, path in mods.items():
        for target, _ in imports_of(name, path, known):
            if target != name and target in known:
                edges[name].add(target)
    return edges


def unit(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def test_no_import_cycles() -> None:
    edges = graph()
    # Parent packages are not counted as imported by their children (Python imports them, but a
    # package's __init__ that re-exports a child is the usual, harmless shape); a real cycle passes
    # through at least two distinct modules that name each other.
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:  # Tarjan's strongly connected components
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges[v]):
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
                cycles.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    assert not cycles, "import cycles (move the shared piece down a layer):\n" + "\n".join(
        " <-> ".join(c) for c in cycles
    )


def test_no_upward_imports() -> None:
    mods = modules()
    known = set(mods)
    wrong = []
    for name, path in mods.items():
        here = unit(name)
        if here in ENTRY:
            continue
        for target, line in imports_of(name, path, known):
            there = unit(target)
            if there == here or not there:
                continue
            if here in ONLY and there not in ONLY[here]:
                wrong.append(f"{path.relative_to(SRC)}:{line}: {name} imports {target}")
            elif there in UPWARD.get(here, TOP):
                wrong.append(f"{path.relative_to(SRC)}:{line}: {name} imports {target} (upward)")
    assert not wrong, "imports that run the wrong way:\n" + "\n".join(wrong)


def third_party_imports(path: Path) -> Iterator[tuple[str, int]]:
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        for name in names:
            if name.split(".")[0] not in (ROOT, *sys.stdlib_module_names):
                yield name, node.lineno


def test_pure_packages_import_no_third_party_library_and_only_the_wire_serves_http() -> None:
    wrong = []
    for name, path in modules().items():
        here = unit(name)
        for imported, line in third_party_imports(path):
            if here in STDLIB_ONLY:
                wrong.append(f"{path.relative_to(SRC)}:{line}: {imported} in a pure package")
            elif imported.startswith(HTTP_SERVER) and here not in SERVES_HTTP:
                wrong.append(f"{path.relative_to(SRC)}:{line}: {imported} outside the wire")
    assert not wrong, "\n".join(wrong)


def test_every_top_level_unit_is_placed() -> None:
    placed = set(ONLY) | set(UPWARD) | ENTRY | {"s3", ""}
    units = {unit(m) for m in modules()}
    assert units <= placed, f"place these in tests/unit/test_layers.py: {sorted(units - placed)}"


def test_the_checker_sees_lazy_imports(tmp_path: Path) -> None:
    """The rule must not pass vacuously: an import inside a function is found."""
    source = tmp_path / "m.py"
    source.write_text("def f():\n    from strongroom.s3 import routing\n    return routing\n")
    found = list(imports_of("strongroom.m", source, {"strongroom.s3.routing"}))
    assert found == [("strongroom.s3.routing", 2)]
