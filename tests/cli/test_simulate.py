"""arrayctl simulate as an operator and a script would use it."""
import json
import os
import pathlib
import subprocess

import pytest

ARRAYCTL = os.environ["ARRAYCTL"]
SCENARIOS = pathlib.Path(os.environ["ARRAYKIT_EXAMPLES"]) / "scenarios"
FILES = sorted(SCENARIOS.glob("*.json"))


def run(*args, stdin=None):
    return subprocess.run([ARRAYCTL, *args], input=stdin, capture_output=True, text=True,
                          timeout=120)


def write(tmp_path, name, doc):
    path = tmp_path / name
    path.write_text(doc if isinstance(doc, str) else json.dumps(doc))
    return str(path)


def load(name):
    return json.loads((SCENARIOS / name).read_text())


def test_the_examples_are_there():
    assert len(FILES) >= 6


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_every_example_runs_and_json_parses(path):
    machine = run("simulate", str(path), "--json")
    assert machine.returncode == 0, machine.stderr
    assert machine.stderr == ""
    result = json.loads(machine.stdout)
    assert set(result) >= {"arrays", "standalone", "original_formation",
                           "manual_recovery_required", "timeline"}
    for array in result["arrays"]:
        assert set(array) >= {"primary", "members", "uncontactable", "repaired", "epoch",
                              "writable"}
    for entry in result["timeline"]:
        assert set(entry) >= {"at_s", "member", "event", "reason"}
    # The expectations written into the example hold through the CLI as well.
    expect = json.loads(path.read_text()).get("expect", {})
    for key in ("standalone", "manual_recovery_required"):
        if key in expect:
            assert result[key] == expect[key]
    if "arrays" in expect:
        assert sorted(a["primary"] for a in result["arrays"]) == \
            sorted(a["primary"] for a in expect["arrays"])


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_readable_output_has_the_timeline_reasons_and_the_formation(path):
    human = run("simulate", str(path))
    assert human.returncode == 0, human.stderr
    result = json.loads(run("simulate", str(path), "--json").stdout)
    assert "Timeline" in human.stdout
    assert "Final formation" in human.stdout
    for entry in result["timeline"]:
        assert entry["reason"] in human.stdout
        assert entry["event"] in human.stdout
    for array in result["arrays"]:
        assert array["primary"] in human.stdout
    assert "Result after" in human.stdout


def test_partition_worked_case_reads_as_the_design_says():
    human = run("simulate", str(SCENARIOS / "02_partition_two_arrays.json"))
    assert human.returncode == 0
    promoted = [line for line in human.stdout.splitlines() if " promoted " in line]
    assert len(promoted) == 1
    assert promoted[0].split()[0] == "780.0"
    assert "newyork.example.com unreachable for 180 s, next in backup list" in promoted[0]
    assert "the original formation is restored" in human.stdout


def test_same_input_same_output():
    path = str(SCENARIOS / "04_quorum_no_split_brain.json")
    assert run("simulate", path, "--json").stdout == run("simulate", path, "--json").stdout
    assert run("simulate", path).stdout == run("simulate", path).stdout


def test_bad_event_exits_2_naming_the_index(tmp_path):
    scenario = load("01_primary_crash.json")
    scenario["events"].append({"at_s": 1300, "crash": "nobody.example.com"})
    path = write(tmp_path, "bad.json", scenario)
    for extra in ([], ["--json"]):
        result = run("simulate", path, *extra)
        assert result.returncode == 2
        assert result.stdout == ""
        assert "events[2]" in result.stderr
        assert "nobody.example.com" in result.stderr
        assert "Traceback" not in result.stderr

    scenario = load("01_primary_crash.json")
    scenario["events"][1]["at_s"] = -1
    result = run("simulate", write(tmp_path, "negative.json", scenario))
    assert result.returncode == 2
    assert "events[1]: at_s must not be negative" in result.stderr


def test_malformed_file_missing_file_and_bad_usage_exit_2(tmp_path):
    result = run("simulate", write(tmp_path, "bad.json", '{"members": ['))
    assert result.returncode == 2
    assert "not valid JSON" in result.stderr and result.stdout == ""
    assert run("simulate", str(tmp_path / "absent.json")).returncode == 2
    assert run("simulate").returncode == 2
    assert run("simulate", "a.json", "b.json").returncode == 2
    assert run("simulate", str(FILES[0]), "--bogus").returncode == 2


def test_stdin_input():
    text = (SCENARIOS / "01_primary_crash.json").read_text()
    machine = run("simulate", "-", "--json", stdin=text)
    assert machine.returncode == 0, machine.stderr
    assert json.loads(machine.stdout)["arrays"][0]["primary"] == "boston.example.com"
    human = run("simulate", "-", stdin=text)
    assert human.returncode == 0
    assert "Simulation of standard input" in human.stdout


def test_manual_recovery_required_is_reported_and_exits_0(tmp_path):
    # 06 stopped after the heal, before the operator's clean: two repaired arrays remain.
    scenario = load("06_manual_recovery.json")
    scenario["until_s"] = 1250
    scenario["events"] = [e for e in scenario["events"] if e["at_s"] <= 1250]
    path = write(tmp_path, "manual.json", scenario)
    machine = run("simulate", path, "--json")
    assert machine.returncode == 0
    assert json.loads(machine.stdout)["manual_recovery_required"] is True
    human = run("simulate", path)
    assert human.returncode == 0
    assert "manual recovery required: yes" in human.stdout
    assert "Result after 1250 s: manual recovery required" in human.stdout


TEST_SCENARIOS = pathlib.Path(__file__).resolve().parents[1] / "scenarios"


def test_summary_says_not_restored_when_no_array_is_left_and_the_primary_is_down():
    # Quorum mode: detroit is cleaned, then boston (the primary) crashes; nobody can win a
    # majority of the old voters, so no array is left.
    human = run("simulate", str(TEST_SCENARIOS / "quorum_clean_voter_then_primary_crash.json"))
    assert human.returncode == 0, human.stderr
    summary = [line for line in human.stdout.splitlines() if line.startswith("Result after")]
    assert len(summary) == 1
    assert ("0 arrays, 3 standalone, 1 down; the original formation is not restored "
            "(its primary boston.example.com is down)") in summary[0]
    assert "the original formation is restored" not in human.stdout
    result = json.loads(run("simulate", str(TEST_SCENARIOS /
                                          "quorum_clean_voter_then_primary_crash.json"),
                            "--json").stdout)
    assert result["original_formation_restored"] is False


def test_summary_says_restored_after_the_failback():
    human = run("simulate", str(SCENARIOS / "05_failback_window.json"))
    assert human.returncode == 0, human.stderr
    assert "; the original formation is restored" in human.stdout


def test_a_typo_in_the_scenario_exits_2_with_the_nearest_name(tmp_path):
    scenario = load("01_primary_crash.json")
    scenario["event"] = scenario.pop("events")
    result = run("simulate", write(tmp_path, "typo.json", scenario))
    assert result.returncode == 2
    assert "scenario.event: unknown field (did you mean events?)" in result.stderr


def test_max_steps_bounds_the_run(tmp_path):
    path = str(SCENARIOS / "01_primary_crash.json")
    bounded = run("simulate", path, "--max-steps", "10")
    assert bounded.returncode != 0
    assert bounded.stdout == ""
    assert "more than 10 steps" in bounded.stderr
    assert run("simulate", path, "--max-steps", "20000000").returncode == 0
    bad = run("simulate", path, "--max-steps", "ten")
    assert bad.returncode == 2
    assert "--max-steps" in bad.stderr
