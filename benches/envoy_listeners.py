"""One front Envoy with one listener per variant (envoy-paired.sh): every listener routes to the
same upstream, and each has its own HTTP filter chain exactly as envoy/config.py renders it for
one filter (the wasm filter, then the buffer filter, then the router). One worker thread serves
them all, so requests to different listeners meet the same moment's machine.

Built from config.bootstrap() per variant rather than written out again: the listener, cluster,
stats tags and filter options stay those of envoy-load.sh's one-filter fronts."""
import json

import config  # envoy/config.py
import harness
from envoy_bench import BENCH_HASH_KEY, filter_kind


def front_bootstrap(variants: list, wasm: dict, upstream_port: int) -> str:
    """A bootstrap with a listener named `front-<variant>` for each variant; `wasm` maps noop,
    airlock and base to their modules (base: the second Airlock module, BASE_WASM)."""
    boot, listeners = None, []
    for v in variants:
        kind = filter_kind(v)
        module = wasm["base"] if v.startswith("base") else wasm.get(kind)
        if kind != "none" and not module:
            raise ValueError(f"no module for the {v} listener")
        opts = config.Options(upstream_port=upstream_port, wasm=module, plugin_config="",
                              hash_key=BENCH_HASH_KEY if kind == "airlock" else None,
                              stats_flush_interval="1s",
                              # A VM per listener: no listener shares its VM with another, the A/A
                              # listeners included, so the pairs compare like with like.
                              vm_id=f"vm-{v}")
        b = config.bootstrap(opts)
        (listener,) = b["static_resources"]["listeners"]
        listener["name"] = f"front-{v}"
        # Per-listener HCM stats: http.front_<variant>.downstream_rq_2xx counts each listener's answers.
        listener["filter_chains"][0]["filters"][0]["typed_config"]["stat_prefix"] = f"front_{v}"
        listeners.append(listener)
        boot = boot or b
    boot["static_resources"]["listeners"] = listeners
    return "# Rendered by benches/envoy_listeners.py\n" + config.to_yaml(boot)


def listener_urls(envoy: harness.Envoy, variants: list) -> dict:
    """Each variant's listener URL, read back from the admin API (the ports were chosen by the kernel)."""
    def ready():
        status, _, raw = harness.http("GET", envoy.admin + "/listeners?format=json")
        if status != 200:
            return None
        ports = {}
        for ls in json.loads(raw).get("listener_statuses", []):
            port = ls.get("local_address", {}).get("socket_address", {}).get("port_value")
            if port:
                ports[ls["name"]] = int(port)
        if all(f"front-{v}" in ports for v in variants):
            return {v: f"http://127.0.0.1:{ports[f'front-{v}']}" for v in variants}
        return None
    return harness.wait_until(ready, 30, "the front Envoy's listeners", envoy.proc)
