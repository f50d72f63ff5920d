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


def test_unserialisable_input_is_invalid_argument():
    with pytest.raises(arraykit.InvalidArgumentError, match="array"):
        arraykit.placement.check({"members": object()})
    with pytest.raises(arraykit.InvalidArgumentError):
        arraykit.placement.check({"members": float("nan")})


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

