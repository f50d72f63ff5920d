#!/usr/bin/env python3
"""Three arraykit members in one process over an in-memory network.

They form a configured array (each member is given the same description), the primary
writes, the primary is lost (closed), a secondary takes over, and when the original primary
comes back (reopened on its data directory) the array is restored with it as primary
(primary_return_action "accept").

Run: PYTHONPATH=build/release/python python3 examples/python/array_in_process.py
"""
import sys
import tempfile
import threading

import arraykit

A, B, C = "a.example.com", "b.example.com", "c.example.com"


def member(rack):
    return {"roles": ["frontend", "backend"], "rack": f"r{rack}", "power": f"p{rack}"}


DESCRIPTION = {
    "members": [dict(member(i + 1), name=n) for i, n in enumerate((A, B, C))],
    "primary": A,
    "backup_primaries": [B, C],
    # 50 ms probes, 3 misses; 50 ms x 3 to find a new primary: a failover within ~0.3 s.
    "resilience": {"failover_enabled": True, "monitor_interval_s": 0.05, "monitor_attempts": 3,
                   "find_primary_interval_s": 0.05, "find_primary_attempts": 3,
                   "primary_return_action": "accept"},
}


class Watcher:
    """Collects events from every member and lets the caller wait for one."""

    def __init__(self):
        self.events = []
        self.cond = threading.Condition()

    def __call__(self, event):
        with self.cond:
            self.events.append(event)
            self.cond.notify_all()

    def wait_for(self, event, member, timeout=10):
        def seen():
            return any(e["event"] == event and e["member"] == member for e in self.events)
        with self.cond:
            if not self.cond.wait_for(seen, timeout):
                raise TimeoutError(f"no {event} from {member} within {timeout} s")


def main(base_dir):
    net = arraykit.MemoryNetwork()
    watch = Watcher()
    dirs = {n: f"{base_dir}/{n}" for n in (A, B, C)}

    def open_member(name, rack):
        return arraykit.Node(dirs[name], name=name, network=net, member=member(rack),
                             on_event=watch)

    nodes = {A: open_member(A, 1), B: open_member(B, 2), C: open_member(C, 3)}
    for name in (C, B, A):  # the secondaries first: they follow a from its first message
        nodes[name].create_array(DESCRIPTION)

    pos = nodes[A].put("global_configuration", "motd", {"text": "hello"}, wait="all")
    print(f"written at {pos}; b reads {nodes[B].get('global_configuration', 'motd')}")

    nodes.pop(A).close()
    print("a closed")
    watch.wait_for("promoted", B)
    watch.wait_for("joined", C)
    status = nodes[B].status()
    print(f"b is {status['role']} of {[m['name'] for m in status['members']]}, "
          f"epoch {status['epoch']}, repaired {status['repaired']}")
    nodes[B].put("global_configuration", "during_failover", True, wait="all")

    nodes[A] = open_member(A, 1)  # a restarts from its store
    watch.wait_for("recovery_merged", A)  # b and c rejoined a: the original formation is back
    for name in (A, B, C):
        s = nodes[name].status()
        print(f"{name}: role {s['role']}, primary {s['primary']}, epoch {s['epoch']}")
    primary = nodes[A].status()["primary"]
    nodes[primary].put("global_configuration", "after_recovery", 1, wait="all")
    nodes[primary].wait_synced(timeout_s=5)
    for name in (A, B, C):
        assert nodes[name].get("global_configuration", "after_recovery") == 1
    for node in nodes.values():
        node.close()
    return primary


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as d:
        print(f"primary after recovery: {main(d)}")
    sys.exit(0)
