"""Withheld credentials: a preview may run without the keys of providers that have no read-only key.

The program runs for real under mocks (tools/harness.py): the check runs before any resource is
declared, with the engine's own dry-run flag.
"""

from __future__ import annotations

import re

import pytest

from settings.credentials import (
    WITHHELD_VALUE,
    WITHHELD_VARIABLE,
    missing_credentials,
    withheld_providers,
)
from settings.errors import ConfigProblem
from tools import harness

WITHOUT_UPSTASH = {WITHHELD_VARIABLE: "upstash", "UPSTASH_API_KEY": WITHHELD_VALUE}


def keys(problems: list[ConfigProblem]) -> list[str]:
    return [str(p.key).split(" ")[0] for p in problems]


def test_a_preview_without_the_upstash_key_declares_nothing_and_runs() -> None:
    run = harness.run_program("prod", preview=True, env=WITHOUT_UPSTASH)
    assert run.error is None, run.error
    assert run.of_type("upstash:index/redisDatabase:RedisDatabase"), (
        "the Upstash resources are still declared"
    )


def test_an_update_that_declares_a_withheld_key_stops_cleanly() -> None:
    run = harness.run_program("prod", preview=False, env=WITHOUT_UPSTASH)
    assert run.error is not None and not run.resources
    assert (
        f'{WITHHELD_VARIABLE} (environment variable) = "upstash": is allowed in a preview only' in run.error
    )
    assert "Traceback" not in run.error


def test_without_the_declaration_a_missing_key_is_still_an_error_in_a_preview() -> None:
    run = harness.run_program("prod", preview=True, env={"UPSTASH_API_KEY": ""})
    assert run.error is not None
    assert "UPSTASH_API_KEY (environment variable) = (not set): is required" in run.error


def test_a_job_that_declares_a_key_withheld_must_not_hold_it() -> None:
    real = {WITHHELD_VARIABLE: "upstash", "UPSTASH_API_KEY": "a-real-looking-key-0123"}
    problems = missing_credentials({**_full_env(), **real}, "prod", dry_run=True)
    assert keys(problems) == ["UPSTASH_API_KEY"]
    assert "a-real-looking-key-0123" not in repr(problems), "the key's value is never echoed"


def test_only_providers_without_a_read_only_key_can_be_withheld() -> None:
    problems = missing_credentials({**_full_env(), WITHHELD_VARIABLE: "clickhouse"}, "prod", dry_run=True)
    assert keys(problems) == [WITHHELD_VARIABLE]
    assert "only providers without a read-only key" in problems[0].rule


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("", ()),
        ("upstash", ("upstash",)),
        ("upstash, vercel", ("upstash", "vercel")),
        (" vercel vercel ", ("vercel",)),
    ],
)
def test_the_declaration_is_parsed(raw: str, expected: tuple[str, ...]) -> None:
    assert withheld_providers({WITHHELD_VARIABLE: raw}) == expected


def test_identity_variables_stay_required_when_the_key_is_withheld() -> None:
    env = {**_full_env(), **WITHOUT_UPSTASH, "UPSTASH_EMAIL": ""}
    assert keys(missing_credentials(env, "prod", dry_run=True)) == ["UPSTASH_EMAIL"]
    env_vercel = {
        **_full_env(),
        WITHHELD_VARIABLE: "upstash vercel",
        "UPSTASH_API_KEY": "",
        "VERCEL_API_TOKEN": "",
    }
    assert (
        missing_credentials(env_vercel, "prod", providers=("clickhouse", "upstash", "vercel"), dry_run=True)
        == []
    )


def _full_env() -> dict[str, str]:
    return dict(harness.PLACEHOLDER_ENV)


def test_the_inert_key_passes_the_providers_format_checks() -> None:
    """Vercel's Configure rejects a token without 24 letters or digits (terraform-provider-vercel
    vercel/provider.go: apiTokenRe); Upstash's requires a non-empty key (schema Required)."""
    assert re.search(r"[0-9a-zA-Z]{24}", WITHHELD_VALUE)
    assert WITHHELD_VALUE.strip() == WITHHELD_VALUE and WITHHELD_VALUE.isalnum()
