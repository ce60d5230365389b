"""Tests of envoy-paired.sh's logic that need no Envoy: the schedule, the median's order-statistic
interval, the pairing and bootstrap, and the multi-listener bootstrap.
Run: python3 -m unittest discover -s benches -p 'test_envoy_*.py'"""
import os
import random
import sys
import unittest
from collections import Counter

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "envoy"))
sys.path.insert(0, HERE)

import envoy_pairs as pairs  # noqa: E402
from envoy_listeners import front_bootstrap  # noqa: E402


class Schedule(unittest.TestCase):
    def test_each_block_holds_every_variant_once_and_positions_balance(self):
        blocks = pairs.schedule(["noop", "airlock"], 4000, seed=7)
        self.assertTrue(all(sorted(b) == ["airlock", "noop"] for b in blocks))
        first = Counter(b[0] for b in blocks)
        self.assertLess(abs(first["noop"] - 2000), 200)  # ~6 sd of Binomial(4000, 1/2)

    def test_seeded(self):
        self.assertEqual(pairs.schedule(list("abc"), 50, 3), pairs.schedule(list("abc"), 50, 3))


class MedianInterval(unittest.TestCase):
    def test_known_ranks(self):
        # Textbook values: n = 6 → x(1), x(6) (coverage 96.9 %); n = 100 → x(40), x(61), 1-based.
        self.assertEqual(pairs.median_ci_ranks(6), (0, 5))
        self.assertEqual(pairs.median_ci_ranks(100), (39, 60))
        with self.assertRaises(ValueError):
            pairs.median_ci_ranks(5)

    def test_coverage_by_simulation(self):
        rng = random.Random(1)
        hits = 0
        for _ in range(400):
            xs = [rng.expovariate(1.0) for _ in range(61)]  # skewed, like latencies; median ln 2
            _, lo, hi = pairs.median_with_ci(xs)
            hits += lo <= 0.6931 <= hi
        self.assertGreater(hits / 400, 0.92)


class Pairing(unittest.TestCase):
    def test_pairs_only_blocks_both_answered(self):
        rec = {"noop": {0: 1.0, 1: 2.0, 3: 4.0}, "airlock": {0: 1.5, 2: 9.0, 3: 4.5}}
        self.assertEqual(pairs.paired(rec, "noop", "airlock"), ([1.0, 4.0], [1.5, 4.5]))

    def test_bootstrap_interval_holds_a_shift(self):
        rng = random.Random(2)
        noise = [rng.lognormvariate(0, 0.5) for _ in range(400)]
        ref = [n + rng.gauss(0, 0.05) for n in noise]
        var = [n + 0.3 + rng.gauss(0, 0.05) for n in noise]  # shared noise plus a 0.3 shift
        est, lo, hi = pairs.median_difference_ci(ref, var, resamples=300)
        self.assertLess(lo, est)
        self.assertLess(est, hi)
        self.assertTrue(lo < 0.3 < hi)


class Pressure(unittest.TestCase):
    def test_each_block_gets_its_seconds_share(self):
        samples = [(0.0, 0), (1.0, 250_000), (2.0, 1_250_000)]  # 25 %, then 100 %
        got = pairs.pressure_by_block({0: 0.1, 1: 0.9, 2: 1.5, 3: 2.2}, samples)
        self.assertEqual(got, {0: 0.25, 1: 0.25, 2: 1.0, 3: 1.0})
        self.assertEqual(pairs.pressure_by_block({0: 0.1}, [(0.0, None), (1.0, None)]), {})

    def test_groups_split_by_pressure_lowest_first(self):
        diffs = {b: (1.0 if b < 30 else 5.0) for b in range(60)}
        pressure = {b: b / 100 for b in range(60)}
        (lo_a, hi_a, (m_a, _, _)), (lo_b, hi_b, (m_b, _, _)) = pairs.by_pressure(diffs, pressure, groups=2)
        self.assertEqual((lo_a, hi_a, m_a), (0.0, 0.29, 1.0))
        self.assertEqual((lo_b, hi_b, m_b), (0.3, 0.59, 5.0))


class Listeners(unittest.TestCase):
    def test_one_listener_per_variant_same_upstream_own_vm_and_stats(self):
        text = front_bootstrap(["noop", "noop2", "airlock"],
                               {"noop": "/x/noop.wasm", "airlock": "/x/airlock.wasm"}, 12345)
        for v in ("noop", "noop2", "airlock"):
            self.assertIn(f"name: front-{v}\n", text)
            self.assertIn(f"stat_prefix: front_{v}\n", text)
            self.assertIn(f"vm_id: vm-{v}\n", text)
        self.assertEqual(text.count("/x/noop.wasm"), 2)
        self.assertEqual(text.count("/x/airlock.wasm"), 1)
        self.assertEqual(text.count("port_value: 12345"), 1)  # one cluster for all
        self.assertEqual(text.count("AIRLOCK_HASH_KEY"), 1)   # Airlock's VM only


if __name__ == "__main__":
    unittest.main()
