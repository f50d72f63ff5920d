"""etcd's side of the end-to-end bench: Debian's etcd-server, three members on 127.0.0.2-4 with
mutual TLS (peers and clients), default durability (fsync per commit), driven by etcd_client."""
import os
import shutil
import subprocess
import time

import common
from common import BenchError, log

# The election timeout is D = 300 ms, as arraykit's 0.1 s x 3; etcd refuses a heartbeat longer
# than a fifth of it, so 60 ms (ANCHORS.md measured etcd at 50 / 250 ms).
HEARTBEAT_MS = 60
ELECTION_MS = 300
NAMES = ["n1", "n2", "n3"]
JOINER = "n4"


def ensure_installed():
    """Installs Debian's etcd-server with apt-get when `etcd` is missing (the bench's only
    download). Returns etcd's version line."""
    if shutil.which("etcd") is None:
        log("etcd is not installed: apt-get install etcd-server")
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        update = subprocess.run(["apt-get", "update"], env=env, capture_output=True, text=True)
        if update.returncode != 0:
            raise BenchError(f"apt-get update failed:\n{update.stderr[-2000:]}")
        install = subprocess.run(["apt-get", "install", "-y", "--no-install-recommends",
                                  "etcd-server"], env=env, capture_output=True, text=True)
        if install.returncode != 0 or shutil.which("etcd") is None:
            raise BenchError(f"apt-get install etcd-server failed:\n{install.stderr[-2000:]}")
    version = subprocess.run(["etcd", "--version"], capture_output=True, text=True).stdout
    return version.splitlines()[0].strip() if version else "etcd (unknown version)"


def make_certificates(directory, members):
    """A CA, one certificate per member (its name and address as subjectAltName, server and
    client use: peers present it both ways) and one client certificate; ECDSA P-256, openssl
    CLI. etcd admits a peer or client whose certificate carries IP addresses only when the
    connection's source address is one of them, and etcd's (and the client's) connections leave
    from 127.0.0.1 on loopback: every certificate also names 127.0.0.1."""
    os.makedirs(directory, exist_ok=True)

    def openssl(*args):
        subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=directory)

    openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out",
            "ca.key")
    openssl("req", "-x509", "-new", "-key", "ca.key", "-subj", "/CN=bench etcd CA", "-days", "2",
            "-out", "ca.pem", "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    for name, ip in list(members.items()) + [("client", None)]:
        openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out",
                f"{name}.key")
        openssl("req", "-new", "-key", f"{name}.key", "-subj", f"/CN={name}", "-out",
                f"{name}.csr")
        san = f"subjectAltName=DNS:{name}.example.com,IP:127.0.0.1" + (f",IP:{ip}" if ip else "")
        with open(os.path.join(directory, f"{name}.ext"), "w") as f:
            f.write(f"{san}\nextendedKeyUsage=serverAuth,clientAuth\n"
                    "keyUsage=critical,digitalSignature\n")
        openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                "-CAcreateserial", "-days", "2", "-extfile", f"{name}.ext", "-out", f"{name}.pem")


class Member:
    def __init__(self, cluster, name, ip):
        self.cluster = cluster
        self.name = name
        self.ip = ip
        self.data_dir = os.path.join(cluster.root, name)
        self.log_path = os.path.join(cluster.root, f"{name}.log")
        self.client_endpoint = f"{ip}:{cluster.client_port}"
        self.peer_url = f"https://{ip}:{cluster.peer_port}"
        self.process = None
        self.pid = None

    def argv(self, initial_cluster, state):
        c = self.cluster
        certs = c.certs
        return ["etcd", "--name", self.name, "--data-dir", self.data_dir,
                "--listen-client-urls", f"https://{self.client_endpoint}",
                "--advertise-client-urls", f"https://{self.client_endpoint}",
                "--listen-peer-urls", self.peer_url,
                "--initial-advertise-peer-urls", self.peer_url,
                "--initial-cluster", initial_cluster, "--initial-cluster-state", state,
                "--initial-cluster-token", "arraykit-e2e-bench",
                "--heartbeat-interval", str(HEARTBEAT_MS), "--election-timeout", str(ELECTION_MS),
                "--client-cert-auth", "--trusted-ca-file", f"{certs}/ca.pem",
                "--cert-file", f"{certs}/{self.name}.pem", "--key-file", f"{certs}/{self.name}.key",
                "--peer-client-cert-auth", "--peer-trusted-ca-file", f"{certs}/ca.pem",
                "--peer-cert-file", f"{certs}/{self.name}.pem",
                "--peer-key-file", f"{certs}/{self.name}.key",
                "--logger", "zap", "--log-outputs", "stderr"]

    def start(self, initial_cluster, state="new"):
        with open(self.log_path, "a") as log_file:
            self.process = subprocess.Popen(self.argv(initial_cluster, state), stdout=log_file,
                                            stderr=subprocess.STDOUT)
        self.pid = self.process.pid

    def kill9(self):
        """kill -9 from here (the failover round's kill is the client's own)."""
        if self.process is not None:
            self.process.kill()
            self.process.wait()
        elif self.pid is not None:
            common.kill_pid(self.pid)
        self.process = None
        self.pid = None

    def reaped(self):
        """After the client killed it: collect the exit."""
        if self.process is not None:
            self.process.wait(timeout=10)
        self.process = None
        self.pid = None

    def stop(self):
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        elif self.pid is not None:
            common.kill_pid(self.pid)
        self.process = None
        self.pid = None


class EtcdCluster:
    def __init__(self, root, client_binary):
        self.root = root
        self.client_binary = client_binary
        self.certs = os.path.join(root, "certs")
        ips = {name: f"127.0.0.{i + 2}" for i, name in enumerate(NAMES + [JOINER])}
        self.client_port = common.free_port(list(ips.values()))
        self.peer_port = common.free_port(list(ips.values()))
        self.members = {name: Member(self, name, ips[name]) for name in NAMES}
        self.joiner = Member(self, JOINER, ips[JOINER])
        make_certificates(self.certs, ips)

    def initial_cluster(self, extra=None):
        members = list(self.members.values()) + ([extra] if extra else [])
        return ",".join(f"{m.name}={m.peer_url}" for m in members)

    def client(self, endpoints, mode, *args, timeout=600):
        argv = [self.client_binary, "--tls-ca", f"{self.certs}/ca.pem",
                "--tls-cert", f"{self.certs}/client.pem", "--tls-key", f"{self.certs}/client.key",
                "--endpoint", ",".join(m.client_endpoint for m in endpoints), mode, *args]
        return common.run_json(argv, timeout=timeout)

    def start(self):
        for m in self.members.values():
            m.start(self.initial_cluster())
        self.wait_healthy()

    def status(self):
        return self.client(list(self.members.values()), "status")

    def wait_healthy(self, timeout=30):
        """Every member answers, all name the same leader, and their applied indexes agree."""
        def healthy():
            for m in self.members.values():
                if m.process is not None and m.process.poll() is not None:
                    with open(m.log_path) as f:
                        tail = f.read()[-3000:]
                    raise BenchError(f"etcd {m.name} exited {m.process.returncode}:\n{tail}")
            statuses = self.status()
            if any("error" in s for s in statuses):
                return False
            leaders = {s["leader"] for s in statuses}
            applied = {s["raft_applied_index"] for s in statuses}
            return len(leaders) == 1 and "0" not in leaders and len(applied) == 1
        common.wait_until(healthy, timeout, "a healthy etcd cluster", interval=0.05)

    def leader(self):
        """(leader member, a follower) from the members' own status."""
        statuses = self.status()
        by_id = {s["member_id"]: m for s, m in zip(statuses, self.members.values())}
        leader = by_id[statuses[0]["leader"]]
        follower = next(m for m in self.members.values() if m is not leader)
        return leader, follower

    def rss_kb(self, field="VmRSS"):
        return {m.name: common.rss_kb(m.pid, field) for m in self.members.values()}

    def close(self):
        for m in list(self.members.values()) + [self.joiner]:
            m.stop()


def measure(root, client_binary, rounds, join_rounds):
    """Every figure of etcd's side, in the order of the arraykit side."""
    common.wipe(root)
    os.makedirs(root)
    result = {"system": "etcd", "version": ensure_installed(),
              "heartbeat_ms": HEARTBEAT_MS, "election_ms": ELECTION_MS}
    cluster = EtcdCluster(root, client_binary)
    try:
        log("etcd: starting 3 members (mutual TLS, fsync per commit)")
        cluster.start()
        leader, _ = cluster.leader()
        time.sleep(common.IDLE_SECONDS)
        result["rss_fresh_kb"] = cluster.rss_kb()
        result["rss_anon_fresh_kb"] = cluster.rss_kb("RssAnon")

        log(f"etcd: writing {common.JOIN_ENTRIES} entries of {common.VALUE_BYTES} bytes")
        result["fill"] = cluster.client([leader], "concurrent", "--writers", str(common.WRITERS),
                                        "--count", str(common.JOIN_ENTRIES), "--value-bytes",
                                        str(common.VALUE_BYTES), "--prefix", "fill/")
        last_key = common_key("fill/", common.JOIN_ENTRIES - 1)
        joins = []
        for r in range(join_rounds):
            log(f"etcd: join into {common.JOIN_ENTRIES} entries, round {r + 1}/{join_rounds}")
            joins.append(join_round(cluster, last_key))
        result["join"] = common.summary([j["ms"] for j in joins])
        result["join"]["rounds_detail"] = joins

        leader, _ = cluster.leader()
        log("etcd: sequential writes, one at a time")
        result["sequential"] = cluster.client([leader], "seq", "--count",
                                              str(common.SEQUENTIAL_WRITES), "--value-bytes",
                                              str(common.VALUE_BYTES), "--prefix", "seq/")
        log(f"etcd: {common.WRITERS} writers in flight for {common.THROUGHPUT_SECONDS} s")
        result["throughput"] = cluster.client([leader], "concurrent", "--writers",
                                              str(common.WRITERS), "--seconds",
                                              str(common.THROUGHPUT_SECONDS), "--value-bytes",
                                              str(common.VALUE_BYTES), "--prefix", "tput/")
        log(f"etcd: idle {common.IDLE_SECONDS} s, then RSS")
        time.sleep(common.IDLE_SECONDS)
        result["rss_kb"] = cluster.rss_kb()
        result["rss_anon_kb"] = cluster.rss_kb("RssAnon")

        failovers = []
        for r in range(rounds):
            failovers.append(failover_round(cluster))
            log(f"etcd: failover round {r + 1}/{rounds}: {failovers[-1]['ms']:.1f} ms")
        result["failover"] = common.summary([f["ms"] for f in failovers])
        result["failover"]["rounds_detail"] = failovers
    finally:
        cluster.close()
    return result


def common_key(prefix, i):
    return f"{prefix}{i:06d}"


def join_round(cluster, last_key):
    """member add, then the new member's start, until it serves the revision of the last
    write; then it is removed again (and its data wiped) for the next round."""
    joiner = cluster.joiner
    common.wipe(joiner.data_dir)
    argv = joiner.argv(cluster.initial_cluster(joiner), "existing")
    leader, _ = cluster.leader()
    out = cluster.client([leader], "join", "--peer-url", joiner.peer_url, "--new-endpoint",
                         joiner.client_endpoint, "--key", last_key, "--log", joiner.log_path,
                         "--", *argv)
    joiner.pid = out["pid"]
    joiner.process = None
    cluster.client([leader], "remove", "--id", out["member_id"])
    joiner.stop()
    common.wipe(joiner.data_dir)
    cluster.wait_healthy()
    return out


def failover_round(cluster):
    """kill -9 of the leader by the client, which then writes to the followers until a write is
    acknowledged; then the old leader restarts and the cluster settles."""
    leader, _ = cluster.leader()
    survivors = [m for m in cluster.members.values() if m is not leader]
    out = cluster.client(survivors, "failover", "--kill", str(leader.pid), "--key",
                         "failover/k")
    if "error" in out:
        raise BenchError(f"etcd failover: {out}")
    leader.reaped()
    out["killed"] = leader.name
    leader.start(cluster.initial_cluster())
    cluster.wait_healthy()
    return out
