"""`airlock scan --format sarif` against the official SARIF 2.1.0 JSON Schema.

No Envoy here: this file lives with the e2e tests because their .venv holds check-jsonschema
(deploy/requirements.txt). The schema is vendored unchanged (cli/sarif/README.md says from
where). The log must validate, hold one result per finding with the detector as its rule, and
never a matched value; a log with a wrong level must not validate (the check can fail).
"""

from __future__ import annotations

import json
import subprocess

import e2e
from e2e import AWS_KEY_ID, EMAIL
from realparts import tool

SCHEMA = e2e.REPO / "cli" / "sarif" / "sarif-schema-2.1.0.json"


def _validate(path) -> subprocess.CompletedProcess:
    return subprocess.run([tool("check-jsonschema"), "--schemafile", str(SCHEMA), str(path)],
                          capture_output=True, text=True, timeout=120)


def test_scan_sarif_validates_and_names_detectors_only(cli, tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "leak.json").write_bytes(e2e.chat_body(f"deploy with {AWS_KEY_ID}, ask {EMAIL}"))
    (corpus / "clean.json").write_bytes(e2e.chat_body("what is a monad?"))
    (corpus / "odd name.json").write_bytes(e2e.chat_body(f"cc {EMAIL}"))
    r = subprocess.run([str(cli), "scan", "--format", "sarif", str(corpus)], capture_output=True,
                       text=True, timeout=120,
                       env={"AIRLOCK_HASH_KEY": e2e.HASH_KEY, "PATH": "/usr/bin:/bin"})
    assert r.returncode == 0, r.stderr
    out = tmp_path / "scan.sarif"
    out.write_text(r.stdout)
    v = _validate(out)
    assert v.returncode == 0, v.stdout + v.stderr

    log = json.loads(r.stdout)
    assert log["version"] == "2.1.0"
    run = log["runs"][0]
    rules = [rule["id"] for rule in run["tool"]["driver"]["rules"]]
    results = run["results"]
    assert any("aws" in rule for rule in rules) and any("mail" in rule for rule in rules), rules
    assert len(results) == 3, [res["ruleId"] for res in results]
    for res in results:
        assert rules[res["ruleIndex"]] == res["ruleId"]
        uri = res["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        assert uri.endswith(("leak.json", "odd%20name.json")), uri
    levels = {res["ruleId"]: res["level"] for res in results}
    assert levels[next(r for r in rules if "aws" in r)] == "error"
    for secret in (AWS_KEY_ID, EMAIL, e2e.HASH_KEY):
        assert secret not in r.stdout

    # the schema is really applied: an unknown level fails
    results[0]["level"] = "critical"
    bad = tmp_path / "bad.sarif"
    bad.write_text(json.dumps(log))
    assert _validate(bad).returncode != 0
