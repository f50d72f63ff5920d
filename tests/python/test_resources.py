"""Node.configure_resources / Node.sync_resources: resource files through three members."""
import threading

import pytest

import arraykit

A, B, C = "a.example.com", "b.example.com", "c.example.com"


def member(rack):
    return {"roles": ["frontend", "backend"], "rack": f"r{rack}", "power": f"p{rack}"}


def description():
    return {
        "members": [dict(member(i + 1), name=n) for i, n in enumerate((A, B, C))],
        "primary": A,
        "backup_primaries": [B, C],
        "resilience": {"monitor_interval_s": 0.05},
    }


class Watcher:
    def __init__(self):
        self.events = []
        self.cond = threading.Condition()

    def __call__(self, event):
        with self.cond:
            self.events.append(event)
            self.cond.notify_all()

    def wait_for(self, predicate, timeout=10):
        with self.cond:
            return self.cond.wait_for(lambda: any(predicate(e) for e in self.events), timeout)


@pytest.fixture
def members(tmp_path):
    net = arraykit.MemoryNetwork(seed=9)
    watch = Watcher()
    nodes = {}
    for i, n in enumerate((A, B, C)):
        nodes[n] = arraykit.Node(str(tmp_path / n), name=n, network=net, member=member(i + 1),
                                 on_event=watch)
    for n in (C, B, A):
        nodes[n].create_array(description())
    for n in (A, B, C):
        nodes[n].configure_resources(str(tmp_path / f"{n}-resources"), "03:30",
                                     zone="Europe/Berlin")
    yield tmp_path, watch, nodes
    for node in nodes.values():
        node.close()


def tree(root):
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_a_file_on_the_primary_reaches_the_secondaries(members):
    tmp_path, watch, nodes = members
    a_dir = tmp_path / f"{A}-resources"
    (a_dir / "scripts").mkdir(parents=True, exist_ok=True)
    (a_dir / "scripts" / "login.sh").write_bytes(b"#!/bin/sh\necho login\n")
    (a_dir / "motd").write_bytes(b"\x00\x01binary\xff")

    report = nodes[A].sync_resources()
    assert report["role"] == "primary"
    assert report["put"] == ["motd", "scripts/login.sh"]
    nodes[A].wait_synced(timeout_s=10)
    for n in (B, C):
        r = nodes[n].sync_resources()
        assert r["role"] == "secondary"
        assert r["written"] == ["motd", "scripts/login.sh"]
        assert r["overwritten"] == []
        assert tree(tmp_path / f"{n}-resources") == tree(a_dir)
    assert watch.wait_for(lambda e: e["event"] == "resources_synced" and e["member"] == C
                          and e["written"] == 2)

    # A local change on a secondary is overwritten at its next sync, and reported.
    (tmp_path / f"{B}-resources" / "motd").write_bytes(b"edited on b")
    (tmp_path / f"{B}-resources" / "stray.txt").write_bytes(b"only on b")
    r = nodes[B].sync_resources()
    assert sorted((o["path"], o["change"]) for o in r["overwritten"]) == [
        ("motd", "modified"), ("stray.txt", "added")]
    assert tree(tmp_path / f"{B}-resources") == tree(a_dir)
    assert watch.wait_for(lambda e: e["event"] == "resource_overwritten" and e["member"] == B
                          and e["path"] == "stray.txt")
    kept = [e for e in nodes[B].events() if e["event"] == "resources_synced"]
    assert kept and kept[-1]["overwritten"] == 2 and kept[-1]["trigger"] == "manual"

    # A deletion on the primary propagates.
    (a_dir / "motd").unlink()
    assert nodes[A].sync_resources()["deleted"] == ["motd"]
    nodes[A].wait_synced(timeout_s=10)
    assert nodes[C].sync_resources()["removed"] == ["motd"]
    assert tree(tmp_path / f"{C}-resources") == tree(a_dir)


def test_bad_resource_options_are_refused_with_reasons(tmp_path):
    net = arraykit.MemoryNetwork()
    with arraykit.Node(str(tmp_path / "a"), name=A, network=net, member=member(1)) as a:
        with pytest.raises(arraykit.FailedPreconditionError) as e:
            a.sync_resources()
        assert e.value.reason == "not_configured"
        res = str(tmp_path / "res")
        for sync_at in ("3:30", "24:00", "03:30:00", "", "noon"):
            with pytest.raises(arraykit.InvalidArgumentError) as e:
                a.configure_resources(res, sync_at)
            assert e.value.reason == "invalid_time", sync_at
        with pytest.raises(arraykit.InvalidArgumentError) as e:
            a.configure_resources(res, "03:30", zone="Atlantis/Capital")
        assert e.value.reason == "invalid_value" and "Atlantis/Capital" in str(e.value)
        with pytest.raises(arraykit.InvalidArgumentError) as e:
            a.configure_resources("", "03:30")
        assert e.value.reason == "invalid_value" and "directory" in str(e.value)
        with pytest.raises(arraykit.InvalidArgumentError) as e:
            a.configure_resources(res, "03:30", state_file="")
        assert e.value.reason == "invalid_value" and "state_file" in str(e.value)
        with pytest.raises(TypeError):
            a.configure_resources(res, 330)
        # A directory path that is a file cannot be used.
        (tmp_path / "file").write_text("x")
        with pytest.raises(arraykit.Error) as e:
            a.configure_resources(str(tmp_path / "file"), "03:30")
        assert e.value.reason == "io_error"
        with pytest.raises(arraykit.FailedPreconditionError) as e:
            a.sync_resources()
        assert e.value.reason == "not_configured"

        a.configure_resources(res, "03:30", state_file=str(tmp_path / "state.json"))
        assert a.sync_resources()["role"] == "primary"
