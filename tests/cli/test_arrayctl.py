"""arrayctl as an operator and a script would use it: placement check | plan | plan-change,
help at every level, and the shape of errors."""
import json
import os
import re
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
    report = json.loads(machine.stdout)
    assert set(report) == {"findings", "errors", "warnings", "worst_case_failover_s"}
    findings = report["findings"]
    assert report["errors"] == sum(f["severity"] == "error" for f in findings)
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


def test_stdin_input(tmp_path):
    doc = json.dumps({"members": members(1, backends=1)})
    result = run("placement", "check", "-", "--json", stdin=doc)
    assert result.returncode == 0, result.stderr
    assert isinstance(json.loads(result.stdout)["findings"], list)


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
    assert "backend_count" in [f["code"] for f in json.loads(before.stdout)["findings"]]
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


# ---- the same document as the library -------------------------------------------------------

def library():
    """The Python module over the same libarraykit (ctest puts it on PYTHONPATH)."""
    return pytest.importorskip("arraykit")


def test_check_json_is_the_library_report(tmp_path):
    arraykit = library()
    for name in ("datacenter-array.json", "two-backends.json", "eleven-members.json"):
        path = os.path.join(EXAMPLES, "inventories", name)
        with open(path) as f:
            doc = json.load(f)
        result = run("placement", "check", path, "--json")
        assert result.returncode in (0, 1), result.stderr
        assert json.loads(result.stdout) == arraykit.placement.check(doc), name


def test_plan_and_plan_change_json_are_the_library_documents():
    arraykit = library()
    folder = os.path.join(EXAMPLES, "inventories")
    inventory_path = os.path.join(folder, "three-racks.json")
    with open(inventory_path) as f:
        inventory = json.load(f)
    plan = run("placement", "plan", inventory_path, "--json")
    assert json.loads(plan.stdout) == arraykit.placement.plan(inventory)
    array_path = os.path.join(folder, "two-backends.json")
    change_path = os.path.join(folder, "add-backends.change.json")
    with open(array_path) as f, open(change_path) as g:
        array, change = json.load(f), json.load(g)
    result = run("placement", "plan-change", array_path, change_path, "--json")
    assert json.loads(result.stdout) == arraykit.placement.plan_change(array, change)


# ---- help at every level ---------------------------------------------------------------------

def command_words():
    """Every command's words, read from `arrayctl --help` (so a new command is covered too)."""
    listing = run("--help").stdout
    words = []
    for line in listing.splitlines():
        match = re.match(r"^  ([a-z][a-z_-]*(?: [a-z][a-z_-]*)*)(?: |$)", line)
        if match:
            words.append(tuple(w for w in match.group(1).split() if not w.isupper()))
    return words


COMMANDS = [("placement", "check"), ("placement", "plan"), ("placement", "plan-change"),
            ("security", "ca", "create"), ("security", "peerca"), ("security", "cert", "request"),
            ("security", "cert", "issue"), ("security", "verify"), ("simulate",),
            # against a live member (--node; tests/cli/test_node_cli.py runs them)
            ("array", "create"), ("array", "join"), ("array", "detach"),
            ("array", "make_primary"), ("array", "list_backup_primaries"),
            ("array", "add_backup_primary"), ("array", "edit_backup_primary"),
            ("array", "remove_backup_primary"), ("array", "clean"), ("array", "wait-synced"),
            ("security", "join-token"), ("status",), ("config", "edit"),
            ("repo", "put"), ("repo", "get"), ("repo", "delete"), ("repo", "list"),
            ("repo", "conflicts")]
GROUPS = [("placement",), ("security",), ("security", "ca"), ("security", "cert"), ("array",),
          ("config",), ("repo",)]


def test_the_help_listing_names_every_command():
    assert sorted(command_words()) == sorted(COMMANDS)


@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_top_level_help_goes_to_stdout_with_exit_0(flag):
    result = run(flag)
    assert result.returncode == 0 and result.stderr == ""
    assert result.stdout.startswith("usage: arrayctl COMMAND")
    for words in COMMANDS:
        assert " ".join(words) in result.stdout
    assert run("help").stdout == result.stdout


@pytest.mark.parametrize("words", COMMANDS, ids=" ".join)
@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_every_command_prints_its_usage_with_exit_0(words, flag):
    result = run(*words, flag)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert result.stdout.startswith("usage: arrayctl " + " ".join(words) + " ")
    assert "exit codes:" in result.stdout
    # Help wins over everything else on the line, even arguments that would be errors.
    assert run(*words, "no-such-file.json", "--bogus", flag).stdout == result.stdout
    assert run("help", *words).stdout == result.stdout


@pytest.mark.parametrize("group", GROUPS, ids=" ".join)
@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_every_group_lists_its_verbs_with_exit_0(group, flag):
    result = run(*group, flag)
    assert result.returncode == 0 and result.stderr == ""
    assert result.stdout.startswith("usage: arrayctl " + " ".join(group) + " VERB")
    verbs = [c[len(group):] for c in COMMANDS if c[:len(group)] == group]
    assert verbs
    for verb in verbs:
        assert "\n  " + " ".join(verb) + " " in result.stdout
    others = [c for c in COMMANDS if c[:len(group)] != group]
    for other in others:
        assert "\n  " + " ".join(other) + " " not in result.stdout


@pytest.mark.parametrize("group", [()] + GROUPS, ids=lambda g: " ".join(g) or "arrayctl")
def test_a_bare_group_lists_its_verbs_on_stderr_with_exit_2(group):
    result = run(*group)
    assert result.returncode == 2
    assert result.stdout == ""
    for command in COMMANDS:
        if command[:len(group)] == group:
            assert " ".join(command[len(group):]) in result.stderr


@pytest.mark.parametrize("words,verbs", [
    (("frobnicate",), ["placement check", "security verify", "simulate"]),
    (("placement", "chek"), ["check", "plan", "plan-change"]),
    (("security", "ca", "destroy"), ["create"]),
    (("security", "cert", "sign"), ["request", "issue"]),
], ids=lambda v: " ".join(v) if isinstance(v, tuple) else "")
def test_an_unknown_verb_is_exit_2_with_the_verbs(words, verbs):
    result = run(*words)
    assert result.returncode == 2
    assert result.stdout == ""
    kind = "command" if len(words) == 1 else "verb"
    assert f"unknown {kind} '{words[-1]}'" in result.stderr
    for verb in verbs:
        assert "\n  " + verb + " " in result.stderr or "\n  " + verb + "\n" in result.stderr


# ---- errors: a reason word from the library, the message, one JSON shape ----------------------

def json_error(result):
    """The {"error": {...}} object `--json` prints on stderr; stdout stays empty."""
    assert result.stdout == ""
    doc = json.loads(result.stderr)
    assert set(doc) == {"error"}
    assert set(doc["error"]) == {"code", "status", "reason", "message"}
    return doc["error"]


def test_a_typo_in_a_change_is_unknown_field_naming_add(tmp_path):
    array = os.path.join(EXAMPLES, "inventories", "two-backends.json")
    change = write(tmp_path, "typo.json", {"ad": [{"name": "seattle.example.com"}]})
    machine = run("placement", "plan-change", array, change, "--json")
    assert machine.returncode == 2
    error = json_error(machine)
    assert error == {"code": 3, "status": "invalid_argument", "reason": "unknown_field",
                     "message": "ad: unknown field (did you mean add?)"}
    human = run("placement", "plan-change", array, change)
    assert human.returncode == 2 and human.stdout == ""
    assert "error: unknown_field: ad: unknown field (did you mean add?)" in human.stderr


def test_typos_in_arrays_and_inventories_name_the_nearest_field(tmp_path):
    array = write(tmp_path, "array.json", {"members": members(1, backends=1),
                                           "resilience": {"failover_enable": True}})
    error = json_error(run("placement", "check", array, "--json"))
    assert error["reason"] == "unknown_field"
    assert "did you mean failover_enabled?" in error["message"]
    inventory = write(tmp_path, "inventory.json",
                      {"members": [{"name": "a.example.com", "capacty": 2}]})
    error = json_error(run("placement", "plan", inventory, "--json"))
    assert error["reason"] == "unknown_field"
    assert error["message"] == "members[0].capacty: unknown field (did you mean capacity?)"


def test_every_json_error_carries_a_reason(tmp_path):
    array = os.path.join(EXAMPLES, "inventories", "two-backends.json")
    cases = {
        "invalid_json": ("placement", "check", write(tmp_path, "bad.json", "{"), "--json"),
        "duplicate_key": ("placement", "check",
                          write(tmp_path, "dup.json", '{"members": [], "members": []}'), "--json"),
        "not_found": ("placement", "plan-change", array,
                      write(tmp_path, "gone.json", {"remove": ["nobody.example.com"]}), "--json"),
        "invalid_argument": ("placement", "check",
                             write(tmp_path, "type.json", {"members": "x"}), "--json"),
        "unreadable_file": ("placement", "check", str(tmp_path / "absent.json"), "--json"),
        "usage": ("placement", "check", "--json"),
    }
    for reason, argv in cases.items():
        result = run(*argv)
        assert result.returncode == 2, (reason, result.stderr)
        error = json_error(result)
        assert error["reason"] == reason, (reason, error)
        assert error["message"]
        library_error = reason not in ("usage", "unreadable_file")
        assert (error["code"] is not None) == library_error
        assert (error["status"] is not None) == library_error
    unknown = run("placement", "chek", "--json")
    assert unknown.returncode == 2
    assert json_error(unknown)["reason"] == "usage"
