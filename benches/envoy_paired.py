"""benches/envoy-paired.sh's Python: one front Envoy with a listener per variant, the interleaved
client, the checks that every listener ran its filter, and the report (per-variant quantiles and
the paired added latency against the first variant, the reference)."""
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "envoy"))
sys.path.insert(0, HERE)

import harness  # noqa: E402
import envoy_bench  # noqa: E402
import envoy_pairs as pairs  # noqa: E402
from envoy_bench import Failure, airlock_counters, check_inspected, cpu_s, filter_kind  # noqa: E402
from envoy_listeners import front_bootstrap, listener_urls  # noqa: E402
from envoy_paired_client import Listener, run  # noqa: E402

TARGET_MS = 0.2  # issue 16: Airlock's median added latency at 8 KiB, against the no-op filter


def env(name, cast=str):
    return cast(os.environ[name])


def rq_2xx(front, variants):
    """Each listener's count of 2xx answers (its HCM's own stat prefix, envoy_listeners.py)."""
    stats = front.stats(r"^http\.front_.*\.downstream_rq_2xx$")
    return {v: stats.get(f"http.front_{v}.downstream_rq_2xx", 0) for v in variants}


def prioritise(pids, nice):
    """Give every thread of `pids` the nice value `nice`, and their scheduler autogroups too: with
    autogroups on (the default), nice only ranks tasks of one session, and each Envoy runs in a
    session of its own (harness.py), so the group's own nice is what weighs against the other
    sessions' compilers. Negative values need root. Returns what was done, for the report."""
    done = []
    for pid in pids:
        for tid in os.listdir(f"/proc/{pid}/task"):
            os.setpriority(os.PRIO_PROCESS, int(tid), nice)
        try:
            with open(f"/proc/{pid}/autogroup", "w") as f:
                f.write(str(nice))
            done.append(f"{pid} (threads and autogroup)")
        except OSError:
            done.append(f"{pid} (threads only)")
    return f"nice {nice}: " + ", ".join(done)


def blocks_for(seconds, rate, variants, seed):
    return pairs.schedule(variants, max(1, round(seconds * rate / len(variants))), seed)


def measure(front, urls, variants, body, rate, warmup_s, duration_s, seed, burst, fast_warmup):
    """Warm-up (discarded), then the measured run; the checks; the latencies and the costs."""
    listeners = {v: Listener(v, urls[v], body) for v in variants}
    try:
        counters0 = airlock_counters(front)
        rq0 = rq_2xx(front, variants)
        fast = {v: {} for v in variants}
        if fast_warmup:
            # Back to back, as fast as one client goes: V8 tiers a module's hot functions up to
            # optimised code only after enough calls, which a few hundred paced requests may not make.
            fast = run(listeners, pairs.schedule(variants, fast_warmup, seed + 2), 1e9)["lat"]
        warm = run(listeners, blocks_for(warmup_s, rate, variants, seed + 1), rate, burst)["lat"]
        pid, me = front.proc.popen.pid, os.getpid()
        cpu_front0, cpu_me0 = cpu_s(pid), cpu_s(me)
        measured = run(listeners, blocks_for(duration_s, rate, variants, seed), rate, burst)
        cpu_front, cpu_me = cpu_s(pid) - cpu_front0, cpu_s(me) - cpu_me0
    finally:
        for lst in listeners.values():
            lst.close()
    lat, took = measured["lat"], measured["took"]
    sent = {v: len(fast[v]) + len(warm[v]) + len(lat[v]) for v in variants}
    rq = rq_2xx(front, variants)
    for v in variants:
        if rq[v] - rq0[v] != sent[v]:
            raise Failure(f"{v}: its listener counted {rq[v] - rq0[v]} 2xx answers for the {sent[v]} requests sent to it")
    checked = None
    on_airlock = sum(n for v, n in sent.items() if filter_kind(v) == "airlock")
    if on_airlock:
        # Every Airlock listener counts into the same airlock.* metrics (one name per Envoy).
        _, checked = check_inspected(counters0, airlock_counters(front), on_airlock, "warm-up and measured run")
    n = sum(len(x) for x in lat.values())
    cost = dict(front_cpu_us=cpu_front * 1e6 / n, client_cpu_us=cpu_me * 1e6 / n,
                client_share=cpu_me / took, achieved_rps=n / took, missed=measured["missed"])
    return measured, cost, checked


def ms(us):
    return f"{us / 1000:.3f}"


def report(measured, variants, cost, checked, inspection, body, load, seed, args):
    ref, lat = variants[0], measured["lat"]
    pressure = pairs.pressure_by_block(measured["start"], measured["pressure"])
    print(f"\n{os.cpu_count()} CPUs, load average {load[0][0]:.2f} (1 min) at the start, {load[1][0]:.2f} at the end")
    spacing = "a block's requests back to back" if args["burst"] else "evenly spaced"
    print(f"body: {len(body)} bytes; one front Envoy --concurrency {args['conc']}, listeners {', '.join(variants)}; "
          f"{args['rate']:g} requests/s in all, one at a time, {spacing}; {args['duration']} s measured after "
          f"{args['warmup']} s of warm-up (after {args['fast_warmup']} blocks back to back); seed {seed}")
    print(f"achieved {cost['achieved_rps']:.0f} requests/s ({cost['missed']} slots missed); front Envoy CPU "
          f"{cost['front_cpu_us']:.0f} µs a request (all listeners); client CPU {cost['client_cpu_us']:.0f} µs a request, "
          f"{100 * cost['client_share']:.1f} % of one core")
    (t0, p0), (t1, p1) = measured["pressure"][0], measured["pressure"][-1]
    if p0 is not None and p1 is not None:
        print(f"CPU pressure (/proc/pressure/cpu, some): a task waited for a CPU {100 * (p1 - p0) / 1e6 / (t1 - t0):.0f} % "
              f"of the measured run")
    if args.get("nice"):
        print(args["nice"])
    print()
    print("| listener | requests | p50 ms | p90 ms | p99 ms |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for v in variants:
        s = sorted(lat[v].values())
        print(f"| {v} | {len(s)} | {ms(pairs.quantile(s, .5))} | {ms(pairs.quantile(s, .9))} | {ms(pairs.quantile(s, .99))} |")
    print(f"\nPaired against {ref} (each request minus the {ref} request of its block; 95 % intervals):\n")
    print("| listener | pairs | median of paired differences [order-statistic CI] | difference of p50s [bootstrap CI] "
          "| p90 difference | pairs slower | paired median by thirds of the run |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | --- |")
    verdicts, by = [], []
    for v in variants[1:]:
        a, b = pairs.paired(lat, ref, v)
        d = [y - x for x, y in zip(a, b)]
        med, lo, hi = pairs.median_with_ci(d)
        dm, dlo, dhi = pairs.median_difference_ci(a, b, resamples=args["resamples"], seed=seed)
        p90 = pairs.quantile(sorted(b), .9) - pairs.quantile(sorted(a), .9)
        third = len(d) // 3
        thirds = " / ".join(ms(pairs.median(d[i * third:(i + 1) * third])) for i in range(3))
        slower = sum(x > 0 for x in d) / len(d)
        print(f"| {v} | {len(d)} | {ms(med)} [{ms(lo)}, {ms(hi)}] ms | {ms(dm)} [{ms(dlo)}, {ms(dhi)}] ms | "
              f"{ms(p90)} ms | {100 * slower:.0f} % | {thirds} ms |")
        if filter_kind(ref) == "noop" and filter_kind(v) == "airlock":
            verdict = ("met" if hi / 1000 <= TARGET_MS else "missed" if lo / 1000 > TARGET_MS else "not resolved")
            verdicts.append(f"{v}: added median {ms(med)} ms [{ms(lo)}, {ms(hi)}] against the target ≤ +{TARGET_MS} ms: {verdict}")
        strata = pairs.by_pressure(dict(zip(pairs.paired_blocks(lat, ref, v), d)), pressure)
        if strata:
            by.append(f"{v}: " + "; ".join(f"{100 * lo_p:.0f}–{100 * hi_p:.0f} %: {ms(m)} [{ms(lo)}, {ms(hi)}]"
                                           for lo_p, hi_p, (m, lo, hi) in strata) + " ms")
    if by:
        print("\nPaired median by the CPU pressure of its second (thirds of the pairs, lowest first; 95 % intervals):")
        for line in by:
            print(f"  {line}")
    if "airlock" in lat and "base" in lat:
        # Two Airlock modules: their own pairs (same block), the A/B with the no-op's noise removed.
        x, y = pairs.paired(lat, "base", "airlock")
        med, lo, hi = pairs.median_with_ci([n - o for o, n in zip(x, y)])
        print(f"\nairlock − base (new module minus BASE_WASM, paired): {ms(med)} [{ms(lo)}, {ms(hi)}] ms over {len(x)} pairs")
    for line in verdicts:
        print(f"\nTarget: {line}")
    (last_p50, last_p99), (all_p50, all_p99) = inspection
    if all_p50 is not None:
        print(f"\nairlock.inspection_time_microseconds inside V8 (all Airlock listeners): the run's last second "
              f"p50 {last_p50 or 0:.0f} µs, p99 {last_p99 or 0:.0f} µs; all requests (warm-ups included) "
              f"p50 {all_p50:.0f} µs, p99 {all_p99:.0f} µs")
    if checked:
        print(f"checked: {checked}")


def write_raw(path, measured, variants):
    """One line per request: block, its start (s), its second's CPU pressure, variant, latency µs
    (for analysis beyond this report)."""
    pressure = pairs.pressure_by_block(measured["start"], measured["pressure"])
    with open(path, "w") as f:
        f.write("block,start_s,cpu_pressure,variant,latency_us\n")
        for v in variants:
            for b, x in sorted(measured["lat"][v].items()):
                f.write(f"{b},{measured['start'][b]:.4f},{pressure.get(b, '')},{v},{x:.1f}\n")


def main():
    envoy_bench.exit_on_signals("envoy-paired", "the client and the Envoys")
    variants = env("VARIANTS").split()
    if len(variants) < 2 or len(set(variants)) != len(variants):
        raise SystemExit("envoy-paired: VARIANTS needs two or more distinct names (the first is the reference)")
    args = dict(rate=env("RATE", float), duration=env("DURATION", int), warmup=env("WARMUP", int),
                conc=env("ENVOY_CONCURRENCY", int), resamples=env("RESAMPLES", int), burst=env("BURST") == "1",
                fast_warmup=env("FAST_WARMUP", int))
    seed = env("SEED", int)
    body = open(env("BODY"), "rb").read()
    wasm = {"noop": env("NOOP_WASM"), "airlock": env("AIRLOCK_WASM"), "base": os.environ.get("BASE_WASM") or None}
    load = [os.getloadavg()]
    run_dir = env("RUN")
    upstream = front = None
    try:
        upstream = harness.Envoy(run_dir, None, name="upstream", concurrency=1, log_level="warning",
                                 component_log_level="",
                                 bootstrap_text=envoy_bench.upstream_bootstrap(envoy_bench.CHAT_ANSWER))
        front = harness.Envoy(run_dir, None, name="front", concurrency=args["conc"], log_level="warning",
                              component_log_level="",
                              bootstrap_text=front_bootstrap(variants, wasm, upstream.port))
        urls = listener_urls(front, variants)
        if os.environ.get("ENVOY_NICE"):
            # Both Envoys and this client: the whole request path gets the same priority.
            args["nice"] = prioritise([upstream.proc.popen.pid, front.proc.popen.pid, os.getpid()],
                                      int(os.environ["ENVOY_NICE"]))
        if os.environ.get("CLIENT_CPU"):
            # After the Envoys started: they would inherit the affinity.
            os.sched_setaffinity(0, {int(os.environ["CLIENT_CPU"])})
        for v in variants:
            envoy_bench.probe(urls[v], v, body, front)
        measured, cost, checked = measure(front, urls, variants, body, args["rate"], args["warmup"], args["duration"], seed,
                                      args["burst"], args["fast_warmup"])
        if not front.alive():
            raise Failure(f"the front Envoy died during the run:\n{front.proc.log_tail(40)}")
        # Stats flush every second: the last interval is now the run's last second, and after
        # one more flush the cumulative histogram holds the whole run (warm-ups included).
        last_second = envoy_bench.inspection_quantiles(front, kind="interval")
        time.sleep(1.1)
        inspection = (last_second, envoy_bench.inspection_quantiles(front))
        problems = envoy_bench.log_problems(front)
    except (Failure, harness.StartError) as e:
        print(f"\nenvoy-paired: FAILED: {e}", file=sys.stderr)
        sys.exit(1)
    finally:
        for e in (front, upstream):
            if e is not None:
                e.stop()
    load.append(os.getloadavg())
    if os.environ.get("RAW_CSV"):
        write_raw(os.environ["RAW_CSV"], measured, variants)
    report(measured, variants, cost, checked, inspection, body, load, seed, args)
    for p in problems[:10]:
        print(f"WARNING: the front Envoy logged: {p}")


if __name__ == "__main__":
    main()
