"""arrayctl placement check | plan as an operator and a script would use it."""
import json
import os
import subprocess

import pytest

ARRAYCTL = os.environ["ARRAYCTL"]
EXAMPLES = os.environ["ARRAYKIT_EXAMPLES"]


def run(*args, stdin=None):
    return subprocess.run([ARRAYCTL, *args], input=stdin, capture_output=True, text=True,
                          timeout=60)


def write(tmp_path, name, doc):
    path = tmp_path / name
    path.write_text(doc if isinstance(doc, str) else json.dumps(doc))
    return str(path)


def members(n, backends=3):
    return [{"name": f"m{i}.example.com",
             "roles": ["frontend"] + (["backend"] if i < backends else []),
             "rack": f"r{i}", "power": f"p{i}"} for i in range(n)]


def test_eleven_members_exits_1_naming_too_many_members(tmp_path):
    path = write(tmp_path, "eleven.json", {"members": members(11), "primary": "m0.example.com"})
    human = run("placement", "check", path)
    assert human.returncode == 1, human.stderr
    assert "too_many_members" in human.stdout
    machine = run("placement", "check", path, "--json")
    assert machine.returncode == 1
    findings = json.loads(machine.stdout)
    assert isinstance(findings, list)
    codes = {f["code"]: f for f in findings}
    assert codes["too_many_members"]["severity"] == "error"
    for f in findings:
        assert set(f) >= {"code", "severity", "message", "members"}


def test_good_array_exits_0(tmp_path):
    path = write(tmp_path, "good.json", {"members": members(3), "primary": "m0.example.com",
                                         "backup_primaries": ["m1.example.com"]})
    result = run("placement", "check", path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 errors" in result.stdout


def test_malformed_file_exits_2_with_a_message(tmp_path):
    path = write(tmp_path, "bad.json", '{"members": [')
    result = run("placement", "check", path)
    assert result.returncode == 2
    assert "error" in result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""


def test_wrong_type_names_the_field(tmp_path):
    path = write(tmp_path, "bad.json", {"members": [{"name": "a.example.com", "roles": "backend"}]})
    result = run("placement", "check", path, "--json")
    assert result.returncode == 2
    assert "members[0].roles" in result.stderr


def test_missing_file_and_bad_usage_exit_2(tmp_path):
    assert run("placement", "check", str(tmp_path / "absent.json")).returncode == 2
    assert run("placement", "check").returncode == 2
    assert run("placement", "check", "a.json", "--bogus").returncode == 2
    assert run("placement", "frobnicate").returncode == 2
    assert run().returncode == 2


def test_stdin_input(tmp_path):
    doc = json.dumps({"members": members(1, backends=1)})
    result = run("placement", "check", "-", "--json", stdin=doc)
    assert result.returncode == 0, result.stderr
    assert isinstance(json.loads(result.stdout), list)


def test_plan_prints_members_and_json(tmp_path):
    inventory = {"members": [{"name": f"n{i}.example.com", "rack": f"r{i % 3}",
                              "power": f"p{i % 3}"} for i in range(6)]}
    path = write(tmp_path, "inventory.json", inventory)
    human = run("placement", "plan", path)
    assert human.returncode == 0, human.stdout + human.stderr
    assert "primary" in human.stdout and "backup 1" in human.stdout
    machine = run("placement", "plan", path, "--json")
    assert machine.returncode == 0
    plan = json.loads(machine.stdout)
    roles = [m["roles"] for m in plan["array"]["members"]]
    assert sum("backend" in r for r in roles) == 3
    assert all("frontend" in r for r in roles)


def test_shipped_inventories_plan_and_check():
    folder = os.path.join(EXAMPLES, "inventories")
    names = sorted(os.listdir(folder))
    assert any(n.endswith(".json") for n in names)
    for name in names:
        if not name.endswith(".json") or name.endswith(".change.json"):
            continue
        path = os.path.join(folder, name)
        with open(path) as f:
            doc = json.load(f)
        verb = "check" if "primary" in doc else "plan"
        result = run("placement", verb, path)
        assert result.returncode in (0, 1), f"{name}: {result.stderr}"


def test_shipped_change_fixes_backend_count_and_is_disruptive():
    folder = os.path.join(EXAMPLES, "inventories")
    array = os.path.join(folder, "two-backends.json")
    change = os.path.join(folder, "add-backends.change.json")
    before = run("placement", "check", array, "--json")
    assert before.returncode == 1
    assert "backend_count" in [f["code"] for f in json.loads(before.stdout)]
    machine = run("placement", "plan-change", array, change, "--json")
    assert machine.returncode == 0, machine.stdout + machine.stderr
    result = json.loads(machine.stdout)
    assert result["disruption"] is True and result["disruption_reasons"]
    assert "backend_count" not in [f["code"] for f in result["findings"]]
    assert len(result["array"]["members"]) == 4
    human = run("placement", "plan-change", array, change)
    assert human.returncode == 0
    assert "Service disruption" in human.stdout and "seattle.example.com" in human.stdout


def test_plan_change_bad_input(tmp_path):
    array = os.path.join(EXAMPLES, "inventories", "two-backends.json")
    missing = run("placement", "plan-change", array)
    assert missing.returncode == 2 and "CHANGE.json" in missing.stderr
    unknown = write(tmp_path, "change.json", {"remove": ["nobody.example.com"]})
    result = run("placement", "plan-change", array, unknown)
    assert result.returncode == 2
    assert "nobody.example.com" in result.stderr


def test_version_and_help():
    assert run("--version").stdout.startswith("arrayctl ")
    help_text = run("--help")
    assert help_text.returncode == 0
    assert "placement check" in help_text.stdout
