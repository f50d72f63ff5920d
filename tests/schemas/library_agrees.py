#!/usr/bin/python3
"""The library and the schemas agree: every document of tests/schemas/valid/ (each satisfies
its schema, checked by validate.py) goes through the library call that reads it and must not be
refused, and every document of tests/schemas/invalid/ must be refused by the library too (except
the ones listed below). Guards the schemas against describing fields or limits the library does
not have, and the library against accepting what the schemas refuse.

usage: PYTHONPATH=<dir of the arraykit module> library_agrees.py REPO_ROOT
"""
import json
import pathlib
import sys

import arraykit

# The array the change, rotation and verification documents of tests/schemas/valid/ refer to.
ARRAY = {
    "members": [
        {"name": name, "roles": ["frontend", "backend"]}
        for name in ("boston.example.com", "newyork.example.com", "detroit.example.com")
    ] + [{"name": "chicago.example.com", "roles": ["frontend"]}],
    "primary": "boston.example.com",
}


# Documents only the schema judges, and why.
SCHEMA_ONLY = {
    # `expect` is read by the scenario test runner, not by the simulator.
    "scenario.expect-typo.json": "expect is the test runner's",
}


def signed_certificate():
    """A CA and a certificate for newyork, valid at the instants the documents use."""
    ca = arraykit.pki.create_ca({"now": "2026-01-01T00:00:00Z"})
    request = arraykit.pki.create_request({"name": "newyork.example.com"})
    signed = arraykit.pki.sign_csr(ca["certificate_pem"], ca["private_key_pem"],
                                   request["csr_pem"],
                                   {"members": ["newyork.example.com"],
                                    "now": "2026-01-01T00:00:00Z"})
    return ca, signed["certificate_pem"]


def read(kind, document):
    """Passes `document` to the library call that reads documents of `kind`."""
    if kind == "array":
        return arraykit.placement.check(document)
    if kind == "change":
        return arraykit.placement.plan_change(ARRAY, document)
    if kind == "inventory":
        return arraykit.placement.plan(document)
    if kind == "scenario":
        return arraykit.simulate(document)
    if kind == "pki-ca-options":
        return arraykit.pki.create_ca(document)
    if kind == "pki-request":
        return arraykit.pki.create_request(document)
    if kind == "pki-sign-options":
        ca = arraykit.pki.create_ca({"now": "2026-01-01T00:00:00Z"})
        request = arraykit.pki.create_request({"name": "newyork.example.com"})
        return arraykit.pki.sign_csr(ca["certificate_pem"], ca["private_key_pem"],
                                     request["csr_pem"], document)
    if kind == "pki-verify-options":
        ca, certificate = signed_certificate()
        return arraykit.pki.verify(certificate, ca["certificate_pem"], document)
    if kind == "pki-rotation-operation":
        return arraykit.pki.plan(ARRAY, document)
    if kind == "pki-tls-policy-request":
        return arraykit.pki.tls_policy(document)
    raise SystemExit(f"library_agrees.py: no library call known for {kind} documents")


def main():
    root = pathlib.Path(sys.argv[1])
    problems = []
    paths = sorted((root / "tests" / "schemas" / "valid").glob("*.json"))
    for path in paths:
        kind = path.name.split(".", 1)[0]
        document = json.loads(path.read_text(encoding="utf-8"))
        try:
            read(kind, document)
        except arraykit.Error as e:
            problems.append(f"{path.name}: the schema accepts it, the library refuses it: {e}")
    invalid = sorted((root / "tests" / "schemas" / "invalid").glob("*.json"))
    for name in SCHEMA_ONLY:
        if not (root / "tests" / "schemas" / "invalid" / name).is_file():
            problems.append(f"{name}: listed in library_agrees.py, not in tests/schemas/invalid/")
    for path in invalid:
        if path.name in SCHEMA_ONLY:
            continue
        kind = path.name.split(".", 1)[0]
        document = json.loads(path.read_text(encoding="utf-8"))
        try:
            read(kind, document)
            problems.append(f"{path.name}: the schema refuses it, the library accepts it")
        except arraykit.Error:
            pass
    for problem in problems:
        print(problem)
    if problems or not paths or not invalid:
        print(f"FAILED: {len(problems)} problems")
        return 1
    print(f"OK: the library accepts the {len(paths)} documents of tests/schemas/valid/ and refuses "
          f"{len(invalid) - len(SCHEMA_ONLY)} of tests/schemas/invalid/ "
          f"({len(SCHEMA_ONLY)} schema-only)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
