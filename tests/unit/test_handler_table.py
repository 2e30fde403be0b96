"""The one Operation -> handler table: every operation is served or named as not implemented."""

from __future__ import annotations

import inspect

from strongroom.s3.handlers import HANDLERS, NOT_IMPLEMENTED
from strongroom.s3.routing import RULES, Operation


def test_every_operation_is_handled_or_listed_as_not_implemented() -> None:
    handled, listed = set(HANDLERS), set(NOT_IMPLEMENTED)
    assert not handled & listed, f"both handled and listed as not implemented: {handled & listed}"
    missing = set(Operation) - handled - listed
    assert not missing, f"neither handled nor listed as not implemented: {sorted(o.name for o in missing)}"


def test_every_operation_is_routed() -> None:
    routed = {rule.op for rule in RULES}
    assert routed == set(Operation), f"no routing rule: {set(Operation) - routed}"


def test_handlers_are_coroutines() -> None:
    for op, handler in HANDLERS.items():
        assert inspect.iscoroutinefunction(handler), op
