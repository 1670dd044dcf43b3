# SPDX-License-Identifier: Apache-2.0
"""pytest fixtures for the ovsec integration lab (see lab.py).

Fixtures:
    lab             a fresh Lab (switch namespace and bridge), torn down
                    after the test; fails the test if a daemon died on its
                    own or a sanitizer wrote a report.
    left, right     hosts 192.0.2.1 / fd00::1 and 192.0.2.2 / fd00::2.
    ovsdb_server    ovsdb_server(host) -> Daemon: fresh database, "init"ed.
    vsctl           vsctl(host, *args) -> stdout of ovs-vsctl --no-wait.
    charon          charon(host, **conf) -> Daemon: charon with the host's
                    strongswan.conf, VICI socket ready.
    swanctl         swanctl(host, command, *args) -> stdout.
    ovsec_monitor   ovsec_monitor(host, *extra_args, detach=False) ->
                    Daemon; the test is skipped when the binary is missing
                    (failed instead if $OVSEC_REQUIRE_MONITOR=1).

Every daemon's Daemon object has stop(), kill() and restart().  When a test
fails, the tails of all daemon logs are attached to its report.  Each test
(setup and call) is bounded by $OVSEC_TEST_TIMEOUT seconds (default 60).
"""

import os
import signal
import warnings

import pytest

import lab as labmod

_ACTIVE_LABS = []


class PhaseTimeout(Exception):
    """Raised in the test by SIGALRM when it runs for too long."""


def _timeout_seconds():
    try:
        return max(1, int(os.environ.get("OVSEC_TEST_TIMEOUT", "60")))
    except ValueError:
        return 60


def _on_alarm(signum, frame):
    raise PhaseTimeout("test exceeded %d s (OVSEC_TEST_TIMEOUT)"
                      % _timeout_seconds())


def _with_deadline():
    """Bounds a test phase with SIGALRM; teardown is not bounded this way
    (every step of Lab.close() has its own timeout, and an exception in
    the middle of it would leak namespaces)."""
    old = signal.signal(signal.SIGALRM, _on_alarm)
    signal.alarm(_timeout_seconds())
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_setup(item):
    yield from _with_deadline()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item):
    yield from _with_deadline()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if rep.failed and call.when in ("setup", "call"):
        for lab in _ACTIVE_LABS:
            logs = lab.log_report()
            if logs:
                rep.sections.append(("lab %s daemon logs (%s)"
                                     % (lab.id, call.when), logs))


@pytest.fixture
def lab():
    try:
        the_lab = labmod.Lab()
    except labmod.LabError as e:
        pytest.fail(str(e), pytrace=False)
    _ACTIVE_LABS.append(the_lab)
    try:
        yield the_lab
    finally:
        _ACTIVE_LABS.remove(the_lab)
        problems = the_lab.close()
        for note in the_lab.notes:
            warnings.warn(labmod.LabWarning(note))
        if problems:
            pytest.fail("lab teardown found problems:\n  "
                        + "\n  ".join(problems)
                        + "\n\n" + the_lab.final_logs, pytrace=False)


@pytest.fixture
def left(lab):
    return lab.add_host("left", 1)


@pytest.fixture
def right(lab):
    return lab.add_host("right", 2)


@pytest.fixture
def ovsdb_server(lab):
    def start(host, **kwargs):
        return host.start_ovsdb_server(**kwargs)
    return start


@pytest.fixture
def vsctl(lab):
    def run(host, *args, **kwargs):
        return host.vsctl(*args, **kwargs)
    return run


@pytest.fixture
def charon(lab):
    def start(host, **kwargs):
        return host.start_charon(**kwargs)
    return start


@pytest.fixture
def swanctl(lab):
    def run(host, command, *args, **kwargs):
        return host.swanctl(command, *args, **kwargs)
    return run


@pytest.fixture
def ovsec_monitor_binary():
    path, why = labmod.find_ovsec_monitor()
    if path is None:
        if os.environ.get("OVSEC_REQUIRE_MONITOR") == "1":
            pytest.fail(why + " (OVSEC_REQUIRE_MONITOR=1)", pytrace=False)
        pytest.skip(why)
    return path


@pytest.fixture
def ovsec_monitor(lab, ovsec_monitor_binary):
    def start(host, *extra_args, **kwargs):
        return host.start_ovsec_monitor(ovsec_monitor_binary, *extra_args,
                                        **kwargs)
    return start
