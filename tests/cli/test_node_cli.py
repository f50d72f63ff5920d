"""arrayctl --node against live members: admin_host (tests/cli/admin_host.c) runs members of
one in-memory network and serves each one's Admin API on DIR/NAME/admin.sock."""
import json
import os
import signal
import subprocess
import time

import pytest

ARRAYCTL = os.environ["ARRAYCTL"]
ADMIN_HOST = os.environ.get("ADMIN_HOST")

pytestmark = pytest.mark.skipif(not ADMIN_HOST, reason="built without gRPC (no admin_host)")

A, B, C, D = (f"{m}.example.com" for m in "abcd")


@pytest.fixture(scope="module")
def host(tmp_path_factory):
    directory = tmp_path_factory.mktemp("members")
    process = subprocess.Popen([ADMIN_HOST, str(directory), A, B, C, "+" + D],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = process.stdout.readline()
    assert line.strip() == "ready", process.stderr.read()
    yield directory
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == 0, process.stderr.read()


def node(host, name):
    return str(host / name)


def run(*args, env_node=None, stdin=None):
    env = dict(os.environ)
    env.pop("ARRAYKIT_NODE", None)
    if env_node is not None:
        env["ARRAYKIT_NODE"] = env_node
    return subprocess.run([ARRAYCTL, *args], input=stdin, capture_output=True, text=True,
                          timeout=60, env=env)


def ok(result):
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def on(host, name, *args):
    return run("--node", node(host, name), *args)


def json_of(result):
    return json.loads(ok(result).stdout)


def json_error(result):
    return json.loads(result.stderr)["error"]


def wait_until(condition, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def test_status_table_names_members_roles_and_certificates(host):
    out = ok(on(host, A, "status")).stdout
    assert f"primary   {A}" in out
    for name, role in ((A, "primary"), (B, "secondary"), (C, "secondary")):
        assert any(line.startswith(name) and role in line for line in out.splitlines()), out
    assert "CONTACTABLE" in out and "LAG" in out
    assert "EXPIRES" in out and "peer" in out
    assert "writable yes" in out


def test_status_json_is_the_status_document(host):
    status = json_of(on(host, B, "status", "--json"))
    assert status["name"] == B
    assert status["primary"] == A
    assert [m["name"] for m in status["members"]] == [A, B, C]
    assert status["backup_primaries"] == [B, C]


def test_status_mermaid_and_dot_draw_the_topology(host):
    mermaid = ok(on(host, A, "status", "--format", "mermaid")).stdout
    assert mermaid.startswith("graph TD\n")
    assert f'm_a_example_com["{A}<br/>primary"]' in mermaid
    assert "backup 1" in mermaid and "backup 2" in mermaid
    assert "m_a_example_com --> m_b_example_com" in mermaid
    dot = ok(on(host, A, "status", "--format=dot")).stdout
    assert dot.startswith("digraph array {")
    assert "m_a_example_com -> m_c_example_com;" in dot
    assert dot.rstrip().endswith("}")


def test_status_originalstate_before_any_failover(host):
    assert "no failover recorded" in ok(on(host, A, "status", "--originalstate")).stdout
    assert json_of(on(host, A, "status", "--originalstate", "--json")) == {
        "original_formation": None}


def test_node_defaults_to_the_environment(host):
    status = json.loads(ok(run("status", "--json", env_node=node(host, C))).stdout)
    assert status["name"] == C
    # The socket's own path works as well as the data directory.
    status = json_of(run("--node", str(host / A / "admin.sock"), "status", "--json"))
    assert status["name"] == A


def test_repo_put_get_list_delete(host, tmp_path):
    position = json_of(on(host, A, "repo", "put", "sessions", "s1", '{"user": "ann"}',
                          "--wait", "all", "--json"))
    assert set(position) == {"epoch", "index"}
    assert json_of(on(host, B, "repo", "get", "sessions", "s1", "--json")) == {"user": "ann"}
    value = tmp_path / "value.json"
    value.write_text('{"user": "bob", "groups": [1, 2]}')
    ok(on(host, A, "repo", "put", "sessions", "s2", "@" + str(value), "--wait", "all"))
    assert json_of(on(host, C, "repo", "list", "sessions", "--json")) == {
        "s1": {"user": "ann"}, "s2": {"user": "bob", "groups": [1, 2]}}
    table = ok(on(host, C, "repo", "list", "sessions")).stdout
    assert table.splitlines()[0].split() == ["KEY", "VALUE"]
    ok(on(host, A, "repo", "delete", "sessions", "s1", "--wait", "all"))
    missing = on(host, B, "repo", "get", "sessions", "s1")
    assert missing.returncode == 1
    assert "error: not_found:" in missing.stderr
    assert json_of(on(host, A, "repo", "conflicts", "--json"))["conflicts"] == 0


def test_refused_call_exits_1_with_the_reason(host):
    refused = on(host, B, "repo", "put", "sessions", "s3", "1")
    assert refused.returncode == 1
    assert "error: not_primary:" in refused.stderr
    assert A in refused.stderr
    machine = on(host, B, "repo", "put", "sessions", "s3", "1", "--json")
    assert machine.returncode == 1 and machine.stdout == ""
    error = json_error(machine)
    assert error["code"] == 1000 and error["reason"] == "not_primary"
    again = on(host, A, "array", "create", os.devnull)
    assert again.returncode == 2  # an empty document is bad input
    synced = on(host, B, "array", "wait-synced", "--timeout", "1", "--json")
    assert synced.returncode == 1 and json_error(synced)["reason"] == "not_primary"
    # The member's own not_contactable (the joiner cannot be reached) is a refusal, exit 1,
    # not the exit 3 of a member that cannot be reached.
    unreachable = on(host, A, "array", "join", "--secondary", "z.example.com", "--fingerprint",
                     "AB" * 32, "--token", "AKJT-AAAA", "--timeout", "3", "--json")
    assert unreachable.returncode == 1, unreachable.stderr
    assert json_error(unreachable)["reason"] == "not_contactable"


def test_unreachable_member_exits_3(host, tmp_path):
    result = run("--node", str(tmp_path), "status")
    assert result.returncode == 3
    assert "not_contactable" in result.stderr
    assert f"no arrayd is listening on {tmp_path}/admin.sock" in result.stderr
    machine = run("--node", str(tmp_path / "gone.sock"), "repo", "list", "sessions", "--json")
    assert machine.returncode == 3 and json_error(machine)["reason"] == "not_contactable"


def test_bad_input_exits_2(host):
    assert on(host, A, "status", "--format", "svg").returncode == 2
    assert on(host, A, "repo", "put", "sessions", "k").returncode == 2
    assert on(host, A, "array", "edit_backup_primary", B).returncode == 2  # --position needed
    assert on(host, A, "security", "join-token", "--ttl", "0").returncode == 2
    nowhere = run("status")
    assert nowhere.returncode == 2 and "ARRAYKIT_NODE" in nowhere.stderr
    typo = on(host, A, "config", "edit", "--array-monitortme", "5", "--json")
    assert typo.returncode == 2
    error = json_error(typo)
    assert error["reason"] == "unknown_field" and "--array-monitortime" in error["message"]


def test_config_edit_with_the_seed_names(host):
    result = json_of(on(host, A, "config", "edit", "--array-monitortime", "0.2",
                        "--array-maxmonitors=4", "--json"))
    assert result["resilience"]["monitor_interval_s"] == 0.2
    assert result["resilience"]["monitor_attempts"] == 4
    assert json_of(on(host, A, "status", "--json"))["resilience"]["monitor_attempts"] == 4
    repeated = on(host, A, "config", "edit", "--array-maxmonitors", "3", "--array-maxmonitors",
                  "5")
    assert repeated.returncode == 2


def test_backup_primaries_verbs(host):
    assert json_of(on(host, A, "array", "list_backup_primaries", "--json")) == {
        "backup_primaries": [B, C]}
    assert json_of(on(host, A, "array", "remove_backup_primary", C, "--json")) == {
        "backup_primaries": [B]}
    assert json_of(on(host, A, "array", "add_backup_primary", C, "--position", "1",
                      "--json")) == {"backup_primaries": [C, B]}
    out = ok(on(host, A, "array", "edit_backup_primary", C, "--position", "2")).stdout
    assert out.split() == ["POSITION", "MEMBER", "1", B, "2", C]
    listed = on(host, A, "array", "add_backup_primary", B)
    assert listed.returncode == 1 and "already_listed" in listed.stderr


def test_join_token_join_detach_and_make_primary(host):
    issued = json_of(on(host, D, "security", "join-token", "--ttl", "120", "--json"))
    assert issued["token"].startswith("AKJT-")
    assert issued["member"] == D and issued["ttl_s"] == 120
    readable = ok(on(host, D, "security", "join-token")).stdout
    assert f"CA fingerprint to confirm: {issued['ca_fingerprint']}" in readable

    wrong = on(host, A, "array", "join", "--secondary", D, "--fingerprint",
               "00" * 32, "--token", issued["token"])
    assert wrong.returncode == 1 and "fingerprint_mismatch" in wrong.stderr
    joined = json_of(on(host, A, "array", "join", "--secondary", D, "--fingerprint",
                        issued["ca_fingerprint"], "--token", issued["token"], "--json"))
    assert joined["joined"] == D
    assert D in [m["name"] for m in json_of(on(host, A, "status", "--json"))["members"]]
    ok(on(host, A, "array", "wait-synced", "--timeout", "10"))

    detached = json_of(on(host, A, "array", "detach", D, "--json"))
    assert detached == {"detached": D}
    assert wait_until(lambda: len(json_of(on(host, D, "status", "--json"))["members"]) == 1)
    ok(on(host, D, "array", "clean"))

    ok(on(host, A, "array", "make_primary", B))
    assert wait_until(lambda: json_of(on(host, B, "status", "--json"))["writable"])
    ok(on(host, B, "array", "make_primary", A))
    assert wait_until(lambda: json_of(on(host, A, "status", "--json"))["writable"])


def test_status_watch_redraws_until_interrupted(host):
    process = subprocess.Popen([ARRAYCTL, "--node", node(host, A), "status", "--watch"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(1.5)
    ok(on(host, A, "repo", "put", "sessions", "watched", "1"))
    time.sleep(1.2)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=10)
    assert process.returncode == 0, err
    assert out.count("----") >= 2
    assert out.count(f"primary   {A}") >= 2


def command(process, line):
    process.stdin.write(line + "\n")
    process.stdin.flush()
    return process.stdout.readline().strip()


def test_uncontactable_member_and_the_original_formation_after_a_failover(tmp_path):
    """A member cut off is marked in the topology; after the primary stops, the new primary's
    status --originalstate shows the formation recorded at the failover."""
    process = subprocess.Popen([ADMIN_HOST, str(tmp_path), A, B, C], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout.readline().strip() == "ready"
        ok(on(tmp_path, A, "config", "edit", "--array-failoverenabled", "1",
              "--array-monitortime", "0.05", "--array-maxmonitors", "3",
              "--array-resubmitfindprimarywait", "0.05"))

        assert command(process, f"isolate {C}") == "ok"
        assert wait_until(lambda: json_of(on(tmp_path, A, "status", "--json"))["uncontactable"]
                          == [C])
        mermaid = ok(on(tmp_path, A, "status", "--format", "mermaid")).stdout
        assert f'm_c_example_com["{C}<br/>secondary, backup 2<br/>uncontactable"]' in mermaid
        assert "m_a_example_com -.-x m_c_example_com" in mermaid
        dot = ok(on(tmp_path, A, "status", "--format", "dot")).stdout
        assert "m_a_example_com -> m_c_example_com [style=dashed];" in dot
        table = ok(on(tmp_path, A, "status")).stdout
        assert any(line.startswith(C) and " no " in line for line in table.splitlines()), table
        assert command(process, "heal") == "ok"
        assert wait_until(lambda: json_of(on(tmp_path, A, "status", "--json"))["uncontactable"]
                          == [])

        assert command(process, f"close {A}") == "ok"
        gone = on(tmp_path, A, "status")
        assert gone.returncode == 3 and "not_contactable" in gone.stderr
        assert wait_until(lambda: json_of(on(tmp_path, B, "status", "--json"))["writable"],
                          timeout=20)
        original = json_of(on(tmp_path, B, "status", "--originalstate", "--json"))
        assert original["original_formation"]["primary"] == A
        assert original["original_formation"]["backup_primaries"] == [B, C]
        table = ok(on(tmp_path, B, "status", "--originalstate")).stdout
        assert "original formation" in table and f"primary   {A}" in table
        mermaid = ok(on(tmp_path, B, "status", "--originalstate", "--format", "mermaid")).stdout
        assert f'm_a_example_com["{A}<br/>primary"]' in mermaid
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0, process.stderr.read()
