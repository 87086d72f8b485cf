"""QStash credentials from the Upstash API, and signing-key rotation as code, against a local
stand-in that follows the documented API shapes (tests/qstash_standin.py)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.helpers import result_outs
from upstash_access.qstash import QStashApiError, QStashCredentialsProvider

from .qstash_standin import API_KEY, EMAIL, Account, serving


@pytest.fixture
def account() -> Account:
    return Account()


@pytest.fixture
def provider(account: Account, monkeypatch: pytest.MonkeyPatch) -> Iterator[QStashCredentialsProvider]:
    monkeypatch.setenv("UPSTASH_EMAIL", EMAIL)
    monkeypatch.setenv("UPSTASH_API_KEY", API_KEY)
    with serving(account) as url:
        yield QStashCredentialsProvider(api_url=url, qstash_url=url)


def props(rotation: str = "") -> dict[str, Any]:
    return {"account": EMAIL, "signing_key_rotation": rotation}


def test_create_reads_the_accounts_token_and_keys(
    provider: QStashCredentialsProvider, account: Account
) -> None:
    outs = result_outs(provider.create(props()))
    assert (outs["token"], outs["current_signing_key"], outs["next_signing_key"]) == (
        account.token,
        account.current,
        account.next,
    )
    assert account.calls("POST", "/v2/keys/rotate") == 0


def test_no_op_up_calls_nothing(provider: QStashCredentialsProvider, account: Account) -> None:
    outs = result_outs(provider.create(props("2026-11")))
    seen = len(account.requests)
    assert provider.diff("qstash", outs, props("2026-11")).changes is False
    assert len(account.requests) == seen
    assert account.calls("POST", "/v2/keys/rotate") == 0  # a label at create only records the step


def test_new_rotation_label_rotates_exactly_once(
    provider: QStashCredentialsProvider, account: Account
) -> None:
    before = result_outs(provider.create(props("2026-11")))
    assert provider.diff("qstash", before, props("2026-12")).changes is True
    after = result_outs(provider.update("qstash", before, props("2026-12")))
    assert account.calls("POST", "/v2/keys/rotate") == 1
    # As documented: next becomes current, and a new next is made; the outputs carry the new pair.
    assert after["current_signing_key"] == before["next_signing_key"]
    assert after["next_signing_key"] not in (before["current_signing_key"], before["next_signing_key"])
    assert (after["current_signing_key"], after["next_signing_key"]) == (account.current, account.next)
    # The next `up` with the same label: no change, no rotation.
    assert provider.diff("qstash", after, props("2026-12")).changes is False
    assert account.calls("POST", "/v2/keys/rotate") == 1


def test_keys_rolled_in_the_console_are_drift(provider: QStashCredentialsProvider, account: Account) -> None:
    outs = result_outs(provider.create(props()))
    account.rotate()
    read = result_outs(provider.read("qstash", outs))
    assert read["drift"] == ["the signing keys changed outside the program (rolled in the console?)"]
    assert read["current_signing_key"] == account.current
    assert provider.diff("qstash", read, props()).changes is True
    assert result_outs(provider.update("qstash", read, props()))["drift"] == []
    assert account.calls("POST", "/v2/keys/rotate") == 0


def test_another_accounts_qstash_user_is_refused(provider: QStashCredentialsProvider) -> None:
    with pytest.raises(QStashApiError, match=r"belongs to .* the stack declares other@example\.com"):
        provider.create({"account": "other@example.com", "signing_key_rotation": ""})


def test_bad_credentials_give_a_clean_error(
    provider: QStashCredentialsProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("UPSTASH_API_KEY", "wrong-key")
    with pytest.raises(QStashApiError) as exc:
        provider.create(props())
    assert str(exc.value) == "GET /v2/qstash/user: HTTP 401 (check UPSTASH_EMAIL / UPSTASH_API_KEY)"
    monkeypatch.delenv("UPSTASH_API_KEY")
    with pytest.raises(QStashApiError, match="UPSTASH_EMAIL and UPSTASH_API_KEY must be set"):
        provider.create(props())


def test_provider_holds_no_credential(provider: QStashCredentialsProvider, account: Account) -> None:
    import pickle

    provider.create(props())
    state = pickle.dumps(provider)
    assert API_KEY.encode() not in state and account.token.encode() not in state


def test_credentials_never_go_over_plain_http(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("UPSTASH_EMAIL", EMAIL)
    monkeypatch.setenv("UPSTASH_API_KEY", API_KEY)
    provider = QStashCredentialsProvider(api_url="http://api.example.com", qstash_url="http://q.example.com")
    with pytest.raises(QStashApiError, match="refusing to send credentials over http"):
        provider.create(props())


def test_a_rotation_whose_reply_was_lost_is_not_repeated(
    provider: QStashCredentialsProvider, account: Account
) -> None:
    """POST /v2/keys/rotate succeeded, its reply was lost: the next deploy must not rotate again."""
    before = result_outs(provider.create(props("2026-11")))
    account.lose_rotate_replies = 1
    with pytest.raises(QStashApiError, match="POST /v2/keys/rotate: unreachable"):
        provider.update("qstash", before, props("2026-12"))
    assert account.calls("POST", "/v2/keys/rotate") == 1
    assert account.current == before["next_signing_key"]  # it did rotate
    # The engine kept the previous state (label 2026-11). CI refreshes before it deploys: the read
    # stores the rotated keys as drift; the update that follows must not rotate a second time.
    read = result_outs(provider.read("qstash", before))
    assert read["drift"] == ["the signing keys changed outside the program (rolled in the console?)"]
    after = result_outs(provider.update("qstash", read, props("2026-12")))
    assert account.calls("POST", "/v2/keys/rotate") == 1
    assert (after["current_signing_key"], after["next_signing_key"]) == (account.current, account.next)
    assert after["current_signing_key"] == before["next_signing_key"]
    # The same without a refresh in between (a local `up`): no second rotation either.
    again = result_outs(provider.update("qstash", before, props("2026-12")))
    assert account.calls("POST", "/v2/keys/rotate") == 1
    assert again["current_signing_key"] == before["next_signing_key"]
    # The next label after that rotates again, exactly once.
    third = result_outs(provider.update("qstash", after, props("2027-01")))
    assert account.calls("POST", "/v2/keys/rotate") == 2
    assert third["current_signing_key"] == after["next_signing_key"]


def test_removing_the_label_reads_the_keys_and_never_rotates(
    provider: QStashCredentialsProvider, account: Account
) -> None:
    rotated = result_outs(provider.update("qstash", result_outs(provider.create(props("a"))), props("b")))
    assert account.calls("POST", "/v2/keys/rotate") == 1
    reads = account.calls("GET", "/v2/keys")
    assert provider.diff("qstash", rotated, props("")).changes is True  # an update, as documented
    removed = result_outs(provider.update("qstash", rotated, props("")))
    assert account.calls("POST", "/v2/keys/rotate") == 1
    assert account.calls("GET", "/v2/keys") == reads + 1
    assert removed["signing_key_rotation"] == ""
    assert removed["current_signing_key"] == rotated["current_signing_key"]


def test_account_check_without_an_email_relies_on_the_credentials(
    provider: QStashCredentialsProvider, account: Account
) -> None:
    account.customer_id = "team-2b8f0c"  # no e-mail to compare with the declared account
    outs = result_outs(provider.create(props()))
    assert outs["token"] == account.token  # UPSTASH_EMAIL is the declared account: accepted
    with pytest.raises(QStashApiError, match=r"UPSTASH_EMAIL \(.*\) is not the account the stack declares"):
        provider.create({"account": "other@example.com", "signing_key_rotation": ""})
