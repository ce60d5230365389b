"""The manifests under deploy/ against the vendored CRD schemas (deploy/schemas/README.md).

Each checked-in manifest must validate; a misspelt field, a wrong enum value or a missing
required field must not. No manifest may carry a key: the HMAC key reaches the proxy from a
Secret created outside Git.
"""

from __future__ import annotations

import pathlib
import re
import subprocess

import pytest
import yaml

import e2e
from realparts import tool

DEPLOY = e2e.REPO / "deploy"
MANIFESTS = {
    "istio/wasmplugin.yaml": "istio-wasmplugin-v1alpha1",
    "istio/buffer-envoyfilter.yaml": "istio-envoyfilter-v1alpha3",
    "envoy-gateway/envoyextensionpolicy.yaml": "envoygateway-envoyextensionpolicy-v1alpha1",
    "envoy-gateway/envoyproxy.yaml": "envoygateway-envoyproxy-v1alpha1",
}


def check(schema: str, *paths: pathlib.Path) -> subprocess.CompletedProcess:
    return subprocess.run([tool("check-jsonschema"), "--schemafile",
                           str(DEPLOY / "schemas" / f"{schema}.json"), *map(str, paths)],
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("manifest,schema", sorted(MANIFESTS.items()))
def test_manifest_matches_crd_schema(manifest, schema):
    r = check(schema, DEPLOY / manifest)
    assert r.returncode == 0, r.stdout + r.stderr


def _mutations(doc: dict):
    """Copies of `doc` with one mistake each: a misspelt key in spec, an enum value that does
    not exist, spec's required field removed, a wrong kind."""
    spec = doc["spec"]
    key = next(iter(spec))
    yield "misspelt key", {**doc, "spec": {key + "x": spec[key], **{k: v for k, v in spec.items() if k != key}}}
    yield "wrong kind", {**doc, "kind": doc["kind"] + "s"}
    yield "unknown top-level field", {**doc, "sepc": spec}
    if doc["kind"] == "WasmPlugin":
        yield "bad enum", {**doc, "spec": {**spec, "failStrategy": "FAIL_CLOSED"}}
        yield "missing url", {**doc, "spec": {k: v for k, v in spec.items() if k != "url"}}
        yield "bad env source", {**doc, "spec": {**spec, "vmConfig": {"env": [{"name": "A", "valueFrom": "SECRET"}]}}}
    if doc["kind"] == "EnvoyExtensionPolicy":
        wasm = spec["wasm"][0]
        yield "bad code type", {**doc, "spec": {**spec, "wasm": [{**wasm, "code": {**wasm["code"], "type": "OCI"}}]}}
        yield "failOpen as string", {**doc, "spec": {**spec, "wasm": [{**wasm, "failOpen": "false"}]}}


@pytest.mark.parametrize("manifest,schema", sorted(MANIFESTS.items()))
def test_a_mistake_fails_the_schema(manifest, schema, tmp_path):
    doc = yaml.safe_load((DEPLOY / manifest).read_text())
    paths = {}
    for what, bad in _mutations(doc):
        path = tmp_path / f"{what.replace(' ', '-')}.yaml"
        path.write_text(yaml.safe_dump(bad, sort_keys=False))
        paths[what] = path
    # one run over all copies (the schema loads once); each copy must be reported
    r = check(schema, *paths.values())
    assert r.returncode != 0
    for what, path in paths.items():
        assert f"{path}::" in r.stdout, f"{manifest} with a {what} passed the schema:\n{r.stdout}"


def test_no_key_in_any_deploy_file():
    """The hash key is passed by name (valueFrom HOST / hostKeys / secretKeyRef), never by value."""
    for path in DEPLOY.rglob("*"):
        if not path.is_file() or path.suffix not in {".yaml", ".yml", ".json"}:
            continue
        text = path.read_text(errors="replace")
        assert e2e.HASH_KEY not in text and e2e.AWS_KEY_ID not in text, path
        assert "key_values" not in text, f"{path}: a literal environment value for the VM"
        for doc in yaml.safe_load_all(text) if path.suffix != ".json" else []:
            for env in (((doc or {}).get("spec") or {}).get("vmConfig") or {}).get("env", []):
                assert "value" not in env, f"{path}: inline env value {env['name']}"
        assert not re.search(r"AIRLOCK_HASH_KEY\s*[:=]\s*['\"]?[0-9a-f]{16,}", text), path
