"""Generated parser differentials, judged by real parsers: Python's `json` and Node's `JSON.parse`.

`test_differentials.py` and host-tests/tests/differentials.rs hold one hand-made case per known
differential. This test looks for the ones nobody listed. It generates (seeded) request bodies
that mix the tricks lenient and strict parsers disagree on, then asks the real parsers what they
read, and Airlock (`airlock scan`, the same engine as the filter, default policy) what it decides:

- the tricks: characters of the key as `\\u` escapes (either case of hex), a lone surrogate or
  U+FFFD inside the key, the key in a duplicate member (first or last), in an object key, in a
  member whose name differs in case, deep nesting, a leading BOM, `NaN`/`Infinity`, huge numbers,
  trailing documents, and the whole body in UTF-16 or UTF-32 with or without a byte-order mark;
- a parser "reads the key" when one of the strings it returns (object keys included) holds it
  once lone surrogates and U+FFFD are dropped, as a reader would;
- every body in which some parser reads the key must be blocked; every clean twin (the same
  construction around harmless text) that some parser accepts must be allowed: Airlock must
  neither miss what an upstream reads nor refuse what it accepts.

Go's `encoding/json` is not run (no Go toolchain on these machines); docs/threat-model.md gives
its behaviour from its documentation. Failure messages name the tricks, never the key.
"""

from __future__ import annotations

import base64
import json
import random
import shutil
import subprocess

import pytest

# An AWS access key id of the documented shape; not the documented example key.
KEY = "AKIAR7UZ3WQ4XK2M6PLD"
CLEAN = "please summarise the meeting notes"
CASES = 300

NODE_READER = r"""
const lines = require('fs').readFileSync(0, 'utf8').split('\n').filter(Boolean);
for (const line of lines) {
  const strings = [];
  try {
    const collect = (k, v) => {
      strings.push(k);
      if (typeof v === 'string') {
        strings.push(v);
        // Tool-call arguments are JSON inside a string: the application parses them again.
        if (v.startsWith('{')) { try { JSON.parse(v, collect); } catch (e) {} }
      }
      return v;
    };
    JSON.parse(Buffer.from(line, 'base64').toString('utf8'), collect);
    // Code units, so lone surrogates survive the trip.
    console.log(JSON.stringify({ok: true, units: strings.map(s => Array.from(s, c => c.codePointAt(0)))}));
  } catch (e) {
    console.log(JSON.stringify({ok: false}));
  }
}
"""


def escape_some(rng: random.Random, text: str) -> str:
    """`text` as the inside of a JSON string, some characters as `\\u` escapes."""
    out = []
    for c in text:
        if rng.random() < 0.3:
            code = "%04x" % ord(c)
            out.append("\\u" + (code.upper() if rng.random() < 0.5 else code))
        else:
            out.append(c)
    return "".join(out)


def payload_literal(rng: random.Random, text: str, tricks: list[str]) -> str:
    """A JSON string literal holding `text`, perhaps with a character inside the key that
    renders as nothing (a lone surrogate, U+FFFD)."""
    head, key, tail = text.partition(KEY)
    if not key:
        return '"%s"' % escape_some(rng, text)
    inside = ""
    roll = rng.random()
    if roll < 0.15:
        inside, trick = "\\ud800", "lone-surrogate-inside"
    elif roll < 0.25:
        inside, trick = "\\ufffd", "replacement-char-inside"
    if inside:
        tricks.append(trick)
        cut = rng.randrange(4, len(KEY) - 4)
        key = escape_some(rng, KEY[:cut]) + inside + escape_some(rng, KEY[cut:])
    else:
        key = escape_some(rng, KEY)
    return '"%s%s%s"' % (escape_some(rng, head), key, escape_some(rng, tail))


def document(seed: float, text: str) -> tuple[bytes, list[str]]:
    """One generated body holding `text` somewhere, and the tricks it uses. The same `seed`
    gives the same construction around another text (its escapes are drawn apart)."""
    tricks: list[str] = []
    lit = payload_literal(random.Random(seed + 0.5), text, tricks)
    rng = random.Random(seed)
    clean_msg = '{"role":"user","content":"hello"}'
    place = rng.choice(["content", "dup-first", "dup-last", "key", "case", "deep", "tool-args"])
    tricks.append(place)
    if place == "content":
        messages = '[{"role":"user","content":%s}]' % lit
        members = ['"model":"gpt-4o-mini"', '"messages":%s' % messages]
    elif place in ("dup-first", "dup-last"):
        secret = '"messages":[{"role":"user","content":%s}]' % lit
        clean = '"messages":[%s]' % clean_msg
        pair = [secret, clean] if place == "dup-first" else [clean, secret]
        members = ['"model":"m"'] + pair
    elif place == "key":
        members = ['"model":"m"', '"messages":[{"role":"user","content":"hi",%s:1}]' % lit]
    elif place == "case":
        members = ['"Model":"m"', '"MESSAGES":[{"Role":"user","Content":%s}]' % lit]
    elif place == "deep":
        depth = rng.choice([20, 127, 140, 400])
        tricks.append(f"depth-{depth}")
        members = ['"messages":%s%s%s' % ("[" * depth, lit, "]" * depth)]
    else:
        args = json.dumps('{"query":%s}' % lit)[1:-1]
        members = ['"model":"m"', '"messages":[{"role":"assistant","tool_calls":[{"type":"function",'
                   '"function":{"name":"search","arguments":"%s"}}]}]' % args]
    if rng.random() < 0.2:
        members.append('"temperature":%s' % rng.choice(["NaN", "Infinity", "-Infinity"]))
        tricks.append("nan")
    if rng.random() < 0.2:
        members.append('"seed":%s' % ("9" * rng.choice([20, 400])))
        tricks.append("huge-number")
    if place not in ("dup-first", "dup-last"):
        rng.shuffle(members)
    body = "{" + ",".join(members) + "}"
    if rng.random() < 0.1:
        body = '{"messages":[%s]} ' % clean_msg + body
        tricks.append("trailing-document")
    raw = body.encode("utf-8", "surrogatepass")
    encoding = rng.choice(["utf-8"] * 5 + ["utf-8-bom", "utf-16-le", "utf-16-be", "utf-16", "utf-32-le",
                                             "utf-32-be", "utf-32"])
    if encoding != "utf-8":
        tricks.append(encoding)
        raw = b"\xef\xbb\xbf" + raw if encoding == "utf-8-bom" else body.encode(encoding)
    return raw, tricks


def reads_key(strings: list[str]) -> bool:
    for s in strings:
        seen = "".join(c for c in s if not (0xD800 <= ord(c) <= 0xDFFF or c == "\ufffd"))
        if KEY in seen:
            return True
    return False


def python_reads(body: bytes) -> tuple[bool, bool]:
    """Whether Python's json accepts `body`, and whether it reads the key."""
    strings: list[str] = []

    def pairs(items):
        for k, v in items:
            strings.append(k)
            if isinstance(v, str):
                strings.append(v)
        return dict(items)

    def walk(value):
        if isinstance(value, str):
            strings.append(value)
        elif isinstance(value, list):
            for v in value:
                walk(v)
        elif isinstance(value, dict):
            for v in value.values():
                if not isinstance(v, str):  # strings were taken with their keys
                    walk(v)

    try:
        walk(json.loads(body, object_pairs_hook=pairs))
    except (ValueError, RecursionError):
        return False, False
    # Tool-call arguments are JSON inside a string: the application parses them again.
    for s in list(strings):
        if s.startswith("{"):
            try:
                walk(json.loads(s, object_pairs_hook=pairs))
            except (ValueError, RecursionError):
                pass
    return True, reads_key(strings)


def node_reads(bodies: list[bytes]) -> list[tuple[bool, bool]]:
    """For each body: whether Node's JSON.parse (of the body read as UTF-8) accepts it, and
    whether it reads the key."""
    node = shutil.which("node") or shutil.which("nodejs")
    assert node, "Node.js is needed (it is on these machines: apt-get install nodejs)"
    stdin = "\n".join(base64.b64encode(b).decode() for b in bodies) + "\n"
    out = subprocess.run([node, "-e", NODE_READER], input=stdin, capture_output=True, text=True,
                         timeout=120, check=True).stdout.splitlines()
    assert len(out) == len(bodies)
    result = []
    for line in out:
        r = json.loads(line)
        strings = ["".join(chr(u) for u in units) for units in r.get("units", [])]
        result.append((r["ok"], r["ok"] and reads_key(strings)))
    return result


def scan(cli, bodies: list[bytes], tmp_path) -> list[str]:
    """Airlock's decision on each body (a chat request to an approved vendor, as JSON)."""
    for i, body in enumerate(bodies):
        (tmp_path / f"{i:05d}.json").write_bytes(body)
    out = subprocess.run([str(cli), "scan", "--content-type", "application/json", str(tmp_path)],
                         capture_output=True, text=True, timeout=300, check=False)
    decisions = {}
    for line in out.stdout.splitlines():
        r = json.loads(line)
        decisions[r["input"].rsplit("/", 1)[-1]] = r["decision"]
    return [decisions.get(f"{i:05d}.json", "missing") for i in range(len(bodies))]


@pytest.mark.parametrize("seed", [1, 2])
def test_what_any_real_parser_reads_airlock_inspects(cli, tmp_path, seed):
    rng = random.Random(seed)
    cases = []
    for _ in range(CASES):
        construction = rng.random()
        secret_body, tricks = document(construction, f"my key is {KEY}")
        clean_body, _ = document(construction, CLEAN)  # the clean twin
        cases.append((tricks, secret_body, clean_body))
    bodies = [c[1] for c in cases] + [c[2] for c in cases]
    node = node_reads(bodies)
    decisions = scan(cli, bodies, tmp_path)
    missed, refused, leak_paths, accepted_clean = [], [], 0, 0
    for i, (tricks, secret_body, clean_body) in enumerate(cases):
        py_ok, py_key = python_reads(secret_body)
        node_ok, node_key = node[i]
        if py_key or node_key:
            leak_paths += 1
            if decisions[i] != "block":
                readers = "+".join(n for n, r in (("python", py_key), ("node", node_key)) if r)
                missed.append(f"{' '.join(tricks)} (read by {readers}): {decisions[i]}")
        clean_py_ok, _ = python_reads(clean_body)
        clean_node_ok, _ = node[CASES + i]
        if clean_py_ok or clean_node_ok:
            accepted_clean += 1
            if decisions[CASES + i] != "allow":
                refused.append(f"{' '.join(tricks)}: {decisions[CASES + i]}")
    # The generator must produce real leak paths, or the test proves nothing.
    assert leak_paths >= CASES // 2, f"only {leak_paths} of {CASES} bodies are read by any parser"
    assert accepted_clean >= CASES // 2
    assert not missed, f"{len(missed)} of {leak_paths} keys a real parser reads passed:\n" + "\n".join(missed[:20])
    assert not refused, (f"{len(refused)} of {accepted_clean} clean bodies a real parser accepts were not "
                         "allowed:\n" + "\n".join(refused[:20]))
