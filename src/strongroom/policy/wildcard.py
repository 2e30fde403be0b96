"""Wildcard patterns (`*` and `?`) matched in linear time, and the policy variables inside them.

Owns three things:

- `parse_template`: a policy string becomes tokens — literal text, `STAR`, `ONE` and
  `Variable` (`${aws:username}`, `${aws:userid, 'anonymous'}`). `${*}`, `${?}` and
  `${$}` are the literal characters, as the IAM "Variables and tags" page defines them.
- `Glob`: the matcher. A pattern is cut at its stars into chunks; the first chunk is
  anchored at the start, the last at the end, and each middle chunk is taken at its
  leftmost occurrence (which is always safe: an earlier match leaves more room for the
  rest). Literal chunks are found with `str.find`; chunks holding `?` with a bit-parallel
  (shift-and) scan. Nothing backtracks, so a pattern of thousands of stars, or hostile
  `*a*a*a...` patterns, cost one pass over the text per chunk boundary, never a blow-up.
- `Pattern`: a template compiled once when it has no variables, else per request.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache


class _Wild:
    """A wildcard token; only the two module constants exist."""

    __slots__ = ("char",)

    def __init__(self, char: str) -> None:
        self.char = char

    def __repr__(self) -> str:
        return self.char


STAR = _Wild("*")
ONE = _Wild("?")


@dataclass(frozen=True, slots=True)
class Variable:
    """`${key}` or `${key, 'default'}`; `key` is lower-cased because key names are case-insensitive."""

    key: str
    default: str | None = None


Piece = str | _Wild
Token = str | _Wild | Variable
Lookup = Callable[[str], "str | None"]

_VARIABLE = re.compile(r"\$\{([^}]*)\}")
_WILDCARD_CHARS = re.compile(r"([*?])")
_SPECIAL = frozenset("*?$")


def _variable(inner: str) -> Variable | str | None:
    """What `${inner}` means: a variable, a literal character, or None (it is not a variable)."""
    if inner in _SPECIAL:
        return inner
    name, comma, rest = inner.partition(",")
    name = name.strip()
    if not name or any(c.isspace() or c in "'$" for c in name):
        return None
    if not comma:
        return Variable(name.lower())
    rest = rest.strip()
    if len(rest) >= 2 and rest[0] == "'" and rest[-1] == "'" and "'" not in rest[1:-1]:
        return Variable(name.lower(), rest[1:-1])
    return None


@dataclass(frozen=True, slots=True)
class Template:
    """A policy string as tokens; adjacent literal text is merged."""

    tokens: tuple[Token, ...]

    @property
    def has_variables(self) -> bool:
        return any(isinstance(t, Variable) for t in self.tokens)

    @property
    def has_wildcards(self) -> bool:
        return any(isinstance(t, _Wild) for t in self.tokens)

    def resolve(self, lookup: Lookup) -> tuple[Piece, ...] | None:
        """Substitute variables; None if one has no value and no default (then nothing matches)."""
        out: list[Piece] = []
        for t in self.tokens:
            if isinstance(t, Variable):
                value = lookup(t.key)
                if value is None:
                    value = t.default
                if value is None:
                    return None
                out.append(value)  # a substituted value is literal text: its '*' is not a wildcard
            else:
                out.append(t)
        return tuple(out)

    def text(self, lookup: Lookup) -> str | None:
        """The resolved string, wildcards written as their characters (for operators without wildcards)."""
        pieces = self.resolve(lookup)
        if pieces is None:
            return None
        return "".join(p if isinstance(p, str) else p.char for p in pieces)


def parse_template(text: str, *, wildcards: bool, variables: bool) -> Template:
    """Tokenise `text`: `*` and `?` are wildcards if `wildcards`, `${...}` is a variable if `variables`."""
    tokens: list[Token] = []

    def add(part: str) -> None:
        if not part:
            return
        if not wildcards:
            tokens.append(part)
            return
        for bit in _WILDCARD_CHARS.split(part):
            if bit == "*":
                tokens.append(STAR)
            elif bit == "?":
                tokens.append(ONE)
            elif bit:
                tokens.append(bit)

    pos = 0
    if variables and "${" in text:
        for m in _VARIABLE.finditer(text):
            add(text[pos : m.start()])
            meaning = _variable(m.group(1))
            if meaning is None:
                add(m.group(0))
            else:
                tokens.append(meaning)
            pos = m.end()
    add(text[pos:])
    merged: list[Token] = []
    for t in tokens:
        if isinstance(t, str) and merged and isinstance(merged[-1], str):
            merged[-1] = merged[-1] + t
        else:
            merged.append(t)
    return Template(tuple(merged))


class _Chunk:
    """A run of literal characters and `?` between two stars (or a pattern end)."""

    __slots__ = ("size", "literal", "runs", "masks", "wild", "high")

    def __init__(self, pieces: list[Piece]) -> None:
        runs: list[tuple[int, str]] = []
        size = 0
        has_one = False
        for p in pieces:
            if p is ONE:
                has_one = True
                size += 1
            else:
                assert isinstance(p, str)
                if runs and runs[-1][0] + len(runs[-1][1]) == size:
                    runs[-1] = (runs[-1][0], runs[-1][1] + p)
                else:
                    runs.append((size, p))
                size += len(p)
        self.size = size
        self.runs = tuple(runs)
        self.literal = None if has_one else (runs[0][1] if runs else "")
        self.masks: dict[str, int] = {}
        self.wild = 0
        self.high = 1 << (size - 1) if size else 0
        if has_one:
            # Shift-and: bit j of masks[c] says "pattern position j accepts c"; '?' accepts all.
            full = (1 << size) - 1
            literal_bits = 0
            for off, lit in runs:
                for k, ch in enumerate(lit):
                    self.masks[ch] = self.masks.get(ch, 0) | (1 << (off + k))
                    literal_bits |= 1 << (off + k)
            self.wild = full & ~literal_bits
            for ch in self.masks:
                self.masks[ch] |= self.wild

    def eq_at(self, s: str, i: int) -> bool:
        """Whether the chunk matches `s` at `i` (the caller knows `i + size <= len(s)`)."""
        return all(s.startswith(lit, i + off) for off, lit in self.runs)

    def find(self, s: str, start: int, end: int) -> int:
        """The leftmost `i` in `[start, end - size]` where the chunk matches, or -1."""
        if self.literal is not None:
            return s.find(self.literal, start, end)
        if end - start < self.size:
            return -1
        if not self.runs:  # only '?': any position with room will do
            return start
        masks, wild, high, d = self.masks, self.wild, self.high, 0
        for j in range(start, end):
            d = ((d << 1) | 1) & masks.get(s[j], wild)
            if d & high:
                return j - self.size + 1
        return -1


class Glob:
    """A compiled wildcard pattern; `fold` makes it case-insensitive (action names)."""

    __slots__ = ("_head", "_tail", "_middle", "_min", "_exact", "_fold")

    def __init__(self, pieces: Iterable[Piece], *, fold: bool = False) -> None:
        groups: list[list[Piece]] = [[]]
        for p in pieces:
            if p is STAR:
                groups.append([])
            elif isinstance(p, str):
                if p:
                    groups[-1].append(p.lower() if fold else p)
            else:
                groups[-1].append(p)
        self._fold = fold
        self._exact = len(groups) == 1
        self._head = _Chunk(groups[0])
        self._tail = _Chunk(groups[-1] if not self._exact else [])
        # Consecutive stars leave empty groups; they constrain nothing, so they are dropped.
        self._middle = tuple(_Chunk(g) for g in groups[1:-1] if g)
        self._min = self._head.size + self._tail.size + sum(c.size for c in self._middle)

    @classmethod
    def compile(cls, pattern: str, *, fold: bool = False) -> Glob:
        """`*` and `?` in `pattern` are wildcards; there are no variables. Compiled globs are shared."""
        return _compiled(pattern, fold)

    def match(self, s: str) -> bool:
        if self._fold:
            s = s.lower()
        head = self._head
        if self._exact:
            return len(s) == head.size and head.eq_at(s, 0)
        n = len(s)
        if n < self._min:
            return False
        tail = self._tail
        if not head.eq_at(s, 0) or not tail.eq_at(s, n - tail.size):
            return False
        pos, end = head.size, n - tail.size
        for chunk in self._middle:
            i = chunk.find(s, pos, end)
            if i < 0:
                return False
            pos = i + chunk.size
        return True


@lru_cache(maxsize=4096)
def _compiled(pattern: str, fold: bool) -> Glob:
    # A Glob never changes once built, so policies naming the same pattern can share one.
    return Glob(parse_template(pattern, wildcards=True, variables=False).tokens, fold=fold)  # type: ignore[arg-type]


class Pattern:
    """A wildcard template: compiled once if it has no variables, else for each request."""

    __slots__ = ("template", "_glob", "_fold")

    def __init__(self, template: Template, *, fold: bool = False) -> None:
        self.template = template
        self._fold = fold
        self._glob = None if template.has_variables else Glob(template.tokens, fold=fold)  # type: ignore[arg-type]

    def match(self, s: str, lookup: Lookup) -> bool:
        glob = self._glob
        if glob is None:
            pieces = self.template.resolve(lookup)
            if pieces is None:
                return False
            glob = Glob(pieces, fold=self._fold)
        return glob.match(s)
