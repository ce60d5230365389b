"""Hot reload through ECDS from a file: a new policy applies without restarting Envoy,
and an invalid one is rejected while the previous one keeps serving."""

from __future__ import annotations

import json

import e2e
from e2e import AWS_KEY_ID, HASH_KEY, OPENAI_HOST, config

STAT = "extension_config_discovery.http_filter.airlock."


def _default_version() -> str:
    import yaml
    with open(e2e.DEFAULT_POLICY_DIR / "policy.yaml") as f:
        return str(yaml.safe_load(f)["metadata"]["version"])


def test_ecds_hot_reload_and_rejected_update(envoy_factory, wasm, cli, default_plugin_config,
                                            tmp_path, upstream):
    resource = tmp_path / "airlock-filter.yaml"

    def publish(plugin_config: str) -> None:
        config.write_ecds_resource(str(resource), config.Options(
            wasm=str(wasm), plugin_config=plugin_config, hash_key=HASH_KEY))

    publish(default_plugin_config)
    ev = envoy_factory("ecds", ecds_path=str(resource))

    def stat(name: str) -> int:
        return int(ev.stats(filter_re="extension_config_discovery").get(STAT + name, 0))

    mid = e2e.chat_body("x" * 3000)          # under the default cap, over v2's
    small = e2e.chat_body("hello")
    secret = e2e.chat_body(f"key {AWS_KEY_ID}")

    def block_message() -> str:
        status, _, body = e2e.post(ev.url, secret, OPENAI_HOST)
        assert status == 403
        return json.loads(body)["error"]["message"]

    # v1: the default policy
    assert e2e.post(ev.url, mid, OPENAI_HOST)[0] == 200
    assert _default_version() in block_message()
    assert stat("config_reload") >= 1

    # v2: new version and a 1 KiB cap, applied without restart
    v2_dir = e2e.custom_policy_dir(tmp_path / "v2", {"version": '"e2e-reload-2"',
                                                     "max_body_bytes": "1024"})
    v2 = e2e.build_policy(cli, v2_dir)
    reloads = stat("config_reload")
    publish(v2)
    e2e.poll(lambda: stat("config_reload") > reloads, what="config_reload to increase")
    e2e.poll(lambda: e2e.post(ev.url, mid, OPENAI_HOST)[0] == 403,
             what="the next requests to follow policy v2 (1 KiB cap)")
    assert "e2e-reload-2" in block_message()
    assert e2e.post(ev.url, small, OPENAI_HOST)[0] == 200

    # invalid updates: rejected, counted, and v2 keeps serving
    broken = json.loads(v2)
    broken["policy"]["rules"] = [{"kind": "credential", "action": "explode"}]
    for bad in (json.dumps(broken), "{ this is not json"):
        fails = stat("config_fail")
        publish(bad)
        e2e.poll(lambda: stat("config_fail") > fails, what="config_fail to increase")
        assert e2e.post(ev.url, mid, OPENAI_HOST)[0] == 403
        assert e2e.post(ev.url, small, OPENAI_HOST)[0] == 200
        assert "e2e-reload-2" in block_message()
    assert ev.alive()
    log = ev.log_text()
    assert "[error][wasm]" in log, "the filter did not log why it rejected the configuration"

    # and back to a valid policy
    reloads = stat("config_reload")
    publish(default_plugin_config)
    e2e.poll(lambda: stat("config_reload") > reloads, what="config_reload after the fix")
    e2e.poll(lambda: e2e.post(ev.url, mid, OPENAI_HOST)[0] == 200,
             what="the default policy to serve again")
    e2e.assert_upstream_never_saw(upstream, AWS_KEY_ID)
