"""The request as policy evaluation sees it: action, resources, principal and condition keys.

Condition key names are case-insensitive ("aws:SourceIP" is "AWS:SourceIp"), so keys are
indexed lower-cased once, here. The principal's own keys (aws:username, aws:userid,
aws:PrincipalArn, aws:PrincipalAccount, aws:PrincipalType) are filled in from
`principal` unless the caller gives them explicitly.

A key may hold one value or several (a list, like aws:TagKeys); an empty list is a key
whose value set is empty, which ForAllValues/ForAnyValue treat as "no values".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from strongroom.policy.principals import Principal


@dataclass(frozen=True, slots=True)
class RequestContext:
    """One authorization question.

    `action` is an IAM action ("s3:GetObject"); `resources` are the ARNs it acts on
    ("arn:aws:s3:::bucket/key"); an account-level action with no resource ARN passes
    an empty tuple, which only `"Resource": "*"` (or a NotResource) covers.
    """

    action: str
    resources: tuple[str, ...]
    principal: Principal
    keys: Mapping[str, str | Sequence[str]] = field(default_factory=dict)
    _index: dict[str, tuple[str, ...]] = field(init=False, repr=False, compare=False)
    _action_folded: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if isinstance(self.resources, str):
            object.__setattr__(self, "resources", (self.resources,))
        else:
            object.__setattr__(self, "resources", tuple(self.resources))
        index: dict[str, tuple[str, ...]] = {k: (v,) for k, v in self.principal.condition_keys().items()}
        for name, value in self.keys.items():
            index[name.lower()] = (value,) if isinstance(value, str) else tuple(value)
        object.__setattr__(self, "_index", index)
        object.__setattr__(self, "_action_folded", self.action.lower())

    @property
    def action_folded(self) -> str:
        return self._action_folded

    def values(self, key: str) -> tuple[str, ...] | None:
        """All values of a condition key (name already lower-cased), or None if the request lacks it."""
        return self._index.get(key)

    def variable(self, key: str) -> str | None:
        """The value of `${key}`: single-valued keys only (multivalued keys cannot be policy variables)."""
        got = self._index.get(key)
        return got[0] if got is not None and len(got) == 1 else None
