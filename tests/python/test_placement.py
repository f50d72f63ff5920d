"""The Python API: dicts in, dicts out, arraykit.Error subclasses carrying the C status."""
import copy

import pytest

import arraykit

GOOD = {
    "members": [
        {"name": "boston.example.com", "roles": ["frontend", "backend"], "rack": "r1", "power": "p1"},
        {"name": "newyork.example.com", "roles": ["frontend", "backend"], "rack": "r2", "power": "p2"},
        {"name": "detroit.example.com", "roles": ["frontend", "backend"], "rack": "r3", "power": "p3"},
    ],
    "primary": "boston.example.com",
    "backup_primaries": ["newyork.example.com", "detroit.example.com"],
    "resilience": {"failover_enabled": True},
}


def codes(report, severity=None):
    return [f["code"] for f in report["findings"] if severity is None or f["severity"] == severity]


def test_version_and_abi():
    assert arraykit.__version__.count(".") == 2
    assert arraykit.ABI_VERSION == 1


def test_check_good_array_has_no_errors():
    report = arraykit.placement.check(GOOD)
    assert report["errors"] == 0
    assert codes(report, "error") == []
    assert report["worst_case_failover_s"] == 780


def test_check_reports_two_backends():
    array = copy.deepcopy(GOOD)
    array["members"][2]["roles"] = ["frontend"]
    report = arraykit.placement.check(array)
    assert "backend_count" in codes(report, "error")
    assert report["errors"] >= 1


def test_eleven_members_is_a_finding_not_an_error():
    array = {
        "members": [
            {"name": f"m{i}.example.com", "roles": ["frontend"] + (["backend"] if i < 3 else [])}
            for i in range(11)
        ],
        "primary": "m0.example.com",
    }
    report = arraykit.placement.check(array)
    assert "too_many_members" in codes(report, "error")


def test_malformed_array_raises_invalid_argument_naming_the_field():
    with pytest.raises(arraykit.InvalidArgumentError) as info:
        arraykit.placement.check({"members": [{"name": 7}]})
    err = info.value
    assert isinstance(err, arraykit.Error)
    assert err.code == 3
    assert err.reason == "invalid_argument"
    assert "members[0].name" in err.message
    assert "members[0].name" in str(err)


def test_out_of_range_setting_raises():
    array = copy.deepcopy(GOOD)
    array["resilience"]["monitor_attempts"] = 0
    with pytest.raises(arraykit.InvalidArgumentError, match="monitor_attempts"):
        arraykit.placement.check(array)


@pytest.mark.parametrize("value,why", [
    ({"a.example.com"}, "set"),
    (b"a.example.com", "bytes"),
    (float("nan"), "Out of range float"),
    (float("inf"), "Out of range float"),
    (float("-inf"), "Out of range float"),
    (object(), "object"),
], ids=["set", "bytes", "nan", "inf", "-inf", "object"])
def test_values_that_are_not_json_raise_type_error_naming_the_argument(value, why):
    with pytest.raises(TypeError) as info:
        arraykit.placement.check({"members": [{"name": value}]})
    message = str(info.value)
    assert message.startswith("array: not representable as JSON: ")
    assert why in message
    # One line of explanation: no traceback text, no pybind11 decoration.
    assert "\n" not in message and "Traceback" not in message and "At:" not in message
    assert not isinstance(info.value, arraykit.Error)

    array = copy.deepcopy(GOOD)
    with pytest.raises(TypeError, match=r"^change: not representable as JSON: "):
        arraykit.placement.plan_change(array, {"remove": {"a.example.com"}})
    with pytest.raises(TypeError, match=r"^inventory: not representable as JSON: "):
        arraykit.placement.plan({"members": [{"name": "a.example.com", "capacity": value}]})


def test_a_typo_in_a_change_is_unknown_field_suggesting_add():
    with pytest.raises(arraykit.InvalidArgumentError) as info:
        arraykit.placement.plan_change(GOOD, {"ad": [{"name": "seattle.example.com"}]})
    assert info.value.reason == "unknown_field"
    assert info.value.message == "ad: unknown field (did you mean add?)"


@pytest.mark.parametrize("call,field,suggestion", [
    (lambda: arraykit.placement.check({**GOOD, "primry": "boston.example.com"}),
     "primry", "primary"),
    (lambda: arraykit.placement.check(
        {**GOOD, "resilience": {"failover_enabeld": True}}),
     "resilience.failover_enabeld", "failover_enabled"),
    (lambda: arraykit.placement.check(
        {**GOOD, "members": GOOD["members"][:2] + [{**GOOD["members"][2], "rak": "r3"}]}),
     "members[2].rak", "rack"),
    (lambda: arraykit.placement.check(
        {**GOOD, "resilience": {"failback_window": {"start": "22:00", "ed": "04:00"}}}),
     "resilience.failback_window.ed", "end"),
    (lambda: arraykit.placement.plan({"members": [{"name": "a.example.com", "capacty": 2}]}),
     "members[0].capacty", "capacity"),
    (lambda: arraykit.placement.plan({"members": [{"name": "a.example.com"}], "backend": 1}),
     "backend", "backends"),
    (lambda: arraykit.placement.plan_change(GOOD, {"remvoe": ["detroit.example.com"]}),
     "remvoe", "remove"),
    (lambda: arraykit.placement.plan_change(
        GOOD, {"add": [{"name": "seattle.example.com", "rols": ["frontend"]}]}),
     "add[0].rols", "roles"),
], ids=["array", "resilience", "member", "failback_window", "appliance", "inventory", "change",
        "added member"])
def test_typos_are_unknown_field_with_the_right_name(call, field, suggestion):
    with pytest.raises(arraykit.InvalidArgumentError) as info:
        call()
    assert info.value.reason == "unknown_field"
    assert info.value.message == f"{field}: unknown field (did you mean {suggestion}?)"


def test_output_arrays_are_accepted_back_as_inputs():
    """The array of a plan and of a plan_change result is an array description: it checks."""
    plan = arraykit.placement.plan({"members": [
        {"name": "a.example.com", "rack": "r1", "power": "p1"},
        {"name": "b.example.com", "rack": "r2", "power": "p2"},
        {"name": "c.example.com", "rack": "r3", "power": "p3"}],
        "resilience": {"failback_window": {"start": "22:00", "end": "04:00"}}})
    assert arraykit.placement.check(plan["array"])["errors"] == 0
    result = arraykit.placement.plan_change(
        plan["array"], {"add": [{"name": "d.example.com", "roles": ["frontend"]}]})
    assert arraykit.placement.check(result["array"])["errors"] == 0
    again = arraykit.placement.plan_change(result["array"], {})
    assert again["array"] == result["array"]


def test_every_error_class_subclasses_error_with_its_code():
    expected = {
        "CancelledError": 1, "UnknownError": 2, "InvalidArgumentError": 3,
        "DeadlineExceededError": 4, "NotFoundError": 5, "AlreadyExistsError": 6,
        "PermissionDeniedError": 7, "ResourceExhaustedError": 8, "FailedPreconditionError": 9,
        "AbortedError": 10, "OutOfRangeError": 11, "UnimplementedError": 12, "InternalError": 13,
        "UnavailableError": 14, "DataLossError": 15, "UnauthenticatedError": 16,
        "NotPrimaryError": 1000, "ClockSkewError": 1001, "VersionMismatchError": 1002,
        "FingerprintMismatchError": 1003, "BusyError": 1004, "CertificateRejectedError": 1005,
    }
    for name, code in expected.items():
        cls = getattr(arraykit, name)
        assert issubclass(cls, arraykit.Error)
        assert issubclass(cls, Exception)
        assert cls.code == code


def test_plan_is_deterministic_and_spreads_backends():
    inventory = {"members": [
        {"name": "a.example.com", "rack": "r1", "power": "p1"},
        {"name": "b.example.com", "rack": "r1", "power": "p1"},
        {"name": "c.example.com", "rack": "r2", "power": "p2"},
        {"name": "d.example.com", "rack": "r3", "power": "p3"},
    ]}
    plan = arraykit.placement.plan(inventory)
    again = arraykit.placement.plan({"members": list(reversed(inventory["members"]))})
    assert plan["array"] == again["array"]
    backends = [m for m in plan["array"]["members"] if "backend" in m["roles"]]
    assert len(backends) == 3
    assert len({m["rack"] for m in backends}) == 3


def test_plan_change_reports_disruption():
    one_backend = copy.deepcopy(GOOD)
    for m in one_backend["members"][1:]:
        m["roles"] = ["frontend"]
    result = arraykit.placement.plan_change(
        one_backend,
        {"set_roles": {"newyork.example.com": ["frontend", "backend"],
                       "detroit.example.com": ["frontend", "backend"]}})
    assert result["disruption"] is True
    assert result["disruption_reasons"]
    quiet = arraykit.placement.plan_change(
        GOOD, {"add": [{"name": "seattle.example.com", "roles": ["frontend"]}]})
    assert quiet["disruption"] is False
    assert "seattle.example.com" in quiet["array"]["backup_primaries"]


def test_plan_change_unknown_member_raises():
    with pytest.raises(arraykit.Error) as info:
        arraykit.placement.plan_change(GOOD, {"remove": ["nobody.example.com"]})
    assert info.value.code in (3, 5)
    assert "nobody.example.com" in info.value.message

