"""The soak (envoy/soak.py) in short: a few hundred requests of the full mix (clean,
masked, blocked; HTTP/1.1 and HTTP/2; streaming; gzip; 1-byte chunks) with ECDS policy
updates every second. Every decision must equal `airlock scan`'s, nothing lost, no
secret at the upstream, in Envoy's log or stats. Memory is reported, not judged: a run
this short says nothing about growth (the long run in envoy/README.md does)."""

from __future__ import annotations

import os
import sys

import e2e

sys.path.insert(0, str(e2e.ENVOY_DIR))
import soak  # noqa: E402


def test_soak_short(wasm, cli, run_dir, upstream):
    report = soak.run(requests=int(os.environ.get("AIRLOCK_SOAK_REQUESTS", "400")), workers=4,
                      ecds_every=1.0, wasm=str(wasm), cli=str(cli),
                      run_dir=str(run_dir / "soak"), upstream=upstream, check_memory=False,
                      log=lambda _: None)
    assert not report.lost, report.lost[:5]
    assert not report.misjudged, report.misjudged[:5]
    assert not report.leaks, report.leaks
    assert report.ecds_published >= 2 and report.ecds_reloads >= 2, \
        (report.ecds_published, report.ecds_reloads)
    kinds = {k.split("/")[0] for k in report.sent}
    assert kinds == {"clean", "masked", "blocked_key", "blocked_relay"}, report.sent
    assert any("/h2" in k for k in report.sent) and any("/h1" in k for k in report.sent)
    assert any("/gzip" in k for k in report.sent) and any("/1byte" in k for k in report.sent)
    assert report.ok(), report.failures
