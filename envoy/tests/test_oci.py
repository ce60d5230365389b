"""The filter as an OCI image in a real registry, pulled by digest, loaded by a real Envoy.

`airlock package` writes the image layout; the `oras` Python SDK pushes it unchanged to a
Debian `docker-registry` on loopback and pulls it back by digest; the pulled module must be the
build byte for byte. The manifests deploy/render.py writes for that digest must pass the vendored
CRD schemas, and Envoy, given the pulled module and the WasmPlugin's pluginConfig (as Istio
hands it over: the object serialised as JSON), must block a request holding a credential.
"""

from __future__ import annotations

import hashlib
import json
import pathlib
import re
import subprocess
import sys

import pytest
import yaml

import e2e
from e2e import AWS_KEY_ID, OPENAI_HOST
from realparts import Registry, tool

oras_client = pytest.importorskip("oras.client", reason="run `bash deploy/setup.sh`")
import oras.layout  # noqa: E402
import oras.provider  # noqa: E402

DEPLOY = e2e.REPO / "deploy"
REPOSITORY = "airlock/filter"
WASM_LAYER = "application/vnd.module.wasm.content.layer.v1+wasm"


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    reg = Registry(str(tmp_path_factory.mktemp("registry")))
    yield reg
    reg.stop()


@pytest.fixture(scope="module")
def packaged(cli, wasm, tmp_path_factory) -> tuple[pathlib.Path, str]:
    layout = tmp_path_factory.mktemp("oci") / "layout"
    r = subprocess.run([str(cli), "package", "--out", str(layout), "--wasm", str(wasm),
                        "--tag", "e2e"], capture_output=True, timeout=120)
    assert r.returncode == 0, r.stderr.decode(errors="replace")
    digest = r.stdout.decode().strip()
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", digest), digest
    return layout, digest


def test_image_is_the_wasm_image_spec_oci_variant(packaged, wasm):
    """What Istio's and Envoy Gateway's fetchers require of the oci variant: exactly two
    layers, one of them the module (uncompressed) under the Wasm layer media type."""
    layout, digest = packaged
    raw = (layout / "blobs" / "sha256" / digest.removeprefix("sha256:")).read_bytes()
    assert "sha256:" + hashlib.sha256(raw).hexdigest() == digest
    manifest = json.loads(raw)
    assert manifest["mediaType"] == "application/vnd.oci.image.manifest.v1+json"
    assert manifest["config"]["mediaType"] == "application/vnd.module.wasm.config.v1+json"
    layers = manifest["layers"]
    assert len(layers) == 2
    module = [layer for layer in layers if layer["mediaType"] == WASM_LAYER]
    assert len(module) == 1
    assert module[0]["digest"] == "sha256:" + hashlib.sha256(wasm.read_bytes()).hexdigest()
    assert module[0]["size"] == wasm.stat().st_size


def test_push_pull_by_digest_and_envoy_blocks(registry, packaged, wasm, envoy_factory, upstream,
                                               default_plugin_config, tmp_path):
    layout, digest = packaged
    provider = oras.provider.Registry(hostname=registry.host, insecure=True)
    oras.layout.NewLayout(str(layout)).push_to_registry(
        provider, f"{registry.host}/{REPOSITORY}:e2e", tag="e2e")
    # the registry computes the same digest: the bytes `airlock package` wrote went up unchanged
    assert registry.manifest_digest(REPOSITORY, "e2e") == digest

    client = oras_client.OrasClient(hostname=registry.host, insecure=True)
    pulled_dir = tmp_path / "pulled"
    client.pull(target=f"{registry.host}/{REPOSITORY}@{digest}", outdir=str(pulled_dir))
    pulled = pulled_dir / "plugin.wasm"
    assert pulled.read_bytes() == wasm.read_bytes(), "the pulled module differs from the build"

    # a digest the registry does not hold is not served (pulling by digest means something)
    other = "sha256:" + hashlib.sha256(b"not the airlock image").hexdigest()
    with pytest.raises(Exception):
        client.pull(target=f"{registry.host}/{REPOSITORY}@{other}", outdir=str(tmp_path / "x"))

    # the manifests for this image and the default policy
    config_file = tmp_path / "plugin-config.json"
    config_file.write_text(default_plugin_config)
    rendered = tmp_path / "deploy"
    subprocess.run([sys.executable, str(DEPLOY / "render.py"), "--image",
                    f"{registry.host}/{REPOSITORY}", "--digest", digest, "--plugin-config",
                    str(config_file), "--out", str(rendered)], check=True, timeout=60)
    for manifest, schema in [("istio/wasmplugin.yaml", "istio-wasmplugin-v1alpha1"),
                             ("envoy-gateway/envoyextensionpolicy.yaml",
                              "envoygateway-envoyextensionpolicy-v1alpha1")]:
        r = subprocess.run([tool("check-jsonschema"), "--schemafile",
                            str(DEPLOY / "schemas" / f"{schema}.json"), str(rendered / manifest)],
                           capture_output=True, timeout=120)
        assert r.returncode == 0, r.stdout.decode() + r.stderr.decode()
    plugin = yaml.safe_load((rendered / "istio/wasmplugin.yaml").read_text())
    assert plugin["spec"]["url"] == f"oci://{registry.host}/{REPOSITORY}@{digest}"

    ev = envoy_factory("oci", wasm=str(pulled),
                       plugin_config=json.dumps(plugin["spec"]["pluginConfig"]))
    assert e2e.post(ev.url, e2e.chat_body("nothing to see"), OPENAI_HOST)[0] == 200
    upstream.reset()
    status, _, body = e2e.post(ev.url, e2e.chat_body(f"key {AWS_KEY_ID}"), OPENAI_HOST)
    assert status == 403, body[:300]
    e2e.assert_nothing_reached_upstream(upstream)
