"""The published JSON Schema of the stack files: fresh, referenced, satisfied, documented."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import yaml

from tools import schema
from tools.harness import PROJECT, ROOT

if TYPE_CHECKING:
    import jsonschema

STACK_FILES = sorted(ROOT.glob("Pulumi.*.yaml"))
HEADER = "# yaml-language-server: $schema=./schema/pulumi-stack.schema.json"


def _validator() -> jsonschema.Draft202012Validator:
    import jsonschema  # here: collection in every xdist worker need not load it

    return jsonschema.Draft202012Validator(json.loads(schema.SCHEMA_PATH.read_text()))


def _errors(document: dict[str, Any]) -> list[str]:
    return [f"{list(e.absolute_path)}: {e.message}" for e in _validator().iter_errors(document)]


def test_tracked_schema_is_up_to_date(capsys: pytest.CaptureFixture[str]) -> None:
    assert schema.SCHEMA_PATH.read_text() == schema.render()
    assert schema.main(["--check"]) == 0
    assert "up to date" in capsys.readouterr().out


def test_a_stale_schema_fails_the_check(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    stale = tmp_path / "schema" / "pulumi-stack.schema.json"
    stale.parent.mkdir()
    stale.write_text(schema.render().replace("serviceName", "servicename"))
    monkeypatch.setattr(schema, "SCHEMA_PATH", stale)
    monkeypatch.setattr(schema, "ROOT", tmp_path)
    assert schema.main(["--check"]) == 1
    assert "is stale: run `make schema`" in capsys.readouterr().err
    assert schema.main([]) == 0 and schema.main(["--check"]) == 0


@pytest.mark.parametrize("path", STACK_FILES, ids=lambda p: p.name)
def test_stack_file_references_and_satisfies_the_schema(path: Path) -> None:
    assert path.read_text().splitlines()[0] == HEADER
    assert (path.parent / HEADER.split("$schema=")[1]).resolve() == schema.SCHEMA_PATH
    assert _errors(yaml.safe_load(path.read_text())) == []


def test_schema_rejects_typos_and_plaintext_secrets_and_allows_other_namespaces() -> None:
    base = yaml.safe_load((ROOT / "Pulumi.prod.yaml").read_text())
    typo = copy.deepcopy(base)
    typo["config"][f"{PROJECT}:dataWarehouse"]["ipAllowlist"] = []
    assert any("ipAllowlist" in e for e in _errors(typo))
    unknown = copy.deepcopy(base)
    unknown["config"][f"{PROJECT}:protected"] = True
    assert _errors(unknown)
    plaintext = copy.deepcopy(base)
    plaintext["config"][f"{PROJECT}:clickhouseAdminPasswordHash"] = "in-the-clear"
    assert _errors(plaintext)
    fine = copy.deepcopy(base)
    fine["config"][f"{PROJECT}:clickhouseAdminPasswordHash"] = {"secure": "v1:abc"}
    fine["config"]["aws:region"] = "us-east-1"
    fine["config"]["upstash:email"] = "someone@example.com"
    assert _errors(fine) == []
    missing = copy.deepcopy(base)
    del missing["config"][f"{PROJECT}:cache"]
    assert _errors(missing)


def _keys(node: Any, defs: dict[str, Any], seen: set[str]) -> set[str]:
    """Every property name reachable in the schema (through $ref, anyOf, items, ...)."""
    found: set[str] = set()
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref not in seen:
            seen.add(ref)
            found |= _keys(defs[ref.rsplit("/", 1)[-1]], defs, seen)
        for name, sub in (node.get("properties") or {}).items():
            found.add(name)
            found |= _keys(sub, defs, seen)
        for key in ("items", "additionalProperties", "anyOf", "oneOf", "allOf"):
            if key in node:
                found |= _keys(node[key], defs, seen)
    elif isinstance(node, list):
        for item in node:
            found |= _keys(item, defs, seen)
    return found


def test_every_schema_key_is_documented_in_the_readme() -> None:
    document = json.loads(schema.SCHEMA_PATH.read_text())
    config = document["properties"]["config"]
    keys = {k.split(":", 1)[1] for k in config["properties"]}
    keys |= _keys({"anyOf": list(config["properties"].values())}, document["$defs"], set())
    keys -= {"secure"}
    readme = (ROOT / "README.md").read_text()
    # Documented = named in a code span of the configuration reference (`key` or `{key, other}`).
    reference = readme[readme.index("## Configuration reference") : readme.index("## Outputs contract")]
    spans = re.findall(r"`([^`\n]+)`", reference)
    documented = {word for span in spans for word in re.findall(r"[A-Za-z][A-Za-z0-9]*", span)}
    assert sorted(keys - documented) == []
    assert len(keys) > 20  # the walk reached the nested sections
