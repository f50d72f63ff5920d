"""End-to-end: arrayd members in separate processes on 127.0.0.2-11, mutual TLS, durable
stores, driven by arrayctl --node (docs/operations.md). Each test makes its own members."""
import json
import os
import time

import pytest

from cluster import Cluster, CtlError, nft_available, wait_for

A, B, C, D = "a.example.com", "b.example.com", "c.example.com", "d.example.com"

# 100 ms x 3 probes: the primary is lost after ~300 ms.
FAST = {"failover_enabled": True, "monitor_interval_s": 0.1, "monitor_attempts": 3,
        "find_primary_interval_s": 0.1, "find_primary_attempts": 3}


@pytest.fixture
def cluster_factory(tmp_path, request):
    made = []

    def make(names, **options):
        c = Cluster(tmp_path, names, **options)
        made.append(c)
        return c

    yield make
    for c in made:
        c.close()
        report = getattr(request.node, "rep_call", None)
        if report is not None and report.failed:
            print(c.logs())


def three_member_array(make, action="accept"):
    c = make([A, B, C])
    c.start()
    c.create(A, dict(FAST, primary_return_action=action))
    for joiner in (B, C):
        joined = c.join(A, joiner)
        assert joined["joined"] == joiner
    wait_for(lambda: all(m["contactable"] for m in c[A].status()["members"]) and
             all(len(c[n].status()["members"]) == 3 for n in (A, B, C)), 10,
             what="three contactable members, known to all")
    return c


def primary_of(member):
    s = member.status()
    return s["primary"] if s["role"] == "primary" and s["writable"] else None


def test_create_join_replicate(cluster_factory):
    c = three_member_array(cluster_factory)
    status = c[A].status()
    assert status["role"] == "primary" and status["writable"]
    assert sorted(m["name"] for m in status["members"]) == [A, B, C]
    # The joiners trust the array's CA and present certificates it signed.
    fingerprint = status["ca_fingerprint"]
    for name in (B, C):
        assert c[name].status()["ca_fingerprint"] == fingerprint
    c[A].put("client_profiles", "web", {"timeout": 30})
    c[A].ctl("array", "wait-synced", "--timeout", "10")
    for name in (B, C):
        assert c[name].get("client_profiles", "web") == {"timeout": 30}
    # A secondary refuses a write, naming the primary.
    refused = c[B].ctl_raw("repo", "put", "client_profiles", "web", "1")
    assert refused.returncode == 1
    assert "not_primary" in refused.stderr


@pytest.mark.parametrize("action", ["accept", "acceptsecondary", "none"])
def test_kill9_primary_then_failover_and_recovery(cluster_factory, action):
    c = three_member_array(cluster_factory, action)
    c[A].put("client_profiles", "before", 1)
    c[A].ctl("array", "wait-synced", "--timeout", "10")

    killed = time.monotonic()
    c[A].kill9()
    # The first backup takes over and accepts writes.
    wait_for(lambda: primary_of(c[B]) == B, 10, what="b to become the writable primary")
    took = time.monotonic() - killed
    position = c[B].put("client_profiles", "after", 2)
    assert position["epoch"] >= 2
    assert took < 5, f"failover took {took:.2f} s"
    assert c[B].get("client_profiles", "before") == 1
    status = c[B].status()
    assert status["repaired"] is True
    assert status["original_formation"]["primary"] == A
    wait_for(lambda: c[C].status()["primary"] == B, 10, what="c to follow b")

    # The original primary returns.
    c[A].start()
    if action == "accept":
        wait_for(lambda: primary_of(c[A]) == A and c[B].status()["primary"] == A, 20,
                 what="a to be primary of all three again")
        c[A].ctl("array", "wait-synced", "--timeout", "10")
        assert c[A].get("client_profiles", "after") == 2
    elif action == "acceptsecondary":
        wait_for(lambda: c[A].status()["primary"] == B and c[A].status()["role"] == "secondary",
                 20, what="a to join b's array as a secondary")
        assert primary_of(c[B]) == B
        wait_for(lambda: c[A].get("client_profiles", "after") == 2, 10, what="a to catch up")
    else:
        # `none`: nothing is restored; b stays primary of the repaired array.
        time.sleep(2)
        assert primary_of(c[B]) == B
        assert A not in [m["name"] for m in c[B].status()["members"]
                         if m.get("contactable")]


def test_sigterm_stops_cleanly_and_restart_keeps_data(cluster_factory):
    c = cluster_factory([A])
    c.start()
    c[A].put("user_preferences", "lang", "de")
    assert c[A].stop() == 0
    assert "stopped" in c[A].log()
    assert not os.path.exists(os.path.join(c[A].data_dir, "admin.sock"))
    c[A].start()
    assert c[A].get("user_preferences", "lang") == "de"


def test_join_refusals(cluster_factory):
    c = cluster_factory([A, B, C, D], options={C: {"clock_offset_ms": 120000}})
    c.start()
    c.create(A, FAST)
    ticket = c[B].ctl("security", "join-token", "--ttl", "300")

    def join(fingerprint, token, joiner=B):
        r = c[A].ctl_raw("array", "join", "--secondary", joiner, "--fingerprint", fingerprint,
                         "--token", token)
        return r.returncode, r.stderr

    # Wrong fingerprint (A's own): refused before anything is sent to B.
    own = c[A].status()["ca_fingerprint"]
    code, err = join(own, ticket["token"])
    assert code == 1 and "fingerprint_mismatch" in err
    # A made-up token.
    code, err = join(ticket["ca_fingerprint"], "AKJT-" + "0" * 40)
    assert code == 1 and "token_invalid" in err
    # The real one works once; replayed, it is refused (B is no longer standalone anyway, so
    # replay it against a second joiner's token list: a token is bound to its joiner).
    code, err = join(ticket["ca_fingerprint"], ticket["token"])
    assert code == 0, err
    # B is in A's array now: another primary (standalone D) gets B's CA right but B refuses D's
    # certificate at the handshake (it admits only its array's members); D says so at once.
    again = c[B].ctl("security", "join-token", "--ttl", "300")
    started = time.monotonic()
    r = c[D].ctl_raw("array", "join", "--secondary", B, "--fingerprint",
                     again["ca_fingerprint"], "--token", again["token"])
    assert r.returncode == 1 and "joiner_not_standalone" in r.stderr, r.stderr
    assert time.monotonic() - started < 5
    # An expired token.
    short = c[D].ctl("security", "join-token", "--ttl", "1")
    time.sleep(2.2)
    code, err = join(short["ca_fingerprint"], short["token"], joiner=D)
    assert code == 1 and "token_expired" in err
    # Replayed: D's used token (after a successful join it cannot be used again).
    fresh = c[D].ctl("security", "join-token", "--ttl", "300")
    code, err = join(fresh["ca_fingerprint"], fresh["token"], joiner=D)
    assert code == 0, err
    c[A].ctl("array", "detach", D)
    wait_for(lambda: c[D].status()["role"] == "primary" and
             len(c[D].status()["members"]) == 1, 10, what="d to be standalone")
    time.sleep(1.5)  # d's listener presents its new CA within a second (identity reload)
    d_fp = c[D].status()["ca_fingerprint"]
    code, err = join(d_fp, fresh["token"], joiner=D)
    assert code == 1 and ("token_invalid" in err or "token_used" in err)
    # Clock skew over 60 s (C runs 120 s ahead).
    skewed = c[C].ctl("security", "join-token", "--ttl", "300")
    code, err = join(skewed["ca_fingerprint"], skewed["token"], joiner=C)
    assert code == 1 and "clock_skew" in err


def test_join_refused_between_versions(cluster_factory):
    """All members of an array run the same version (member.version in arrayd's config)."""
    c = cluster_factory([A, B], options={A: {"version": "1.4.0"}, B: {"version": "1.5.0"}})
    c.start()
    c.create(A, FAST)
    ticket = c[B].ctl("security", "join-token", "--ttl", "300")
    r = c[A].ctl_raw("array", "join", "--secondary", B, "--fingerprint",
                     ticket["ca_fingerprint"], "--token", ticket["token"])
    assert r.returncode == 1 and "version_mismatch" in r.stderr
    assert "1.4.0" in r.stderr and "1.5.0" in r.stderr
    assert len(c[B].status()["members"]) == 1 and len(c[A].status()["members"]) == 1


BACKENDS = {n: ["frontend", "backend"] for n in (A, B, C)}


def quorum_array(make):
    """Three back-ends (the quorum voters) planned at creation, joined, then quorum mode."""
    c = make([A, B, C], roles=BACKENDS)
    c.start()
    c.create(A, dict(FAST, primary_return_action="acceptsecondary"), planned=[B, C])
    # Planned members are listed from the start, marked planned until they joined.
    members = {m["name"]: m for m in c[A].status()["members"]}
    assert sorted(members) == [A, B, C]
    assert [n for n in (A, B, C) if members[n]["planned"]] == [B, C]
    for joiner in (B, C):
        assert c.join(A, joiner)["joined"] == joiner
    wait_for(lambda: not any(m["planned"] for m in c[A].status()["members"]), 10,
             what="no member planned any more")
    wait_for(lambda: all(m["contactable"] for m in c[A].status()["members"]) and
             all(len(c[n].status()["members"]) == 3 for n in (A, B, C)), 10,
             what="three contactable voters, known to all")
    c[A].ctl("config", "edit", "--array-mode", "quorum")
    wait_for(lambda: all(c[n].status()["mode"] == "quorum" for n in (A, B, C)) and
             primary_of(c[A]) == A, 10, what="quorum mode on every member")
    return c


def test_planned_member_must_join_with_its_planned_roles(cluster_factory):
    c = cluster_factory([A, B, C], roles={A: BACKENDS[A], B: ["frontend"], C: BACKENDS[C]})
    c.start()
    planned = {"members": [{"name": n, "roles": ["frontend", "backend"]} for n in (A, B, C)],
               "primary": A, "resilience": FAST}
    path = str(c.root / "planned.json")
    with open(path, "w") as f:
        json.dump(planned, f)
    c[A].ctl("array", "create", path)
    ticket = c[B].ctl("security", "join-token", "--ttl", "300")
    r = c[A].ctl_raw("array", "join", "--secondary", B, "--fingerprint",
                     ticket["ca_fingerprint"], "--token", ticket["token"])
    assert r.returncode == 1 and "roles_mismatch" in r.stderr
    assert c[B].status()["role"] == "primary" and len(c[B].status()["members"]) == 1
    assert c.join(A, C)["joined"] == C
    # The status table says which members have not joined yet.
    table = c[A].ctl_raw("status", "--format", "table").stdout
    rows = {line.split()[0]: line.split() for line in table.splitlines() if line.split() and
            line.split()[0] in (A, B, C)}
    assert "planned" in rows[B] and "planned" not in rows[C], table


@pytest.mark.skipif(not nft_available() and os.environ.get("CI") != "true",
                    reason="needs root and nftables (scripts/bootstrap installs nftables)")
def test_quorum_partition_keeps_every_acknowledged_write(cluster_factory):
    """DESIGN §5.3 across a real partition: a cut off from b and c steps down, b is elected by
    b and c, and every write acknowledged on either side is on every member after healing."""
    c = quorum_array(cluster_factory)
    acked = {}
    for i in range(5):
        c[A].put("client_profiles", f"a{i}", i)
        acked[f"a{i}"] = i
    c.partition([A], [B, C])
    wait_for(lambda: primary_of(c[B]) == B, 15, what="b elected by the majority")
    wait_for(lambda: not c[A].status()["writable"], 15, what="a to step down")
    refused = c[A].ctl_raw("repo", "put", "client_profiles", "late", "1", timeout=30)
    assert refused.returncode != 0
    for i in range(5):
        c[B].put("client_profiles", f"b{i}", i)
        acked[f"b{i}"] = i
    c.heal()
    wait_for(lambda: primary_of(c[B]) == B and
             all(c[n].status()["primary"] == B for n in (A, C)) and
             all(m["contactable"] for m in c[B].status()["members"]), 30,
             what="b primary of all three")
    c[B].ctl("array", "wait-synced", "--timeout", "10")
    for name in (A, B, C):
        for key, value in acked.items():
            assert c[name].get("client_profiles", key) == value, (name, key)


@pytest.mark.skipif(not nft_available() and os.environ.get("CI") != "true",
                    reason="needs root and nftables (scripts/bootstrap installs nftables)")
def test_partition_split_worked_case(cluster_factory):
    """DESIGN §5.1's split, with 100 ms intervals: {a, b} | {c, d}; a keeps {a, b}; c and d
    fail to reach b, then c is primary of {c, d}; healed, with accept, a is primary of all."""
    c = cluster_factory([A, B, C, D])
    c.start()
    c.create(A, dict(FAST, primary_return_action="accept"))
    for joiner in (B, C, D):
        c.join(A, joiner)
    # Every member knows the four (the formation reaches a secondary with the primary's next
    # message): a member that does not know d would refuse it after the split.
    wait_for(lambda: all(len(c[n].status()["members"]) == 4 for n in (A, B, C, D)) and
             all(m["contactable"] for m in c[A].status()["members"]), 10,
             what="four contactable members, known to all")
    c.partition([A, B], [C, D])
    # c promotes itself first (next after b); d, one attempt later, finds c primary.
    wait_for(lambda: primary_of(c[C]) == C and c[D].status()["primary"] == C, 15,
             what="c to be primary of {c, d}")
    assert primary_of(c[A]) == A
    uncontactable = c[A].status()["uncontactable"]
    assert set(uncontactable) == {C, D}
    # Both sides write the same key; c also one of its own.
    c[A].put("client_profiles", "web", {"t": 30})
    c[C].put("client_profiles", "web", {"t": 45})
    c[C].put("client_profiles", "only_c", 1)
    c.heal()
    wait_for(lambda: primary_of(c[A]) == A and all(
        c[n].status()["primary"] == A for n in (B, C, D)), 30, what="a primary of all four")
    # accept: a's value stands, c's is kept as a conflict record; c's other write is merged.
    wait_for(lambda: c[A].ctl("repo", "conflicts")["conflicts"] == 1, 15,
             what="the merge of c's writes")
    c[A].ctl("array", "wait-synced", "--timeout", "10")
    for name in (A, C):
        conflicts = c[name].ctl("repo", "conflicts")
        assert [(r["category"], r["key"], r["kept_value"], r["lost_value"], r["lost_writer"])
                for r in conflicts["records"]] == [("client_profiles", "web", {"t": 30},
                                                    {"t": 45}, C)], (name, conflicts)
        assert c[name].get("client_profiles", "web") == {"t": 30}
        assert c[name].get("client_profiles", "only_c") == 1
    table = c[A].ctl_raw("repo", "conflicts")
    assert table.returncode == 0 and "LOST WRITER" in table.stdout and C in table.stdout


# ---- certificates refused at the handshake (DESIGN §6, §10) ------------------------------------

H2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"


def store_rows(member, sql):
    """Reads a stopped member's store (a running arrayd holds it locked)."""
    import sqlite3
    db = sqlite3.connect(f"file:{member.data_dir}/store.db?mode=ro", uri=True)
    try:
        return db.execute(sql).fetchall()
    finally:
        db.close()


def array_ca(member):
    """The CA whose key `member` holds (the array's, on the primary): (certificate, key) PEM."""
    from cryptography.hazmat.primitives import serialization
    from cryptography import x509
    (name, key), = store_rows(member, "SELECT name, value FROM secrets WHERE name LIKE 'ca_key:%'")
    fingerprint = name[len("ca_key:"):]
    (der,), = store_rows(member, f"SELECT der FROM certificates WHERE name = 'ca:{fingerprint}'")
    cert = x509.load_der_x509_certificate(der).public_bytes(serialization.Encoding.PEM)
    return cert, bytes(key)


def peer_credentials(member):
    """The member's own peer certificate and key, PEM, read from its store."""
    from cryptography.hazmat.primitives import serialization
    from cryptography import x509
    (key,), = store_rows(member, "SELECT value FROM secrets WHERE name = 'peer_key'")
    (der,), = store_rows(member, "SELECT der FROM certificates WHERE name = 'peer'")
    cert = x509.load_der_x509_certificate(der).public_bytes(serialization.Encoding.PEM)
    return cert, bytes(key)


def forged_certificate(name, issuer_cert_pem, issuer_key_pem=None, expired=False):
    """A peer certificate for `name`: issued by the given CA (with its key), or without the
    key by a new CA with that CA's subject; valid now, or expired a day ago."""
    import datetime
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.timezone.utc)
    if issuer_key_pem is None:  # a foreign CA that looks like the given one
        ca_key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.load_pem_x509_certificate(issuer_cert_pem).subject
        ca = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
              .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
              .not_valid_before(now - datetime.timedelta(minutes=5))
              .not_valid_after(now + datetime.timedelta(days=30))
              .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
              .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False,
                                           False), critical=True)
              .sign(ca_key, hashes.SHA256()))
    else:
        ca = x509.load_pem_x509_certificate(issuer_cert_pem)
        ca_key = serialization.load_pem_private_key(issuer_key_pem, None)
    key = ec.generate_private_key(ec.SECP256R1())
    start, end = ((now - datetime.timedelta(days=10), now - datetime.timedelta(days=1))
                  if expired else (now - datetime.timedelta(minutes=5),
                                   now + datetime.timedelta(days=1)))
    leaf = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
            .issuer_name(ca.subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start).not_valid_after(end)
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(True, False, False, False, False, False, False, False,
                                         False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH,
                                                  ExtendedKeyUsageOID.CLIENT_AUTH]),
                           critical=False)
            .sign(ca_key, hashes.SHA256()))
    return (leaf.public_bytes(serialization.Encoding.PEM),
            key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                              serialization.NoEncryption()))


def peer_handshake(server, ca_pem, cert_pem, key_pem, tmp_path):
    """Connects to `server`'s peer listener presenting cert_pem, as a member's client would, and
    says whether the server took the connection: "accepted" once it answers the HTTP/2 preface,
    else what ended it (a refused client certificate ends the connection at the handshake:
    a TLS alert, or the connection closed)."""
    import socket
    import ssl
    cert_file, key_file = tmp_path / "client.pem", tmp_path / "client.key"
    cert_file.write_bytes(cert_pem)
    key_file.write_bytes(key_pem)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.load_verify_locations(cadata=ca_pem.decode())
    context.load_cert_chain(str(cert_file), str(key_file))
    context.set_alpn_protocols(["h2"])
    host, port = server.address.rsplit(":", 1)
    try:
        with socket.create_connection((host, int(port)), timeout=5) as raw:
            with context.wrap_socket(raw, server_hostname=server.name) as tls:
                tls.sendall(H2_PREFACE)
                answer = tls.recv(64)
                return "accepted" if answer else "closed"
    except (ssl.SSLError, ConnectionError, socket.timeout) as e:
        return f"refused: {e}"


def test_certificates_refused_at_the_handshake(cluster_factory, tmp_path):
    c = cluster_factory([A, B, C])
    c.start()
    # Failover disabled: the members are stopped to read their stores.
    c.create(A, dict(FAST, failover_enabled=False))
    for joiner in (B, C):
        c.join(A, joiner)
    wait_for(lambda: all(len(c[n].status()["members"]) == 3 for n in (A, B, C)), 10,
             what="the formation known to all")
    for m in c.members:
        m.stop()
    ca_cert, ca_key = array_ca(c[A])
    b_cert, b_key = peer_credentials(c[B])
    c_cert, c_key = peer_credentials(c[C])
    for m in c.members:
        m.start()
    # The control: b's own certificate is taken.
    assert peer_handshake(c[A], ca_cert, b_cert, b_key, tmp_path) == "accepted"

    def refused(cert, key, name, reason):
        """a refuses the certificate at the handshake; its status says why (per peer name)."""
        assert peer_handshake(c[A], ca_cert, cert, key, tmp_path) != "accepted"
        links = {link["peer"]: link for link in c[A].status()["links"]}
        assert links[name]["last_refusal"].startswith(reason), links[name]

    # A foreign CA's certificate for b: the CA has the array CA's subject, not its key.
    refused(*forged_certificate(B, ca_cert), B, "untrusted_issuer")
    # Issued by the array's own CA to b, but expired.
    refused(*forged_certificate(B, ca_cert, ca_key, expired=True), B, "expired")
    # The same, valid: taken (so the two refusals above are for the CA and the expiry).
    assert peer_handshake(c[A], ca_cert, *forged_certificate(B, ca_cert, ca_key),
                          tmp_path) == "accepted"
    # A name that is not a member, from the array's CA.
    refused(*forged_certificate(D, ca_cert, ca_key), D, "name_mismatch")
    # b detached: its certificate is refused by every member (after its farewell).
    c[A].ctl("array", "detach", B)
    wait_for(lambda: all(len(c[n].status()["members"]) == 2 for n in (A, C)), 10,
             what="b gone from a's and c's formation")
    time.sleep(2.5)
    for n in (A, C):
        assert peer_handshake(c[n], ca_cert, b_cert, b_key, tmp_path) != "accepted", n
    links = {link["peer"]: link for link in c[A].status()["links"]}
    assert links[B]["last_refusal"].split(":")[0] in ("revoked", "name_mismatch"), links[B]
    # c, still a member, is taken.
    assert peer_handshake(c[A], ca_cert, c_cert, c_key, tmp_path) == "accepted"
