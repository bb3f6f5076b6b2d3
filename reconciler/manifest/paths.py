"""The manifests under the PATHs a command is given: files, and the manifests of folders."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from registry.errors import UnreadableFile

from ..files import outside_folder, read_bounded
from ..safe_text import escape, excerpt
from .findings import Finding, Severity, has_errors, in_file_order
from .load import load
from .model import Manifest
from .nodes import MAX_FILE_BYTES

MANIFEST_SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True)
class LoadResult:
    manifests: tuple[Manifest, ...]
    findings: tuple[Finding, ...]
    files: tuple[str, ...]  # every file read, valid or not

    @property
    def errors(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.severity == Severity.ERROR)

    @property
    def warnings(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.severity == Severity.WARNING)

    @property
    def ok(self) -> bool:
        return not self.errors


def manifest_files(paths: Iterable[str | Path]) -> tuple[list[Path], list[Finding]]:
    """Expand folders into their *.yaml/*.yml files (sorted); report missing paths.

    A folder's manifests are its files: a symbolic link that leads out of the
    folder is refused unopened (a finding could quote the secret it points at).
    Anything that is not a regular file is refused when read (``read_bounded``).
    A name that is not UTF-8 is refused: no output format could show it as it is.
    """
    files, findings = [], []
    for raw in paths:
        path = Path(raw)
        if not _utf8(path):
            findings.append(_not_utf8(path))
        elif path.is_dir():
            try:
                found = []
                for member in sorted(path.iterdir()):
                    if member.suffix not in MANIFEST_SUFFIXES or member.is_dir():
                        continue
                    if not _utf8(member):
                        findings.append(_not_utf8(member))
                    elif outside_folder(path, member):
                        message = "a symbolic link that leads out of the folder: refused"
                        findings.append(_file_finding(member, message))
                    else:
                        found.append(member)
            except OSError as error:
                findings.append(_file_finding(path, f"cannot read folder: {error.strerror}"))
                continue
            if not found:
                findings.append(_file_finding(path, "folder holds no manifest (*.yaml, *.yml)"))
            files += found
        elif path.exists():
            files.append(path)
        else:
            findings.append(_file_finding(path, "no such file or folder"))
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
            findings.append(_file_finding(file, f"cannot read file: {error.reason}"))
            continue
        # Kubernetes YAML kept beside the manifests (RBAC, ...) is skipped in a folder;
        # a file named explicitly must be a manifest.
        loaded = load(data, str(file), skip_foreign=file not in named)
        findings += loaded.findings
        if loaded.environment is not None:
            environment, (line, column) = loaded.environment
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
        if loaded.manifest is not None:
            manifests.append(loaded.manifest)
    if has_errors(findings):
        manifests = []
    return LoadResult(tuple(manifests), in_file_order(findings), tuple(str(f) for f in files))


def _utf8(name: Path | str) -> bool:
    try:
        str(name).encode("utf-8")  # os.fsdecode made lone surrogates of other bytes
    except UnicodeEncodeError:
        return False
    return True


def _not_utf8(path: Path) -> Finding:
    name = next(part for part in path.parts if not _utf8(part))
    return _file_finding(path, f"the name {excerpt(name)} is not valid UTF-8: rename it")


def _file_finding(path: Path, message: str) -> Finding:
    return Finding(escape(str(path)), 1, 1, message, rule="file")
