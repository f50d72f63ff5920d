"""What both sides of the end-to-end bench share: processes, clients, statistics, RSS."""
import ctypes
import json
import os
import shutil
import socket
import statistics
import subprocess
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

VALUE_BYTES = 370          # ~3.7 MB for the 10,000 entries a joiner catches up
JOIN_ENTRIES = 10_000
SEQUENTIAL_WRITES = 2000
WRITERS = 64
THROUGHPUT_SECONDS = 5.0
IDLE_SECONDS = 5.0


class BenchError(Exception):
    pass


def become_subreaper():
    """Orphans of our children (the etcd member the etcd client starts for a join) become our
    children, so they can be waited for and never linger as zombies."""
    PR_SET_CHILD_SUBREAPER = 36
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


def free_port(ips):
    """A TCP port free on every address of `ips` now."""
    for _ in range(100):
        with socket.socket() as s:
            s.bind((ips[0], 0))
            port = s.getsockname()[1]
        ok = True
        for ip in ips[1:]:
            with socket.socket() as s:
                try:
                    s.bind((ip, port))
                except OSError:
                    ok = False
                    break
        if ok:
            return port
    raise BenchError(f"no port free on all of {ips}")


def run_json(argv, timeout=600):
    """Runs a client; its stdout is one JSON document."""
    result = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    if result.returncode != 0:
        raise BenchError(f"{' '.join(argv[:1] + argv[-8:])} exited {result.returncode}: "
                         f"{result.stderr.strip()[-2000:]}")
    return json.loads(result.stdout)


def reap(pid, timeout=10):
    """Waits for `pid` (a child or an adopted orphan) to end."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            done, _ = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            return
        if done:
            return
        time.sleep(0.01)


def kill_pid(pid):
    try:
        os.kill(pid, 9)
    except ProcessLookupError:
        return
    reap(pid)


def rss_kb(pid, field="VmRSS"):
    """A process's resident memory: VmRSS (all of it, shared library pages included) or
    RssAnon (its own heap and stacks)."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise BenchError(f"no {field} for pid {pid}")


def summary(values):
    """p50/max of a list of milliseconds (None when empty)."""
    if not values:
        return None
    ordered = sorted(values)
    return {"rounds": len(ordered), "p50_ms": statistics.median(ordered),
            "max_ms": ordered[-1], "min_ms": ordered[0], "all_ms": [round(v, 2) for v in values]}


def wipe(path):
    shutil.rmtree(path, ignore_errors=True)


def wait_until(predicate, timeout, what, interval=0.02):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = predicate()
            if last:
                return last
        except BenchError:
            raise
        except Exception as e:  # noqa: BLE001 — a member may be starting; keep polling
            last = e
        time.sleep(interval)
    raise BenchError(f"timed out after {timeout} s waiting for {what} (last: {last})")


def log(message):
    print(time.strftime("%H:%M:%S ") + message, flush=True)
