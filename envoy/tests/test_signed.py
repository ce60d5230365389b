"""Signed configurations through ECDS in a real Envoy: the VM configuration names the CI's
public key; configurations `airlock build --sign` made with it apply, and unsigned, foreign
and tampered ones are NACKed (config_fail), logged and counted by the filter
(airlock.config_rejected_total.reason.*) while the previous configuration keeps serving."""

from __future__ import annotations

import json
import subprocess

import e2e
from e2e import AWS_KEY_ID, HASH_KEY, OPENAI_HOST, config

ECDS_STAT = "extension_config_discovery.http_filter.airlock."
REJECTED = "wasmcustom.airlock.config_rejected_total.reason."


def _run(cli, *args: str) -> str:
    r = subprocess.run([str(cli), *args], capture_output=True, timeout=120)
    assert r.returncode == 0, f"airlock {' '.join(args)}: {r.stderr.decode(errors='replace')}"
    return r.stdout.decode()


def test_only_configurations_signed_by_the_trusted_key_apply(envoy_factory, wasm, cli,
                                                            tmp_path, upstream):
    _run(cli, "keygen", "--out", str(tmp_path / "ci"))
    _run(cli, "keygen", "--out", str(tmp_path / "intruder"))
    public_pem = (tmp_path / "ci.pub").read_text()
    vm_configuration = json.dumps({"config_public_keys": [public_pem]})

    def build(version: str, key: str | None) -> str:
        policy = e2e.custom_policy_dir(tmp_path / f"p-{version}",
                                       {"version": f'"{version}"', "max_body_bytes": "1024"})
        flags = ["--sign", str(tmp_path / f"{key}.key")] if key else []
        return _run(cli, "build", str(policy), *flags)

    resource = tmp_path / "airlock-filter.yaml"

    def publish(plugin_config: str) -> None:
        config.write_ecds_resource(str(resource), config.Options(
            wasm=str(wasm), plugin_config=plugin_config, hash_key=HASH_KEY,
            vm_configuration=vm_configuration))

    publish(build("signed-1", "ci"))
    ev = envoy_factory("signed", ecds_path=str(resource))

    def stat(name: str) -> int:
        return int(ev.stats(filter_re="extension_config_discovery|config_rejected").get(name, 0))

    mid = e2e.chat_body("x" * 3000)     # over every test policy's 1 KiB cap
    small = e2e.chat_body("hello")
    secret = e2e.chat_body(f"key {AWS_KEY_ID}")

    def serving() -> str:
        status, _, body = e2e.post(ev.url, secret, OPENAI_HOST)
        assert status == 403
        message = json.loads(body)["error"]["message"]
        return next((v for v in ("signed-1", "signed-2", "unsigned-3", "intruder-3", "tampered-3")
                     if v in message), message)

    assert serving() == "signed-1"
    assert e2e.post(ev.url, small, OPENAI_HOST)[0] == 200
    assert e2e.post(ev.url, mid, OPENAI_HOST)[0] == 403

    # A signed update applies without restart.
    reloads = stat(ECDS_STAT + "config_reload")
    publish(build("signed-2", "ci"))
    e2e.poll(lambda: stat(ECDS_STAT + "config_reload") > reloads, what="config_reload")
    e2e.poll(lambda: serving() == "signed-2", what="the signed update to serve")

    # Unsigned, signed by another key, and changed after signing: each NACKed and counted.
    signed = json.loads(build("tampered-3", "ci"))
    inner = json.loads(signed["config"])
    inner["policy"]["limits"]["max_body_bytes"] = 1048576   # what an attacker would loosen
    signed["config"] = json.dumps(inner)
    updates = [
        ("unsigned", build("unsigned-3", None)),
        ("unknown_key", build("intruder-3", "intruder")),
        ("bad_signature", json.dumps(signed)),
    ]
    for reason, update in updates:
        fails = stat(ECDS_STAT + "config_fail")
        rejected = stat(REJECTED + reason)
        publish(update)
        e2e.poll(lambda: stat(ECDS_STAT + "config_fail") > fails, what=f"config_fail ({reason})")
        e2e.poll(lambda: stat(REJECTED + reason) > rejected,
                 what=f"airlock.config_rejected_total.reason.{reason}")
        assert serving() == "signed-2", f"{reason}: a rejected configuration took effect"
        assert e2e.post(ev.url, mid, OPENAI_HOST)[0] == 403
        assert e2e.post(ev.url, small, OPENAI_HOST)[0] == 200
        assert f"configuration rejected ({reason})" in ev.log_text()
    assert ev.alive()

    # Back to a signed configuration.
    reloads = stat(ECDS_STAT + "config_reload")
    publish(build("signed-1", "ci"))
    e2e.poll(lambda: stat(ECDS_STAT + "config_reload") > reloads, what="config_reload after the fix")
    e2e.poll(lambda: serving() == "signed-1", what="the signed configuration to serve again")
    log = ev.log_text()
    assert "signature verified" in log
    assert (tmp_path / "ci.key").read_text().splitlines()[1] not in log
    e2e.assert_upstream_never_saw(upstream, AWS_KEY_ID)
