# SPDX-License-Identifier: Apache-2.0
"""pytest fixtures for the real-kernel tests (run inside the user-mode
Linux guest by tests/uml/run-uml.sh; see README.md).

Fixtures:
    lab             a fresh ukernel.KernelLab, torn down after the test;
                    fails the test if a daemon died on its own or a
                    sanitizer wrote a report.
    left, right     KernelHosts 192.0.2.1 / fd00::1 and 192.0.2.2 / fd00::2
                    on 'lab' (nothing started: see ukernel.setup_tutorial).
    ike             the IKE daemon driver, parametrized: "strongswan"
                    (ukernel.Strongswan) and "libreswan"
                    (ulibreswan.Libreswan; skipped without the unpacked
                    Libreswan tree, failed then if
                    $OVSEC_REQUIRE_LIBRESWAN=1).  Module-scoped: a module
                    runs all its scenarios with one daemon, then the other.
    module_lab      a KernelLab shared by the tests of one module and IKE
                    daemon (torn down, and checked like 'lab', after its
                    last test), for scenarios that reuse hosts; the
                    module's own fixtures add and set up its hosts.
    ovsec_monitor_binary
                    path of the ovsec-monitor to test ($OVSEC_MONITOR, else
                    build-test/ or build/ of the checkout); the test is
                    skipped if there is none, failed if
                    $OVSEC_REQUIRE_MONITOR=1.  Session-scoped.
    ovsec_pki_binary
                    path of ovsec-pki ($OVSEC_PKI, else pki/ovsec-pki beside
                    $OVSEC_MONITOR's build, else build-test/ or build/);
                    skipped or failed like ovsec_monitor_binary.
    report          report(text): prints 'text' on the terminal even when
                    pytest captures output (timings, "BENCH:" lines).

Every test (setup and call) is bounded by $OVSEC_TEST_TIMEOUT seconds
(default 120: the guest has one slow CPU).  On a kernel without the
openvswitch and ESP modules every test here is skipped: run them through
run-uml.sh.
"""

import os
import signal
import sys
import warnings

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "integration"))

import lab as labmod  # noqa: E402
import ukernel  # noqa: E402
import ulibreswan  # noqa: E402

_ACTIVE_LABS = []


def _timeout_seconds():
    try:
        return max(1, int(os.environ.get("OVSEC_TEST_TIMEOUT", "120")))
    except ValueError:
        return 120


class PhaseTimeout(Exception):
    """Raised in the test by SIGALRM when it runs for too long."""


def _on_alarm(signum, frame):
    raise PhaseTimeout("test exceeded %d s (OVSEC_TEST_TIMEOUT)"
                       % _timeout_seconds())


def _with_deadline():
    # Teardown is not bounded this way: every step of Lab.close() has its
    # own timeout, and an exception in the middle would leak namespaces.
    old = signal.signal(signal.SIGALRM, _on_alarm)
    signal.alarm(_timeout_seconds())
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def pytest_collection_modifyitems(config, items):
    missing = ukernel.missing_kernel_features()
    if not missing:
        return
    skip = pytest.mark.skip(
        reason="this kernel lacks %s: run the real-kernel tests with "
               "tests/uml/run-uml.sh" % ", ".join(missing))
    for item in items:
        item.add_marker(skip)


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


def _kernel_lab():
    try:
        the_lab = ukernel.KernelLab()
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
def lab():
    yield from _kernel_lab()


@pytest.fixture(scope="module")
def module_lab(ike):
    # One lab per IKE daemon: the module's hosts are set up for it.
    yield from _kernel_lab()


@pytest.fixture(scope="module", params=ukernel.IKE_DAEMONS)
def ike(request):
    """The IKE daemon driver a scenario runs with (ukernel.Strongswan or
    ulibreswan.Libreswan: setup, daemon restarts, "tunnel is up").
    Module-scoped, so that pytest runs a module's scenarios daemon by
    daemon.  The Libreswan ones skip if the unpacked Libreswan tree is
    missing (scripts/get-libreswan.sh, run on the host), and fail instead
    with $OVSEC_REQUIRE_LIBRESWAN=1."""
    if request.param == "strongswan":
        return ukernel.STRONGSWAN
    tree, why = ulibreswan.find_tree()
    if tree is None:
        if os.environ.get("OVSEC_REQUIRE_LIBRESWAN") == "1":
            pytest.fail(why + " (OVSEC_REQUIRE_LIBRESWAN=1)", pytrace=False)
        pytest.skip(why)
    return ulibreswan.Libreswan(tree)


@pytest.fixture
def left(lab):
    return lab.add_host("left", 1)


@pytest.fixture
def right(lab):
    return lab.add_host("right", 2)


def _require(path, why):
    if path is None:
        if os.environ.get("OVSEC_REQUIRE_MONITOR") == "1":
            pytest.fail(why + " (OVSEC_REQUIRE_MONITOR=1)", pytrace=False)
        pytest.skip(why)
    return path


@pytest.fixture(scope="session")
def ovsec_monitor_binary():
    return _require(*labmod.find_ovsec_monitor())


def find_ovsec_pki():
    """(path, None) of the ovsec-pki to use, or (None, reason)."""
    env = os.environ.get("OVSEC_PKI")
    if env:
        if os.access(env, os.X_OK):
            return env, None
        return None, "OVSEC_PKI=%s is not an executable file" % env
    candidates = []
    monitor = os.environ.get("OVSEC_MONITOR")
    if monitor:
        candidates.append(os.path.join(os.path.dirname(os.path.dirname(
            monitor)), "pki", "ovsec-pki"))
    for d in ("build-test", "build"):
        candidates.append(os.path.join(labmod.REPO, d, "pki", "ovsec-pki"))
    for c in candidates:
        if os.access(c, os.X_OK):
            return c, None
    return None, ("ovsec-pki binary not found (set OVSEC_PKI; looked in %s)"
                  % ", ".join(candidates))


@pytest.fixture(scope="session")
def ovsec_pki_binary():
    return _require(*find_ovsec_pki())


@pytest.fixture
def report(capsys):
    def out(text):
        with capsys.disabled():
            print("\n" + text, flush=True)
    return out
