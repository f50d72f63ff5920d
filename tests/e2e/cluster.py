"""Real arrayd processes on loopback addresses (127.0.0.2, 127.0.0.3, ...), driven through
arrayctl --node as an operator would. Used by the end-to-end tests, the soak script and the demo.

Every member listens on its own address with the same port; its connections to peers leave
from that address too, so nftables rules on addresses cut links between members (Partition).
"""
import json
import os
import signal
import socket
import subprocess
import time

ARRAYD = os.environ.get("ARRAYD", "arrayd")
ARRAYCTL = os.environ.get("ARRAYCTL", "arrayctl")


def free_port(ip="127.0.0.2"):
    """A TCP port free on `ip` now (the members all use it, each on its own address)."""
    with socket.socket() as s:
        s.bind((ip, 0))
        return s.getsockname()[1]


class CtlError(Exception):
    def __init__(self, args, result):
        self.returncode = result.returncode
        self.stdout = result.stdout
        self.stderr = result.stderr
        super().__init__(f"arrayctl {' '.join(args)} exited {result.returncode}: "
                         f"{result.stderr.strip() or result.stdout.strip()}")


class Member:
    def __init__(self, cluster, index, name, roles, clock_offset_ms=0, version=None):
        self.cluster = cluster
        self.name = name
        self.ip = f"127.0.0.{index + 2}"
        self.address = f"{self.ip}:{cluster.port}"
        self.data_dir = str(cluster.root / name)
        self.config_path = str(cluster.root / f"{name}.json")
        self.log_path = str(cluster.root / f"{name}.log")
        self.roles = roles
        self.clock_offset_ms = clock_offset_ms
        self.version = version
        self.process = None

    def write_config(self):
        member = {"roles": self.roles}
        if self.version is not None:
            member["version"] = self.version
        config = {"name": self.name, "data_dir": self.data_dir, "listen": self.address,
                  "peers": {m.name: m.address for m in self.cluster.members if m is not self},
                  "member": member, "call_timeout_ms": 10000}
        if self.clock_offset_ms:
            config["clock_offset_ms"] = self.clock_offset_ms
        with open(self.config_path, "w") as f:
            json.dump(config, f, indent=2)

    def start(self, wait=True):
        self.write_config()
        log = open(self.log_path, "a")
        self.process = subprocess.Popen([ARRAYD, "--config", self.config_path], stdout=log,
                                        stderr=subprocess.STDOUT)
        log.close()
        if wait:
            deadline = time.monotonic() + 20
            while True:
                try:
                    self.status()
                    return
                except CtlError:
                    if self.process.poll() is not None:
                        raise RuntimeError(f"arrayd {self.name} exited {self.process.returncode}:"
                                           f"\n{self.log()}")
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.05)

    def kill9(self):
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)
        self.process = None

    def stop(self):
        """SIGTERM: a clean stop; the exit code is returned."""
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout=30)
        self.process = None
        return code

    def running(self):
        return self.process is not None and self.process.poll() is None

    def log(self):
        try:
            with open(self.log_path) as f:
                return f.read()
        except OSError:
            return ""

    # ---- arrayctl ------------------------------------------------------------------------
    def ctl_raw(self, *args, timeout=60):
        return subprocess.run([ARRAYCTL, "--node", self.data_dir, *args], capture_output=True,
                              text=True, timeout=timeout)

    def ctl(self, *args, timeout=60):
        """arrayctl --node DATA_DIR ARGS --json; the parsed document, or CtlError."""
        result = self.ctl_raw(*args, "--json", timeout=timeout)
        if result.returncode != 0:
            raise CtlError(args, result)
        out = result.stdout.strip()
        return json.loads(out) if out else None

    def status(self):
        return self.ctl("status")

    def put(self, category, key, value):
        return self.ctl("repo", "put", category, key, json.dumps(value))

    def get(self, category, key):
        return self.ctl("repo", "get", category, key)


class Cluster:
    def __init__(self, root, names, roles=None, options=None):
        """`options`: per member name, Member keyword arguments (clock_offset_ms, version)."""
        self.root = root
        self.port = free_port()
        self.members = []
        for i, name in enumerate(names):
            # One back-end (the first member): an array grows one join at a time, and the
            # placement rules allow 1 or 3 back-ends, never 2 (three come as planned members:
            # Cluster.create).
            default = ["frontend", "backend"] if i == 0 else ["frontend"]
            member_roles = (roles or {}).get(name, default)
            self.members.append(Member(self, i, name, member_roles,
                                       **(options or {}).get(name, {})))
        self.by_name = {m.name: m for m in self.members}
        self.table = None

    def __getitem__(self, name):
        return self.by_name[name]

    def start(self, *names):
        for m in self.members if not names else [self.by_name[n] for n in names]:
            m.start(wait=False)
        for m in self.members if not names else [self.by_name[n] for n in names]:
            deadline = time.monotonic() + 20
            while True:
                try:
                    m.status()
                    break
                except CtlError:
                    if not m.running():
                        raise RuntimeError(f"arrayd {m.name} exited:\n{m.log()}")
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.05)

    def close(self):
        for m in self.members:
            if m.running():
                try:
                    m.stop()
                except subprocess.TimeoutExpired:
                    m.kill9()
        self.heal()

    def logs(self):
        return "\n".join(f"---- {m.name}\n{m.log()[-6000:]}" for m in self.members)

    # ---- array operations -------------------------------------------------------------------
    def create(self, primary, resilience, planned=()):
        """`primary` creates the array with these settings. `planned`: members listed now with
        their roles (e.g. three back-ends, the quorum voters), each joining later into its
        planned place; other members that join are appended to the backup primaries list in
        the order they join."""
        p = self.by_name[primary]
        members = [p] + [self.by_name[n] for n in planned]
        description = {"members": [{"name": m.name, "roles": m.roles} for m in members],
                       "primary": primary, "resilience": resilience}
        if planned:
            description["backup_primaries"] = list(planned)
        path = str(self.root / "array.json")
        with open(path, "w") as f:
            json.dump(description, f)
        p.ctl("array", "create", path)

    def join(self, primary, joiner):
        """The operator's join: a token and the fingerprint on the joiner, join on the primary."""
        j = self.by_name[joiner]
        ticket = j.ctl("security", "join-token", "--ttl", "300")
        return self.by_name[primary].ctl("array", "join", "--secondary", joiner, "--fingerprint",
                                         ticket["ca_fingerprint"], "--token", ticket["token"])

    # ---- partitions (nftables on loopback addresses) ----------------------------------------
    def partition(self, *groups):
        """Cuts every link between members of different groups (both directions). The rules
        match this cluster's port, so clusters running beside it (other tests) are not cut."""
        self.heal()
        self.table = f"arraykit_e2e_{os.getpid()}"
        rules = [f"add table inet {self.table}",
                 f"add chain inet {self.table} out {{ type filter hook output priority 0; }}"]
        for i, g in enumerate(groups):
            for h in groups[i + 1:]:
                for a in g:
                    for b in h:
                        ia, ib = self.by_name[a].ip, self.by_name[b].ip
                        for src, dst in ((ia, ib), (ib, ia)):
                            for side in ("dport", "sport"):
                                rules.append(f"add rule inet {self.table} out ip saddr {src} "
                                             f"ip daddr {dst} tcp {side} {self.port} drop")
        subprocess.run(["nft", "-f", "-"], input="\n".join(rules) + "\n", text=True, check=True)

    def heal(self):
        if self.table is not None:
            subprocess.run(["nft", "delete", "table", "inet", self.table], check=False,
                           capture_output=True)
            self.table = None


def nft_available():
    if os.geteuid() != 0:
        return False
    probe = f"arraykit_probe_{os.getpid()}"
    ok = subprocess.run(["nft", "add", "table", "inet", probe], capture_output=True).returncode == 0
    if ok:
        subprocess.run(["nft", "delete", "table", "inet", probe], capture_output=True)
    return ok


def wait_for(predicate, timeout, interval=0.02, what="condition"):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = predicate()
            if last:
                return last
        except CtlError as e:
            last = e
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what} (last: {last})")
