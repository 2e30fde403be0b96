"""Access-control models stay below their handlers: nothing in `strongroom.s3.access`, nor
authorization and the helpers it shares with handlers, imports a handler module (lazy imports
inside functions included), so that no import cycle can run back through them."""

from __future__ import annotations

import ast
from pathlib import Path

import strongroom.s3
from strongroom.s3.handlers import HANDLERS

S3 = Path(strongroom.s3.__file__).parent
HANDLER_MODULES = frozenset({h.__module__ for h in HANDLERS.values()}) | {"strongroom.s3.handlers",
                                                                         "strongroom.s3.dispatch"}
BELOW_HANDLERS = [*sorted((S3 / "access").glob("*.py")),
                  *(S3 / name for name in ("authorization.py", "copy_source.py",
                                           "documents.py", "context.py"))]


def imported(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{a.name}" for a in node.names)
    return names


def test_handler_modules_are_known() -> None:
    assert {"strongroom.s3.objects", "strongroom.s3.acl", "strongroom.s3.ownership",
            "strongroom.s3.bucket_policy", "strongroom.s3.public_access_block"} <= HANDLER_MODULES


def test_models_and_authorization_import_no_handler() -> None:
    for path in BELOW_HANDLERS:
        upward = imported(path) & HANDLER_MODULES
        assert not upward, f"{path.relative_to(S3)} imports handler modules {sorted(upward)}"


def test_the_access_package_never_imports_authorization() -> None:
    for path in (S3 / "access").glob("*.py"):
        assert "strongroom.s3.authorization" not in imported(path), path.name
