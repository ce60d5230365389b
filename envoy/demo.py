"""Airlock demo: a real Envoy with Airlock and the default policy, driven by the official
openai client. Run through `bash envoy/demo.sh` (which installs and builds first).

Starts the fake vendor upstream and Envoy on free ports, sends a clean, a tokenized and a
blocked request, shows what the upstream received and Airlock's decision for each,
prints Airlock's metrics from Envoy's /stats/prometheus, and stops everything.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import secrets
import signal
import subprocess
import sys
import time

HERE = pathlib.Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))

import config  # noqa: E402
import harness  # noqa: E402

HOST = "api.openai.com"
MODEL = "gpt-4o-mini"
EMAIL = "marta.kowalski@northwind-traders.co.uk"      # invented
AWS_KEY_ID = "AKIA" + "QX3RZ7TL5WNBK2MP"              # fake, shaped like a real key id


def say(text: str = "") -> None:
    print(text, flush=True)


def show_upstream(upstream: harness.Upstream) -> None:
    reqs = [r for r in upstream.requests() if r.get("complete")]
    if not reqs:
        say("   upstream received: nothing")
    for r in reqs:
        say(f"   upstream received: {r['method']} {r['path']} (Host: "
            f"{dict((k.lower(), v) for k, v in r['headers']).get('host')})")
        say(f"     {r['body'].decode('utf-8', 'replace')}")
    upstream.reset()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--wasm", default=os.environ.get(
        "AIRLOCK_WASM", str(REPO / "target/wasm32-wasip1/release/airlock_filter.wasm")))
    ap.add_argument("--cli", default=os.environ.get("AIRLOCK_CLI", str(REPO / "target/release/airlock")))
    ap.add_argument("--policy", default=str(REPO / "policies/default"))
    ap.add_argument("--run-dir", default=str(HERE / ".run" / "demo"))
    args = ap.parse_args()

    # SIGTERM/SIGHUP: leave through the finally blocks (and atexit) so children stop.
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda *_: sys.exit(130))

    import openai

    for what, path in (("filter", args.wasm), ("CLI", args.cli)):
        if not os.path.isfile(path):
            say(f"demo: the Airlock {what} is not built ({path}); run `bash envoy/demo.sh`")
            return 1
    os.makedirs(args.run_dir, exist_ok=True)

    built = subprocess.run([args.cli, "build", args.policy], capture_output=True, text=True)
    if built.returncode != 0:
        say(f"demo: `airlock build {args.policy}` failed:\n{built.stderr}")
        return 1
    plugin_config = built.stdout
    policy = json.loads(plugin_config)["policy"]
    meta = policy.get("metadata", {})

    upstream = harness.Upstream(args.run_dir)
    envoy = None
    try:
        say("== Airlock demo ==")
        envoy = harness.Envoy(args.run_dir, config.Options(
            upstream_port=upstream.port, wasm=args.wasm, plugin_config=plugin_config,
            hash_key=secrets.token_hex(32), stats_flush_interval="1s"), name="envoy")
        say(f"policy   {meta.get('name')} {meta.get('version')} (airlock build {os.path.relpath(args.policy, REPO)})")
        say(f"envoy    listener {envoy.url}  admin {envoy.admin}  log {os.path.relpath(envoy.log_path, REPO)}")
        say(f"upstream {upstream.url} (fake OpenAI / Anthropic / Gemini)")
        say(f"client   openai {openai.__version__}, base_url {envoy.url}/v1, Host: {HOST}")

        # `x-e2e-echo: text`: the fake vendor answers with the prompt it received, as a model
        # quoting the user would, so the reply shows the token restored to the original.
        client = openai.OpenAI(api_key="sk-demo-not-a-real-key", base_url=envoy.url + "/v1",
                               default_headers={"Host": HOST, "x-e2e-echo": "text"}, max_retries=0)
        cases = [
            ("clean", "Summarise our Q3 planning notes in three bullet points."),
            ("tokenized: an e-mail address (the vendor sees a token; the client gets the address back)", f"Draft a polite reminder to {EMAIL} about the late invoice."),
            ("blocked: an AWS access key id", f"Why does `aws s3 ls` fail with key {AWS_KEY_ID}?"),
        ]
        for i, (title, prompt) in enumerate(cases, 1):
            say()
            say(f"{i}) {title}")
            # The demo's own key is fake, but secrets are never printed: show its shape only.
            shown = prompt.replace(AWS_KEY_ID, AWS_KEY_ID[:4] + "*" * (len(AWS_KEY_ID) - 4))
            say(f"   prompt: {shown}")
            try:
                raw = client.chat.completions.with_raw_response.create(
                    model=MODEL, messages=[{"role": "user", "content": prompt}])
                reply = raw.parse().choices[0].message.content
                say(f"   decision (x-airlock-decision): {raw.headers.get('x-airlock-decision')}")
                say(f"   reply: {reply}")
            except openai.APIStatusError as e:
                say(f"   decision (x-airlock-decision): {e.response.headers.get('x-airlock-decision')}")
                say(f"   {type(e).__module__}.{type(e).__name__}: {e}")
            show_upstream(upstream)

        # histograms reach the admin endpoint at the next stats flush (1 s here)
        deadline = time.monotonic() + 10
        text = envoy.prometheus()
        while "airlock_inspection_time_microseconds_count{} 0" in text and time.monotonic() < deadline:
            time.sleep(0.2)
            text = envoy.prometheus()
        say()
        say(f"== Airlock in Envoy's /stats/prometheus ({envoy.admin}/stats/prometheus) ==")
        zero = buckets = 0
        for line in text.splitlines():
            if not line.startswith("airlock_"):
                continue
            if "_bucket{" in line:
                buckets += 1
            elif line.rsplit(" ", 1)[-1] in ("0", "0.0"):
                zero += 1
            else:
                say(line)
        say(f"(not shown: {zero} airlock counters at 0, {buckets} histogram bucket lines)")
        return 0
    finally:
        if envoy is not None:
            envoy.stop()
        upstream.stop()
        say("\nstopped Envoy and the upstream")


if __name__ == "__main__":
    sys.exit(main())
