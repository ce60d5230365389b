"""Fixtures for Airlock's Envoy end-to-end tests.

Nothing is built here. The filter must already be at
target/wasm32-wasip1/release/airlock_filter.wasm (or $AIRLOCK_WASM) and the CLI at
target/release/airlock or target/debug/airlock (or $AIRLOCK_CLI); when either is
missing the tests that need it FAIL with the build command to run.

Every process (the fake upstream, each Envoy) is started on kernel-chosen ports,
waited for by polling with a deadline, and stopped by a fixture finalizer (process
group kill), also when a test fails. Envoy logs stay in the session's run directory
for the secret-leak test.
"""

from __future__ import annotations

import itertools
import os
import pathlib

import pytest

import e2e
from e2e import config, harness

ENVOY_LOGS: list[str] = []
_names = itertools.count(1)


@pytest.fixture(scope="session")
def wasm() -> pathlib.Path:
    p = e2e.wasm_path()
    if not p.is_file():
        pytest.fail(f"Airlock filter not built: {p} is missing.\n"
                    "Build it first: cargo build --release --target wasm32-wasip1 -p airlock-filter\n"
                    "(or point AIRLOCK_WASM at a built airlock_filter.wasm)", pytrace=False)
    return p


@pytest.fixture(scope="session")
def cli() -> pathlib.Path:
    p = e2e.cli_path()
    if p is None or not p.is_file():
        pytest.fail(f"Airlock CLI not built: {p or 'target/release/airlock'} is missing.\n"
                    "Build it first: cargo build --release -p airlock-cli\n"
                    "(or point AIRLOCK_CLI at the airlock binary)", pytrace=False)
    return p


@pytest.fixture(scope="session")
def default_plugin_config(cli) -> str:
    """`airlock build policies/default`: the plugin configuration of the default policy."""
    return e2e.build_policy(cli, e2e.DEFAULT_POLICY_DIR)


@pytest.fixture(scope="session")
def run_dir(tmp_path_factory) -> pathlib.Path:
    return tmp_path_factory.mktemp("envoy-e2e")


@pytest.fixture(scope="session")
def upstream(run_dir):
    u = harness.Upstream(str(run_dir))
    yield u
    u.stop()


@pytest.fixture(autouse=True)
def _fresh_upstream(request):
    """Each test starts with an empty request record (only when it uses the upstream)."""
    if "upstream" in request.fixturenames:
        request.getfixturevalue("upstream").reset()
    yield


def _starter(run_dir, upstream, started):
    def start(label: str, **kw) -> harness.Envoy:
        kw.setdefault("hash_key", e2e.HASH_KEY)
        kw.setdefault("stats_flush_interval", "1s")
        opts = config.Options(upstream_port=upstream.port, **kw)
        name = f"envoy-{next(_names):02d}-{label}"
        ENVOY_LOGS.append(os.path.join(str(run_dir), f"{name}.log"))
        ev = harness.Envoy(str(run_dir), opts, name=name)
        started.append(ev)
        return ev
    return start


@pytest.fixture(scope="session")
def session_envoy_factory(run_dir, upstream):
    started: list[harness.Envoy] = []
    yield _starter(run_dir, upstream, started)
    for ev in started:
        ev.stop()


@pytest.fixture
def envoy_factory(run_dir, upstream):
    """Start an Envoy for this test only; stopped when the test ends, pass or fail."""
    started: list[harness.Envoy] = []
    yield _starter(run_dir, upstream, started)
    for ev in started:
        ev.stop()


@pytest.fixture(scope="session")
def envoy(session_envoy_factory, wasm, default_plugin_config) -> harness.Envoy:
    """Envoy with Airlock running the default policy as built by the CLI."""
    return session_envoy_factory("default", wasm=str(wasm), plugin_config=default_plugin_config)


@pytest.fixture(scope="session")
def plain_envoy(session_envoy_factory) -> harness.Envoy:
    """The same bootstrap without the Airlock filter (baseline)."""
    return session_envoy_factory("nofilter", wasm=None)

