"""arraykit.pki: CA, member keys and CSRs, verification, plans and TLS policy — dicts in and out."""
import shutil
import subprocess
import threading
import time

import pytest

import arraykit

MEMBERS = ["boston.example.com", "newyork.example.com"]
ARRAY = {
    "members": [
        {"name": "boston.example.com", "roles": ["frontend", "backend"]},
        {"name": "newyork.example.com", "roles": ["frontend"]},
    ],
    "primary": "boston.example.com",
}


@pytest.fixture(scope="module")
def ca():
    return arraykit.pki.create_ca({"common_name": "test array CA"})


def issue(ca, name="newyork.example.com", **options):
    request = arraykit.pki.create_request({"name": name})
    signed = arraykit.pki.sign_csr(ca["certificate_pem"], ca["private_key_pem"], request["csr_pem"],
                                   {"members": MEMBERS, **options})
    return request, signed


def test_create_ca_returns_certificate_and_key_apart(ca):
    assert ca["certificate_pem"].startswith("-----BEGIN CERTIFICATE-----")
    assert ca["private_key_pem"].startswith("-----BEGIN PRIVATE KEY-----")
    assert "PRIVATE KEY" not in ca["certificate_pem"]
    info = ca["certificate"]
    assert info["is_ca"] is True
    assert info["subject"] == "CN=test array CA"
    assert info["key"] == "ecdsa-p256"
    assert len(info["fingerprint_sha256"].split(":")) == 32


def test_create_ca_defaults_and_options():
    default = arraykit.pki.create_ca()
    assert default["certificate"]["subject"] == "CN=arraykit array CA"
    p384 = arraykit.pki.create_ca({"key_type": "ecdsa-p384", "lifetime_days": 30,
                                   "now": "2026-01-01T00:00:00Z"})
    assert p384["certificate"]["key"] == "ecdsa-p384"
    assert p384["certificate"]["not_after"].startswith("2026-01-31T00:00:00")


def test_full_flow_verifies_as_server_and_client(ca):
    request, signed = issue(ca, expected_name="newyork.example.com")
    assert request["name"] == "newyork.example.com"
    assert "private_key_pem" in request and "PRIVATE KEY" not in request["csr_pem"]
    info = signed["certificate"]
    assert info["dns_names"] == ["newyork.example.com"]
    assert info["issuer"] == "CN=test array CA"
    for role in ("server", "client"):
        result = arraykit.pki.verify(signed["certificate_pem"], ca["certificate_pem"],
                                     {"expected_name": "newyork.example.com", "role": role})
        assert result["valid"] is True
        assert result["reason"] is None


def test_rejections_are_results_with_stable_reasons(ca):
    _, signed = issue(ca)
    cert = signed["certificate_pem"]
    wrong = arraykit.pki.verify(cert, ca["certificate_pem"], {"expected_name": "boston.example.com"})
    assert set(wrong) == {"valid", "reason", "message"}
    assert (wrong["valid"], wrong["reason"]) == (False, "name_mismatch")
    later = arraykit.pki.verify(cert, ca["certificate_pem"],
                                {"expected_name": "newyork.example.com", "at": "2100-01-01T00:00:00Z"})
    assert later["reason"] == "expired"
    revoked = arraykit.pki.verify(cert, [ca["certificate_pem"]],
                                  {"expected_name": "newyork.example.com",
                                   "revoked_serials": [signed["certificate"]["serial"]]})
    assert revoked["reason"] == "revoked"
    foreign = arraykit.pki.create_ca()
    assert arraykit.pki.verify(cert, foreign["certificate_pem"],
                               {"expected_name": "newyork.example.com"})["reason"] == "untrusted_issuer"
    malformed = arraykit.pki.verify("garbage", ca["certificate_pem"], {"expected_name": "a.example.com"})
    assert malformed["reason"] == "malformed"
    # Old and new CA during a rollover, as a list.
    both = arraykit.pki.verify(cert, [foreign["certificate_pem"], ca["certificate_pem"]],
                               {"expected_name": "newyork.example.com"})
    assert both["valid"] is True


def test_refused_csr_raises_permission_denied_with_reason(ca):
    request = arraykit.pki.create_request({"name": "detroit.example.com"})
    with pytest.raises(arraykit.PermissionDeniedError) as info:
        arraykit.pki.sign_csr(ca["certificate_pem"], ca["private_key_pem"], request["csr_pem"],
                              {"members": MEMBERS})
    assert info.value.reason == "not_a_member"
    assert info.value.message == "'detroit.example.com' is not a member of the array"
    assert info.value.code == 7


def test_bad_documents_name_the_field(ca):
    with pytest.raises(arraykit.InvalidArgumentError, match=r"options\.key_type"):
        arraykit.pki.create_ca({"key_type": "rsa-1024"})
    with pytest.raises(arraykit.InvalidArgumentError, match=r"request\.name: is required"):
        arraykit.pki.create_request({})
    with pytest.raises(arraykit.InvalidArgumentError, match=r"options\.members\[0\]"):
        arraykit.pki.sign_csr(ca["certificate_pem"], ca["private_key_pem"], "x", {"members": [3]})
    with pytest.raises(arraykit.InvalidArgumentError, match=r"options\.at"):
        arraykit.pki.verify("x", ca["certificate_pem"], {"expected_name": "a.example.com", "at": "noon"})
    with pytest.raises(arraykit.InvalidArgumentError, match="trusted_ca_pem"):
        arraykit.pki.verify("x", 42, {"expected_name": "a.example.com"})
    with pytest.raises(TypeError, match="^options: not representable as JSON"):
        arraykit.pki.create_ca({"now": object()})


def test_keys_never_appear_in_error_messages(ca):
    other = arraykit.pki.create_ca()
    request = arraykit.pki.create_request({"name": "newyork.example.com"})
    damaged = ca["private_key_pem"].replace("\n", "\nAAAA", 1)
    body = "".join(ca["private_key_pem"].splitlines()[1:-1])
    for key in (damaged, other["private_key_pem"], "garbage"):
        with pytest.raises(arraykit.Error) as info:
            arraykit.pki.sign_csr(ca["certificate_pem"], key, request["csr_pem"], {"members": MEMBERS})
        assert "PRIVATE KEY" not in info.value.message
        assert body[48:80] not in info.value.message
    with pytest.raises(arraykit.InvalidArgumentError) as info:
        arraykit.pki.inspect_certificate(ca["private_key_pem"])
    assert "PRIVATE KEY" not in info.value.message


def test_inspect_and_fingerprint_match_openssl(ca, tmp_path):
    info = arraykit.pki.inspect_certificate(ca["certificate_pem"])
    assert info == {**ca["certificate"]}
    listing = arraykit.pki.inspect_truststore(ca["certificate_pem"])
    assert [entry["fingerprint_sha256"] for entry in listing] == [info["fingerprint_sha256"]]
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl CLI not installed")
    path = tmp_path / "ca.pem"
    path.write_text(ca["certificate_pem"])
    out = subprocess.run([openssl, "x509", "-noout", "-fingerprint", "-sha256", "-in", str(path)],
                         capture_output=True, text=True, check=True).stdout.strip()
    assert out.split("=", 1)[1] == info["fingerprint_sha256"]


def test_plans():
    join = arraykit.pki.plan(ARRAY, {"operation": "join", "member": "detroit.example.com"})
    assert join["plan"] == "join"
    assert [s["step"] for s in join["steps"]] == ["trust_ca", "issue_certificate", "add_member"]
    rollover = arraykit.pki.plan(ARRAY, {"operation": "new_primary", "member": "newyork.example.com"})
    assert rollover["steps"][0] == {"step": "create_ca", "member": "newyork.example.com", "ca": "next"}
    with pytest.raises(arraykit.FailedPreconditionError):
        arraykit.pki.plan(ARRAY, {"operation": "leave", "member": "boston.example.com"})
    with pytest.raises(arraykit.InvalidArgumentError, match=r"operation\.operation"):
        arraykit.pki.plan(ARRAY, {"operation": "merge"})


def test_tls_policy():
    policy = arraykit.pki.tls_policy()
    assert "TLS_AES_128_GCM_SHA256" in policy["tls13_suites"]
    strict = arraykit.pki.tls_policy({"min_version": "1.3"})
    assert strict["tls12_suites"] == []
    with pytest.raises(arraykit.InvalidArgumentError) as info:
        arraykit.pki.tls_policy({"suites": ["SSL_RSA_WITH_RC4_128_MD5"]})
    assert "SSL_RSA_WITH_RC4_128_MD5" in info.value.message
    assert "TLS_AES_128_GCM_SHA256" in info.value.message


def test_key_generation_releases_the_gil():
    # RSA-3072 generation takes long enough that a Python thread gets to run meanwhile — but
    # only if the call released the GIL.
    ticks = []
    stop = threading.Event()

    def tick():
        while not stop.is_set():
            ticks.append(time.monotonic())
            stop.wait(0.001)

    thread = threading.Thread(target=tick)
    thread.start()
    try:
        start = time.monotonic()
        request = arraykit.pki.create_request({"name": "a.example.com", "key_type": "rsa-3072"})
        end = time.monotonic()
    finally:
        stop.set()
        thread.join()
    assert request["key_type"] == "rsa-3072"
    assert len([t for t in ticks if start < t < end]) >= 2


def test_loaded_certificate_authority_signs_many(ca):
    authority = arraykit.pki.CertificateAuthority(ca["certificate_pem"], ca["private_key_pem"])
    assert authority.certificate()["certificate_pem"] == ca["certificate_pem"]
    serials = set()
    for name in MEMBERS:
        request = arraykit.pki.create_request({"name": name})
        signed = authority.sign_csr(request["csr_pem"], {"members": MEMBERS})
        assert signed["certificate"]["dns_names"] == [name]
        serials.add(signed["certificate"]["serial"])
        assert arraykit.pki.verify(signed["certificate_pem"], ca["certificate_pem"],
                                   {"expected_name": name})["valid"] is True
    assert len(serials) == 2
    request = arraykit.pki.create_request({"name": "detroit.example.com"})
    with pytest.raises(arraykit.PermissionDeniedError) as refused:
        authority.sign_csr(request["csr_pem"], {"members": MEMBERS})
    assert refused.value.reason == "not_a_member"


def test_loaded_certificate_authority_refuses_a_foreign_key(ca):
    other = arraykit.pki.create_ca()
    with pytest.raises(arraykit.InvalidArgumentError) as error:
        arraykit.pki.CertificateAuthority(ca["certificate_pem"], other["private_key_pem"])
    assert "PRIVATE KEY" not in error.value.message


def test_option_typos_raise_unknown_field_with_the_right_name(ca):
    request, signed = issue(ca)
    with pytest.raises(arraykit.InvalidArgumentError) as revoked:
        arraykit.pki.verify(signed["certificate_pem"], ca["certificate_pem"],
                            {"expected_name": "newyork.example.com", "revoked_serial": ["01"]})
    assert revoked.value.reason == "unknown_field"
    assert revoked.value.message == (
        "options.revoked_serial: unknown field (did you mean revoked_serials?)")
    with pytest.raises(arraykit.InvalidArgumentError) as expected:
        arraykit.pki.sign_csr(ca["certificate_pem"], ca["private_key_pem"], request["csr_pem"],
                              {"members": MEMBERS, "expected_nmae": "boston.example.com"})
    assert expected.value.reason == "unknown_field"
    assert "did you mean expected_name?" in expected.value.message
    with pytest.raises(arraykit.InvalidArgumentError) as version:
        arraykit.pki.tls_policy({"min_versoin": "1.3"})
    assert version.value.reason == "unknown_field"
    assert version.value.message == "request.min_versoin: unknown field (did you mean min_version?)"
    with pytest.raises(arraykit.InvalidArgumentError) as chain:
        arraykit.pki.verify(signed["certificate_pem"], ca["certificate_pem"],
                            {"expected_name": "newyork.example.com", "presented_chain": []})
    assert chain.value.reason == "unknown_field"


def _der(pem):
    import base64
    body = "".join(line for line in pem.splitlines() if not line.startswith("-----"))
    return base64.b64decode(body)


def test_der_certificates_as_bytes(ca):
    _, signed = issue(ca)
    der = _der(signed["certificate_pem"])
    assert b"\0" in der
    assert arraykit.pki.certificate_pem(der) == signed["certificate_pem"]
    assert arraykit.pki.inspect_certificate(der)["serial"] == signed["certificate"]["serial"]
    assert arraykit.pki.verify(der, ca["certificate_pem"],
                               {"expected_name": "newyork.example.com"})["valid"] is True
    with pytest.raises(arraykit.InvalidArgumentError) as trailing:
        arraykit.pki.certificate_pem(der + b"\0\0")
    assert trailing.value.reason == "malformed"
    # What a peer presented: DER with trailing bytes is a rejection, not an exception.
    verdict = arraykit.pki.verify(der + b"\0\0", ca["certificate_pem"],
                                  {"expected_name": "newyork.example.com"})
    assert verdict["valid"] is False and verdict["reason"] == "malformed"
    two = arraykit.pki.verify(signed["certificate_pem"] * 2, ca["certificate_pem"],
                              {"expected_name": "newyork.example.com"})
    assert two["reason"] == "malformed"


def test_strict_names_and_ca_lifetime(ca):
    with pytest.raises(arraykit.InvalidArgumentError) as ip:
        arraykit.pki.create_request({"name": "10.0.0.1"})
    assert ip.value.reason == "name_not_fqdn"
    short = arraykit.pki.create_ca({"lifetime_days": 30, "now": "2026-01-01T00:00:00Z"})
    request = arraykit.pki.create_request({"name": "boston.example.com"})
    with pytest.raises(arraykit.FailedPreconditionError) as outlives:
        arraykit.pki.sign_csr(short["certificate_pem"], short["private_key_pem"],
                              request["csr_pem"], {"members": MEMBERS,
                                                   "now": "2026-01-02T00:00:00Z"})
    assert outlives.value.reason == "outlives_ca"
    assert "roll the CA over" in outlives.value.message
