"""arraykit's side of the end-to-end bench: arrayd members on 127.0.0.2-4 (joiners on .5 and up),
mutual TLS with the array's own PKI, durable SQLite stores, started and joined as an operator
does (tests/e2e/cluster.py: arrayctl --node), measured by e2e_client over the admin sockets."""
import os
import pathlib
import subprocess
import sys
import time

import common
from common import BenchError, log

NAMES = ["a.example.com", "b.example.com", "c.example.com"]
MONITOR_INTERVAL_S = 0.1
MONITOR_ATTEMPTS = 3  # D = 0.1 s x 3 = 300 ms
RESILIENCE = {"failover_enabled": True, "mode": "quorum",
              "monitor_interval_s": MONITOR_INTERVAL_S, "monitor_attempts": MONITOR_ATTEMPTS,
              "find_primary_interval_s": MONITOR_INTERVAL_S,
              "find_primary_attempts": MONITOR_ATTEMPTS,
              "primary_return_action": "accept"}


def find_binary(build_dir, name):
    for candidate in (f"examples/{name}/{name}", f"examples/{name}", f"bin/{name}",
                      f"bench/e2e/{name}"):
        path = os.path.join(build_dir, candidate)
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    raise BenchError(f"{name} not found in {build_dir} (built by bench/e2e/run)")


class Array:
    def __init__(self, root, build_dir, joiners):
        os.environ["ARRAYD"] = find_binary(build_dir, "arrayd")
        os.environ["ARRAYCTL"] = find_binary(build_dir, "arrayctl")
        self.client_binary = find_binary(build_dir, "e2e_client")
        sys.path.insert(0, os.path.join(common.REPO, "tests", "e2e"))
        import cluster  # tests/e2e/cluster.py, the end-to-end tests' launcher
        self.cluster_module = cluster
        self.joiner_names = [f"j{r + 1}.example.com" for r in range(joiners)]
        # Every member's address book lists the joiners too (their addresses are fixed). a, b
        # and c are the three back-ends, the quorum voters (etcd's three); joiners front-ends.
        self.cluster = cluster.Cluster(pathlib.Path(root), NAMES + self.joiner_names,
                                       roles={n: ["frontend", "backend"] for n in NAMES})

    def member(self, name):
        return self.cluster[name]

    def client(self, members, mode, *args, timeout=600):
        argv = [self.client_binary, "--node", ",".join(m.data_dir for m in members), mode, *args]
        return common.run_json(argv, timeout=timeout)

    def status(self, member):
        return self.client([member], "status")

    def running(self):
        return [m for m in self.cluster.members if m.running()]

    def start(self):
        """a creates the array with b and c planned (the three voters), b and c join it, then
        quorum mode and failover at D = 300 ms are turned on, as an operator would (docs/
        operations.md "Planned members": quorum mode before the voters joined would leave the
        primary without a majority; failover on during the joins would start one while links
        come up)."""
        self.cluster.start(*NAMES)
        self.cluster.create(NAMES[0], dict(RESILIENCE, mode="array", failover_enabled=False),
                            planned=NAMES[1:])
        for name in NAMES[1:]:
            self.cluster.join(NAMES[0], name)
        self.wait_settled()
        self.client([self.member(NAMES[0])], "config-edit", "--edit",
                    '{"array-failoverenabled": true, "array-mode": "quorum"}')
        common.wait_until(lambda: all(self.status(m)["resilience"]["failover_enabled"] and
                                      self.status(m).get("mode") == "quorum"
                                      for m in self.running()),
                          10, "quorum mode and failover on at every member")

    def primary(self):
        for m in self.running():
            try:
                name = self.status(m).get("primary")
            except BenchError:
                continue
            if name:
                return self.member(name)
        raise BenchError("no member names a primary")

    def wait_settled(self, timeout=30):
        """The primary sees every running member contactable and caught up, in its steady
        stage, and the primary's failover settings are on."""
        running = {m.name for m in self.running()}

        def settled():
            p = self.primary()
            s = self.status(p)
            members = {m["name"]: m for m in s.get("members", [])}
            return (s.get("role") == "primary" and s.get("stage") == "steady"
                    and set(members) == running
                    and all(m.get("contactable") and m.get("lag", 1) == 0
                            for m in members.values()))
        common.wait_until(settled, timeout, "a settled array", interval=0.05)

    def rss_kb(self, field="VmRSS"):
        return {m.name: common.rss_kb(m.process.pid, field) for m in self.running()}

    def close(self):
        self.cluster.close()


def measure(root, build_dir, rounds, join_rounds):
    common.wipe(root)
    os.makedirs(root)
    version = subprocess.run([find_binary(build_dir, "arrayctl"), "--version"],
                             capture_output=True, text=True).stdout.strip()
    result = {"system": "arraykit", "version": version or "arraykit (this tree)",
              "monitor_interval_s": MONITOR_INTERVAL_S, "monitor_attempts": MONITOR_ATTEMPTS,
              "resilience": RESILIENCE}
    array = Array(root, build_dir, join_rounds)
    try:
        log("arraykit: starting 3 arrayd members (3 voters), create and join (quorum mode, "
            "D = 300 ms)")
        array.start()
        primary = array.primary()
        time.sleep(common.IDLE_SECONDS)
        result["rss_fresh_kb"] = array.rss_kb()
        result["rss_anon_fresh_kb"] = array.rss_kb("RssAnon")

        log(f"arraykit: writing {common.JOIN_ENTRIES} entries of {common.VALUE_BYTES} bytes")
        result["fill"] = array.client([primary], "concurrent", "--writers", str(common.WRITERS),
                                      "--count", str(common.JOIN_ENTRIES), "--value-bytes",
                                      str(common.VALUE_BYTES), "--prefix", "fill/")
        joins = []
        for r, name in enumerate(array.joiner_names):
            log(f"arraykit: join into {common.JOIN_ENTRIES} entries, round {r + 1}/{join_rounds}")
            joins.append(join_round(array, primary, array.member(name)))
        result["join"] = common.summary([j["ms"] for j in joins])
        result["join"]["rounds_detail"] = joins

        log("arraykit: sequential writes, one at a time (quorum mode)")
        result["sequential"] = sequential(array, primary, "seq-quorum/")
        log(f"arraykit: {common.WRITERS} writers in flight for {common.THROUGHPUT_SECONDS} s "
            "(quorum mode)")
        result["throughput"] = throughput(array, primary, "tput-quorum/")
        set_mode(array, primary, "array")
        log("arraykit: sequential writes, one at a time (array mode)")
        result["sequential_array"] = sequential(array, primary, "seq-array/")
        log(f"arraykit: {common.WRITERS} writers in flight (array mode)")
        result["throughput_array"] = throughput(array, primary, "tput-array/")
        # Failover in quorum mode, as etcd's: the two voters left elect one of themselves.
        set_mode(array, primary, "quorum")
        result["failover_mode"] = "quorum"

        log(f"arraykit: idle {common.IDLE_SECONDS} s, then RSS")
        time.sleep(common.IDLE_SECONDS)
        result["rss_kb"] = array.rss_kb()
        result["rss_anon_kb"] = array.rss_kb("RssAnon")

        failovers = []
        for r in range(rounds):
            try:
                failovers.append(failover_round(array))
            except BenchError as e:  # the figures so far are kept; the table shows the error
                result["failover_error"] = str(e)
                log(f"arraykit: failover round {r + 1}/{rounds} failed: {e}")
                break
            log(f"arraykit: failover round {r + 1}/{rounds}: {failovers[-1]['ms']:.1f} ms "
                f"({failovers[-1]['killed']} -> {failovers[-1]['new_primary']})")
        result["failover"] = common.summary([f["ms"] for f in failovers]) or {}
        result["failover"]["rounds_detail"] = failovers
        result["events"] = {m.name: m.log()[-4000:] for m in array.running()}
    except Exception:
        print(array.cluster.logs()[-8000:], file=sys.stderr)
        raise
    finally:
        array.close()
    return result


def sequential(array, primary, prefix):
    return array.client([primary], "seq", "--count", str(common.SEQUENTIAL_WRITES),
                        "--value-bytes", str(common.VALUE_BYTES), "--prefix", prefix)


def throughput(array, primary, prefix):
    return array.client([primary], "concurrent", "--writers", str(common.WRITERS), "--seconds",
                        str(common.THROUGHPUT_SECONDS), "--value-bytes", str(common.VALUE_BYTES),
                        "--prefix", prefix)


def set_mode(array, primary, mode):
    array.client([primary], "config-edit", "--edit", f'{{"array-mode": "{mode}"}}')
    common.wait_until(lambda: all(array.status(m).get("mode") == mode for m in array.running()),
                      10, f"every member in {mode} mode")
    array.wait_settled()


def join_round(array, primary, joiner):
    """A fresh standalone member joins the primary's array (token and fingerprint made on it
    first, as the operator does); timed from the join until its status shows the primary's last
    position applied. Then it is detached and stopped, so the array is back to three."""
    joiner.start()
    out = array.client([primary], "join", "--joiner", joiner.data_dir)
    array.client([primary], "detach", "--name", joiner.name)
    joiner.stop()
    common.wipe(joiner.data_dir)
    array.wait_settled()
    return out


def failover_round(array):
    """kill -9 of the primary by the client, which then writes to the survivors in turn until
    one accepts; then the old primary restarts (with accept it leads the array again)."""
    primary = array.primary()
    survivors = [m for m in array.running() if m is not primary]
    out = array.client(survivors, "failover", "--kill", str(primary.process.pid), "--key",
                       "failover", timeout=120)
    if "error" in out:
        raise BenchError(f"arraykit failover after killing {primary.name}: {out}")
    primary.process.wait(timeout=10)
    primary.process = None
    out["killed"] = primary.name
    out["new_primary"] = array.primary().name
    primary.start()
    array.wait_settled()
    return out
