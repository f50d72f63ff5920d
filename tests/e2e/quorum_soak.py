#!/usr/bin/env python3
"""Quorum mode across partitions: no acknowledged write is lost (issue 10, DESIGN §5.3).

Three arrayd members in quorum mode (100 ms x 3 probes). Each round: writers put keys on
whichever member is the writable primary; the primary is cut off from the others (nftables);
the majority elects a new primary while writers move to it; the network heals; once one
writable primary is left and every member is synchronized, every write that was acknowledged
must be on every member with its value. Prints one line per round and a summary; exit 0 when
nothing was lost.

  quorum_soak.py --rounds 100 [--workdir DIR]     (needs root for nftables)
"""
import argparse
import json
import pathlib
import sys
import tempfile
import threading
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from cluster import Cluster, CtlError, wait_for  # noqa: E402

NAMES = ["a.example.com", "b.example.com", "c.example.com"]
QUORUM = {"failover_enabled": True, "mode": "quorum", "monitor_interval_s": 0.1,
          "monitor_attempts": 3, "find_primary_interval_s": 0.1, "find_primary_attempts": 3,
          "primary_return_action": "acceptsecondary"}


def writable_primary(cluster):
    for m in cluster.members:
        try:
            s = m.status()
        except CtlError:
            continue
        if s["role"] == "primary" and s.get("writable"):
            return m
    return None


class Writers:
    """Puts keys round-N-W-I on the current writable primary; remembers the acknowledged."""

    def __init__(self, cluster, round_no, count=2):
        self.cluster = cluster
        self.round_no = round_no
        self.acked = {}
        self.refused = 0
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self.run, args=(w,)) for w in range(count)]

    def run(self, w):
        i = 0
        target = None
        while not self.stop.is_set():
            if target is None:
                target = writable_primary(self.cluster)
                if target is None:
                    time.sleep(0.02)
                    continue
            key = f"r{self.round_no}-w{w}-{i}"
            try:
                target.ctl("repo", "put", "sessions", key, json.dumps(i), timeout=15)
                with self.lock:
                    self.acked[key] = i
                i += 1
            except (CtlError, Exception):
                with self.lock:
                    self.refused += 1
                target = None
                i += 1

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for t in self.threads:
            t.join()


def settle(cluster, timeout=30):
    """One writable primary, every member following it and synchronized."""
    def settled():
        p = writable_primary(cluster)
        if p is None:
            return None
        names = [m["name"] for m in p.status()["members"] if m.get("contactable")]
        if sorted(names) != sorted(NAMES):
            return None
        p.ctl("array", "wait-synced", "--timeout", "5")
        # wait-synced counts the contactable members only: one lost meanwhile is not synced.
        names = [m["name"] for m in p.status()["members"] if m.get("contactable")]
        return p if sorted(names) == sorted(NAMES) else None
    return wait_for(settled, timeout, interval=0.1, what="one synchronized writable primary")


def run(rounds, workdir):
    # Three back-ends, the voters: planned at creation, joined, then quorum mode (a primary
    # without a majority of voters cannot accept the joins' writes).
    cluster = Cluster(pathlib.Path(workdir), NAMES,
                      roles={n: ["frontend", "backend"] for n in NAMES})
    lost_total = 0
    acked_total = 0
    try:
        cluster.start()
        cluster.create(NAMES[0], dict(QUORUM, mode="array"), planned=NAMES[1:])
        for joiner in NAMES[1:]:
            cluster.join(NAMES[0], joiner)
        wait_for(lambda: all(len(m.status()["members"]) == 3 for m in cluster.members), 10,
                 what="the formation known to all")
        cluster[NAMES[0]].ctl("config", "edit", "--array-mode", "quorum")
        settle(cluster)
        for r in range(1, rounds + 1):
            started = time.monotonic()
            primary = writable_primary(cluster)
            others = [n for n in NAMES if n != primary.name]
            with Writers(cluster, r) as writers:
                time.sleep(0.3)
                cluster.partition([primary.name], others)
                wait_for(lambda: (p := writable_primary(cluster)) is not None and
                         p.name != primary.name, 15, interval=0.05,
                         what="a new primary on the majority side")
                time.sleep(0.4)
                cluster.heal()
                time.sleep(0.2)
            settle(cluster)
            lost = []
            for key, value in writers.acked.items():
                for m in cluster.members:
                    try:
                        got = m.ctl("repo", "get", "sessions", key)
                    except CtlError as e:
                        got = f"<{e.stderr.strip()}>"
                    if got != value:
                        lost.append((m.name, key, value, got))
            acked_total += len(writers.acked)
            lost_total += len(lost)
            print(f"round {r:3d}: primary {primary.name} cut off; "
                  f"{len(writers.acked)} writes acknowledged, {writers.refused} refused or "
                  f"unanswered, {len(lost)} lost ({time.monotonic() - started:.1f} s)",
                  flush=True)
            for item in lost[:5]:
                print("   lost:", item, flush=True)
    except Exception:
        print(cluster.logs(), flush=True)  # the members' last log lines say what did not settle
        raise
    finally:
        cluster.close()
    print(f"summary: {rounds} rounds, {acked_total} acknowledged writes, {lost_total} lost")
    if lost_total:
        print(cluster.logs())
    return 0 if lost_total == 0 else 1


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=100)
    parser.add_argument("--workdir")
    args = parser.parse_args()
    if args.workdir:
        return run(args.rounds, args.workdir)
    with tempfile.TemporaryDirectory(prefix="arraykit-soak-") as d:
        return run(args.rounds, d)


if __name__ == "__main__":
    sys.exit(main())
