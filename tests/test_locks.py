"""The dependency locks: complete, hash-pinned, fresh with their inputs, consistent with each other.

`make lock` compiles each requirements*.in into its lock with uv (every package pinned with
`--hash`); the virtualenvs install the locks with `--require-hashes --no-deps`, so a lock that
misses a dependency, or that an input moved away from, breaks an install or runs something else
than what was reviewed. These checks need no network: they compare each input's direct pins with
its lock, the lock's `# via` provenance with the inputs, every locked package's declared
dependencies (from the installed metadata: the test virtualenv is the dev lock) with the lock, and
the locks with each other.
"""

from __future__ import annotations

import functools
import importlib.metadata
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tools.project import ROOT

# lock -> its input. Every other lock takes its versions from the dev lock (`-c requirements-dev.txt`).
LOCKS = {
    "requirements.txt": "requirements.in",
    "requirements-preflight.txt": "requirements-preflight.in",
    "requirements-dev.txt": "requirements-dev.in",
    "requirements-pip.txt": "requirements-pip.in",
    "policy/requirements.txt": "policy/requirements.in",
    "bootstrap/requirements.txt": "bootstrap/requirements.in",
}
DEV = "requirements-dev.txt"
# Declared by pulumi for the CLI's debugger attach mode only; left out of the locks of the
# program's, the tests' and the policy pack's virtualenvs (installed with --no-deps). bootstrap/
# keeps it: `pulumi install` installs its lock with pip's dependency resolution.
EXCLUDED = {"debugpy"}
KEEPS_EXCLUDED = {"bootstrap/requirements.txt"}
# The program's .venv for `make validate` must be the runtime plus additions only.
SUBSETS = [("requirements.txt", "requirements-preflight.txt"), ("requirements-preflight.txt", DEV)]

Reader = Callable[[str], str]


@dataclass
class Entry:
    version: str
    marker: str
    hashes: set[str] = field(default_factory=set)
    via: set[str] = field(default_factory=set)


def read_repo(path: str) -> str:
    return (ROOT / path).read_text()


@functools.cache
def parse_lock(text: str) -> tuple[dict[str, Entry], set[str]]:
    """A uv lock: package -> entry, and the packages it says it excluded (callers only read it)."""
    entries: dict[str, Entry] = {}
    excluded: set[str] = set()
    current: Entry | None = None
    in_excluded = False
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("# The following packages were excluded"):
            in_excluded = True
        elif in_excluded and line.startswith("#"):
            excluded.add(canonicalize_name(line.lstrip("# ")))
        elif line.startswith("--hash=") and current is not None:
            current.hashes.add(line.removeprefix("--hash=").rstrip(" \\"))
        elif line.startswith("#") and current is not None:
            reason = line.lstrip("# ").removeprefix("via").strip()
            if reason:
                current.via.add(reason if reason.startswith("-") else canonicalize_name(reason))
        elif line and not line.startswith("#"):
            req = Requirement(line.rstrip(" \\"))
            pins = list(req.specifier)
            version = pins[0].version if len(pins) == 1 and pins[0].operator == "==" else ""
            current = entries[canonicalize_name(req.name)] = Entry(version, str(req.marker or ""))
    return entries, excluded


def parse_input(path: str, read: Reader) -> list[tuple[Requirement, str]]:
    """The direct requirements of an input and of the inputs it includes: (requirement, file)."""
    found: list[tuple[Requirement, str]] = []
    for raw in read(path).splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line or line.startswith("-c"):
            continue
        if line.startswith("-r"):
            included = (Path(path).parent / line.removeprefix("-r").strip()).as_posix()
            found += parse_input(included, read)
        else:
            found.append((Requirement(line), path))
    return found


def _applies(marker: str) -> bool:
    return not marker or Requirement(f"x ; {marker}").marker.evaluate()  # type: ignore[union-attr]


def lock_problems(lock: str, read: Reader = read_repo) -> list[str]:
    """What is wrong with one lock, on its own and against its input."""
    entries, excluded = parse_lock(read(lock))
    direct: dict[str, list[tuple[Requirement, str]]] = {}
    for req, source in parse_input(LOCKS[lock], read):
        direct.setdefault(canonicalize_name(req.name), []).append((req, source))
    problems: list[str] = []
    fix = "run `make lock`"
    for name, entry in sorted(entries.items()):
        if not entry.version:
            problems.append(f"{lock}: {name} is not pinned with ==")
        if not entry.hashes:
            problems.append(f"{lock}: {name} has no --hash")
        wanted_by_input = any(f"-r {source}" in entry.via for _, source in direct.get(name, []))
        wanted_by_package = any(v in entries for v in entry.via if not v.startswith("-"))
        if not (wanted_by_input or wanted_by_package):
            problems.append(f"{lock}: {name} is locked but nothing in {LOCKS[lock]} needs it any more; {fix}")
    for name, wanted in sorted(direct.items()):
        locked = entries.get(name)
        for req, source in wanted:
            if locked is None:
                problems.append(f"{lock}: {name} ({source}) is not locked; {fix}")
            elif not req.specifier.contains(locked.version, prereleases=True):
                problems.append(
                    f"{lock}: {source} asks for {name}{req.specifier}, the lock has {locked.version}; {fix}"
                )
    expected_excluded = set() if lock in KEEPS_EXCLUDED else EXCLUDED & _closure_names(entries)
    if excluded != expected_excluded:
        problems.append(f"{lock}: excludes {sorted(excluded)}, expected {sorted(expected_excluded)}; {fix}")
    problems += _closure_problems(lock, entries)
    return problems


def _closure_names(entries: dict[str, Entry]) -> set[str]:
    """Every package the locked packages declare (installed metadata), locked or not."""
    names: set[str] = set()
    for name, entry in entries.items():
        for req in _declared(name, entry.version):
            names.add(canonicalize_name(req.name))
    return names


@functools.cache
def _declared(name: str, version: str) -> list[Requirement]:
    """A package's run-time requirements in this environment, if this exact version is installed."""
    try:
        dist = importlib.metadata.distribution(name)
    except importlib.metadata.PackageNotFoundError:
        return []
    if canonicalize_name(dist.version) != canonicalize_name(version):
        return []
    env = {**{k: str(v) for k, v in default_environment().items()}, "extra": ""}
    reqs = [Requirement(r) for r in dist.requires or []]
    return [r for r in reqs if r.marker is None or r.marker.evaluate(env)]


def _closure_problems(lock: str, entries: dict[str, Entry]) -> list[str]:
    """Every dependency a locked package declares is locked too, at a version it accepts."""
    problems = []
    for name, entry in sorted(entries.items()):
        if not _applies(entry.marker):
            continue
        for req in _declared(name, entry.version):
            dep = canonicalize_name(req.name)
            if dep in EXCLUDED and lock not in KEEPS_EXCLUDED:
                continue
            locked = entries.get(dep)
            if locked is None:
                problems.append(
                    f"{lock}: {name} {entry.version} needs {req}, which is not locked; run `make lock`"
                )
            elif not req.specifier.contains(locked.version, prereleases=True):
                problems.append(f"{lock}: {name} {entry.version} needs {req}, the lock has {locked.version}")
    return problems


def consistency_problems(read: Reader = read_repo) -> list[str]:
    """Each lock takes the dev lock's versions and hashes; the program's sets nest."""
    locks = {lock: parse_lock(read(lock))[0] for lock in LOCKS}
    problems = []
    for lock, entries in locks.items():
        for name, entry in sorted(entries.items()):
            dev = locks[DEV].get(name)
            if dev is None:
                if name not in EXCLUDED and lock != "requirements-pip.txt":
                    problems.append(f"{lock}: {name} is not in {DEV} (the versions all come from there)")
            elif (dev.version, dev.hashes) != (entry.version, entry.hashes):
                problems.append(
                    f"{lock}: {name} {entry.version} differs from {DEV} ({dev.version}); run `make lock`"
                )
    for small, large in SUBSETS:
        for name in sorted(set(locks[small]) - set(locks[large])):
            problems.append(f"{small}: {name} is missing from {large}")
    return problems


# -- the committed locks -------------------------------------------------------------------------
@pytest.mark.parametrize("lock", LOCKS)
def test_lock_is_complete_hashed_and_fresh(lock: str) -> None:
    assert lock_problems(lock) == []


def test_locks_agree_with_each_other() -> None:
    assert consistency_problems() == []


def test_the_test_environment_is_the_dev_lock() -> None:
    """The closure check reads installed metadata: it is only as good as this."""
    entries, _ = parse_lock(read_repo(DEV))
    wrong = {}
    for name, entry in entries.items():
        if not _applies(entry.marker):
            continue
        try:
            installed = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            installed = "(missing)"
        if canonicalize_name(installed) != canonicalize_name(entry.version):
            wrong[name] = (entry.version, installed)
    assert wrong == {}, f"the test virtualenv is not {DEV} (locked, installed): {wrong}; run `make test-venv`"


def test_the_program_lock_holds_no_tooling_and_no_unused_provider() -> None:
    runtime, _ = parse_lock(read_repo("requirements.txt"))
    preflight, _ = parse_lock(read_repo("requirements-preflight.txt"))
    banned = {"pulumi-aws", "chdb", "mypy", "ruff", "pytest", "debugpy", "pandas", "pyarrow", "uv"}
    assert banned & (set(runtime) | set(preflight)) == set()
    assert set(preflight) - set(runtime) <= {
        "pulumi-policy",
        "jsonschema",
        "jsonschema-specifications",
        "referencing",
        "rpds-py",
        "attrs",
        "setuptools",
    }


# -- the checks catch what they are for ----------------------------------------------------------
def _mutated(path: str, change: Callable[[str], str]) -> Reader:
    def read(p: str) -> str:
        text = read_repo(p)
        return change(text) if p == path else text

    return read


def _drop_entry(text: str, name: str) -> str:
    """A lock without one package (its line, hashes and provenance)."""
    return re.sub(rf"(?ms)^{re.escape(name)}==.*?(?=^\S)", "", text)


BREAK_LOCK: dict[str, tuple[str, str, Callable[[str], str], str]] = {
    "input-pin-moved": (
        "requirements.txt",
        "requirements.in",
        lambda t: t.replace("pulumi==3.272.0", "pulumi==3.273.0"),
        "requirements.in asks for pulumi==3.273.0, the lock has 3.272.0",
    ),
    "input-dependency-added": (
        "requirements.txt",
        "requirements.in",
        lambda t: t + "pulumi-tls==5.2.0\n",
        "pulumi-tls (requirements.in) is not locked",
    ),
    "input-dependency-removed": (
        "requirements.txt",
        "requirements.in",
        lambda t: t.replace("clickhouse-connect==1.12.0\n", ""),
        "clickhouse-connect is locked but nothing in requirements.in needs it any more",
    ),
    "included-input-pin-moved": (
        "requirements-dev.txt",
        "bootstrap/requirements.in",
        lambda t: t.replace("pulumi-aws==7.51.1", "pulumi-aws==7.52.0"),
        "bootstrap/requirements.in asks for pulumi-aws==7.52.0",
    ),
    "hash-missing": (
        "requirements.txt",
        "requirements.txt",
        lambda t: re.sub(r"(?m)^(dill==\S+) \\\n(\s+--hash=\S+\s*\\?\n)+", r"\1\n", t),
        "dill has no --hash",
    ),
    "not-pinned": (
        "requirements.txt",
        "requirements.txt",
        lambda t: t.replace("dill==0.4.1", "dill>=0.4"),
        "dill is not pinned with ==",
    ),
    "transitive-missing": (
        "requirements.txt",
        "requirements.txt",
        lambda t: _drop_entry(t, "dill"),
        "pulumi 3.272.0 needs dill~=0.4, which is not locked",
    ),
    "excluded-package-locked": (
        "requirements.txt",
        "requirements.txt",
        lambda t: t.replace("# The following packages were excluded from the output:\n# debugpy\n", ""),
        "excludes [], expected ['debugpy']",
    ),
}


@pytest.mark.parametrize(("lock", "path", "change", "expected"), BREAK_LOCK.values(), ids=BREAK_LOCK.keys())
def test_lock_check_catches(lock: str, path: str, change: Callable[[str], str], expected: str) -> None:
    assert read_repo(path) != change(read_repo(path)), "the mutation no longer applies"
    problems = lock_problems(lock, _mutated(path, change))
    assert any(p.startswith(f"{lock}: {expected}") for p in problems), problems


def test_consistency_check_catches_a_lock_on_its_own_version() -> None:
    def older(text: str) -> str:
        return text.replace("pydantic==2.14.3", "pydantic==2.14.2")

    problems = consistency_problems(_mutated("requirements.txt", older))
    assert any("pydantic 2.14.2 differs from requirements-dev.txt" in p for p in problems)


def test_consistency_check_catches_a_runtime_package_missing_from_the_preflight_set() -> None:
    problems = consistency_problems(_mutated("requirements-preflight.txt", lambda t: _drop_entry(t, "dill")))
    assert "requirements.txt: dill is missing from requirements-preflight.txt" in problems
