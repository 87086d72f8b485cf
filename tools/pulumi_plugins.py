"""Install the pinned Pulumi resource plugins (.github/pulumi-plugins.lock), checksums verified.

    python -m tools.pulumi_plugins install --set program --venv .venv
    python -m tools.pulumi_plugins install --set bootstrap --venv bootstrap/.venv

For each plugin of the set: the SDK package installed in the venv (from the hash-pinned lock) must
have exactly the pinned version; its pulumi-plugin.json names the download server; the CLI then
installs exactly that version and verifies the archive's SHA-256
(`pulumi plugin install resource <name> <version> --exact --reinstall [--server S] --checksum H`).
Nothing is resolved at run time: no "latest", no range, no implicit download (the workflow sets
PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION).

An install that cannot be verified (the lock's checksum is UNRECORDED, or the machine is not
linux-amd64, the only platform checksums are recorded for) is refused everywhere, `make bootstrap`
included. Off CI only, `--unverified` installs the pinned version anyway, with a warning naming the
risk (an archive swapped on the download server would run with the operator's AWS credentials).
In CI (CI=true) it is refused even with `--unverified`.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOCK = ROOT / ".github" / "pulumi-plugins.lock"
UNRECORDED = "UNRECORDED"
CI_PLATFORM = "linux-amd64"
_SHA256 = re.compile(r"[0-9a-f]{64}")


class PluginError(Exception):
    """A problem with the pins or the environment, worded for the operator."""


@dataclass(frozen=True)
class Plugin:
    set: str
    name: str
    package: str
    version: str
    sha256: str  # of the linux-amd64 archive, or UNRECORDED

    @property
    def recorded(self) -> bool:
        return bool(_SHA256.fullmatch(self.sha256))


def parse(text: str) -> list[Plugin]:
    plugins: list[Plugin] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        fields = line.split()
        if len(fields) != 5:
            raise PluginError(f"{LOCK.name} line {number}: expected `set name package version sha256`")
        plugin = Plugin(*fields)
        if not re.fullmatch(r"\d+\.\d+\.\d+", plugin.version):
            raise PluginError(f"{LOCK.name} line {number}: version {plugin.version!r} is not an exact x.y.z")
        if plugin.sha256 != UNRECORDED and not plugin.recorded:
            raise PluginError(
                f"{LOCK.name} line {number}: sha256 must be 64 lowercase hex digits or {UNRECORDED}"
            )
        plugins.append(plugin)
    return plugins


def load(path: Path | None = None) -> list[Plugin]:
    return parse((path or LOCK).read_text())


def current_platform() -> str:
    machine = platform.machine().lower()
    arch = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}.get(machine, machine)
    return f"{sys.platform.removesuffix('2')}-{arch}"  # linux-amd64, darwin-arm64


def site_packages(venv: Path) -> Path:
    found = sorted(venv.glob("lib/python3*/site-packages")) + sorted(venv.glob("Lib/site-packages"))
    if not found:
        raise PluginError(f"{venv}: no site-packages (create the virtualenv first: make runtime-venv)")
    return found[0]


def plugin_server(packages: Path, plugin: Plugin) -> str | None:
    """The SDK's declared download server; refuses an SDK whose installed version is not the pin."""
    versions = [
        p.name.split("-", 1)[1].removesuffix(".dist-info")
        for p in packages.glob(f"{plugin.package}-*.dist-info")
    ]
    if versions != [plugin.version]:
        raise PluginError(
            f"{plugin.package}: installed {versions or 'nothing'}, pinned {plugin.version} in {LOCK.name}: "
            "keep the plugin pin equal to the SDK's pin in the lock (Dependabot bumps the lock: bump both)"
        )
    metadata = json.loads((packages / plugin.package / "pulumi-plugin.json").read_text())
    if metadata.get("name") != plugin.name or metadata.get("resource") is not True:
        raise PluginError(
            f"{plugin.package}: pulumi-plugin.json names {metadata.get('name')!r}, not {plugin.name!r}"
        )
    if metadata.get("version") not in (None, plugin.version):
        raise PluginError(
            f"{plugin.package}: pulumi-plugin.json pins {metadata['version']}, not {plugin.version}"
        )
    server = metadata.get("server")
    return str(server) if server else None


def install_command(plugin: Plugin, server: str | None, *, on_ci_platform: bool) -> list[str]:
    command = [
        "pulumi",
        "plugin",
        "install",
        "resource",
        plugin.name,
        plugin.version,
        "--exact",
        "--reinstall",
    ]
    if server:
        command += ["--server", server]
    if plugin.recorded and on_ci_platform:
        command += ["--checksum", plugin.sha256]
    return command


UNVERIFIED_RISK = (
    "the archive's checksum is NOT verified: if the download server served a modified plugin, it "
    "runs with this machine's cloud credentials (for bootstrap: AWS admin)"
)


def commands(
    plugins: Sequence[Plugin],
    selected: str,
    venv: Path,
    *,
    ci: bool,
    platform_name: str,
    unverified: bool = False,
) -> tuple[list[list[str]], list[str]]:
    """The install commands of one set, and warnings; raises PluginError for anything unpinned or
    unverifiable (unless `unverified`, which CI refuses)."""
    if ci and unverified:
        raise PluginError("--unverified is refused in CI (CI=true): CI installs verified plugins only")
    chosen = [p for p in plugins if p.set == selected]
    if not chosen:
        raise PluginError(f"no plugin of set {selected!r} in {LOCK.name}")
    on_ci_platform = platform_name == CI_PLATFORM
    if ci and not on_ci_platform:
        raise PluginError(
            f"CI runs on {CI_PLATFORM}; this runner is {platform_name} (no checksum recorded for it)"
        )
    unrecorded = [p.name for p in chosen if not p.recorded]
    problem = ""
    if unrecorded:
        problem = (
            f"no SHA-256 recorded for {', '.join(unrecorded)} in {LOCK.name}: record it from the release's "
            "checksums file (docs/ci-credentials.md, 'Recording a plugin checksum')"
        )
    elif not on_ci_platform:
        problem = (
            f"checksums are recorded for {CI_PLATFORM} only, and this machine is {platform_name}: "
            f"run it on {CI_PLATFORM}"
        )
    warnings: list[str] = []
    if problem and (ci or not unverified):
        fix = (
            ""
            if ci
            else (
                "; only if you accept an unverified plugin, run `python -m tools.pulumi_plugins install "
                f"--set {selected} --venv {venv} --unverified` yourself (docs/ci-credentials.md)"
            )
        )
        raise PluginError(f"refusing an unverified install: {problem}{fix}")
    if problem:
        warnings.append(f"--unverified: {problem}; installing the pinned version anyway: {UNVERIFIED_RISK}")
    packages = site_packages(venv)
    return [
        install_command(p, plugin_server(packages, p), on_ci_platform=on_ci_platform) for p in chosen
    ], warnings


def main(argv: Sequence[str] | None = None, run: Callable[[list[str]], int] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.pulumi_plugins", description=__doc__.split("\n")[0]
    )
    parser.add_argument("action", choices=["install", "print"])
    parser.add_argument("--set", required=True, dest="selected")
    parser.add_argument("--venv", required=True, type=Path)
    parser.add_argument(
        "--unverified",
        action="store_true",
        help="off CI only: install even when no checksum can be verified (prints the risk; refused in CI)",
    )
    args = parser.parse_args(argv)
    ci = os.environ.get("CI", "").lower() == "true"
    try:
        planned, warnings = commands(
            load(),
            args.selected,
            args.venv,
            ci=ci,
            platform_name=current_platform(),
            unverified=args.unverified,
        )
    except PluginError as exc:
        print(f"{'::error::' if ci else 'error: '}{exc}", file=sys.stderr)
        return 1
    for warning in warnings:
        print(f"warning: {warning}", file=sys.stderr)
    runner = run or (lambda command: subprocess.run(command, check=False).returncode)
    for command in planned:
        print("+ " + " ".join(command), flush=True)
        if args.action == "install" and runner(command) != 0:
            return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
