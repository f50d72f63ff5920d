"""arraykit.simulate / arraykit.render_simulation: the failover simulator from Python."""
import copy
import json
import os
import pathlib

import pytest

import arraykit

SCENARIOS = pathlib.Path(os.environ["ARRAYKIT_EXAMPLES"]) / "scenarios"

B, N, D, S = (f"{n}.example.com" for n in ("boston", "newyork", "detroit", "seattle"))

# DESIGN §5.1 worked case 1, without the restart: boston crashes at 0.
CRASH = {
    "members": [
        {"name": B, "roles": ["frontend", "backend"]},
        {"name": N, "roles": ["frontend", "backend"]},
        {"name": D, "roles": ["frontend", "backend"]},
        {"name": S, "roles": ["frontend"]},
    ],
    "primary": B,
    "backup_primaries": [N, D, S],
    "resilience": {"failover_enabled": True},
    "events": [{"at_s": 0, "crash": B}],
    "until_s": 900,
}


def load(name):
    return json.loads((SCENARIOS / name).read_text())


def entries(result, event, member=None):
    return [e for e in result["timeline"]
            if e["event"] == event and (member is None or e["member"] == member)]


def test_primary_crash_newyork_takes_over_at_600_s():
    result = arraykit.simulate(CRASH)
    assert len(result["arrays"]) == 1
    array = result["arrays"][0]
    assert array["primary"] == N
    assert array["members"] == [N, D, S]
    assert array["repaired"] is True
    assert array["epoch"] == 2
    assert array["writable"] is True
    assert result["down"] == [B]
    assert result["original_formation"]["primary"] == B
    assert result["manual_recovery_required"] is False
    promoted = entries(result, "promoted", N)
    assert [e["at_s"] for e in promoted] == [600]
    assert all(e["reason"] for e in result["timeline"])


def test_partition_worked_case_detroit_promoted_at_780_s_then_boston_back():
    scenario = load("02_partition_two_arrays.json")
    result = arraykit.simulate(scenario)
    promoted = entries(result, "promoted", D)
    assert [e["at_s"] for e in promoted] == [780]
    assert "newyork.example.com unreachable for 180 s, next in backup list" in promoted[0]["reason"]
    assert result["arrays"] == [{"primary": B, "members": [B, N, D, S], "uncontactable": [],
                                 "repaired": False, "epoch": result["arrays"][0]["epoch"],
                                 "writable": True}]
    assert result["standalone"] == []


def test_partition_before_heal_gives_two_arrays():
    scenario = load("02_partition_two_arrays.json")
    scenario["until_s"] = 800
    scenario["events"] = [e for e in scenario["events"] if e["at_s"] <= 800]
    result = arraykit.simulate(scenario)
    by_primary = {a["primary"]: a for a in result["arrays"]}
    assert set(by_primary) == {B, D}
    assert by_primary[B]["uncontactable"] == [D, S]
    assert by_primary[D]["members"] == [D, S]
    assert by_primary[D]["epoch"] == 2


def test_same_scenario_same_result():
    scenario = load("03_array_mode_split_brain.json")
    first = arraykit.simulate(scenario)
    second = arraykit.simulate(copy.deepcopy(scenario))
    assert json.dumps(first, sort_keys=True) == json.dumps(second, sort_keys=True)
    lossy = copy.deepcopy(CRASH)
    lossy["network"] = {"delay_s": 0.05, "jitter_s": 0.5, "loss": 0.2}
    lossy["seed"] = 42
    assert arraykit.simulate(lossy) == arraykit.simulate(copy.deepcopy(lossy))


def test_bad_event_raises_invalid_argument_naming_the_index():
    scenario = copy.deepcopy(CRASH)
    scenario["events"].append({"at_s": 10, "crash": "nobody.example.com"})
    with pytest.raises(arraykit.InvalidArgumentError) as info:
        arraykit.simulate(scenario)
    err = info.value
    assert isinstance(err, arraykit.Error)
    assert err.code == 3
    assert "events[1]" in err.message
    assert "nobody.example.com" in err.message

    scenario = copy.deepcopy(CRASH)
    scenario["events"] = [{"at_s": 0, "crash": B}, {"at_s": 5, "heal": True},
                          {"at_s": -5, "restart": B}]
    with pytest.raises(arraykit.InvalidArgumentError, match=r"events\[2\]"):
        arraykit.simulate(scenario)

    scenario = copy.deepcopy(CRASH)
    scenario["events"][0]["explode"] = True
    with pytest.raises(arraykit.InvalidArgumentError, match=r"events\[0\].*explode"):
        arraykit.simulate(scenario)


def test_bad_array_and_unserialisable_input():
    scenario = copy.deepcopy(CRASH)
    scenario["backup_primaries"] = [N, "ghost.example.com"]
    with pytest.raises(arraykit.InvalidArgumentError, match="backup_primaries"):
        arraykit.simulate(scenario)
    with pytest.raises(TypeError, match="^scenario: not representable as JSON"):
        arraykit.simulate({"members": object()})
    with pytest.raises(TypeError, match="^scenario: not representable as JSON"):
        arraykit.simulate(dict(CRASH, until_s=float("inf")))


def test_render_shows_the_timeline_reasons_and_the_final_formation():
    result = arraykit.simulate(load("02_partition_two_arrays.json"))
    text = arraykit.render_simulation(result)
    assert isinstance(text, str)
    assert "Timeline" in text and "Final formation" in text
    for entry in result["timeline"]:
        assert entry["reason"] in text
    assert "promoted" in text


def test_render_refuses_a_scenario():
    with pytest.raises(arraykit.InvalidArgumentError, match="not a simulation result"):
        arraykit.render_simulation(CRASH)
    with pytest.raises(arraykit.InvalidArgumentError, match="object"):
        arraykit.render_simulation([1, 2])


def test_a_typo_in_a_scenario_is_refused_with_the_nearest_name():
    scenario = copy.deepcopy(CRASH)
    scenario["event"] = scenario.pop("events")
    with pytest.raises(arraykit.InvalidArgumentError) as info:
        arraykit.simulate(scenario)
    assert info.value.reason == "unknown_field"
    assert "scenario.event: unknown field (did you mean events?)" in info.value.message


def test_max_steps_bounds_the_run():
    with pytest.raises(arraykit.ResourceExhaustedError) as info:
        arraykit.simulate(CRASH, max_steps=10)
    assert info.value.reason == "step_limit"
    assert "more than 10 steps" in info.value.message
    assert arraykit.simulate(CRASH, max_steps=100000)["arrays"]


def test_the_result_is_accepted_back_by_render_simulation():
    result = arraykit.simulate(CRASH)
    assert "Final formation" in arraykit.render_simulation(result)
    assert "Final formation" in arraykit.render_simulation(json.loads(json.dumps(result)))
    with pytest.raises(arraykit.InvalidArgumentError) as info:
        arraykit.render_simulation(CRASH)
    assert info.value.reason == "not_a_result"
