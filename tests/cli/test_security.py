"""arrayctl security: CA, member request, issuance and verification as an operator runs them."""
import json
import os
import shutil
import stat
import subprocess

import pytest

ARRAYCTL = os.environ["ARRAYCTL"]
OPENSSL = shutil.which("openssl")
MEMBERS = "boston.example.com,newyork.example.com"


def run(*args):
    return subprocess.run([ARRAYCTL, *args], capture_output=True, text=True, timeout=120)


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture()
def issued(tmp_path):
    """ca create -> cert request -> cert issue for newyork.example.com."""
    ca_dir = tmp_path / "ca"
    member_dir = tmp_path / "newyork"
    created = run("security", "ca", "create", "--out-dir", str(ca_dir), "--name", "test array CA")
    assert created.returncode == 0, created.stderr
    requested = run("security", "cert", "request", "--name", "newyork.example.com",
                    "--out-dir", str(member_dir))
    assert requested.returncode == 0, requested.stderr
    cert = member_dir / "newyork.example.com.pem"
    signed = run("security", "cert", "issue", "--ca-dir", str(ca_dir),
                 "--csr", str(member_dir / "newyork.example.com.csr"),
                 "--name", "newyork.example.com", "--members", MEMBERS, "--out", str(cert))
    assert signed.returncode == 0, signed.stderr
    return {"ca_dir": ca_dir, "ca": ca_dir / "ca.pem", "ca_key": ca_dir / "ca.key",
            "member_dir": member_dir, "key": member_dir / "newyork.example.com.key",
            "csr": member_dir / "newyork.example.com.csr", "cert": cert,
            "outputs": [created, requested, signed]}


def test_full_flow_verifies_with_exit_0(issued):
    for role in ("server", "client"):
        result = run("security", "verify", "--cert", str(issued["cert"]), "--ca", str(issued["ca"]),
                     "--name", "newyork.example.com", "--role", role)
        assert result.returncode == 0, result.stdout + result.stderr
        assert result.stdout.startswith("valid:")
    machine = run("security", "verify", "--cert", str(issued["cert"]), "--ca", str(issued["ca"]),
                  "--name", "newyork.example.com", "--json")
    assert machine.returncode == 0
    assert json.loads(machine.stdout)["valid"] is True
    assert machine.stdout.startswith('{"valid": true, "reason": null, "message": "')


def test_wrong_name_exits_1_with_reason_name_mismatch(issued):
    human = run("security", "verify", "--cert", str(issued["cert"]), "--ca", str(issued["ca"]),
                "--name", "boston.example.com")
    assert human.returncode == 1
    assert "name_mismatch" in human.stdout
    machine = run("security", "verify", "--cert", str(issued["cert"]), "--ca", str(issued["ca"]),
                  "--name", "boston.example.com", "--json")
    assert machine.returncode == 1
    verdict = json.loads(machine.stdout)
    assert list(verdict) == ["valid", "reason", "message"]
    assert verdict["valid"] is False and verdict["reason"] == "name_mismatch"
    assert machine.stdout.startswith('{"valid": false, "reason": "name_mismatch", "message": "')


def test_other_rejections_exit_1(issued, tmp_path):
    expired = run("security", "verify", "--cert", str(issued["cert"]), "--ca", str(issued["ca"]),
                  "--name", "newyork.example.com", "--at", "2100-01-01T00:00:00Z", "--json")
    assert expired.returncode == 1
    assert json.loads(expired.stdout)["reason"] == "expired"
    other = run("security", "ca", "create", "--out-dir", str(tmp_path / "other"))
    assert other.returncode == 0
    foreign = run("security", "verify", "--cert", str(issued["cert"]),
                  "--ca", str(tmp_path / "other" / "ca.pem"), "--name", "newyork.example.com")
    assert foreign.returncode == 1
    assert "untrusted_issuer" in foreign.stdout
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a certificate\n")
    malformed = run("security", "verify", "--cert", str(garbage), "--ca", str(issued["ca"]),
                    "--name", "newyork.example.com", "--json")
    assert malformed.returncode == 1
    assert json.loads(malformed.stdout)["reason"] == "malformed"


def test_bad_input_exits_2(issued, tmp_path):
    missing = run("security", "verify", "--cert", str(tmp_path / "absent.pem"), "--ca",
                  str(issued["ca"]), "--name", "newyork.example.com")
    assert missing.returncode == 2
    assert "absent.pem" in missing.stderr
    bad_at = run("security", "verify", "--cert", str(issued["cert"]), "--ca", str(issued["ca"]),
                 "--name", "newyork.example.com", "--at", "tomorrow")
    assert bad_at.returncode == 2
    assert "--at" in bad_at.stderr
    bad_role = run("security", "verify", "--cert", str(issued["cert"]), "--ca", str(issued["ca"]),
                   "--name", "newyork.example.com", "--role", "peer")
    assert bad_role.returncode == 2
    not_a_ca = run("security", "verify", "--cert", str(issued["cert"]), "--ca", str(issued["cert"]),
                   "--name", "newyork.example.com")
    assert not_a_ca.returncode == 2
    assert run("security", "verify", "--cert", str(issued["cert"])).returncode == 2
    for result in (missing, bad_at, bad_role, not_a_ca):
        assert "Traceback" not in result.stderr and result.stdout == ""


def test_keys_are_0600_and_never_printed(issued):
    assert mode(issued["ca_key"]) == 0o600
    assert mode(issued["key"]) == 0o600
    umask = os.umask(0)
    os.umask(umask)
    assert mode(issued["ca"]) == 0o644 & ~umask
    for result in issued["outputs"]:
        assert "PRIVATE KEY" not in result.stdout + result.stderr
    for key_file in (issued["ca_key"], issued["key"]):
        body = "".join(key_file.read_text().splitlines()[1:-1])
        for result in issued["outputs"]:
            assert body[48:80] not in result.stdout + result.stderr


def test_key_mode_is_0600_even_with_a_permissive_umask(tmp_path):
    old = os.umask(0)
    try:
        result = run("security", "cert", "request", "--name", "a.example.com",
                     "--out-dir", str(tmp_path))
    finally:
        os.umask(old)
    assert result.returncode == 0, result.stderr
    assert mode(tmp_path / "a.example.com.key") == 0o600
    assert mode(tmp_path / "a.example.com.csr") == 0o644


def test_refuses_to_overwrite_without_force(issued):
    key_before = issued["ca_key"].read_text()
    again = run("security", "ca", "create", "--out-dir", str(issued["ca_dir"]))
    assert again.returncode == 2
    assert "--force" in again.stderr
    assert issued["ca_key"].read_text() == key_before
    again_request = run("security", "cert", "request", "--name", "newyork.example.com",
                        "--out-dir", str(issued["member_dir"]))
    assert again_request.returncode == 2
    forced = run("security", "ca", "create", "--out-dir", str(issued["ca_dir"]), "--force", "--json")
    assert forced.returncode == 0, forced.stderr
    assert issued["ca_key"].read_text() != key_before
    assert mode(issued["ca_key"]) == 0o600
    doc = json.loads(forced.stdout)
    assert doc["private_key_file"].endswith("ca.key")
    assert "PRIVATE KEY" not in forced.stdout


@pytest.mark.skipif(OPENSSL is None, reason="openssl CLI not installed")
def test_openssl_accepts_the_issued_certificate(issued):
    result = subprocess.run([OPENSSL, "verify", "-CAfile", str(issued["ca"]), str(issued["cert"])],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip().endswith(": OK")


@pytest.mark.skipif(OPENSSL is None, reason="openssl CLI not installed")
def test_fingerprint_matches_openssl(issued, tmp_path):
    expected = subprocess.run([OPENSSL, "x509", "-noout", "-fingerprint", "-sha256",
                               "-in", str(issued["ca"])],
                              capture_output=True, text=True, check=True).stdout.strip()
    shown = run("security", "peerca", "--show", "--ca", str(issued["ca"]))
    assert shown.returncode == 0, shown.stderr
    assert expected in shown.stdout.splitlines() or \
        ("  " + expected) in shown.stdout.splitlines()
    assert "CN=test array CA" in shown.stdout
    machine = run("security", "peerca", "--show", "--ca", str(issued["ca"]), "--json")
    listing = json.loads(machine.stdout)
    assert listing[0]["fingerprint_sha256"] == expected.split("=", 1)[1]
    assert listing[0]["subject"] == "CN=test array CA"
    # A truststore file with two CAs (a rollover).
    other = run("security", "ca", "create", "--out-dir", str(tmp_path / "next"), "--name", "next CA")
    assert other.returncode == 0
    bundle = tmp_path / "truststore.pem"
    bundle.write_text(issued["ca"].read_text() + (tmp_path / "next" / "ca.pem").read_text())
    both = run("security", "peerca", "--show", "--truststore", str(bundle), "--json")
    assert both.returncode == 0, both.stderr
    assert [entry["subject"] for entry in json.loads(both.stdout)] == ["CN=test array CA",
                                                                      "CN=next CA"]
    assert run("security", "peerca", "--ca", str(issued["ca"])).returncode == 2
    assert run("security", "peerca", "--show").returncode == 2


def test_ca_refuses_a_csr_of_a_non_member_with_exit_1(issued, tmp_path):
    request = run("security", "cert", "request", "--name", "detroit.example.com",
                  "--out-dir", str(tmp_path / "detroit"))
    assert request.returncode == 0
    members_file = tmp_path / "members.json"
    members_file.write_text(json.dumps({"members": [{"name": "boston.example.com"},
                                                    {"name": "newyork.example.com"}]}))
    refused = run("security", "cert", "issue", "--ca-dir", str(issued["ca_dir"]),
                  "--csr", str(tmp_path / "detroit" / "detroit.example.com.csr"),
                  "--name", "detroit.example.com", "--members", str(members_file),
                  "--out", str(tmp_path / "detroit.pem"), "--json")
    assert refused.returncode == 1, refused.stderr
    assert json.loads(refused.stdout)["reason"] == "not_a_member"
    assert not (tmp_path / "detroit.pem").exists()


def test_key_types_and_bad_options(tmp_path):
    rsa = run("security", "ca", "create", "--out-dir", str(tmp_path / "rsa"), "--key-type", "rsa-2048",
              "--lifetime-days", "30", "--json")
    assert rsa.returncode == 0, rsa.stderr
    assert json.loads(rsa.stdout)["certificate"]["key"] == "rsa-2048"
    p384 = run("security", "cert", "request", "--name", "b.example.com", "--out-dir",
               str(tmp_path / "b"), "--key-type", "ec-p384", "--json")
    assert p384.returncode == 0, p384.stderr
    assert json.loads(p384.stdout)["key_type"] == "ecdsa-p384"
    weak = run("security", "ca", "create", "--out-dir", str(tmp_path / "weak"), "--key-type", "rsa-1024")
    assert weak.returncode == 2
    assert "--key-type" in weak.stderr
    days = run("security", "ca", "create", "--out-dir", str(tmp_path / "days"), "--lifetime-days", "x")
    assert days.returncode == 2
    assert not (tmp_path / "weak" / "ca.key").exists()


def der_of(pem_path, out_path):
    import base64
    body = "".join(line for line in pem_path.read_text().splitlines()
                   if not line.startswith("-----"))
    out_path.write_bytes(base64.b64decode(body))
    return out_path


def test_der_certificate_and_ca_files_are_read(issued, tmp_path):
    cert_der = der_of(issued["cert"], tmp_path / "cert.der")
    ca_der = der_of(issued["ca"], tmp_path / "ca.der")
    assert b"\0" in cert_der.read_bytes()
    for cert, ca in ((cert_der, issued["ca"]), (issued["cert"], ca_der), (cert_der, ca_der)):
        result = run("security", "verify", "--cert", str(cert), "--ca", str(ca),
                     "--name", "newyork.example.com", "--json")
        assert result.returncode == 0, result.stdout + result.stderr
        assert json.loads(result.stdout)["valid"] is True
    shown = run("security", "peerca", "--show", "--ca", str(ca_der), "--json")
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)[0]["subject"] == "CN=test array CA"


def test_trailing_bytes_and_extra_certificates_are_malformed(issued, tmp_path):
    trailing = tmp_path / "trailing.der"
    trailing.write_bytes(der_of(issued["cert"], tmp_path / "c.der").read_bytes() + b"\0\0")
    two = tmp_path / "two.pem"
    two.write_text(issued["cert"].read_text() * 2)
    for cert in (trailing, two):
        result = run("security", "verify", "--cert", str(cert), "--ca", str(issued["ca"]),
                     "--name", "newyork.example.com", "--json")
        assert result.returncode == 1, result.stdout + result.stderr
        verdict = json.loads(result.stdout)
        assert verdict["valid"] is False and verdict["reason"] == "malformed"


def test_a_directory_as_cert_is_bad_input(issued, tmp_path):
    result = run("security", "verify", "--cert", str(tmp_path), "--ca", str(issued["ca"]),
                 "--name", "newyork.example.com")
    assert result.returncode == 2
    assert "directory" in result.stderr
    machine = run("security", "verify", "--cert", str(tmp_path), "--ca", str(issued["ca"]),
                  "--name", "newyork.example.com", "--json")
    assert machine.returncode == 2
    assert json.loads(machine.stderr)["error"]["reason"] == "unreadable_file"


def test_a_ca_key_readable_by_others_is_refused(issued, tmp_path):
    os.chmod(issued["ca_key"], 0o640)
    result = run("security", "cert", "issue", "--ca-dir", str(issued["ca_dir"]),
                 "--csr", str(issued["csr"]), "--name", "newyork.example.com",
                 "--members", MEMBERS, "--out", str(tmp_path / "again.pem"), "--json")
    assert result.returncode == 2, result.stdout + result.stderr
    error = json.loads(result.stderr)["error"]
    assert error["reason"] == "unprotected_key_file"
    assert "chmod 600" in error["message"]
    assert not (tmp_path / "again.pem").exists()
    os.chmod(issued["ca_key"], 0o600)


def test_json_errors_carry_the_reason(issued, tmp_path):
    ip = run("security", "cert", "request", "--name", "10.0.0.1", "--out-dir", str(tmp_path),
             "--json")
    assert ip.returncode == 2
    error = json.loads(ip.stderr)["error"]
    assert error["reason"] == "name_not_fqdn"
    assert error["message"].startswith("--name: ")
    not_a_ca = run("security", "verify", "--cert", str(issued["cert"]), "--ca", str(issued["cert"]),
                   "--name", "newyork.example.com", "--json")
    assert not_a_ca.returncode == 2
    assert json.loads(not_a_ca.stderr)["error"]["reason"] == "not_a_ca"
    usage = run("security", "verify", "--cert", str(issued["cert"]), "--json")
    assert usage.returncode == 2
    assert json.loads(usage.stderr)["error"]["reason"] == "usage"


def test_a_certificate_outliving_the_ca_is_refused_with_exit_1(tmp_path):
    assert run("security", "ca", "create", "--out-dir", str(tmp_path / "ca"),
               "--lifetime-days", "30").returncode == 0
    assert run("security", "cert", "request", "--name", "boston.example.com",
               "--out-dir", str(tmp_path)).returncode == 0
    refused = run("security", "cert", "issue", "--ca-dir", str(tmp_path / "ca"),
                  "--csr", str(tmp_path / "boston.example.com.csr"), "--name", "boston.example.com",
                  "--members", MEMBERS, "--out", str(tmp_path / "boston.pem"), "--json")
    assert refused.returncode == 1, refused.stdout + refused.stderr
    verdict = json.loads(refused.stdout)
    assert verdict["issued"] is False and verdict["reason"] == "outlives_ca"
    assert "roll the CA over" in verdict["message"]
    assert not (tmp_path / "boston.pem").exists()
