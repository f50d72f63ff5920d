"""arraykit.Node and arraykit.MemoryNetwork: members of one array in this process."""
import importlib.util
import os
import pathlib
import threading
import time

import pytest

import arraykit

A, B, C = "a.example.com", "b.example.com", "c.example.com"
EXAMPLES = pathlib.Path(os.environ["ARRAYKIT_EXAMPLES"])


def member(rack):
    return {"roles": ["frontend", "backend"], "rack": f"r{rack}", "power": f"p{rack}"}


def description(primary=A, resilience=None):
    return {
        "members": [dict(member(i + 1), name=n) for i, n in enumerate((A, B, C))],
        "primary": primary,
        "backup_primaries": [n for n in (A, B, C) if n != primary],
        # failover off; a 50 ms monitor interval makes the replicator retry a member quickly
        "resilience": resilience or {"monitor_interval_s": 0.05},
    }


class Watcher:
    def __init__(self):
        self.events = []
        self.cond = threading.Condition()

    def __call__(self, event):
        with self.cond:
            self.events.append(event)
            self.cond.notify_all()

    def wait_for(self, event, member, timeout=10):
        with self.cond:
            return self.cond.wait_for(
                lambda: any(e["event"] == event and e["member"] == member for e in self.events),
                timeout)


@pytest.fixture
def array(tmp_path):
    net = arraykit.MemoryNetwork(seed=5)
    watch = Watcher()
    nodes = {}

    def open_member(name, rack):
        nodes[name] = arraykit.Node(str(tmp_path / name), name=name, network=net,
                                    member=member(rack), on_event=watch)
        return nodes[name]

    yield net, watch, nodes, open_member
    for node in nodes.values():
        node.close()


def test_standalone_put_get_delete(tmp_path):
    net = arraykit.MemoryNetwork()
    with arraykit.Node(str(tmp_path / "a"), name=A, network=net, member=member(1)) as a:
        status = a.status()
        assert status["role"] == "primary" and status["writable"] is True
        pos = a.put("sessions", "s1", {"user": "ann", "n": [1, 2]})
        assert set(pos) == {"epoch", "index"} and pos["index"] >= 1
        assert a.get("sessions", "s1") == {"user": "ann", "n": [1, 2]}
        with pytest.raises(arraykit.NotFoundError):
            a.get("sessions", "absent")
        a.delete("sessions", "s1")
        with pytest.raises(arraykit.NotFoundError) as e:
            a.get("sessions", "s1")
        assert e.value.reason == "not_found"


def test_bad_input_is_refused_with_reasons(tmp_path):
    net = arraykit.MemoryNetwork()
    with pytest.raises(arraykit.InvalidArgumentError) as e:
        arraykit.Node(str(tmp_path / "a"), name=A, network=net, member={"rols": ["backend"]})
    assert e.value.reason == "unknown_field"
    with arraykit.Node(str(tmp_path / "a"), name=A, network=net) as a:
        with pytest.raises(arraykit.InvalidArgumentError) as e:
            a.put("sessions", "k", 1, wait="everyone")
        assert e.value.reason == "invalid_value"
        with pytest.raises(arraykit.InvalidArgumentError) as e:
            a.put("sessions", "arraykit.member/x", 1)
        assert e.value.reason == "reserved_key"
        with pytest.raises(arraykit.InvalidArgumentError) as e:
            a.create_array(description(primary=B) | {"members": [dict(member(2), name=B)],
                                                     "backup_primaries": []})
        assert e.value.reason == "not_a_member"
        with pytest.raises(arraykit.FailedPreconditionError) as e:
            arraykit.Node(str(tmp_path / "a"), name=A, network=net)
        assert e.value.reason == "busy"


def test_three_members_replicate_and_refuse_writes_on_secondaries(array):
    net, watch, nodes, open_member = array
    for i, n in enumerate((A, B, C)):
        open_member(n, i + 1)
    for n in (C, B, A):  # the secondaries first: they follow the primary from its first message
        nodes[n].create_array(description())
    for i in range(20):
        nodes[A].put("user_preferences", f"u{i}", i)
    nodes[A].put("user_preferences", "last", "x", wait="all")
    for n in (B, C):
        assert [nodes[n].get("user_preferences", f"u{i}") for i in range(20)] == list(range(20))
    with pytest.raises(arraykit.NotPrimaryError) as e:
        nodes[B].put("user_preferences", "u0", 0)
    assert e.value.reason == "not_primary" and A in str(e.value)
    synced = nodes[A].wait_synced(timeout_s=5)
    status = nodes[A].status()
    assert synced["index"] == status["log"]["index"]
    assert all(m["lag"] == 0 for m in status["members"])


def eventually(condition, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.005)
    return condition()


def test_failover_when_the_primary_is_closed(array):
    net, watch, nodes, open_member = array
    for i, n in enumerate((A, B, C)):
        open_member(n, i + 1)
    for n in (C, B, A):
        nodes[n].create_array(description())
    nodes[A].put("sessions", "before", 1, wait="all")
    # Failover goes on once the array is formed: 50 ms probes, 3 misses.
    nodes[A].config_edit({"array-failoverenabled": True, "array-monitortime": 0.05,
                          "array-maxmonitors": 3, "array-resubmitfindprimarywait": 0.05,
                          "array-resubmitfindprimarymax": 3, "array-primaryreturnaction": "none"})
    assert eventually(lambda: all(nodes[n].status()["resilience"]["failover_enabled"]
                                  for n in (B, C)))
    nodes.pop(A).close()
    assert watch.wait_for("promoted", B)
    assert eventually(lambda: nodes[B].status()["writable"])
    assert nodes[B].get("sessions", "before") == 1
    assert eventually(lambda: "index" in nodes[B].put("sessions", "after", 2))
    events = [e for e in watch.events if e["event"] == "promoted"]
    assert set(events[0]) >= {"event", "member", "reason", "epoch", "at"}


def test_partition_and_heal(array):
    net, watch, nodes, open_member = array
    for i, n in enumerate((A, B, C)):
        open_member(n, i + 1)
    for n in (C, B, A):  # the secondaries first: they follow the primary from its first message
        nodes[n].create_array(description())
    net.isolate(C)
    nodes[A].put("sessions", "k", 1)
    with pytest.raises(arraykit.DeadlineExceededError):
        nodes[A].wait_synced(timeout_s=0.3)
    net.heal()
    nodes[A].wait_synced(timeout_s=10)
    assert nodes[C].get("sessions", "k") == 1
    net.partition([[A, B], [C]])
    net.heal()


def test_restart_from_the_data_directory(array):
    net, watch, nodes, open_member = array
    a = open_member(A, 1)
    a.put("sessions", "k", "v")
    a.close()
    nodes.pop(A)
    a = open_member(A, 1)
    assert a.get("sessions", "k") == "v"


def test_a_data_dir_whose_parent_is_missing_is_named(tmp_path):
    net = arraykit.MemoryNetwork()
    with pytest.raises(arraykit.NotFoundError) as e:
        arraykit.Node(str(tmp_path / "missing" / "a"), name=A, network=net)
    assert "data_dir" in str(e.value)


def test_join_with_token_and_fingerprint(tmp_path):
    net = arraykit.MemoryNetwork(seed=2)
    nodes = {}

    def open_member(name, roles):
        nodes[name] = arraykit.Node(str(tmp_path / name), name=name, network=net,
                                    member={"roles": roles, "rack": name})
        return nodes[name]

    try:
        a = open_member(A, ["frontend", "backend"])
        b = open_member(B, ["frontend"])
        c = open_member(C, ["frontend"])
        a.create_array({"members": [{"name": A, "roles": ["frontend", "backend"], "rack": A}],
                        "primary": A, "resilience": {"monitor_interval_s": 0.05}})
        status = a.status()
        assert [c["role"] for c in status["certificates"]] == ["ca", "peer"]
        assert all("renewal_at" in c and "expires_at" in c for c in status["certificates"])
        assert "PRIVATE" not in str(status)
        b.put("sessions", "standalone", 1)

        token = b.join_token(ttl_s=60)
        assert token.startswith("AKJT-")
        with pytest.raises(arraykit.Error) as e:  # c's CA is not the one confirmed for b
            a.join(B, fingerprint=c.ca_fingerprint(), token=token)
        assert e.value.reason == "fingerprint_mismatch"
        with pytest.raises(arraykit.PermissionDeniedError) as e:
            a.join(B, fingerprint=b.ca_fingerprint(), token=c.join_token())
        assert e.value.reason == "token_invalid"
        with pytest.raises(ValueError):
            b.join_token(ttl_s=0)

        result = a.join(B, fingerprint=b.ca_fingerprint(), token=token, timeout_s=20)
        assert result["joined"] == B and result["members"] == [A, B]
        assert b.ca_fingerprint() == a.ca_fingerprint()
        a.put("sessions", "k", "v", wait="all")
        assert b.get("sessions", "k") == "v"
        with pytest.raises(arraykit.NotFoundError):
            b.get("sessions", "standalone")  # b's standalone repository was replaced
        with pytest.raises(arraykit.Error) as e:
            b.join(C, fingerprint=c.ca_fingerprint(), token=c.join_token())
        assert e.value.reason == "not_primary"
    finally:
        for node in nodes.values():
            node.close()


def test_events_and_the_example(tmp_path):
    spec = importlib.util.spec_from_file_location(
        "array_in_process", EXAMPLES / "python" / "array_in_process.py")
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    assert example.main(str(tmp_path)) == A
