"""A real OCI registry and a real Prometheus on loopback, for the deployment tests.

Both come from Debian packages that deploy/setup.sh installs (`docker-registry`, distribution
2.8; `prometheus` 2.42 with `promtool`). Each runs in its own process group through
harness.Proc (stopped by its fixture, also when a test fails), on a port picked free by the
kernel, and is waited for by polling its HTTP API with a deadline.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import urllib.parse

import pytest

from e2e import harness

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
VENV_BIN = os.path.join(REPO_ROOT, ".venv", "bin")


def tool(name: str) -> str:
    """A command from deploy/setup.sh (.venv first, then PATH); the test fails with the fix."""
    venv = os.path.join(VENV_BIN, name)
    found = venv if os.access(venv, os.X_OK) else shutil.which(name)
    if not found:
        pytest.fail(f"{name} is not installed: run `bash deploy/setup.sh`", pytrace=False)
    return found


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Registry:
    """`docker-registry serve` with filesystem storage under `run_dir`."""

    def __init__(self, run_dir: str) -> None:
        os.makedirs(run_dir, exist_ok=True)
        self.port = free_port()
        self.host = f"127.0.0.1:{self.port}"
        cfg = os.path.join(run_dir, "registry.yml")
        with open(cfg, "w") as f:
            f.write("version: 0.1\nlog: {level: warn}\n"
                    f"storage: {{filesystem: {{rootdirectory: {os.path.join(run_dir, 'data')}}}}}\n"
                    f"http: {{addr: '{self.host}'}}\n")
        self.proc = harness.Proc("registry", [tool("docker-registry"), "serve", cfg],
                                 os.path.join(run_dir, "registry.log"))
        harness.wait_until(lambda: harness.http("GET", f"http://{self.host}/v2/")[0] == 200,
                           30, "the registry's /v2/", self.proc)

    def manifest_digest(self, repository: str, reference: str) -> str:
        status, headers, _ = harness.http(
            "HEAD", f"http://{self.host}/v2/{repository}/manifests/{reference}",
            headers={"Accept": "application/vnd.oci.image.manifest.v1+json"})
        assert status == 200, f"manifest {repository}:{reference} answered {status}"
        return {k.lower(): v for k, v in headers.items()}["docker-content-digest"]

    def stop(self) -> None:
        self.proc.stop()


class Prometheus:
    """`prometheus` scraping `targets` (host:port) at `metrics_path` every second."""

    def __init__(self, run_dir: str, targets: list[str], metrics_path: str,
                 rule_files: list[str] = ()) -> None:
        os.makedirs(run_dir, exist_ok=True)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        cfg = os.path.join(run_dir, "prometheus.yml")
        with open(cfg, "w") as f:
            json.dump({  # JSON is YAML
                "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
                "rule_files": [os.path.abspath(r) for r in rule_files],
                "scrape_configs": [{"job_name": "envoy", "metrics_path": metrics_path,
                                    "static_configs": [{"targets": targets}]}],
            }, f)
        self.proc = harness.Proc(
            "prometheus",
            [tool("prometheus"), f"--config.file={cfg}",
             f"--storage.tsdb.path={os.path.join(run_dir, 'tsdb')}",
             f"--web.listen-address=127.0.0.1:{self.port}"],
            os.path.join(run_dir, "prometheus.log"))
        harness.wait_until(lambda: harness.http("GET", self.url + "/-/ready")[0] == 200,
                           60, "prometheus /-/ready", self.proc)

    def query(self, promql: str) -> list[dict]:
        status, _, body = harness.http(
            "GET", self.url + "/api/v1/query?" + urllib.parse.urlencode({"query": promql}))
        doc = json.loads(body)
        if status != 200 or doc.get("status") != "success":
            raise AssertionError(f"query {promql!r} failed ({status}): {doc.get('error')}")
        return doc["data"]["result"]

    def rules(self) -> list[dict]:
        _, _, body = harness.http("GET", self.url + "/api/v1/rules")
        return [r for g in json.loads(body)["data"]["groups"] for r in g["rules"]]

    def stop(self) -> None:
        self.proc.stop()
