#!/usr/bin/env python3
"""Fake AI-vendor upstream for Airlock's Envoy end-to-end tests and demo.

Standard library only. An HTTP/1.1 server on 127.0.0.1 that answers like
OpenAI, Anthropic and Gemini well enough for the official Python SDKs to parse
the replies (JSON and SSE), and records every request exactly as it arrived.

    python3 envoy/upstream.py [--port N]       (or env AIRLOCK_UPSTREAM_PORT; 0 = pick a free port)

Prints one line `upstream listening on 127.0.0.1:PORT` once it accepts connections.

Control endpoints (never forwarded by the tests through Envoy; call them directly):
  GET  /__requests        JSON list of recorded requests:
                          {seq, method, path, version, headers: [[k, v], ...],
                           body_b64, chunked, trailers: [[k, v], ...], hold, complete,
                           aborted}
                          A request is recorded as soon as its headers are in (`complete`
                          false until its body has been read); `aborted` is null, or why
                          the body could not be read in full.
  POST /__reset           forget recorded requests
  POST /__release?token=T let a held stream (request header `x-e2e-hold: T`) go on
  GET  /__health          200 "ok"

Echo (the response path, issue 13): a request carrying `x-e2e-echo: text` (or `tools`) is
answered as a model that repeats the reversible tokens it was sent (`[EMAIL_7Q2F]`), in the
vendor's own shape: in the reply text, and with `tools` also in a tool / function call's
arguments (OpenAI chat tool_calls, Responses function_call, Anthropic tool_use, Gemini
functionCall). Streams carry the text in deltas of `x-e2e-piece` characters (default 2), so
tokens are cut across events. Other knobs:
  x-e2e-chunk-bytes: N     write the (SSE or JSON) body in N-byte HTTP chunks, flushed one by one
  x-e2e-chunk-delay-ms: MS pause between those chunks (so the proxy reads them apart)
  x-e2e-gzip: 1 | force    gzip the body if the request's accept-encoding allows it (1), or always
  x-e2e-model: NAME        report NAME as the response's model (a relay swapping models)
  x-e2e-say-b64: B64       the model's text starts with this (base64 of UTF-8) text, e.g. a
                           secret the model produced itself (response inspection); with
                           `tools` it is in the call's arguments too
  x-e2e-event-gap-ms: MS   send an SSE reply one event per chunk, MS apart, recording each
                           event's send time (time.monotonic_ns) in the record's `sent_ns`

Streams: a request carrying `x-e2e-hold: TOKEN` gets its first SSE event, then
the server waits (at most 20 s) for `POST /__release?token=TOKEN` before sending
the rest. The record's `hold` field becomes "released" or "timeout". A client
that reads the first event before releasing proves the response streams through
the proxy rather than being buffered.

Faults: a request carrying `x-e2e-reset: before-headers` has its connection reset
(TCP RST) once its body is read, before any response byte; `x-e2e-reset: mid-stream`
gets the response headers and the first SSE event of a stream, then the reset.
"""

from __future__ import annotations

import argparse
import base64
import gzip
import json
import os
import re
import struct
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

REPLY_TEXT = "Hello from the fake upstream."
STREAM_PIECES = ["Hello", " from", " the", " fake", " upstream."]
HOLD_TIMEOUT_S = 20.0


class Store:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.requests: list[dict] = []
        self.seq = 0
        self.holds: dict[str, threading.Event] = {}

    def add(self, rec: dict) -> dict:
        with self.lock:
            self.seq += 1
            rec["seq"] = self.seq
            self.requests.append(rec)
        return rec

    def snapshot(self) -> list[dict]:
        with self.lock:
            return [dict(r) for r in self.requests]

    def reset(self) -> None:
        with self.lock:
            self.requests.clear()

    def hold_event(self, token: str) -> threading.Event:
        with self.lock:
            return self.holds.setdefault(token, threading.Event())


STORE = Store()


class BadRequest(Exception):
    pass


def _now() -> int:
    return int(time.time())


# ---------------------------------------------------------------- vendor replies

def openai_chat(model: str) -> dict:
    return {
        "id": "chatcmpl-fake0001",
        "object": "chat.completion",
        "created": _now(),
        "model": model,
        "choices": [{
            "index": 0,
            "message": {"role": "assistant", "content": REPLY_TEXT, "refusal": None},
            "logprobs": None,
            "finish_reason": "stop",
        }],
        "usage": {"prompt_tokens": 5, "completion_tokens": 5, "total_tokens": 10},
    }


def openai_chat_stream(model: str) -> list[bytes]:
    events = []
    created = _now()
    for i, piece in enumerate(STREAM_PIECES):
        delta = {"content": piece}
        if i == 0:
            delta["role"] = "assistant"
        events.append({
            "id": "chatcmpl-fake0001", "object": "chat.completion.chunk", "created": created,
            "model": model,
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": None}],
        })
    events.append({
        "id": "chatcmpl-fake0001", "object": "chat.completion.chunk", "created": created,
        "model": model,
        "choices": [{"index": 0, "delta": {}, "logprobs": None, "finish_reason": "stop"}],
    })
    out = [b"data: " + json.dumps(e).encode() + b"\n\n" for e in events]
    out.append(b"data: [DONE]\n\n")
    return out


def _openai_response_obj(model: str, status: str, text: str | None) -> dict:
    output = []
    if text is not None:
        output = [{
            "type": "message", "id": "msg_fake0001", "status": "completed", "role": "assistant",
            "content": [{"type": "output_text", "text": text, "annotations": []}],
        }]
    return {
        "id": "resp_fake0001", "object": "response", "created_at": _now(), "status": status,
        "model": model, "output": output, "parallel_tool_calls": True, "tool_choice": "auto",
        "tools": [], "temperature": 1.0, "top_p": 1.0, "error": None, "incomplete_details": None,
        "instructions": None, "metadata": {},
        "usage": {"input_tokens": 5, "output_tokens": 5, "total_tokens": 10,
                  "input_tokens_details": {"cached_tokens": 0},
                  "output_tokens_details": {"reasoning_tokens": 0}},
    }


def openai_responses(model: str) -> dict:
    return _openai_response_obj(model, "completed", REPLY_TEXT)


def openai_responses_stream(model: str) -> list[bytes]:
    seq = 0
    events = []

    def ev(kind: str, data: dict) -> None:
        nonlocal seq
        data = {"type": kind, "sequence_number": seq, **data}
        seq += 1
        events.append(f"event: {kind}\ndata: {json.dumps(data)}\n\n".encode())

    item = {"type": "message", "id": "msg_fake0001", "status": "in_progress", "role": "assistant",
            "content": []}
    ev("response.created", {"response": _openai_response_obj(model, "in_progress", None)})
    ev("response.in_progress", {"response": _openai_response_obj(model, "in_progress", None)})
    ev("response.output_item.added", {"output_index": 0, "item": item})
    ev("response.content_part.added", {"item_id": "msg_fake0001", "output_index": 0,
                                      "content_index": 0,
                                      "part": {"type": "output_text", "text": "",
                                               "annotations": []}})
    for piece in STREAM_PIECES:
        ev("response.output_text.delta", {"item_id": "msg_fake0001", "output_index": 0,
                                          "content_index": 0, "delta": piece, "logprobs": []})
    ev("response.output_text.done", {"item_id": "msg_fake0001", "output_index": 0,
                                     "content_index": 0, "text": REPLY_TEXT, "logprobs": []})
    done_part = {"type": "output_text", "text": REPLY_TEXT, "annotations": []}
    ev("response.content_part.done", {"item_id": "msg_fake0001", "output_index": 0,
                                     "content_index": 0, "part": done_part})
    ev("response.output_item.done", {"output_index": 0,
                                    "item": {**item, "status": "completed", "content": [done_part]}})
    ev("response.completed", {"response": _openai_response_obj(model, "completed", REPLY_TEXT)})
    return events


def openai_embeddings(req: dict) -> dict:
    inp = req.get("input", "")
    n = len(inp) if isinstance(inp, list) else 1
    vec = [0.25, -0.5, 0.125, 1.0]
    data = []
    for i in range(n):
        if req.get("encoding_format") == "base64":
            emb: object = base64.b64encode(struct.pack(f"<{len(vec)}f", *vec)).decode()
        else:
            emb = vec
        data.append({"object": "embedding", "index": i, "embedding": emb})
    return {"object": "list", "data": data, "model": req.get("model", "text-embedding-3-small"),
            "usage": {"prompt_tokens": 4, "total_tokens": 4}}


def anthropic_message(model: str) -> dict:
    return {
        "id": "msg_fake0001", "type": "message", "role": "assistant", "model": model,
        "content": [{"type": "text", "text": REPLY_TEXT}],
        "stop_reason": "end_turn", "stop_sequence": None,
        "usage": {"input_tokens": 5, "output_tokens": 5},
    }


def anthropic_stream(model: str) -> list[bytes]:
    def ev(kind: str, data: dict) -> bytes:
        return f"event: {kind}\ndata: {json.dumps({'type': kind, **data})}\n\n".encode()

    msg = anthropic_message(model)
    msg["content"] = []
    msg["stop_reason"] = None
    msg["usage"] = {"input_tokens": 5, "output_tokens": 1}
    out = [ev("message_start", {"message": msg}),
           ev("content_block_start", {"index": 0, "content_block": {"type": "text", "text": ""}})]
    for piece in STREAM_PIECES:
        out.append(ev("content_block_delta",
                      {"index": 0, "delta": {"type": "text_delta", "text": piece}}))
    out.append(ev("content_block_stop", {"index": 0}))
    out.append(ev("message_delta", {"delta": {"stop_reason": "end_turn", "stop_sequence": None},
                                    "usage": {"output_tokens": 5}}))
    out.append(ev("message_stop", {}))
    return out


def gemini_generate(model: str, text: str = REPLY_TEXT, finish: str | None = "STOP") -> dict:
    cand: dict = {"content": {"role": "model", "parts": [{"text": text}]}, "index": 0}
    if finish:
        cand["finishReason"] = finish
    return {
        "candidates": [cand],
        "usageMetadata": {"promptTokenCount": 5, "candidatesTokenCount": 5, "totalTokenCount": 10},
        "modelVersion": model,
    }


def gemini_stream(model: str) -> list[bytes]:
    out = []
    for i, piece in enumerate(STREAM_PIECES):
        last = i == len(STREAM_PIECES) - 1
        obj = gemini_generate(model, piece, "STOP" if last else None)
        out.append(b"data: " + json.dumps(obj).encode() + b"\r\n\r\n")
    return out


def gemini_embed(req: dict) -> dict:
    return {"embedding": {"values": [0.25, -0.5, 0.125, 1.0]}}


# ---------------------------------------------------------------- echo (response path)

TOKEN_RE = re.compile(rb"\[[A-Z][A-Z0-9_]*_[0-9A-HJKMNP-TV-Z]{4,12}\]")


def tokens_in(body: bytes) -> list[str]:
    """The distinct reversible tokens in a request body, in order of first appearance."""
    seen: list[str] = []
    for m in TOKEN_RE.finditer(body):
        t = m.group(0).decode()
        if t not in seen:
            seen.append(t)
    return seen


def _pieces(text: str, n: int) -> list[str]:
    return [text[i:i + n] for i in range(0, len(text), n)] or [""]


def echo_reply(path: str, model: str, stream: bool, text: str, args: dict | None,
               piece: int) -> tuple[str, object]:
    """("json", obj) or ("sse", [bytes]) in the shape of the vendor behind `path`."""
    args_json = json.dumps(args) if args is not None else None
    if path.endswith("/chat/completions"):
        return ("sse", echo_openai_chat_stream(model, text, args_json, piece)) if stream else \
            ("json", echo_openai_chat(model, text, args_json))
    if path.endswith("/responses"):
        return ("sse", echo_responses_stream(model, text, args_json, piece)) if stream else \
            ("json", echo_responses(model, text, args_json))
    if path.endswith("/v1/messages"):
        return ("sse", echo_anthropic_stream(model, text, args_json, piece)) if stream else \
            ("json", echo_anthropic(model, text, args))
    gmodel = path.rsplit("/", 1)[-1].split(":", 1)[0]
    if ":streamGenerateContent" in path:
        return "sse", echo_gemini_stream(model or gmodel, text, args, piece)
    return "json", echo_gemini(model or gmodel, text, args)


def echo_openai_chat(model: str, text: str, args_json: str | None) -> dict:
    reply = openai_chat(model)
    msg = reply["choices"][0]["message"]
    msg["content"] = text
    if args_json is not None:
        msg["tool_calls"] = [{"id": "call_e2e1", "type": "function",
                              "function": {"name": "send_mail", "arguments": args_json}}]
        reply["choices"][0]["finish_reason"] = "tool_calls"
    return reply


def echo_openai_chat_stream(model: str, text: str, args_json: str | None, piece: int) -> list[bytes]:
    created = _now()

    def chunk(delta: dict, finish=None) -> bytes:
        e = {"id": "chatcmpl-e2e", "object": "chat.completion.chunk", "created": created,
             "model": model, "choices": [{"index": 0, "delta": delta, "logprobs": None,
                                          "finish_reason": finish}]}
        return b"data: " + json.dumps(e).encode() + b"\n\n"

    out = [chunk({"role": "assistant", "content": ""})]
    out += [chunk({"content": p}) for p in _pieces(text, piece)]
    if args_json is not None:
        for k, p in enumerate(_pieces(args_json, piece)):
            call: dict = {"index": 0, "function": {"arguments": p}}
            if k == 0:
                call.update(id="call_e2e1", type="function")
                call["function"]["name"] = "send_mail"
            out.append(chunk({"tool_calls": [call]}))
    out.append(chunk({}, "tool_calls" if args_json is not None else "stop"))
    out.append(b"data: [DONE]\n\n")
    return out


def _responses_output(text: str, args_json: str | None) -> list[dict]:
    out = [{"type": "message", "id": "msg_e2e1", "status": "completed", "role": "assistant",
            "content": [{"type": "output_text", "text": text, "annotations": []}]}]
    if args_json is not None:
        out.append({"type": "function_call", "id": "fc_e2e1", "call_id": "call_e2e1",
                    "name": "send_mail", "arguments": args_json, "status": "completed"})
    return out


def echo_responses(model: str, text: str, args_json: str | None) -> dict:
    obj = _openai_response_obj(model, "completed", text)
    obj["output"] = _responses_output(text, args_json)
    return obj


def echo_responses_stream(model: str, text: str, args_json: str | None, piece: int) -> list[bytes]:
    seq = 0
    events: list[bytes] = []

    def ev(kind: str, data: dict) -> None:
        nonlocal seq
        data = {"type": kind, "sequence_number": seq, **data}
        seq += 1
        events.append(f"event: {kind}\ndata: {json.dumps(data)}\n\n".encode())

    ev("response.created", {"response": _openai_response_obj(model, "in_progress", None)})
    item = {"type": "message", "id": "msg_e2e1", "status": "in_progress", "role": "assistant",
            "content": []}
    ev("response.output_item.added", {"output_index": 0, "item": item})
    ev("response.content_part.added", {"item_id": "msg_e2e1", "output_index": 0, "content_index": 0,
                                      "part": {"type": "output_text", "text": "", "annotations": []}})
    for p in _pieces(text, piece):
        ev("response.output_text.delta", {"item_id": "msg_e2e1", "output_index": 0,
                                          "content_index": 0, "delta": p, "logprobs": []})
    ev("response.output_text.done", {"item_id": "msg_e2e1", "output_index": 0, "content_index": 0,
                                     "text": text, "logprobs": []})
    output = _responses_output(text, args_json)
    ev("response.output_item.done", {"output_index": 0, "item": output[0]})
    if args_json is not None:
        fc = {**output[1], "arguments": "", "status": "in_progress"}
        ev("response.output_item.added", {"output_index": 1, "item": fc})
        for p in _pieces(args_json, piece):
            ev("response.function_call_arguments.delta", {"item_id": "fc_e2e1", "output_index": 1,
                                                          "delta": p})
        ev("response.function_call_arguments.done", {"item_id": "fc_e2e1", "output_index": 1,
                                                     "arguments": args_json})
        ev("response.output_item.done", {"output_index": 1, "item": output[1]})
    done = echo_responses(model, text, args_json)
    ev("response.completed", {"response": done})
    return events


def echo_anthropic(model: str, text: str, args: dict | None) -> dict:
    msg = anthropic_message(model)
    msg["content"] = [{"type": "text", "text": text}]
    if args is not None:
        msg["content"].append({"type": "tool_use", "id": "toolu_e2e1", "name": "send_mail",
                               "input": args})
        msg["stop_reason"] = "tool_use"
    return msg


def echo_anthropic_stream(model: str, text: str, args_json: str | None, piece: int) -> list[bytes]:
    def ev(kind: str, data: dict) -> bytes:
        return f"event: {kind}\ndata: {json.dumps({'type': kind, **data})}\n\n".encode()

    msg = anthropic_message(model)
    msg.update(content=[], stop_reason=None, usage={"input_tokens": 5, "output_tokens": 1})
    out = [ev("message_start", {"message": msg}),
           ev("content_block_start", {"index": 0, "content_block": {"type": "text", "text": ""}}),
           ev("ping", {})]
    out += [ev("content_block_delta", {"index": 0, "delta": {"type": "text_delta", "text": p}})
            for p in _pieces(text, piece)]
    out.append(ev("content_block_stop", {"index": 0}))
    if args_json is not None:
        out.append(ev("content_block_start", {"index": 1, "content_block": {
            "type": "tool_use", "id": "toolu_e2e1", "name": "send_mail", "input": {}}}))
        out += [ev("content_block_delta", {"index": 1, "delta": {"type": "input_json_delta",
                                                                 "partial_json": p}})
                for p in _pieces(args_json, piece)]
        out.append(ev("content_block_stop", {"index": 1}))
    stop = "tool_use" if args_json is not None else "end_turn"
    out.append(ev("message_delta", {"delta": {"stop_reason": stop, "stop_sequence": None},
                                    "usage": {"output_tokens": 9}}))
    out.append(ev("message_stop", {}))
    return out


def echo_gemini(model: str, text: str, args: dict | None) -> dict:
    reply = gemini_generate(model, text)
    if args is not None:
        reply["candidates"][0]["content"]["parts"].append(
            {"functionCall": {"name": "send_mail", "args": args}})
    return reply


def echo_gemini_stream(model: str, text: str, args: dict | None, piece: int) -> list[bytes]:
    parts = _pieces(text, piece)
    out = []
    for i, p in enumerate(parts):
        last = i == len(parts) - 1 and args is None
        out.append(b"data: " + json.dumps(gemini_generate(model, p, "STOP" if last else None)).encode()
                   + b"\r\n\r\n")
    if args is not None:
        obj = gemini_generate(model, "", "STOP")
        obj["candidates"][0]["content"]["parts"] = [{"functionCall": {"name": "send_mail",
                                                                      "args": args}}]
        out.append(b"data: " + json.dumps(obj).encode() + b"\r\n\r\n")
    return out


# ---------------------------------------------------------------- handler

class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "airlock-fake-upstream/1"
    sys_version = ""

    def log_message(self, fmt: str, *args) -> None:  # quiet; records are the log
        if os.environ.get("AIRLOCK_UPSTREAM_VERBOSE"):
            sys.stderr.write("upstream: " + (fmt % args) + "\n")

    # -- body reading (content-length or chunked, with trailers)
    def _read_body(self) -> tuple[bytes, bool, list[list[str]]]:
        te = self.headers.get_all("Transfer-Encoding") or []
        te_tokens = [t.strip().lower() for v in te for t in v.split(",") if t.strip()]
        if te_tokens:
            if te_tokens[-1] != "chunked":
                raise BadRequest("unsupported transfer-encoding")
            return self._read_chunked()
        cl = self.headers.get("Content-Length")
        if cl is None:
            return b"", False, []
        try:
            n = int(cl)
        except ValueError as exc:
            raise BadRequest("bad content-length") from exc
        data = self.rfile.read(n)
        if len(data) != n:
            raise BadRequest("short body")
        return data, False, []

    def _read_chunked(self) -> tuple[bytes, bool, list[list[str]]]:
        parts = []
        while True:
            line = self.rfile.readline(65537)
            if not line:
                raise BadRequest("eof in chunk size")
            size_s = line.split(b";", 1)[0].strip()
            try:
                size = int(size_s, 16)
            except ValueError as exc:
                raise BadRequest("bad chunk size") from exc
            if size == 0:
                break
            data = self.rfile.read(size)
            if len(data) != size:
                raise BadRequest("short chunk")
            parts.append(data)
            if self.rfile.read(2) != b"\r\n":
                raise BadRequest("missing chunk CRLF")
        trailers = []
        while True:
            line = self.rfile.readline(65537)
            if not line or line in (b"\r\n", b"\n"):
                break
            k, _, v = line.decode("latin-1").partition(":")
            trailers.append([k.strip(), v.strip()])
        return b"".join(parts), True, trailers

    # -- replies
    def _send(self, status: int, body: bytes, ctype: str = "application/json",
              extra: dict | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        self.wfile.flush()

    def _json(self, status: int, obj: object, extra: dict | None = None) -> None:
        self._send(status, json.dumps(obj).encode(), extra=extra)

    def _events_apart(self, body: bytes, gap_s: float, rec: dict) -> None:
        """An SSE body one event per chunk, `gap_s` apart; send times go to rec["sent_ns"]."""
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        sent = []
        for event in body.split(b"\n\n")[:-1]:
            part = event + b"\n\n"
            time.sleep(gap_s)
            sent.append(time.monotonic_ns())
            self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
            self.wfile.flush()
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()
        with STORE.lock:
            rec["sent_ns"] = sent

    def _chunked(self, body: bytes, ctype: str, extra: dict) -> None:
        """The echo modes' replies: `body` in `x-e2e-chunk-bytes` pieces, gzip if asked."""
        gz = self.headers.get("x-e2e-gzip", "")
        accepts = "gzip" in (self.headers.get("Accept-Encoding") or "").lower()
        if gz == "force" or (gz == "1" and accepts):
            body = gzip.compress(body)
            extra = {**extra, "Content-Encoding": "gzip"}
        size = int(self.headers.get("x-e2e-chunk-bytes") or 0) or len(body) or 1
        delay = float(self.headers.get("x-e2e-chunk-delay-ms") or 0) / 1000.0
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        for k, v in extra.items():
            self.send_header(k, v)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for i in range(0, len(body), size):
            part = body[i:i + size]
            self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
            self.wfile.flush()
            if delay:
                time.sleep(delay)
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def _echo(self, path: str, req: dict, body: bytes, model: str, stream: bool,
              rec: dict) -> None:
        tokens = tokens_in(body)
        text = ("Noted: " + " and ".join(tokens) + ".") if tokens else REPLY_TEXT
        say = self.headers.get("x-e2e-say-b64")
        if say:
            text = base64.b64decode(say).decode() + " " + text
        args = None
        if self.headers.get("x-e2e-echo") == "tools":
            args = {"to": tokens[0] if tokens else "", "cc": tokens, "note": "from " + text}
        piece = int(self.headers.get("x-e2e-piece") or 2)
        model = self.headers.get("x-e2e-model") or model
        kind, reply = echo_reply(path, model, stream, text, args, piece)
        gap = self.headers.get("x-e2e-event-gap-ms")
        if kind == "sse" and gap:
            self._events_apart(b"".join(reply), float(gap) / 1000.0, rec)
        elif kind == "sse":
            self._chunked(b"".join(reply), "text/event-stream", {"Cache-Control": "no-cache"})
        else:
            self._chunked(json.dumps(reply).encode(), "application/json", {})

    def _stream(self, events: list[bytes], rec: dict, hold_token: str | None) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

        def chunk(data: bytes) -> None:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.wfile.flush()

        for i, ev in enumerate(events):
            chunk(ev)
            if i == 0 and hold_token:
                released = STORE.hold_event(hold_token).wait(HOLD_TIMEOUT_S)
                with STORE.lock:
                    rec["hold"] = "released" if released else "timeout"
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def _control(self, url: urllib.parse.SplitResult) -> bool:
        path = url.path
        if path == "/__requests" and self.command == "GET":
            self._json(200, STORE.snapshot())
            return True
        if path == "/__reset" and self.command == "POST":
            STORE.reset()
            self._json(200, {"ok": True})
            return True
        if path == "/__release" and self.command == "POST":
            token = urllib.parse.parse_qs(url.query).get("token", [""])[0]
            STORE.hold_event(token).set()
            self._json(200, {"ok": True})
            return True
        if path == "/__health":
            self._send(200, b"ok", "text/plain")
            return True
        return False

    def _handle(self) -> None:
        url = urllib.parse.urlsplit(self.path)
        control = url.path.startswith("/__")
        rec: dict = {}
        if not control:
            # Recorded as soon as the headers are in: a request whose headers arrived
            # but whose body never did (e.g. the proxy reset the stream after a block)
            # is still something the upstream saw.
            rec = STORE.add({
                "method": self.command,
                "path": self.path,
                "version": self.request_version,
                "headers": [[k, v] for k, v in self.headers.items()],
                "body_b64": "",
                "chunked": None,
                "trailers": [],
                "hold": None,
                "complete": False,
                "aborted": None,
                "time": time.time(),
            })
        try:
            body, chunked, trailers = self._read_body()
        except (BadRequest, OSError) as exc:
            with STORE.lock:
                rec["aborted"] = str(exc) or type(exc).__name__
            self.close_connection = True
            try:
                self._json(400, {"error": {"message": f"fake upstream: {exc}"}})
            except OSError:
                pass
            return
        if control:
            if not self._control(url):
                self._json(404, {"error": {"message": "fake upstream: unknown control path"}})
            return
        with STORE.lock:
            rec.update(body_b64=base64.b64encode(body).decode(), chunked=chunked,
                       trailers=trailers, complete=True)
        hold = self.headers.get("x-e2e-hold")
        reset = self.headers.get("x-e2e-reset")
        if reset in ("before-headers", "mid-stream"):
            self._reset(reset == "mid-stream")
            return
        self._route(url, body, rec, hold)

    def _reset(self, after_first_event: bool) -> None:
        """Ends the connection with a TCP RST (SO_LINGER 0), optionally after a stream's start."""
        if after_first_event:
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            event = b'data: {"partial": true}\n\n'
            self.wfile.write(b"%x\r\n%s\r\n" % (len(event), event))
            self.wfile.flush()
            time.sleep(0.2)
        import socket
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.close_connection = True
        self.connection.close()

    def _route(self, url: urllib.parse.SplitResult, body: bytes, rec: dict,
               hold: str | None) -> None:
        path = url.path
        if self.command != "POST":
            if path.startswith("/v1/models") or path.startswith("/v1beta/models"):
                self._json(200, {"object": "list", "data": []})
            else:
                self._json(404, {"error": {"message": f"fake upstream: no route {path}"}})
            return
        if (self.headers.get("content-encoding") or "").strip().lower() == "gzip":
            # Recorded as received; parsed decoded (the soak sends gzip bodies).
            import gzip
            try:
                body = gzip.decompress(body)
            except (OSError, EOFError):
                self._json(400, {"error": {"message": "fake upstream: body is not gzip"}})
                return
        try:
            req = json.loads(body) if body else {}
        except ValueError:
            self._json(400, {"error": {"message": "fake upstream: body is not JSON",
                                       "type": "invalid_request_error"}})
            return
        if not isinstance(req, dict):
            req = {}
        model = str(req.get("model", "fake-model"))
        stream = bool(req.get("stream"))
        if self.headers.get("x-e2e-echo"):
            stream = stream or ":streamGenerateContent" in path
            self._echo(path, req, body, model if "model" in req else "", stream, rec)
            return

        if path.endswith("/chat/completions"):
            if stream:
                self._stream(openai_chat_stream(model), rec, hold)
            else:
                self._json(200, openai_chat(model))
        elif path.endswith("/responses"):
            if stream:
                self._stream(openai_responses_stream(model), rec, hold)
            else:
                self._json(200, openai_responses(model))
        elif path.endswith("/embeddings"):
            self._json(200, openai_embeddings(req))
        elif path.endswith("/v1/messages"):
            if stream:
                self._stream(anthropic_stream(model), rec, hold)
            else:
                self._json(200, anthropic_message(model))
        elif ":streamGenerateContent" in path:
            gmodel = path.rsplit("/", 1)[-1].split(":", 1)[0]
            self._stream(gemini_stream(gmodel), rec, hold)
        elif ":generateContent" in path:
            gmodel = path.rsplit("/", 1)[-1].split(":", 1)[0]
            self._json(200, gemini_generate(gmodel))
        elif ":embedContent" in path:
            self._json(200, gemini_embed(req))
        else:
            self._json(200, {"ok": True, "note": "fake upstream: generic echo",
                             "received_bytes": len(body)})

    do_GET = _handle
    do_POST = _handle
    do_PUT = _handle
    do_PATCH = _handle
    do_DELETE = _handle
    do_HEAD = _handle


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128


def serve(port: int) -> None:
    srv = Server(("127.0.0.1", port), Handler)
    print(f"upstream listening on 127.0.0.1:{srv.server_address[1]}", flush=True)
    try:
        srv.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        srv.server_close()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--port", type=int,
                    default=int(os.environ.get("AIRLOCK_UPSTREAM_PORT", "0")),
                    help="port on 127.0.0.1 (0 = pick a free one and print it)")
    args = ap.parse_args(argv)
    serve(args.port)
    return 0


if __name__ == "__main__":
    sys.exit(main())
