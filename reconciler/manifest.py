"""Manifests: loading and validating the desired state of one environment (design.md 3).

YAML is composed with the libyaml-backed loader into nodes, which keep the line
and column of everything, and converted to plain data by our own walker so that
duplicate keys, unsupported tags and alias bombs are caught with a location
instead of being silently resolved. Every problem becomes a ``Finding``
(``FILE:LINE:COLUMN: message``); all findings of all files are collected in one
run and loading never raises on bad input.
"""

from __future__ import annotations

import difflib
import functools
import json
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from registry import names
from registry.entry import Entry
from registry.errors import InvalidEndpoint, InvalidName, UnreadableFile
from registry.vocabulary import Manager, Status

from . import gcpause
from .files import outside_folder, read_bounded
from .safe_text import escape, excerpt

API_VERSION = "registry.vllm.ai/v1"
KIND = "ModelRegistry"
MAX_FILE_BYTES = 5 * 1024 * 1024
# Nodes that aliases may add on top of the document's own nodes: enough for any
# honest reuse, far too little for a "billion laughs" expansion.
MAX_ALIAS_EXPANSION = 10_000
# A manifest is five levels deep; the bound keeps the walker's recursion shallow.
MAX_DEPTH = 32
MANIFEST_SUFFIXES = (".yaml", ".yml")
# YAML 1.1 tags that map onto JSON values; anything else (timestamps, binary, sets,
# custom tags) is refused rather than turned into something the schema cannot judge.
_SCALAR_TAGS = {
    f"tag:yaml.org,2002:{name}": name for name in ("null", "bool", "int", "float", "str")
}
_MAP_TAG = "tag:yaml.org,2002:map"
_SEQ_TAG = "tag:yaml.org,2002:seq"
# Schema errors on these keys are reported by the naming rules instead, whose
# messages explain the rule rather than print a regular expression.
_NAME_KEYS = {"environment", "namespace", "name"}

# What YAML counts as a line break (YAML 1.1 also counts NEL and the Unicode separators).
_LINE_BREAKS = re.compile("\r\n|[\r\n\x85\u2028\u2029]")

ERROR = "error"
WARNING = "warning"

Location = tuple[int, int]  # 1-based line and column
Path_ = tuple[str | int, ...]


@dataclass(frozen=True)
class Finding:
    path: str
    line: int
    column: int
    message: str
    severity: str = ERROR
    rule: str = "schema"

    def __str__(self) -> str:
        # Escaped: a file name or a quoted value may hold control characters.
        return escape(f"{self.path}:{self.line}:{self.column}: {self.severity}: {self.message}")


@dataclass(frozen=True)
class ModelSpec:
    name: str
    namespace: str
    endpoint: str
    enabled: bool = True
    explicit_endpoint: bool = False  # False: the naming convention gave the endpoint
    line: int = 0
    column: int = 0


@dataclass(frozen=True)
class Manifest:
    environment: str
    namespace: str = names.DEFAULT_NAMESPACE
    port: int = names.DEFAULT_PORT
    prune: bool = False
    kube_context: str | None = None
    models: tuple[ModelSpec, ...] = ()
    path: str = "<manifest>"

    def desired_entries(self) -> list[Entry]:
        """The registry entries this manifest asks for (kube health not yet applied)."""
        return [
            Entry(
                model_name=model.name,
                environment=self.environment,
                namespace=model.namespace,
                endpoint=model.endpoint,
                status=Status.READY if model.enabled else Status.DISABLED,
                managed_by=Manager.MANIFEST,
            )
            for model in self.models
        ]


@dataclass(frozen=True)
class LoadResult:
    manifests: tuple[Manifest, ...]
    findings: tuple[Finding, ...]
    files: tuple[str, ...]  # every file read, valid or not

    @property
    def errors(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.severity == ERROR)

    @property
    def warnings(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.severity == WARNING)

    @property
    def ok(self) -> bool:
        return not self.errors


@functools.cache
def manifest_schema() -> dict[str, Any]:
    text = resources.files("schemas").joinpath("manifest.schema.json").read_text("utf-8")
    return json.loads(text)


@functools.cache
def _validator():
    from jsonschema import Draft202012Validator

    return Draft202012Validator(manifest_schema())


@functools.cache
def _conforms() -> Callable[[Any], Any]:
    """A compiled check of the same schema, for the common case of a valid manifest.

    fastjsonschema turns the schema into Python code (about 10x faster than
    jsonschema on 10,000 models), but stops at the first error and knows no
    locations: only when it fails does jsonschema walk the document for every
    finding. The schema uses only keywords whose meaning is the same in every
    draft, so both agree on what is valid (tests/test_manifest_properties.py).
    """
    import fastjsonschema

    return fastjsonschema.compile(manifest_schema())


def conforms(data: Any) -> bool:
    """Whether ``data`` satisfies the manifest schema (fast; no findings)."""
    from fastjsonschema import JsonSchemaException

    try:
        _conforms()(data)
    except JsonSchemaException:
        return False
    return True


# --- loading files ---------------------------------------------------------------------------


def manifest_files(paths: Iterable[str | Path]) -> tuple[list[Path], list[Finding]]:
    """Expand folders into their *.yaml/*.yml files (sorted); report missing paths.

    A folder's manifests are its files: a symbolic link that leads out of the
    folder is refused unopened (a finding could quote the secret it points at).
    Anything that is not a regular file is refused when read (``read_bounded``).
    """
    files, findings = [], []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            try:
                found = []
                for member in sorted(path.iterdir()):
                    if member.suffix not in MANIFEST_SUFFIXES or member.is_dir():
                        continue
                    if outside_folder(path, member):
                        message = "a symbolic link that leads out of the folder: refused"
                        findings.append(Finding(str(member), 1, 1, message, rule="file"))
                    else:
                        found.append(member)
            except OSError as error:
                findings.append(
                    Finding(str(path), 1, 1, f"cannot read folder: {error.strerror}", rule="file")
                )
                continue
            if not found:
                findings.append(
                    Finding(
                        str(path), 1, 1, "folder holds no manifest (*.yaml, *.yml)", rule="file"
                    )
                )
            files += found
        elif path.exists():
            files.append(path)
        else:
            findings.append(Finding(str(path), 1, 1, "no such file or folder", rule="file"))
    return files, findings


def load_paths(paths: Iterable[str | Path]) -> LoadResult:
    """Load and validate every manifest under ``paths``; one manifest per environment."""
    paths = list(paths)
    files, findings = manifest_files(paths)
    named = {Path(p) for p in paths}
    manifests: list[Manifest] = []
    seen: dict[str, tuple[str, int]] = {}  # environment -> (file, line) declaring it
    for file in files:
        try:
            data = read_bounded(file, MAX_FILE_BYTES)
        except UnreadableFile as error:
            findings.append(
                Finding(str(file), 1, 1, f"cannot read file: {error.reason}", rule="file")
            )
            continue
        # Kubernetes YAML kept beside the manifests (RBAC, ...) is skipped in a folder;
        # a file named explicitly must be a manifest.
        manifest, file_findings, env_at = _load(data, str(file), skip_foreign=file not in named)
        findings += file_findings
        if env_at is not None:
            environment, (line, column) = env_at
            if environment in seen:
                first_file, first_line = seen[environment]
                findings.append(
                    Finding(
                        str(file),
                        line,
                        column,
                        f"environment {excerpt(environment)} is already declared in "
                        f"{first_file}:{first_line}: keep one manifest per environment",
                        rule="duplicate-environment",
                    )
                )
                continue
            seen[environment] = (str(file), line)
        if manifest is not None:
            manifests.append(manifest)
    if any(f.severity == ERROR for f in findings):
        manifests = []
    return LoadResult(
        tuple(manifests), tuple(sorted(findings, key=_order)), tuple(str(f) for f in files)
    )


def load_text(
    text: str | bytes, path: str = "<manifest>"
) -> tuple[Manifest | None, tuple[Finding, ...]]:
    """Validate one manifest: the manifest (None when any error) and every finding."""
    manifest, findings, _ = _load(text, path)
    return manifest, tuple(sorted(findings, key=_order))


def _order(finding: Finding) -> tuple[str, int, int]:
    return (finding.path, finding.line, finding.column)


def _load(
    raw: str | bytes, path: str, *, skip_foreign: bool = False
) -> tuple[Manifest | None, list[Finding], tuple[str, Location] | None]:
    data = raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else raw
    if len(data) > MAX_FILE_BYTES:
        return None, [_file_finding(path, f"file is {len(data)} bytes, over the 5 MiB limit")], None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line, column = _offset_location(data, error.start)
        return None, [Finding(path, line, column, "file is not valid UTF-8", rule="yaml")], None
    with gcpause.paused():  # the parse builds a value per node; see gcpause
        return _parse(text, path, skip_foreign)


def _parse(
    text: str, path: str, skip_foreign: bool
) -> tuple[Manifest | None, list[Finding], tuple[str, Location] | None]:
    doc = _Document(path, skip_foreign=skip_foreign)
    value = doc.parse(text)
    if doc.fatal:
        return None, doc.findings, None
    findings = doc.check(value)
    env = _get(value, "metadata", "environment")
    env_at = (env, doc.location(("metadata", "environment"))) if isinstance(env, str) else None
    if any(f.severity == ERROR for f in findings):
        return None, findings, env_at
    return doc.build(value), findings, env_at


def _file_finding(path: str, message: str) -> Finding:
    return Finding(path, 1, 1, message, rule="yaml")


def _offset_location(data: bytes | str, offset: int) -> Location:
    newline = b"\n" if isinstance(data, bytes) else "\n"
    line = data.count(newline, 0, offset) + 1
    column = offset - (data.rfind(newline, 0, offset) + 1) + 1
    return line, column


def _get(value: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


class _Loader(yaml.CSafeLoader):
    """libyaml parser and composer; construction is ours (see ``_Document.convert``)."""


_TOO_DEEP = f"the document nests deeper than {MAX_DEPTH} levels"
_TOP_KEYS = {"apiVersion", "kind", "metadata", "spec"}


class _Unbounded(Exception):
    """The document exceeds a bound: alias expansion or nesting depth."""


class _Document:
    """One file being loaded: its nodes' locations and the findings so far."""

    def __init__(self, path: str, *, skip_foreign: bool = False) -> None:
        self.path = path
        self.skip_foreign = skip_foreign
        self.lines = 1
        self.findings: list[Finding] = []
        self.marks: dict[Path_, Location] = {}  # value node of each path
        self.key_marks: dict[Path_, Location] = {}  # key node of each mapping member
        self.fatal = False  # nothing usable was parsed
        self.bad_paths: set[Path_] = set()  # values already reported while converting
        self._constructor = yaml.constructor.SafeConstructor()

    def error(self, at: Location, message: str, rule: str, severity: str = ERROR) -> None:
        # libyaml can place an end-of-input error on a line past the last one; an editor
        # needs a line that exists.
        line = min(at[0], self.lines)
        column = at[1] if line == at[0] else 1
        self.findings.append(Finding(self.path, line, column, message, severity, rule))

    def location(self, path: Path_) -> Location:
        """Where ``path`` is written, or the closest enclosing node."""
        while path not in self.marks and path:
            path = path[:-1]
        return self.marks.get(path, (1, 1))

    # -- YAML -> data

    def parse(self, text: str) -> Any:
        self.fatal = True
        self.lines = len(_LINE_BREAKS.findall(text)) + 1
        loader = _Loader(text)
        try:
            if not loader.check_node():
                self.error((1, 1), f"file is empty: expected a {KIND} manifest", "yaml")
                return None
            root = loader.get_node()
            kind = _foreign_kind(root)
            if self.skip_foreign and kind:
                self.error((1, 1), f"not a {KIND} manifest (kind {kind}): skipped", "file", WARNING)
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
        self.fatal = False
        try:
            return self.convert(root, ())
        except _Unbounded as error:
            self.fatal = True
            self.error(_mark(root.start_mark), str(error), "yaml-depth")
            return None

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

    def convert(self, node: yaml.Node, path: Path_) -> Any:
        if len(path) > MAX_DEPTH:
            raise _Unbounded(_TOO_DEEP)
        at = _mark(node.start_mark)
        self.marks[path] = at
        if isinstance(node, yaml.ScalarNode):
            if node.tag not in _SCALAR_TAGS:
                tag = node.tag.replace("tag:yaml.org,2002:", "!!")
                what = "merge keys (<<)" if tag == "!!merge" else f"YAML tag {tag}"
                self.error(at, f"{what} not supported here: write a plain value", "yaml")
                self.bad_paths.add(path)
                return None
            try:
                value = self._constructor.construct_object(node)
            except (yaml.YAMLError, ValueError) as error:
                self.error(at, f"invalid value {excerpt(node.value)}: {_quoted(error)}", "yaml")
                self.bad_paths.add(path)
                return None
            if not _plain_number(node, value):
                self.error(
                    at,
                    f"{node.value[:40]!r} is not a plain integer: write whole numbers in "
                    "decimal digits (for example 8000), without a decimal point, exponent, "
                    "'_', ':', sign or leading zero",
                    "yaml",
                )
                self.bad_paths.add(path)
                return None
            return value
        if isinstance(node, yaml.SequenceNode) and node.tag == _SEQ_TAG:
            return [self.convert(item, (*path, i)) for i, item in enumerate(node.value)]
        if isinstance(node, yaml.MappingNode) and node.tag == _MAP_TAG:
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
                self.key_marks[(*path, key)] = key_at
                result[key] = self.convert(value_node, (*path, key))
            return result
        self.error(at, f"YAML tag {node.tag} not supported here", "yaml")
        self.bad_paths.add(path)
        return None

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

    # -- data -> findings

    def check(self, data: Any) -> list[Finding]:
        if isinstance(data, dict) and data and not data.keys() & _TOP_KEYS:
            # Some other file (an env file, /etc/shadow): findings about its keys would
            # quote it, so one finding says what it is not.
            self.error(
                (1, 1),
                f"not a {KIND} manifest: it has none of the keys {', '.join(sorted(_TOP_KEYS))} "
                "(its content is not shown)",
                "schema",
            )
            return self.findings
        if not conforms(data):
            for error in _validator().iter_errors(data):
                self._schema_error(error)
        self._check_names(data)
        return self.findings

    def _schema_error(self, error) -> None:
        path = tuple(error.absolute_path)
        where = _dotted(path)
        if path in self.bad_paths:
            return
        if error.validator in ("pattern", "maxLength") and path and path[-1] in _NAME_KEYS:
            return
        if error.validator == "additionalProperties":
            known = sorted(error.schema.get("properties", {}))
            for key in sorted(set(error.instance) - set(known)):
                hint = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
                suggestion = f" (did you mean {hint[0]!r}?)" if hint else ""
                allowed = f"; allowed: {', '.join(known)}" if not hint else ""
                self.error(
                    self.key_marks.get((*path, key), self.location(path)),
                    f"unknown key {excerpt(key)} in {where or 'the document'}{suggestion}{allowed}",
                    "unknown-key",
                )
            return
        if error.validator == "required":
            at = self.key_marks.get(path) or self.location(path)
            self.error(at, f"{where or 'the document'}: {error.message}", "schema")
            return
        if error.validator == "const":
            message = f"must be {error.validator_value!r}, got {excerpt(error.instance)}"
        elif error.validator == "type":
            # No excerpt of a document that is no mapping at all: it is some other file.
            got = _describe(error.instance, show=bool(path))
            message = f"must be of type {error.validator_value}, got {got}"
        else:
            message = _bounded(error.message, error.instance)
        self.error(self.location(path), f"{where or 'the document'}: {message}", "schema")

    def _check_names(self, data: Any) -> None:
        environment = _get(data, "metadata", "environment")
        env_ok = isinstance(environment, str) and self._name_ok(
            names.check_environment, ("metadata", "environment"), environment
        )
        namespace = _get(data, "spec", "namespace")
        if namespace is None:
            namespace = names.DEFAULT_NAMESPACE
        ns_ok = isinstance(namespace, str) and self._name_ok(
            names.check_namespace, ("spec", "namespace"), namespace
        )
        models = _get(data, "spec", "models")
        if not isinstance(models, list):
            return
        first_line: dict[str, int] = {}
        for i, model in enumerate(models):
            if not isinstance(model, dict):
                continue
            path = ("spec", "models", i)
            name = model.get("name")
            name_ok = isinstance(name, str) and self._name_ok(
                lambda n: names.check_model_name(n, environment if env_ok else None),
                (*path, "name"),
                name,
            )
            if isinstance(name, str):
                line = self.location((*path, "name"))[0]
                if name in first_line:
                    self.error(
                        self.location((*path, "name")),
                        f"model {excerpt(name)} is listed twice, at lines {first_line[name]} and "
                        f"{line}: list each model once",
                        "duplicate-model",
                    )
                else:
                    first_line[name] = line
            model_ns = model.get("namespace", namespace)
            if "namespace" in model and isinstance(model_ns, str):
                ns_ok_here = self._name_ok(names.check_namespace, (*path, "namespace"), model_ns)
            else:
                ns_ok_here = ns_ok
            endpoint = model.get("endpoint")
            if isinstance(endpoint, str) and endpoint:
                self._check_endpoint(
                    (*path, "endpoint"),
                    endpoint,
                    name if name_ok and env_ok and ns_ok_here else None,
                    environment,
                    model_ns,
                )

    def _name_ok(self, check, path: Path_, value: str) -> bool:
        try:
            check(value)
        except InvalidName as error:
            self.error(self.location(path), _bounded(str(error), value), "name")
            return False
        return True

    def _check_endpoint(
        self, path: Path_, endpoint: str, name: str | None, environment: str, namespace: str
    ) -> None:
        try:
            _, port = names.parse_endpoint(endpoint)
        except InvalidEndpoint as error:
            self.error(self.location(path), _bounded(str(error), endpoint), "endpoint")
            return
        if name is None:
            return
        expected = names.convention_endpoint(name, environment, namespace, port)
        if endpoint != expected:
            self.error(
                self.location(path),
                f"endpoint {endpoint} differs from the naming convention ({expected})",
                "endpoint-convention",
                WARNING,
            )

    # -- data -> Manifest (only called on valid data)

    def build(self, data: dict[str, Any]) -> Manifest:
        spec = data["spec"]
        environment = data["metadata"]["environment"]
        namespace = spec.get("namespace", names.DEFAULT_NAMESPACE)
        port = spec.get("port", names.DEFAULT_PORT)
        models = []
        for i, model in enumerate(spec["models"]):
            model_ns = model.get("namespace", namespace)
            endpoint = model.get("endpoint")
            line, column = self.location(("spec", "models", i))
            models.append(
                ModelSpec(
                    name=model["name"],
                    namespace=model_ns,
                    endpoint=endpoint
                    or names.convention_endpoint(model["name"], environment, model_ns, port),
                    enabled=model.get("enabled", True),
                    explicit_endpoint=endpoint is not None,
                    line=line,
                    column=column,
                )
            )
        return Manifest(
            environment=environment,
            namespace=namespace,
            port=port,
            prune=spec.get("prune", False),
            kube_context=_get(spec, "kube", "context"),
            models=tuple(models),
            path=self.path,
        )


# YAML 1.1 also reads 0x1f, 0o17, 010 (octal), 1_000 and 1:20 (sexagesimal: 80) as
# integers, and 8000.0 as a float that JSON Schema's "integer" accepts. Integers in a
# manifest (ports) are written as plain decimals.
_PLAIN_INT = re.compile(r"-?(?:0|[1-9][0-9]*)", re.ASCII)


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


def _dotted(path: Sequence[str | int]) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


def _quoted(message: Any) -> str:
    """A parser's message, which may quote the file, cut to a few lines' worth."""
    return excerpt(str(message), 200, quote=False)


def _bounded(message: str, value: Any) -> str:
    """``message`` with the repr of ``value`` in it cut to a short excerpt."""
    return message.replace(repr(value), excerpt(value))


def _describe(value: Any, *, show: bool = True) -> str:
    kind = {
        type(None): "null",
        bool: "boolean",
        int: "integer",
        float: "number",
        str: "string",
        list: "list",
        dict: "mapping",
    }.get(type(value), type(value).__name__)
    if isinstance(value, dict | list):
        return f"a {kind}"
    if value is None:
        return "null"
    return f"{kind} {excerpt(value)}" if show else f"a {kind} (not shown)"


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
