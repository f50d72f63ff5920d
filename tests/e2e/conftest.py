import pytest


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    # Lets fixtures see whether the test failed (to print the members' logs then).
    outcome = yield
    report = outcome.get_result()
    setattr(item, "rep_" + report.when, report)
