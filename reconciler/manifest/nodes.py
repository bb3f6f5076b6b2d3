"""YAML to plain data within safety limits, keeping where every value is written.

YAML is composed with the libyaml-backed loader into nodes, which keep the line
and column of everything, and converted to plain data by our own walker so that
duplicate keys, unsupported tags and alias bombs are caught with a location
instead of being silently resolved.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import yaml

from ..safe_text import excerpt
from .findings import Finding, Findings, Location, Severity
from .model import KIND

MAX_FILE_BYTES = 5 * 1024 * 1024
# Nodes that aliases may add on top of the document's own nodes: enough for any
# honest reuse, far too little for a "billion laughs" expansion.
MAX_ALIAS_EXPANSION = 10_000
# A manifest is five levels deep; the bound keeps the walker's recursion shallow.
MAX_DEPTH = 32
# YAML 1.1 tags that map onto JSON values; anything else (timestamps, binary, sets,
# custom tags) is refused rather than turned into something the schema cannot judge.
_SCALAR_TAGS = {
    f"tag:yaml.org,2002:{name}": name for name in ("null", "bool", "int", "float", "str")
}
_MAP_TAG = "tag:yaml.org,2002:map"
_SEQ_TAG = "tag:yaml.org,2002:seq"
# What YAML counts as a line break (YAML 1.1 also counts NEL and the Unicode separators).
_LINE_BREAKS = re.compile("\r\n|[\r\n\x85\u2028\u2029]")
# YAML 1.1 also reads 0x1f, 0o17, 010 (octal), 1_000 and 1:20 (sexagesimal: 80) as
# integers, and 8000.0 as a float that JSON Schema's "integer" accepts. Integers in a
# manifest (ports) are written as plain decimals.
_PLAIN_INT = re.compile(r"-?(?:0|[1-9][0-9]*)", re.ASCII)
_TOO_DEEP = f"the document nests deeper than {MAX_DEPTH} levels"

DataPath = tuple[str | int, ...]  # keys and list indexes from the document's root


@dataclass
class Document:
    """A file's data and where each part of it is written."""

    data: Any = None
    marks: dict[DataPath, Location] = field(default_factory=dict)  # value node of each path
    key_marks: dict[DataPath, Location] = field(default_factory=dict)  # key of each member
    bad_paths: set[DataPath] = field(default_factory=set)  # values reported while converting

    def location(self, path: DataPath) -> Location:
        """Where ``path`` is written, or the closest enclosing node."""
        while path not in self.marks and path:
            path = path[:-1]
        return self.marks.get(path, (1, 1))

    def get(self, *keys: str) -> Any:
        """The value under ``keys``, or None where the data has no such mapping member."""
        value = self.data
        for key in keys:
            if not isinstance(value, dict):
                return None
            value = value.get(key)
        return value


def decode(raw: str | bytes, path: str) -> str | Finding:
    """The text of a file, or the finding that refuses it (too large, not UTF-8)."""
    data = raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else raw
    if len(data) > MAX_FILE_BYTES:
        message = f"file is {len(data)} bytes, over the 5 MiB limit"
        return Finding(path, 1, 1, message, rule="yaml")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line, column = _offset_location(data, error.start)
        return Finding(path, line, column, "file is not valid UTF-8", rule="yaml")


def line_count(text: str) -> int:
    return len(_LINE_BREAKS.findall(text)) + 1


def read(text: str, findings: Findings, *, skip_foreign: bool = False) -> Document | None:
    """The document of ``text``, or None when nothing usable was parsed (said in findings).

    ``skip_foreign``: a document of another ``kind`` is a warning, not an error.
    """
    return _Reader(findings, skip_foreign).read(text)


class _Loader(yaml.CSafeLoader):
    """libyaml parser and composer; construction is ours (see ``_Reader.convert``)."""


class _Unbounded(Exception):
    """The document exceeds a bound: alias expansion or nesting depth."""


class _Reader:
    """YAML text -> nodes -> data, reporting what the limits and the walker refuse."""

    def __init__(self, findings: Findings, skip_foreign: bool) -> None:
        self.findings = findings
        self.skip_foreign = skip_foreign
        self.document = Document()
        self._constructor = yaml.constructor.SafeConstructor()

    def error(self, at: Location, message: str, rule: str) -> None:
        self.findings.add(at, message, rule)

    def read(self, text: str) -> Document | None:
        loader = _Loader(text)
        try:
            if not loader.check_node():
                self.error((1, 1), f"file is empty: expected a {KIND} manifest", "yaml")
                return None
            root = loader.get_node()
            kind = _foreign_kind(root)
            if self.skip_foreign and kind:
                message = f"not a {KIND} manifest (kind {kind}): skipped"
                self.findings.add((1, 1), message, "file", Severity.WARNING)
                return None
            if not loader.check_event(yaml.StreamEndEvent):
                at = _mark(loader.peek_event().start_mark)
                self.error(at, "more than one YAML document: keep one manifest per file", "yaml")
                return None
        except yaml.MarkedYAMLError as error:
            mark = error.problem_mark or error.context_mark
            message = " ".join(filter(None, [error.context, error.problem]))
            self.error(_mark(mark) if mark else (1, 1), f"invalid YAML: {_quoted(message)}", "yaml")
            return None
        except yaml.YAMLError as error:  # ReaderError: a character YAML does not allow
            position = getattr(error, "position", None)
            at = _offset_location(text, position) if isinstance(position, int) else (1, 1)
            self.error(at, f"invalid YAML: {_quoted(getattr(error, 'reason', error))}", "yaml")
            return None
        finally:
            loader.dispose()
        # Without an anchor there is no alias to expand (the common case: skip the walks).
        if "&" in text and self._alias_bomb(root):
            return None
        try:
            self.document.data = self.convert(root, ())
        except _Unbounded as error:
            self.error(_mark(root.start_mark), str(error), "yaml-depth")
            return None
        return self.document

    def _alias_bomb(self, root: yaml.Node) -> bool:
        """Report (and say so) a document whose aliases expand beyond the bound."""
        try:
            expanded = _expanded_size(root, {}, set(), 0)
        except _Unbounded as error:
            self.error(_mark(root.start_mark), str(error), "yaml-alias")
            return True
        distinct = _distinct_nodes(root)
        if expanded - distinct > MAX_ALIAS_EXPANSION:
            self.error(
                _mark(root.start_mark),
                f"YAML aliases expand the document from {distinct} to {expanded} nodes, "
                f"over the limit of {MAX_ALIAS_EXPANSION} added nodes: write the values out",
                "yaml-alias",
            )
            return True
        return False

    def convert(self, node: yaml.Node, path: DataPath) -> Any:
        if len(path) > MAX_DEPTH:
            raise _Unbounded(_TOO_DEEP)
        at = _mark(node.start_mark)
        self.document.marks[path] = at
        if isinstance(node, yaml.ScalarNode):
            return self._scalar(node, path, at)
        if isinstance(node, yaml.SequenceNode) and node.tag == _SEQ_TAG:
            return [self.convert(item, (*path, i)) for i, item in enumerate(node.value)]
        if isinstance(node, yaml.MappingNode) and node.tag == _MAP_TAG:
            return self._mapping(node, path)
        self.error(at, f"YAML tag {node.tag} not supported here", "yaml")
        self.document.bad_paths.add(path)
        return None

    def _scalar(self, node: yaml.ScalarNode, path: DataPath, at: Location) -> Any:
        if node.tag not in _SCALAR_TAGS:
            tag = node.tag.replace("tag:yaml.org,2002:", "!!")
            what = "merge keys (<<)" if tag == "!!merge" else f"YAML tag {tag}"
            self.error(at, f"{what} not supported here: write a plain value", "yaml")
            self.document.bad_paths.add(path)
            return None
        try:
            value = self._constructor.construct_object(node)
        except (yaml.YAMLError, ValueError) as error:
            self.error(at, f"invalid value {excerpt(node.value)}: {_quoted(error)}", "yaml")
            self.document.bad_paths.add(path)
            return None
        if not _plain_number(node, value):
            self.error(
                at,
                f"{excerpt(node.value)} is not a plain integer: write whole numbers in "
                "decimal digits (for example 8000), without a decimal point, exponent, "
                "'_', ':', sign or leading zero",
                "yaml",
            )
            self.document.bad_paths.add(path)
            return None
        return value

    def _mapping(self, node: yaml.MappingNode, path: DataPath) -> dict[str, Any]:
        result: dict[str, Any] = {}
        first_line: dict[str, int] = {}
        for key_node, value_node in node.value:
            key_at = _mark(key_node.start_mark)
            key = self._key(key_node)
            if key is None:
                continue
            if key in result:
                self.error(
                    key_at,
                    f"duplicate key {excerpt(key)} (first at line {first_line[key]}): "
                    "YAML would silently keep only one of them",
                    "duplicate-key",
                )
                continue
            first_line[key] = key_at[0]
            self.document.key_marks[(*path, key)] = key_at
            result[key] = self.convert(value_node, (*path, key))
        return result

    def _key(self, node: yaml.Node) -> str | None:
        at = _mark(node.start_mark)
        if node.tag == "tag:yaml.org,2002:merge":
            self.error(at, "merge keys (<<) not supported here: write the keys out", "yaml")
            return None
        if not isinstance(node, yaml.ScalarNode) or node.tag != "tag:yaml.org,2002:str":
            text = node.value if isinstance(node, yaml.ScalarNode) else "a collection"
            self.error(at, f"key {excerpt(text)} is not a string: quote it", "yaml")
            return None
        return node.value


def _plain_number(node: yaml.ScalarNode, value: Any) -> bool:
    """False for an integer not written as a plain decimal, or a float with an integral value."""
    if node.tag == "tag:yaml.org,2002:int":
        return _PLAIN_INT.fullmatch(node.value) is not None
    if node.tag == "tag:yaml.org,2002:float":
        return not (value != value or value in (float("inf"), float("-inf")) or value.is_integer())
    return True


def _foreign_kind(root: yaml.Node) -> str | None:
    """The ``kind`` of a document that is plainly some other kind of YAML, else None."""
    if not isinstance(root, yaml.MappingNode):
        return None
    for key, value in root.value:
        if key.value == "kind" and isinstance(value, yaml.ScalarNode) and value.value != KIND:
            return value.value or None
    return None


def _mark(mark) -> Location:
    return mark.line + 1, mark.column + 1


def _offset_location(data: bytes | str, offset: int) -> Location:
    newline = b"\n" if isinstance(data, bytes) else "\n"
    line = data.count(newline, 0, offset) + 1
    column = offset - (data.rfind(newline, 0, offset) + 1) + 1
    return line, column


def _quoted(message: Any) -> str:
    """A parser's message, which may quote the file, cut to a few lines' worth."""
    return excerpt(str(message), 200, quote=False)


def _expanded_size(node: yaml.Node, memo: dict[int, int], active: set[int], depth: int) -> int:
    """Node count with every alias expanded, computed without expanding anything."""
    key = id(node)
    if key in memo:
        return memo[key]
    if key in active:
        raise _Unbounded("a YAML alias refers to a node that contains it (a recursive alias)")
    if depth > MAX_DEPTH:
        raise _Unbounded(_TOO_DEEP)
    if isinstance(node, yaml.ScalarNode):
        return 1
    active.add(key)
    children = (
        [n for pair in node.value for n in pair]
        if isinstance(node, yaml.MappingNode)
        else node.value
    )
    size = 1
    for child in children:
        size += _expanded_size(child, memo, active, depth + 1)
        if size > 10 * MAX_ALIAS_EXPANSION + MAX_FILE_BYTES:  # stop counting a bomb early
            break
    active.discard(key)
    memo[key] = size
    return size


def _distinct_nodes(root: yaml.Node) -> int:
    seen: set[int] = set()
    stack = [root]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, yaml.MappingNode):
            stack += [n for pair in node.value for n in pair]
        elif isinstance(node, yaml.SequenceNode):
            stack += node.value
    return len(seen)
