"""`make provisioner`: a user's mistake in Pulumi.<stack>.yaml, the stack outputs or the flags is one
clean error (exit 2) naming the file or key, the bad value (never a secret), the rule and the fix.

The real tool runs (ops.provisioner.main) on stack files written here; only the Pulumi CLI, the
prompts and ClickHouse are stand-ins (tests/test_provisioner.py's), and nothing may be asked for or
run once the input is bad.
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import Sequence
from pathlib import Path

import pytest

from ops import provisioner
from tests.test_provisioner import OUTPUTS, Recorder, run_tool
from tools.project import PROJECT

P = f"{PROJECT}:"
CIPHERTEXT = "v1:QUJDREVGR0hJSktMTU5PUA==:c2VjcmV0LWNpcGhlcnRleHQ="


@pytest.fixture
def root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(provisioner, "ROOT", tmp_path)
    return tmp_path


def write_stack(root: Path, text: str, stack: str = "prod") -> None:
    (root / f"Pulumi.{stack}.yaml").write_text(textwrap.dedent(text))


def refused(argv: Sequence[str], pulumi_outputs: object = OUTPUTS) -> str:
    """Run the tool; assert the clean refusal (exit 2, nothing asked, nothing run); its stderr."""
    recorder = Recorder()

    def outputs(argv: Sequence[str]) -> str:
        return pulumi_outputs if isinstance(pulumi_outputs, str) else json.dumps(pulumi_outputs)

    code, out, err, prompts = run_tool(list(argv), recorder, pulumi=outputs)
    assert (code, prompts, recorder.connections) == (2, [], []), err
    assert "will run" not in out and "Traceback" not in err
    assert err.startswith("error: ")
    return err


def test_a_yaml_syntax_error_names_the_file_and_the_line_but_not_its_text(root: Path) -> None:
    write_stack(
        root,
        f"""\
        config:
          {P}dataWarehouse:
            database: analytics
          {P}clickhouseAdminPasswordHash: secure: {CIPHERTEXT}
        """,
    )
    err = refused(["--stack", "prod"])
    assert "Pulumi.prod.yaml is not valid YAML (line 4, column" in err
    assert "mapping values are not allowed here" in err and "fix the syntax there" in err
    assert CIPHERTEXT not in err and "make validate STACK=prod" in err


def test_scalars_where_mappings_belong_are_all_reported_together(root: Path) -> None:
    write_stack(
        root,
        f"""\
        config:
          {P}dataWarehouse: analytics
          {P}consumers: app
        """,
    )
    err = refused(["--stack", "prod", "--legacy"])
    assert "Pulumi.prod.yaml has 2 problem(s)" in err
    assert f'{P}dataWarehouse = "analytics": must be a mapping of the warehouse\'s settings' in err
    assert (
        f"fix: write it as a mapping, e.g. `{P}dataWarehouse:` then, indented, `database: analytics`" in err
    )
    assert f'{P}consumers = "app": must be a mapping of consumer name to its access' in err


def test_consumers_are_read_only_for_the_migration(root: Path) -> None:
    write_stack(root, f"config:\n  {P}consumers: app\n")
    recorder = Recorder()
    code, _, err, _ = run_tool(["--stack", "prod"], recorder)
    assert code == 0, err  # without --legacy the consumers are not read


def test_a_bad_consumer_and_a_bad_database_name(root: Path) -> None:
    write_stack(
        root,
        f"""\
        config:
          {P}dataWarehouse: {{database: Analytics-DB}}
          {P}consumers:
            app: read
            ai: {{clickhouse: read}}
            7: {{clickhouse: write}}
        """,
    )
    err = refused(["--stack", "prod", "--legacy"])
    assert f'{P}dataWarehouse.database = "Analytics-DB": must be a ClickHouse database name' in err
    assert f'{P}consumers.app = "read": must be a mapping of the consumer\'s access' in err
    assert f"{P}consumers (a consumer name) = 7: must be a text name" in err
    assert "has 3 problem(s)" in err


def test_a_secret_where_a_mapping_belongs_is_not_shown(root: Path) -> None:
    write_stack(root, f"config:\n  {P}consumers:\n    secure: {CIPHERTEXT}\n  {P}dataWarehouse: [a]\n")
    err = refused(["--stack", "prod", "--legacy"])
    assert CIPHERTEXT not in err
    assert f"{P}dataWarehouse = a list: must be a mapping" in err


@pytest.mark.parametrize(
    "text",
    ["- just\n- a list\n", "config: [1, 2]\n"],
    ids=["document", "config"],
)
def test_a_file_of_the_wrong_shape(root: Path, text: str) -> None:
    write_stack(root, text)
    err = refused(["--stack", "prod"])
    assert "a list: must be a mapping" in err and "restore" in err


def test_an_unknown_or_odd_stack_name(root: Path) -> None:
    write_stack(root, "config: {}\n", stack="dev")
    assert "no stack file Pulumi.qa.yaml: STACK=qa is not a stack of this project (dev)" in refused(
        ["--stack", "qa"]
    )
    assert "a stack name is letters, digits" in refused(["--stack", "../etc/passwd"])


@pytest.mark.parametrize(
    ("outputs", "message"),
    [
        (
            {**OUTPUTS, "clickhouse_https_port": "eighty"},
            "the output clickhouse_https_port of stack 'prod' = \"eighty\": must be a TCP port number",
        ),
        ({**OUTPUTS, "clickhouse_https_port": 70000}, "= 70000: must be a TCP port number (1-65535)"),
        ("warning: not json", "`pulumi stack output --json --stack prod` did not print JSON"),
        ([1], "is not a mapping"),
        ({"clickhouse_host": "h"}, "has no clickhouse_host/clickhouse_https_port output yet"),
    ],
    ids=["text-port", "port-range", "not-json", "not-a-mapping", "missing"],
)
def test_bad_stack_outputs(root: Path, outputs: object, message: str) -> None:
    write_stack(root, "config: {}\n")
    err = refused(["--stack", "prod"], outputs)
    assert message in err and "HOST=<host> PORT=<https port>" in err


def test_a_bad_port_flag(root: Path) -> None:
    write_stack(root, "config: {}\n")
    err = refused(["--stack", "prod", "--host", "h.example", "--port", "0"])
    assert "PORT (--port) = 0: must be a TCP port number (1-65535)" in err
