"""consumer_outputs: contract -> environment variables, rendering, the 0600 file, the CLI.

The only thing replaced is the `pulumi` executable: a small script put first on PATH that prints
a fixed `pulumi stack output --json` document and records how it was called.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from ops import outputs as co
from stack.contract import OUTPUTS
from tests.helpers import run_ok

ROOT = Path(__file__).resolve().parent.parent
GIT_WORK_TREE = shutil.which("git") is not None and (ROOT / ".git").exists()


# What `pulumi stack output --json --show-secrets` prints for prod: the real program's outputs
# under the mock harness (fake values, real contract), from the test process's shared prod run.
@functools.cache
def prod_outputs() -> dict[str, Any]:
    outputs: dict[str, Any] = json.loads(json.dumps(run_ok("prod").outputs))
    return outputs


def app_env() -> dict[str, str]:
    env: dict[str, str] = prod_outputs()["consumer_env"]["app"]
    return env


def secret_values() -> list[str]:
    return [
        value
        for name, secret in OUTPUTS.items()
        if secret and name != "consumer_env"
        for value in [str(prod_outputs()[name])]
    ]


@pytest.fixture
def fake_pulumi(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Put a fake `pulumi` first on PATH; returns the directory holding its control files."""
    bindir = tmp_path / "fakebin"
    bindir.mkdir()
    script = bindir / "pulumi"
    script.write_text(
        f"#!{sys.executable}\n"
        "import json, os, sys\n"
        "here = os.path.dirname(os.path.abspath(__file__))\n"
        "with open(os.path.join(here, 'argv.json'), 'w') as f:\n"
        "    json.dump({'argv': sys.argv[1:], 'cwd': os.getcwd()}, f)\n"
        "code = int(open(os.path.join(here, 'exit_code')).read())\n"
        "if code:\n"
        "    sys.stderr.write('error: no stack named \\'nope\\' found\\n')\n"
        "    sys.exit(code)\n"
        "sys.stdout.write(open(os.path.join(here, 'outputs.json')).read())\n"
    )
    script.chmod(0o755)
    set_fake(bindir, prod_outputs())
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}")
    return bindir


def set_fake(bindir: Path, outputs: dict[str, Any], exit_code: int = 0) -> None:
    (bindir / "outputs.json").write_text(json.dumps(outputs))
    (bindir / "exit_code").write_text(str(exit_code))


def fake_call(bindir: Path) -> dict[str, Any]:
    result: dict[str, Any] = json.loads((bindir / "argv.json").read_text())
    return result


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# -- the mapping ---------------------------------------------------------------------------------
def test_each_consumer_gets_only_its_own_variables() -> None:
    envs = prod_outputs()["consumer_env"]
    assert co.consumer_values(prod_outputs(), "ai") == envs["ai"]
    assert set(envs["ai"]) == {
        "CLICKHOUSE_URL",
        "CLICKHOUSE_HOST",
        "CLICKHOUSE_HTTPS_PORT",
        "CLICKHOUSE_DATABASE",
    }
    assert envs["app"]["CLICKHOUSE_URL"] == prod_outputs()["clickhouse_connection_string"]
    assert envs["data-pipeline"]["CLICKHOUSE_URL"] == prod_outputs()["clickhouse_etl_connection_string"]
    assert envs["app"]["REDIS_URL"] == prod_outputs()["redis_url"]
    assert envs["data-pipeline"]["REDIS_URL"] == prod_outputs()["pipeline_redis_url"]


def test_documented_names_for_the_upstash_sdks() -> None:
    # @upstash/redis Redis.fromEnv() and the @upstash/qstash Receiver read these names.
    assert {"UPSTASH_REDIS_REST_URL", "UPSTASH_REDIS_REST_TOKEN"} <= set(app_env())
    assert {"QSTASH_TOKEN", "QSTASH_CURRENT_SIGNING_KEY", "QSTASH_NEXT_SIGNING_KEY"} <= set(app_env())
    assert all(co.ENV_NAME.match(name) for name in app_env())


def test_values_become_strings() -> None:
    values = co.consumer_values(prod_outputs(), "app")
    assert values["CLICKHOUSE_HTTPS_PORT"] == "8443"
    assert values["QSTASH_TOPICS"] == "cdc-prod,notifications-prod"


def test_a_missing_consumer_env_is_an_error() -> None:
    outputs = {k: v for k, v in prod_outputs().items() if k != "consumer_env"}
    with pytest.raises(co.OutputsError, match="no consumer_env output"):
        co.consumer_values(outputs, "app")


def test_an_unknown_consumer_is_an_error_naming_the_known_ones() -> None:
    with pytest.raises(
        co.OutputsError, match="unknown consumer 'web'; the stack's consumers: ai, app, data-pipeline"
    ):
        co.consumer_values(prod_outputs(), "web")


def test_a_masked_secret_is_an_error() -> None:
    with pytest.raises(co.OutputsError, match="consumer_env came back masked"):
        co.consumer_values({**prod_outputs(), "consumer_env": "[secret]"}, "app")
    masked = {"app": {**app_env(), "QSTASH_TOKEN": "[secret]"}}
    with pytest.raises(co.OutputsError, match="QSTASH_TOKEN came back masked"):
        co.consumer_values({**prod_outputs(), "consumer_env": masked}, "app")


def test_an_unexpected_shape_is_an_error_without_the_value() -> None:
    bad = {"app": {**app_env(), "REDIS_URL": {"nested": "x-secret"}}}
    with pytest.raises(co.OutputsError, match="REDIS_URL has an unexpected type") as err:
        co.consumer_values({**prod_outputs(), "consumer_env": bad}, "app")
    assert "x-secret" not in str(err.value)


# -- rendering -----------------------------------------------------------------------------------
def test_dotenv_escapes_quotes_backslashes_newlines_and_dollars() -> None:
    text = co.render_dotenv({"A": 'say "hi"', "B": "C:\\dir", "C": "one\ntwo\r", "D": "$HOME ${X} `id`"})
    lines = text.splitlines()
    assert lines[0].startswith("#")
    assert lines[1:] == [
        'A="say \\"hi\\""',
        'B="C:\\\\dir"',
        'C="one\\ntwo\\r"',
        'D="\\$HOME \\${X} \\`id\\`"',
    ]


def test_dotenv_rejects_a_bad_variable_name() -> None:
    with pytest.raises(co.OutputsError):
        co.render_dotenv({"BAD-NAME": "x"})


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_dotenv_is_safe_to_source_in_bash(tmp_path: Path) -> None:
    # Everything a shell could expand or execute stays literal.
    tricky = {
        "Q": 'a"b',
        "BS": "back\\slash\\",
        "DOLLAR": "$HOME and ${PATH} and $(touch pwned)",
        "TICK": "`touch pwned`",
        "MIX": "p%40ss:w0rd/=+&'single'",
    }
    env_file = tmp_path / "x.env"
    env_file.write_text(co.render_dotenv(tricky))
    script = "set -a; . ./x.env; set +a; " + "; ".join(f'printf "%s\\0" "${k}"' for k in tricky)
    result = subprocess.run(["bash", "-c", script], cwd=tmp_path, capture_output=True, text=True, check=True)
    assert result.stdout.split("\0")[:-1] == list(tricky.values())
    assert not (tmp_path / "pwned").exists()


def test_dotenv_keeps_every_value_on_its_own_line() -> None:
    text = co.render(co.consumer_values(prod_outputs(), "app"), "dotenv")
    body = [line for line in text.splitlines() if not line.startswith("#")]
    assert [line.split("=", 1)[0] for line in body] == list(app_env())
    assert f'UPSTASH_REDIS_REST_URL="{prod_outputs()["redis_rest_url"]}"' in body


def test_json_round_trips() -> None:
    values = co.consumer_values(prod_outputs(), "app")
    assert json.loads(co.render(values, "json")) == values


# -- the file ------------------------------------------------------------------------------------
def test_file_is_written_with_mode_0600(tmp_path: Path) -> None:
    target = tmp_path / "new" / "prod.env"
    co.write_private(target, "A=1\n")
    assert target.read_text() == "A=1\n"
    assert mode(target) == 0o600
    assert mode(target.parent) == 0o700


def test_an_existing_wider_file_is_replaced_not_reused(tmp_path: Path) -> None:
    target = tmp_path / "prod.env"
    target.write_text("old\n")
    target.chmod(0o644)
    old_inode = target.stat().st_ino
    old_umask = os.umask(0)
    try:
        co.write_private(target, "new\n")
    finally:
        os.umask(old_umask)
    assert target.read_text() == "new\n"
    assert mode(target) == 0o600
    assert target.stat().st_ino != old_inode
    assert [p.name for p in tmp_path.iterdir()] == ["prod.env"], "no temporary file is left"


def test_a_symlink_at_the_destination_is_replaced_not_followed(tmp_path: Path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("keep\n")
    link = tmp_path / "prod.env"
    link.symlink_to(victim)
    co.write_private(link, "secret\n")
    assert victim.read_text() == "keep\n"
    assert not link.is_symlink()
    assert mode(link) == 0o600


# -- the CLI (fake pulumi on PATH) ---------------------------------------------------------------
def test_cli_writes_dotenv_and_prints_no_value(
    fake_pulumi: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "prod.env"
    assert co.main(["--stack", "prod", "--consumer", "app", "--format", "dotenv", "--out", str(out)]) == 0
    printed = capsys.readouterr()
    assert str(out) in printed.out
    for name in app_env():
        assert name in printed.out
    for value in [*secret_values(), prod_outputs()["clickhouse_host"], "cdc-prod"]:
        assert value not in printed.out + printed.err
    assert mode(out) == 0o600
    text = out.read_text()
    for name, value in app_env().items():
        assert f'{name}="{value}"' in text  # none of these needs an escape
    # Least privilege: the app's file holds neither the writer URL nor the pipeline's Redis.
    assert prod_outputs()["clickhouse_etl_connection_string"] not in text
    assert prod_outputs()["pipeline_redis_url"] not in text
    call = fake_call(fake_pulumi)
    assert call["argv"] == ["stack", "output", "--json", "--show-secrets", "--stack", "prod"]
    assert Path(call["cwd"]) == ROOT, "pulumi runs from the project so Pulumi.yaml's backend applies"


def test_cli_writes_json(fake_pulumi: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "dev.json"
    assert (
        co.main(["--stack", "dev", "--consumer", "data-pipeline", "--format", "json", "--out", str(out)]) == 0
    )
    written = json.loads(out.read_text())
    assert written == prod_outputs()["consumer_env"]["data-pipeline"]
    assert mode(out) == 0o600
    assert fake_call(fake_pulumi)["argv"][-1] == "dev"
    printed = capsys.readouterr()
    assert not any(value in printed.out + printed.err for value in secret_values())


def test_cli_unknown_consumer_fails_and_writes_nothing(
    fake_pulumi: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "prod.env"
    assert co.main(["--stack", "prod", "--consumer", "web", "--out", str(out)]) == 1
    printed = capsys.readouterr()
    assert "unknown consumer 'web'" in printed.err
    assert not any(value in printed.out + printed.err for value in secret_values())
    assert not out.exists()


def test_cli_without_consumer_lists_them_and_exits_non_zero(
    fake_pulumi: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert co.main(["--stack", "prod"]) == 2
    err = capsys.readouterr().err
    assert "make outputs STACK=prod CONSUMER=<name>" in err
    assert "ai, app, data-pipeline" in err
    assert not (fake_pulumi / "argv.json").exists()


def test_cli_reports_a_pulumi_failure(
    fake_pulumi: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    set_fake(fake_pulumi, {}, exit_code=255)
    out = tmp_path / "nope.env"
    assert co.main(["--stack", "nope", "--consumer", "app", "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert "exit 255" in err and "no stack named" in err
    assert not out.exists()


def test_cli_without_pulumi_on_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    assert co.main(["--stack", "prod", "--consumer", "app", "--out", str(tmp_path / "x.env")]) == 1


def test_cli_rejects_a_flag_as_stack_name(fake_pulumi: Path, tmp_path: Path) -> None:
    assert co.main(["--stack=--show-secrets", "--consumer", "app", "--out", str(tmp_path / "x.env")]) == 1
    assert not (fake_pulumi / "argv.json").exists()


@pytest.mark.skipif(not GIT_WORK_TREE, reason="needs a git work tree")
def test_cli_refuses_a_tracked_location_in_the_repo(
    fake_pulumi: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = ROOT / "docs" / "consumer-outputs-leak-test.json"
    assert co.main(["--stack", "prod", "--consumer", "app", "--format", "json", "--out", str(out)]) == 1
    assert "not git-ignored" in capsys.readouterr().err
    assert not out.exists()


def test_default_paths_are_git_ignored() -> None:
    assert co.default_path("prod", "app", "dotenv") == ROOT / "outputs" / "prod-app.env"
    assert co.default_path("dev", "ai", "json") == ROOT / "outputs" / "dev-ai.json"
    if GIT_WORK_TREE:
        for path in (co.default_path("prod", "app", "dotenv"), co.default_path("dev", "ai", "json")):
            check = subprocess.run(["git", "check-ignore", "-q", str(path)], cwd=ROOT, check=False)
            assert check.returncode == 0, f"{path} is not git-ignored"


def test_cli_as_a_script(fake_pulumi: Path, tmp_path: Path) -> None:
    out = tmp_path / "prod.env"
    result = subprocess.run(
        [sys.executable, "-m", "ops.outputs", "--stack", "prod", "--consumer", "app", "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        env=os.environ.copy(),
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert not any(value in result.stdout + result.stderr for value in secret_values())
    assert mode(out) == 0o600
