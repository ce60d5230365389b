"""Bodies over `limits.max_body_bytes` follow the fail mode (`limits.on_uninspectable`).

The bootstrap raises `per_connection_buffer_limit_bytes` to 8 MiB so that bodies
above the policy's cap reach Airlock (Envoy's 1 MiB default would answer 413 first).
"""

from __future__ import annotations

import json

import e2e
from e2e import OPENAI_HOST

PATH = "/v1/chat/completions"


def _body(total: int) -> bytes:
    base = e2e.chat_body("")
    filler = ("lorem ipsum dolor sit amet " * (total // 27 + 1))[: total - len(base)]
    out = e2e.chat_body(filler)
    assert len(out) == total
    return out


def _prom(ev):
    return e2e.prometheus_samples(ev.prometheus())


def test_over_default_cap_is_answered_by_airlock_not_envoy(envoy, upstream):
    body = _body(1_500_000)   # > 1 MiB default cap, < 8 MiB buffer limit
    status, headers, resp = e2e.post(envoy.url, body, OPENAI_HOST)
    assert status == 403, f"expected Airlock's fail-mode block, got {status}: {resp[:200]!r}"
    assert headers.get("x-airlock-decision") == "block"
    assert json.loads(resp)["error"]["code"] == "airlock_policy_violation"
    e2e.assert_nothing_reached_upstream(upstream)


def test_large_body_under_default_cap_passes_unchanged(envoy, upstream):
    body = _body(900_000)
    status, headers, _ = e2e.post(envoy.url, body, OPENAI_HOST)
    assert status == 200
    assert headers.get("x-airlock-decision") == "allow"
    assert e2e.only_request(upstream, PATH)["body"] == body


def test_small_cap_fail_closed(envoy_factory, wasm, cli, tmp_path, upstream):
    pol = e2e.custom_policy_dir(tmp_path / "small-cap-block",
                                {"max_body_bytes": "2048", "on_uninspectable": "block"})
    ev = envoy_factory("cap-block", wasm=str(wasm), plugin_config=e2e.build_policy(cli, pol))

    small = _body(1000)
    status, _, _ = e2e.post(ev.url, small, OPENAI_HOST)
    assert status == 200
    assert e2e.only_request(upstream)["body"] == small

    upstream.reset()
    status, headers, resp = e2e.post(ev.url, _body(8192), OPENAI_HOST)
    assert status == 403, resp[:200]
    assert headers.get("x-airlock-decision") == "block"
    # the same over HTTP/2 with trailers, in small frames
    status, headers, _ = e2e.h2_request(ev.port, OPENAI_HOST, PATH,
                                        e2e.split_every(_body(8192), 100),
                                        trailers=[("x-t", "1")])
    assert status == 403
    e2e.assert_nothing_reached_upstream(upstream)

    e2e.poll(lambda: e2e.prom_value(_prom(ev), "airlock_inspection_errors_total",
                                    airlock_reason="too_large") >= 2,
             what="airlock_inspection_errors_total{airlock_reason=too_large} >= 2")
    assert e2e.prom_value(_prom(ev), "airlock_fail_mode_total", airlock_outcome="block") >= 2


def test_small_cap_fail_open(envoy_factory, wasm, cli, tmp_path, upstream):
    pol = e2e.custom_policy_dir(tmp_path / "small-cap-allow",
                                {"max_body_bytes": "2048", "on_uninspectable": "allow"})
    ev = envoy_factory("cap-allow", wasm=str(wasm), plugin_config=e2e.build_policy(cli, pol))
    big = _body(8192)
    status, _, _ = e2e.post(ev.url, big, OPENAI_HOST)
    assert status == 200
    assert e2e.only_request(upstream)["body"] == big
    e2e.poll(lambda: e2e.prom_value(_prom(ev), "airlock_fail_mode_total", airlock_outcome="allow") >= 1,
             what="airlock_fail_mode_total{airlock_outcome=allow} >= 1")
