#!/usr/bin/env python3
"""Render Envoy bootstrap configurations for Airlock (tests, demo, examples).

Standard library only. Library use:

    import config
    yaml_text = config.render_bootstrap(config.Options(upstream_port=8081, wasm="/path/airlock_filter.wasm",
                                                        plugin_config=json_text))
    config.write_ecds_resource(path, config.Options(...))        # atomic (write beside, then rename)

Command line:

    python3 envoy/config.py bootstrap --upstream-port 8081 --wasm W [--plugin-config-file F]
                                      [--listener-port 0] [--admin-port 0] [--no-filter] [--ecds FILE]
                                      [--plugin-config STRING] [--hash-key K | --hash-key-from-env]
                                      [--failure-policy FAIL_CLOSED] [--no-buffer-filter]
    python3 envoy/config.py ecds-resource --wasm W [--plugin-config-file F] --out FILE
    python3 envoy/config.py stats-tags            # the stats_tags block alone

Filter variants (Options):
  wasm=None                  no Airlock filter at all (baseline / byte-identity reference)
  plugin_config=""           the embedded default policy (the filter's contract: empty = default)
  plugin_config="<string>"   that string, byte for byte, as the plugin configuration
  ecds_path=FILE             the HTTP filter entry is fetched through ECDS from FILE
                             (write FILE with write_ecds_resource; Envoy reloads on rename)
"""

from __future__ import annotations

import argparse
import base64
import dataclasses
import json
import os
import re
import sys
import tempfile

WASM_TYPE = "type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm"
HCM_TYPE = ("type.googleapis.com/envoy.extensions.filters.network.http_connection_manager"
            ".v3.HttpConnectionManager")
ROUTER_TYPE = "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"
BUFFER_TYPE = "type.googleapis.com/envoy.extensions.filters.http.buffer.v3.Buffer"
STRING_VALUE_TYPE = "type.googleapis.com/google.protobuf.StringValue"
BYTES_VALUE_TYPE = "type.googleapis.com/google.protobuf.BytesValue"
TYPED_EXT_CONFIG_TYPE = "type.googleapis.com/envoy.config.core.v3.TypedExtensionConfig"

FILTER_NAME = "airlock"
BUFFER_LIMIT = 8 * 1024 * 1024  # 8 MiB: above the default policy's 1 MiB max_body_bytes

# The metric names from docs/CONTRACT.md are `airlock.<metric>.<tag>.<value>`; Envoy
# exposes them as `wasmcustom.airlock....` (the `wasmcustom.` namespace is dropped in
# /stats/prometheus). Each regex below is anchored to its metric names, so the value may hold
# any character (dots included) without swallowing another metric's segments. The first
# capture group is removed from the name; the second is the label value.
STATS_TAG_SPECS = [
    ("airlock_detector", r"findings_total(?:\.direction\.[^.]+)?", "detector"),
    ("airlock_class", "findings_by_class_total", "class"),
    ("airlock_tier", "findings_by_tier_total|key_theft_total|fields_enforced_total|model_mismatch_total", "tier"),
    ("airlock_action", r"decisions_total(?:\.direction\.[^.]+)?", "action"),
    ("airlock_reason", "inspection_errors_total|config_rejected_total", "reason"),
    ("airlock_outcome", "fail_mode_total", "outcome"),
    ("airlock_limit", "limit_hits_total", "limit"),
    ("airlock_restore_skip", "restore_skipped_total", "reason"),
]

# Tags in the middle of a name, before another tag: `airlock.findings_total.direction.response
# .detector.<id>` (response inspection, docs/response-path.md). The value is one segment; the
# names without it (the request's) carry no direction label.
STATS_TAG_INFIX_SPECS = [
    ("airlock_direction", "findings_total|decisions_total", "direction"),
]


def stats_tags() -> list[dict]:
    return [
        {"tag_name": tag, "regex": rf"^wasmcustom\.airlock\.(?:{metric})(\.{key}\.(.+))$"}
        for tag, metric, key in STATS_TAG_SPECS
    ] + [
        {"tag_name": tag, "regex": rf"^wasmcustom\.airlock\.(?:{metric})(\.{key}\.([^.]+))\."}
        for tag, metric, key in STATS_TAG_INFIX_SPECS
    ]


@dataclasses.dataclass
class Options:
    upstream_port: int = 0
    listener_port: int = 0          # 0: Envoy picks; read it back from /listeners
    admin_port: int = 0             # 0: Envoy picks; use --admin-address-path
    wasm: str | None = None         # path to airlock_filter.wasm; None: no filter
    plugin_config: str = ""         # "" selects the filter's embedded default policy
    hash_key: str | None = None     # AIRLOCK_HASH_KEY given to the VM (key_values)
    hash_key_from_env: bool = False # instead pass Envoy's own $AIRLOCK_HASH_KEY (host_env_keys)
    ecds_path: str | None = None    # render the ECDS variant, reading this file
    failure_policy: str = "FAIL_CLOSED"
    vm_id: str = "airlock"
    buffer_limit: int = BUFFER_LIMIT
    node_id: str = "airlock-e2e"
    node_cluster: str = "airlock"
    route_timeout: str = "60s"
    buffer_requests: bool = True    # buffer filter after Airlock: see http_filters()
    allow_on_headers_stop_iteration: bool = True   # see wasm_filter_config()
    stats_flush_interval: str | None = None   # e.g. "1s": histograms show up sooner
    vm_configuration: str = ""      # vm_config.configuration, e.g. {"config_public_keys": [...]}
    access_log_path: str | None = None        # JSON access log with Airlock's decision fields
    plugin_config_bytes: bytes | None = None  # a binary configuration (`airlock build --envelope`),
                                              # sent as a BytesValue instead of plugin_config


# ---------------------------------------------------------------- building blocks

def plugin_configuration(opts: Options) -> dict:
    """The plugin configuration Any: a StringValue of the JSON, or a BytesValue of a binary
    envelope (its proto3 JSON form is base64; Envoy decodes it, so the VM sees the raw bytes)."""
    if opts.plugin_config_bytes is not None:
        return {"@type": BYTES_VALUE_TYPE,
                "value": base64.b64encode(opts.plugin_config_bytes).decode("ascii")}
    return {"@type": STRING_VALUE_TYPE, "value": opts.plugin_config}


def wasm_filter_config(opts: Options) -> dict:
    """The typed_config of the Airlock HTTP filter (envoy.extensions.filters.http.wasm.v3.Wasm)."""
    if not opts.wasm:
        raise ValueError("wasm path required")
    vm_config: dict = {
        "vm_id": opts.vm_id,
        "runtime": "envoy.wasm.runtime.v8",
        "code": {"local": {"filename": os.path.abspath(opts.wasm)}},
    }
    if opts.hash_key_from_env:
        # Envoy passes its own AIRLOCK_HASH_KEY through; the key stays out of the config
        # (and out of config dumps and debug logs of the config).
        vm_config["environment_variables"] = {"host_env_keys": ["AIRLOCK_HASH_KEY"]}
    elif opts.hash_key is not None:
        vm_config["environment_variables"] = {"key_values": {"AIRLOCK_HASH_KEY": opts.hash_key}}
    if opts.vm_configuration:
        # The filter reads the keys its plugin configurations must be signed by from here.
        vm_config["configuration"] = {"@type": STRING_VALUE_TYPE, "value": opts.vm_configuration}
    out = {
        "@type": WASM_TYPE,
        "config": {
            "name": FILTER_NAME,
            "vm_config": vm_config,
            # StringValue: the plugin receives these bytes unchanged (a Struct would be
            # re-serialised by Envoy).
            "configuration": plugin_configuration(opts),
            # FAIL_CLOSED: if the VM crashes, requests get 503 instead of passing uninspected.
            # A DLP filter that silently fails open would leak exactly what it exists to stop.
            "failure_policy": opts.failure_policy,
        },
    }
    if opts.allow_on_headers_stop_iteration:
        # Envoy >= 1.35: a Pause from the request-headers callback stops only the headers
        # (StopIteration), and the body callbacks still run. Without it Envoy turns the Pause
        # into StopAllIteration and a filter that holds headers (plugin configuration
        # `"hold_headers": true`, `airlock build --hold-headers`) never sees the body: the
        # request stalls.
        out["config"]["allow_on_headers_stop_iteration"] = True
    return out


def http_filters(opts: Options) -> list[dict]:
    filters: list[dict] = []
    if opts.ecds_path:
        filters.append({
            "name": FILTER_NAME,
            "config_discovery": {
                "config_source": {
                    "path_config_source": {"path": os.path.abspath(opts.ecds_path)},
                    "resource_api_version": "V3",
                },
                "type_urls": [WASM_TYPE],
            },
        })
    elif opts.wasm:
        filters.append({"name": FILTER_NAME, "typed_config": wasm_filter_config(opts)})
    if opts.buffer_requests and (opts.wasm or opts.ecds_path):
        # By default Airlock lets the request headers go on and pauses in the body callback
        # (a Pause from the headers callback needs allow_on_headers_stop_iteration, and the
        # plugin configuration's `hold_headers`). This buffer filter, placed after Airlock,
        # keeps the router from opening the upstream request until Airlock has let the
        # whole, possibly rewritten, body through: a blocked request never reaches the
        # upstream, not even its headers. It also sets content-length on the final body.
        filters.append({"name": "envoy.filters.http.buffer",
                        "typed_config": {"@type": BUFFER_TYPE,
                                         "max_request_bytes": opts.buffer_limit}})
    filters.append({"name": "envoy.filters.http.router", "typed_config": {"@type": ROUTER_TYPE}})
    return filters


# Envoy's access log with Airlock's verdict: the filter writes it as filter state
# (wasm.airlock_decision, ...; filter/src/log_fields.rs). No header values, and the path
# without its query string (Gemini clients may send `?key=<API key>`).
ACCESS_LOG_FORMAT = {
    "start_time": "%START_TIME%",
    "method": "%REQ(:METHOD)%",
    "authority": "%REQ(:AUTHORITY)%",
    "path": "%REQ_WITHOUT_QUERY(:PATH)%",
    "response_code": "%RESPONSE_CODE%",
    "request_id": "%REQ(X-REQUEST-ID)%",
    "airlock_decision": "%FILTER_STATE(wasm.airlock_decision:PLAIN)%",
    "airlock_detectors": "%FILTER_STATE(wasm.airlock_detectors:PLAIN)%",
    "airlock_tier": "%FILTER_STATE(wasm.airlock_tier:PLAIN)%",
    "airlock_policy_digest": "%FILTER_STATE(wasm.airlock_policy_digest:PLAIN)%",
}
FILE_ACCESS_LOG_TYPE = "type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog"
REQ_WITHOUT_QUERY_TYPE = ("type.googleapis.com/envoy.extensions.formatter.req_without_query.v3"
                          ".ReqWithoutQuery")


def access_log(path: str) -> list[dict]:
    return [{"name": "envoy.access_loggers.file",
             "typed_config": {"@type": FILE_ACCESS_LOG_TYPE, "path": os.path.abspath(path),
                              "log_format": {
                                  "json_format": ACCESS_LOG_FORMAT,
                                  # REQ_WITHOUT_QUERY is an extension formatter
                                  "formatters": [{
                                      "name": "envoy.formatter.req_without_query",
                                      "typed_config": {"@type": REQ_WITHOUT_QUERY_TYPE}}]}}}]


def bootstrap(opts: Options) -> dict:
    sock = lambda port: {"socket_address": {"address": "127.0.0.1", "port_value": port}}  # noqa: E731
    hcm = {
        "@type": HCM_TYPE,
        "stat_prefix": "ingress_http",
        "codec_type": "AUTO",  # HTTP/1.1, and HTTP/2 with prior knowledge (h2c)
        "http2_protocol_options": {
            "allow_connect": False,
            "initial_stream_window_size": 1048576,
            "initial_connection_window_size": 4194304,
        },
        "route_config": {
            "name": "local",
            "virtual_hosts": [{
                "name": "all",
                "domains": ["*"],
                "routes": [{"match": {"prefix": "/"},
                            "route": {"cluster": "upstream", "timeout": opts.route_timeout}}],
            }],
        },
        "http_filters": http_filters(opts),
    }
    if opts.access_log_path:
        hcm["access_log"] = access_log(opts.access_log_path)
    boot: dict = {
        "node": {"id": opts.node_id, "cluster": opts.node_cluster},
        "admin": {"address": sock(opts.admin_port)},
        "stats_config": {"stats_tags": stats_tags()},
        "static_resources": {
            "listeners": [{
                "name": "ingress",
                "address": sock(opts.listener_port),
                "per_connection_buffer_limit_bytes": opts.buffer_limit,
                "filter_chains": [{"filters": [{
                    "name": "envoy.filters.network.http_connection_manager",
                    "typed_config": hcm,
                }]}],
            }],
            "clusters": [{
                "name": "upstream",
                "type": "STATIC",
                "connect_timeout": "2s",
                "per_connection_buffer_limit_bytes": opts.buffer_limit,
                "load_assignment": {
                    "cluster_name": "upstream",
                    "endpoints": [{"lb_endpoints": [{"endpoint": {"address": sock(opts.upstream_port)}}]}],
                },
            }],
        },
    }
    if opts.stats_flush_interval:
        boot["stats_flush_interval"] = opts.stats_flush_interval
    return boot


def ecds_resource(opts: Options) -> dict:
    """The ECDS file: a `resources:` list holding one TypedExtensionConfig named like the filter."""
    return {"resources": [{
        "@type": TYPED_EXT_CONFIG_TYPE,
        "name": FILTER_NAME,
        "typed_config": wasm_filter_config(opts),
    }]}


# ---------------------------------------------------------------- YAML output

_PLAIN = re.compile(r"^[A-Za-z_/][A-Za-z0-9_./-]*$")
_RESERVED = {"true", "false", "yes", "no", "on", "off", "null", "y", "n", "~"}


def _scalar(v: object) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return json.dumps(v)
    s = str(v)
    if _PLAIN.match(s) and s.lower() not in _RESERVED:
        return s
    if s.isprintable() and "'" not in s:
        return "'" + s + "'"  # single-quoted: no escapes inside (readable regexes)
    return json.dumps(s)  # a JSON string is a valid YAML double-quoted scalar


def to_yaml(obj: object, indent: int = 0) -> str:
    """Block-style YAML for dicts/lists/scalars (no anchors, no flow collections)."""
    pad = " " * indent
    lines: list[str] = []
    if isinstance(obj, dict):
        if not obj:
            return pad + "{}\n"
        for k, v in obj.items():
            key = _scalar(k)
            if isinstance(v, (dict, list)) and v:
                lines.append(f"{pad}{key}:\n{to_yaml(v, indent + 2)}")
            elif isinstance(v, dict):
                lines.append(f"{pad}{key}: {{}}\n")
            elif isinstance(v, list):
                lines.append(f"{pad}{key}: []\n")
            else:
                lines.append(f"{pad}{key}: {_scalar(v)}\n")
        return "".join(lines)
    if isinstance(obj, list):
        if not obj:
            return pad + "[]\n"
        for item in obj:
            if isinstance(item, (dict, list)) and item:
                inner = to_yaml(item, indent + 2)
                lines.append(f"{pad}- {inner[indent + 2:]}")
            elif isinstance(item, dict):
                lines.append(f"{pad}- {{}}\n")
            elif isinstance(item, list):
                lines.append(f"{pad}- []\n")
            else:
                lines.append(f"{pad}- {_scalar(item)}\n")
        return "".join(lines)
    return pad + _scalar(obj) + "\n"


def render_bootstrap(opts: Options) -> str:
    return "# Rendered by envoy/config.py\n" + to_yaml(bootstrap(opts))


def render_ecds_resource(opts: Options) -> str:
    return "# Rendered by envoy/config.py (ECDS resource for the `airlock` HTTP filter)\n" + \
        to_yaml(ecds_resource(opts))


def render_stats_tags() -> str:
    return to_yaml({"stats_config": {"stats_tags": stats_tags()}})


def atomic_write(path: str, text: str) -> None:
    """Write beside `path`, then rename over it: Envoy's file watch reacts to the move."""
    d = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".yaml", dir=d)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def write_ecds_resource(path: str, opts: Options) -> None:
    atomic_write(path, render_ecds_resource(opts))


def write_bootstrap(path: str, opts: Options) -> None:
    atomic_write(path, render_bootstrap(opts))


# ---------------------------------------------------------------- CLI

def _opts_from_args(a: argparse.Namespace) -> Options:
    plugin_config = ""
    if getattr(a, "plugin_config_file", None):
        with open(a.plugin_config_file, encoding="utf-8") as f:
            plugin_config = f.read()
    elif getattr(a, "plugin_config", None) is not None:
        plugin_config = a.plugin_config
    return Options(
        upstream_port=getattr(a, "upstream_port", 0),
        listener_port=getattr(a, "listener_port", 0),
        admin_port=getattr(a, "admin_port", 0),
        wasm=None if getattr(a, "no_filter", False) else a.wasm,
        plugin_config=plugin_config,
        hash_key=getattr(a, "hash_key", None),
        hash_key_from_env=getattr(a, "hash_key_from_env", False),
        ecds_path=getattr(a, "ecds", None),
        failure_policy=getattr(a, "failure_policy", "FAIL_CLOSED"),
        buffer_requests=not getattr(a, "no_buffer_filter", False),
        access_log_path=getattr(a, "access_log", None),
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Render Envoy configuration for Airlock.")
    sub = ap.add_subparsers(dest="cmd", required=True)

    def filter_args(p: argparse.ArgumentParser) -> None:
        p.add_argument("--wasm", default="target/wasm32-wasip1/release/airlock_filter.wasm")
        g = p.add_mutually_exclusive_group()
        g.add_argument("--plugin-config-file", help="file whose bytes become the plugin configuration")
        g.add_argument("--plugin-config", help="the plugin configuration string itself")
        p.add_argument("--hash-key", default=None, help="AIRLOCK_HASH_KEY for the VM")
        p.add_argument("--hash-key-from-env", action="store_true",
                       help="pass Envoy's own $AIRLOCK_HASH_KEY to the VM (host_env_keys)")
        p.add_argument("--failure-policy", default="FAIL_CLOSED",
                       choices=["FAIL_CLOSED", "FAIL_OPEN", "FAIL_RELOAD"])

    b = sub.add_parser("bootstrap", help="print a bootstrap")
    b.add_argument("--upstream-port", type=int, required=True)
    b.add_argument("--listener-port", type=int, default=10000)
    b.add_argument("--admin-port", type=int, default=9901)
    b.add_argument("--no-filter", action="store_true")
    b.add_argument("--ecds", help="render the ECDS variant reading this resources file")
    b.add_argument("--no-buffer-filter", action="store_true",
                   help="leave out the buffer filter after Airlock (headers may then reach the "
                        "upstream before the verdict unless the filter holds them)")
    b.add_argument("--access-log", metavar="PATH",
                   help="JSON access log with Airlock's decision fields (filter state)")
    filter_args(b)

    e = sub.add_parser("ecds-resource", help="write the ECDS resources file (atomically)")
    e.add_argument("--out", required=True)
    filter_args(e)

    sub.add_parser("stats-tags", help="print the stats_tags block")

    a = ap.parse_args(argv)
    if a.cmd == "bootstrap":
        sys.stdout.write(render_bootstrap(_opts_from_args(a)))
    elif a.cmd == "ecds-resource":
        write_ecds_resource(a.out, _opts_from_args(a))
    elif a.cmd == "stats-tags":
        sys.stdout.write(render_stats_tags())
    return 0


if __name__ == "__main__":
    sys.exit(main())
