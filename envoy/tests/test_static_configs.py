"""The example files shipped for users: consistent with config.py, accepted by Envoy,
and (airlock.yaml, the ECDS pair) actually serving the default policy."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import yaml

import e2e
from e2e import AWS_KEY_ID, OPENAI_HOST, config, harness

WASM_REL = "target/wasm32-wasip1/release/airlock_filter.wasm"
ECDS_REL = "envoy/ecds/airlock-filter.yaml"
BOOTSTRAPS = ["airlock.yaml", "ecds/bootstrap.yaml", "egress-tls.yaml"]


def _read(rel: str) -> str:
    return (e2e.ENVOY_DIR / rel).read_text()


def _http_filters(boot: dict) -> list[dict]:
    hcm = boot["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]
    return hcm["typed_config"]["http_filters"]


@pytest.mark.parametrize("rel", BOOTSTRAPS)
def test_examples_share_config_py_settings(rel):
    boot = yaml.safe_load(_read(rel))
    assert boot["stats_config"]["stats_tags"] == config.stats_tags()
    assert boot["node"]["id"] and boot["node"]["cluster"]
    lst = boot["static_resources"]["listeners"][0]
    assert lst["per_connection_buffer_limit_bytes"] == config.BUFFER_LIMIT
    for c in boot["static_resources"]["clusters"]:
        assert c["per_connection_buffer_limit_bytes"] == config.BUFFER_LIMIT
    names = [f["name"] for f in _http_filters(boot)]
    assert names == ["airlock", "envoy.filters.http.buffer", "envoy.filters.http.router"]


def test_example_filter_config_matches_config_py():
    want = config.wasm_filter_config(config.Options(wasm="/W", hash_key_from_env=True))
    want["config"]["vm_config"]["code"]["local"]["filename"] = WASM_REL
    for rel in ("airlock.yaml", "egress-tls.yaml"):
        assert _http_filters(yaml.safe_load(_read(rel)))[0]["typed_config"] == want, rel
    res = yaml.safe_load(_read("ecds/airlock-filter.yaml"))["resources"][0]
    assert res["name"] == config.FILTER_NAME
    assert res["typed_config"] == want
    assert yaml.safe_load(_read("stats-tags.yaml")) == {"stats_config": {"stats_tags": config.stats_tags()}}


def test_rendered_yaml_round_trips():
    o = config.Options(upstream_port=1, wasm="/x.wasm", hash_key="k" * 32,
                       plugin_config='{"q": "it\'s", "u": "\\u00e9\\n"}\n')
    assert yaml.safe_load(config.render_bootstrap(o)) == config.bootstrap(o)
    assert yaml.safe_load(config.render_ecds_resource(o)) == config.ecds_resource(o)
    o2 = config.Options(upstream_port=1, ecds_path="/tmp/f.yaml")
    assert yaml.safe_load(config.render_bootstrap(o2)) == config.bootstrap(o2)


def _localize(text: str, wasm, ecds_path: str | None = None, upstream_port: int | None = None,
              listen_zero: bool = False) -> str:
    text = text.replace(WASM_REL, str(wasm))
    if ecds_path:
        text = text.replace(ECDS_REL, ecds_path)
    if upstream_port is not None:
        text = text.replace("port_value: 8080", f"port_value: {upstream_port}")
    if listen_zero:
        text = text.replace("port_value: 10000", "port_value: 0").replace("port_value: 9901",
                                                                           "port_value: 0")
    return text


def _validate(path, cwd=e2e.REPO) -> None:
    r = subprocess.run([harness.find_envoy(), "--mode", "validate", "-c", str(path),
                        "--disable-hot-restart", "-l", "warning"],
                       capture_output=True, text=True, cwd=cwd, timeout=120)
    assert r.returncode == 0, f"envoy --mode validate {path}:\n{r.stdout[-3000:]}{r.stderr[-3000:]}"


@pytest.mark.parametrize("rel", BOOTSTRAPS)
def test_examples_validate_with_envoy(rel, wasm, tmp_path):
    ecds = tmp_path / "airlock-filter.yaml"
    ecds.write_text(_localize(_read("ecds/airlock-filter.yaml"), wasm))
    p = tmp_path / os.path.basename(rel)
    p.write_text(_localize(_read(rel), wasm, ecds_path=str(ecds)))
    _validate(p)


def test_rendered_variants_validate_with_envoy(wasm, default_plugin_config, tmp_path):
    variants = {
        "nofilter": config.Options(upstream_port=8080),
        "default": config.Options(upstream_port=8080, wasm=str(wasm),
                                  plugin_config=default_plugin_config, hash_key=e2e.HASH_KEY),
        "embedded": config.Options(upstream_port=8080, wasm=str(wasm), hash_key_from_env=True),
    }
    for name, o in variants.items():
        p = tmp_path / f"{name}.yaml"
        config.write_bootstrap(str(p), o)
        _validate(p)


def test_airlock_yaml_serves_the_default_policy(wasm, run_dir, upstream):
    text = _localize(_read("airlock.yaml"), wasm, upstream_port=upstream.port, listen_zero=True)
    ev = harness.Envoy(str(run_dir), None, name="envoy-static-airlock", bootstrap_text=text)
    try:
        status, headers, body = e2e.post(ev.url, e2e.chat_body(f"k {AWS_KEY_ID}"), OPENAI_HOST)
        assert status == 403 and headers.get("x-airlock-decision") == "block"
        e2e.assert_names_aws_detector(json.loads(body)["error"]["message"])
        clean = e2e.chat_body("hello")
        assert e2e.post(ev.url, clean, OPENAI_HOST)[0] == 200
        assert e2e.only_request(upstream)["body"] == clean
    finally:
        ev.stop()


def test_ecds_example_serves_and_reloads_via_config_cli(wasm, cli, run_dir, tmp_path, upstream):
    ecds = tmp_path / "airlock-filter.yaml"
    ecds.write_text(_localize(_read("ecds/airlock-filter.yaml"), wasm))
    text = _localize(_read("ecds/bootstrap.yaml"), wasm, ecds_path=str(ecds),
                     upstream_port=upstream.port, listen_zero=True)
    ev = harness.Envoy(str(run_dir), None, name="envoy-static-ecds", bootstrap_text=text)
    try:
        mid = e2e.chat_body("y" * 3000)
        assert e2e.post(ev.url, mid, OPENAI_HOST)[0] == 200
        assert e2e.post(ev.url, e2e.chat_body(f"k {AWS_KEY_ID}"), OPENAI_HOST)[0] == 403
        pol = e2e.custom_policy_dir(tmp_path / "small", {"max_body_bytes": "1024"})
        pfile = tmp_path / "policy.json"
        pfile.write_text(e2e.build_policy(cli, pol))
        subprocess.run([sys.executable, str(e2e.ENVOY_DIR / "config.py"), "ecds-resource",
                        "--wasm", str(wasm), "--plugin-config-file", str(pfile),
                        "--hash-key-from-env", "--out", str(ecds)], check=True, timeout=60)
        e2e.poll(lambda: e2e.post(ev.url, mid, OPENAI_HOST)[0] == 403,
                 what="the reloaded policy (1 KiB cap) to apply")
    finally:
        ev.stop()
