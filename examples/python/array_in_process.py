#!/usr/bin/env python3
"""Three arraykit members in one process over an in-memory network.

a creates an array of its own; b and c join it (each makes a one-time token and shows its CA
fingerprint; a pins that CA, signs the joiner's certificate request and admits it). The
primary writes, the primary is lost (closed), a secondary takes over, and when the original
primary comes back (reopened on its data directory) the array is restored with it as primary
(primary_return_action "accept").

Run: PYTHONPATH=build/release/python python3 examples/python/array_in_process.py
"""
import sys
import tempfile
import threading
import time

import arraykit

A, B, C = "a.example.com", "b.example.com", "c.example.com"


def member(rack):
    # a is the array's one back-end; b and c are front-ends (an array has 1 or 3 back-ends).
    roles = ["frontend", "backend"] if rack == 1 else ["frontend"]
    return {"roles": roles, "rack": f"r{rack}", "power": f"p{rack}"}


# a's own array: b and c join it, each at the end of the backup primaries list.
DESCRIPTION = {
    "members": [dict(member(1), name=A)],
    "primary": A,
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


def wait_until_all_follow(nodes, primary, timeout=10):
    """Polls until every member reports `primary` as its primary, in a steady stage."""
    deadline = time.monotonic() + timeout
    while True:
        statuses = {name: node.status() for name, node in nodes.items()}
        if all(s["primary"] == primary and s["stage"] == "steady" for s in statuses.values()):
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"not every member follows {primary}: "
                               f"{ {n: (s['primary'], s['stage']) for n, s in statuses.items()} }")
        time.sleep(0.01)


def main(base_dir):
    net = arraykit.MemoryNetwork()
    watch = Watcher()
    dirs = {n: f"{base_dir}/{n}" for n in (A, B, C)}

    def open_member(name, rack):
        return arraykit.Node(dirs[name], name=name, network=net, member=member(rack),
                             on_event=watch)

    nodes = {A: open_member(A, 1), B: open_member(B, 2), C: open_member(C, 3)}
    nodes[A].create_array(DESCRIPTION)
    for name in (B, C):
        # On the joiner: a one-time token and its CA fingerprint, read by the operator ...
        token = nodes[name].join_token(ttl_s=600)
        fingerprint = nodes[name].ca_fingerprint()
        # ... and typed into the join on the primary.
        joined = nodes[A].join(name, fingerprint=fingerprint, token=token)
        print(f"{name} joined: members {joined['members']}")
    assert nodes[B].ca_fingerprint() == nodes[A].ca_fingerprint()  # one CA for the array

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
    wait_until_all_follow(nodes, A)
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
