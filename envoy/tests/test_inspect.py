"""Response inspection through a real Envoy (issue 13, part 3): `inspect_responses`.

The default policy with `inspect_responses: mask` on the approved vendors and `monitor` on
every other host. The fake upstream plays a model that writes a credential of its own
(`x-e2e-say-b64`, see envoy/upstream.py) before repeating the request's tokens, in each
vendor's JSON and SSE shapes, with the text cut into one-character deltas and one-byte HTTP
chunks (every byte of the stream is a cut point). The official clients must never read the
credential, must read the client's own values restored, and the findings are counted with
`direction=response` and audited without the value.
"""

from __future__ import annotations

import base64
import json
import re
import shutil

import pytest

import e2e
from e2e import (ANTHROPIC_HOST, ANTHROPIC_MODEL, EMAIL, GEMINI_HOST, GEMINI_MODEL,
                 OPENAI_HOST, OPENAI_MODEL)

# A made-up AWS access key id: the format, not a key.
KEY = "AKIAQ7RZ4MPL2XW9KD3T"
EMAIL2 = "jan.de-vries@fernhollow-bakery.nl"
ASK = f"Write to {EMAIL} and copy {EMAIL2} about the order."
SAY = f"Use {KEY} for the bucket."
MASK = re.compile(r"\[REDACTED[^\]]*\]")
WANT_TAIL = f"Noted: {EMAIL} and {EMAIL2}."
RELAY_HOST = "api.cheap-relay.example"

SAYING = {"x-e2e-say-b64": base64.b64encode(SAY.encode()).decode()}
TOOLS = {"x-e2e-echo": "tools", **SAYING}
# Text only (tool calls: the other shapes), so the one-byte stream stays well inside the
# route's 60 s timeout on a loaded machine.
EVERY_BYTE = {"x-e2e-echo": "text", **SAYING, "x-e2e-piece": "1", "x-e2e-chunk-bytes": "1",
              "x-e2e-chunk-delay-ms": "0.2"}
SMALL_CHUNKS = {**TOOLS, "x-e2e-piece": "3", "x-e2e-chunk-bytes": "7"}
SHAPES = [EVERY_BYTE, SMALL_CHUNKS]
SHAPE_IDS = ["every-byte", "chunks"]
# One-character deltas (the secret is cut at every position across events) in 13-byte HTTP
# chunks: one-byte chunks of every vendor's stream would take minutes on a loaded machine,
# and the chat stream covers them.
EVERY_EVENT = {**TOOLS, "x-e2e-piece": "1", "x-e2e-chunk-bytes": "13"}
OTHER_SHAPES = [EVERY_EVENT, SMALL_CHUNKS]
STAT = "wasmcustom.airlock.findings_total.direction.response.detector.aws-access-key-id"


@pytest.fixture(scope="module")
def inspecting(session_envoy_factory, wasm, cli, tmp_path_factory):
    dst = tmp_path_factory.mktemp("inspect") / "policy"
    shutil.copytree(e2e.DEFAULT_POLICY_DIR, dst)
    pol = dst / "policy.yaml"
    text = pol.read_text()
    approved = "      restore: [internal, confidential]\n"
    relay = "      max_class: public\n"
    assert text.count(approved) == 1 and text.count(relay) == 1
    text = text.replace(approved, approved + "      inspect_responses: mask\n")
    text = text.replace(relay, relay + "      inspect_responses: monitor\n")
    pol.write_text(text)
    return session_envoy_factory("inspect", wasm=str(wasm), plugin_config=e2e.build_policy(cli, dst))


def _msg(text: str) -> list[dict]:
    return [{"role": "user", "content": text}]


def _clean(text: str) -> None:
    """The client's text: no credential, a mask where it was, its own values back."""
    assert KEY not in text and KEY[:12] not in text, text
    assert MASK.search(text), text
    assert text.endswith(WANT_TAIL), text


def _clean_args(args: dict) -> None:
    assert args["to"] == EMAIL and args["cc"] == [EMAIL, EMAIL2]
    _clean(args["note"])


def _upstream_saw_no_original(upstream, path_part: str) -> None:
    body = e2e.only_request(upstream, path_part)["body"].decode()
    assert EMAIL not in body and EMAIL2 not in body


def openai(envoy, cap, host=OPENAI_HOST, **headers):
    import openai as sdk
    return sdk.OpenAI(api_key="sk-e2e-not-a-key", base_url=envoy.url + "/v1",
                      default_headers={"Host": host, **headers},
                      http_client=cap.client(), max_retries=0)


def test_openai_chat_json(inspecting, upstream):
    cap = e2e.Capture()
    message = openai(inspecting, cap, **TOOLS).chat.completions.create(
        model=OPENAI_MODEL, messages=_msg(ASK)).choices[0].message
    _clean(message.content)
    _clean_args(json.loads(message.tool_calls[0].function.arguments))
    _upstream_saw_no_original(upstream, "/chat/completions")


@pytest.mark.parametrize("shape", SHAPES, ids=SHAPE_IDS)
def test_openai_chat_stream(inspecting, upstream, shape):
    cap = e2e.Capture()
    stream = openai(inspecting, cap, **shape).chat.completions.create(
        model=OPENAI_MODEL, messages=_msg(ASK), stream=True)
    text, args, names = "", "", ""
    for chunk in stream:
        if not chunk.choices:
            continue
        delta = chunk.choices[0].delta
        text += delta.content or ""
        for call in delta.tool_calls or []:
            args += call.function.arguments or ""
            names += call.function.name or ""
    _clean(text)
    if shape is not EVERY_BYTE:
        _clean_args(json.loads(args))
        assert names == "send_mail"


def test_openai_responses_json_and_stream(inspecting, upstream):
    cap = e2e.Capture()
    r = openai(inspecting, cap, **TOOLS).responses.create(model=OPENAI_MODEL, input=ASK)
    _clean(r.output_text)
    calls = [o for o in r.output if o.type == "function_call"]
    _clean_args(json.loads(calls[0].arguments))
    for shape in OTHER_SHAPES:
        text, args, final = "", "", None
        for ev in openai(inspecting, cap, **shape).responses.create(
                model=OPENAI_MODEL, input=ASK, stream=True):
            if ev.type == "response.output_text.delta":
                text += ev.delta
            elif ev.type == "response.function_call_arguments.delta":
                args += ev.delta
            elif ev.type == "response.completed":
                final = ev.response
        _clean(text)
        _clean_args(json.loads(args))
        assert final is not None
        _clean(final.output_text)


def test_anthropic_json_and_stream(inspecting, upstream):
    import anthropic as sdk
    cap = e2e.Capture()

    def client(**headers):
        return sdk.Anthropic(api_key="sk-ant-e2e-not-a-key", base_url=inspecting.url,
                             default_headers={"Host": ANTHROPIC_HOST, **headers},
                             http_client=cap.client(), max_retries=0)
    msg = client(**TOOLS).messages.create(model=ANTHROPIC_MODEL, max_tokens=64, messages=_msg(ASK))
    _clean(msg.content[0].text)
    _clean_args(msg.content[1].input)
    for shape in OTHER_SHAPES:
        with client(**shape).messages.stream(model=ANTHROPIC_MODEL, max_tokens=64,
                                             messages=_msg(ASK)) as stream:
            text = "".join(stream.text_stream)
            final = stream.get_final_message()
        _clean(text)
        _clean_args(final.content[1].input)


def test_gemini_json_and_stream(inspecting, upstream):
    from google import genai
    from google.genai import types
    cap = e2e.Capture()

    def client(**headers):
        return genai.Client(api_key="e2e-not-a-key", http_options=types.HttpOptions(
            base_url=inspecting.url, api_version="v1beta",
            headers={"Host": GEMINI_HOST, **headers}, httpx_client=cap.client()))
    r = client(**TOOLS).models.generate_content(model=GEMINI_MODEL, contents=ASK)
    _clean(r.text)
    _clean_args(dict(r.function_calls[0].args))
    for shape in OTHER_SHAPES:
        text, calls = "", []
        for chunk in client(**shape).models.generate_content_stream(model=GEMINI_MODEL, contents=ASK):
            for part in chunk.candidates[0].content.parts or []:
                text += part.text or ""
                if part.function_call:
                    calls.append(dict(part.function_call.args))
        _clean(text)
        assert len(calls) == 1
        _clean_args(calls[0])


def _audit_lines(envoy) -> list[dict]:
    lines = [json.loads(m.group(1)) for m in
             re.finditer(r"airlock\.audit (\{.*\})", envoy.log_text())]
    return [x for x in lines if x.get("event") == "response_findings"]


def test_monitor_tier_counts_and_audits_without_changing(inspecting, upstream):
    """Another host (`monitor`): the reply passes as written, and is counted and audited."""
    cap = e2e.Capture()
    before = _audit_lines(inspecting)
    text = openai(inspecting, cap, host=RELAY_HOST, **{"x-e2e-echo": "text", **SAYING}) \
        .chat.completions.create(model=OPENAI_MODEL, messages=_msg("hi")).choices[0].message.content
    assert text.startswith(SAY), text
    lines = e2e.poll(lambda: [x for x in _audit_lines(inspecting) if x not in before
                              and x["tier"] == "unknown-relay"] or None,
                     what="a response_findings audit line")
    line = lines[-1]
    assert line["action"] == "monitor" and line["direction"] == "response"
    assert line["masked"] == 0
    assert [f["detector"] for f in line["findings"]] == ["aws-access-key-id"]
    assert line["findings"][0]["fingerprint"].startswith("hmac-sha256:")
    assert KEY not in json.dumps(lines), "the audit line never holds the value"


def test_stats_carry_the_direction_label(inspecting, upstream):
    cap = e2e.Capture()
    before = inspecting.stats("airlock.findings_total").get(STAT, 0)
    openai(inspecting, cap, **TOOLS).chat.completions.create(model=OPENAI_MODEL, messages=_msg(ASK))
    e2e.poll(lambda: inspecting.stats("airlock.findings_total").get(STAT, 0) > before,
             what="a response finding counted")
    assert inspecting.stats("airlock.decisions_total").get(
        "wasmcustom.airlock.decisions_total.direction.response.action.mask", 0) >= 1
    samples = e2e.prometheus_samples(inspecting.prometheus())
    assert e2e.prom_value(samples, "airlock_findings_total", airlock_direction="response",
                          airlock_detector="aws-access-key-id") >= 1
    assert e2e.prom_value(samples, "airlock_decisions_total", airlock_direction="response",
                          airlock_action="mask") >= 1
    assert KEY not in inspecting.prometheus()


@pytest.mark.parametrize("name,tags", [
    ("wasmcustom.airlock.findings_total.direction.response.detector.aws-access-key-id",
     {"airlock_direction": "response", "airlock_detector": "aws-access-key-id"}),
    ("wasmcustom.airlock.decisions_total.direction.response.action.mask",
     {"airlock_direction": "response", "airlock_action": "mask"}),
    ("wasmcustom.airlock.findings_total.detector.email-address", {"airlock_detector": "email-address"}),
])
def test_direction_tag_regexes(name, tags):
    """Both tags of a response stat are extracted, and the rest is the request stat's name."""
    from e2e import config
    found, rest = {}, name
    for spec in config.stats_tags():
        m = re.search(spec["regex"], name)
        if m:
            found[spec["tag_name"]] = m.group(2)
            rest = rest.replace(m.group(1), "", 1)
    assert found == tags
    assert rest in ("wasmcustom.airlock.findings_total", "wasmcustom.airlock.decisions_total")


def test_added_latency_per_sse_event(inspecting, envoy, plain_envoy, upstream):
    """The median time an SSE event spends in Envoy with Airlock restoring and inspecting it,
    against restoring only (the default policy) and no filter, interleaved (events 12 ms apart,
    each read alone). Printed for benches/RESULTS.md; asserted only against a real fault (an
    event held until the next one arrives adds the whole gap). The text a channel holds back
    for inspection still arrives later: that is the content delay, not an event's latency."""
    from test_tokens import _event_latencies, latency_bodies, median_latencies

    def held_back_latencies(envoy, upstream, body, n):
        # The content channel's held text goes out at its end in one added event.
        return _event_latencies(envoy, upstream, body, n, added_at_end=1)
    body, plain_body = latency_bodies()
    i, r, w = median_latencies(upstream, [(inspecting, body, held_back_latencies),
                                          (envoy, body, _event_latencies),
                                          (plain_envoy, plain_body, _event_latencies)])
    print(f"\nSSE event latency through Envoy, median of 60 events: "
          f"restoring and inspecting {i / 1000:.1f} us, restoring only {r / 1000:.1f} us, "
          f"no filter {w / 1000:.1f} us; added by inspecting {(i - r) / 1000:.1f} us, "
          f"by the filter in all {(i - w) / 1000:.1f} us")
    assert i - r < 6_000_000, "inspection holds events back (more than half the gap added)"
