#!/usr/bin/env python3
"""Checks bench/report.py's arithmetic on made-up rounds: ratios, paired ranges, targets, flags."""

import contextlib
import io
import json
import os
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import report  # noqa: E402


def node_doc(**over):
    doc = {
        "layer": "node", "pinned": True, "server_cpu": 0, "client_cpu": 1, "quick": False,
        "rounds": 3, "round_secs": 0.6,
        "throughput": {
            "64": {
                "wstether": {"msgs_per_s": [110.0, 90.0, 100.0], "server_busy": [0.5, 0.5, 0.5]},
                "ws": {"msgs_per_s": [100.0, 100.0, 100.0], "server_busy": [0.5, 0.5, 0.5]},
            },
            "65536": {
                "wstether": {"msgs_per_s": [80.0, 80.0, 80.0], "server_busy": [0.95, 0.95, 0.95]},
                "ws": {"msgs_per_s": [100.0, 100.0, 100.0], "server_busy": [0.5, 0.5, 0.5]},
            },
        },
        "rtt_same_core": {
            "wstether": {"p50_us": [30.0, 33.0, 36.0], "p99_us": [50.0, 50.0, 50.0]},
            "ws": {"p50_us": [30.0, 30.0, 30.0], "p99_us": [50.0, 50.0, 50.0]},
        },
        "idle": {"wstether": {"clients": 10, "rss_kib": 20.0}, "ws": {"clients": 10, "rss_kib": 13.0}},
        "affinity": [{"process": "client", "pid": 1, "threads": 9, "cpus": ["1"], "expected": "1", "ok": True}],
    }
    doc.update(over)
    return doc


def by_measure(doc):
    return {(r[1], r[3]): r for r in report.rows(doc)}


class Rows(unittest.TestCase):
    def test_receive_ratio_is_median_over_median_with_paired_range(self):
        row = by_measure(node_doc())[("receive 64 B", "ws")]
        self.assertEqual(row[6], "1.00x (0.90-1.10)")
        self.assertEqual(row[8], "yes")  # 1.00 >= 1.0

    def test_missed_target_and_server_bound_flag(self):
        row = by_measure(node_doc())[("receive 64 KiB", "ws")]
        self.assertTrue(row[6].startswith("0.80x"))
        self.assertEqual(row[8], "NO" + report.SERVER_BOUND)

    def test_round_trip_target_is_an_upper_bound(self):
        row = by_measure(node_doc())[("same-core p50 64 B", "ws")]
        self.assertEqual(row[6], "1.10x")
        self.assertEqual(row[8], "yes")  # 1.10 <= 1.1
        slow = node_doc(rtt_same_core={"wstether": {"p50_us": [40.0], "p99_us": [1.0]},
                                       "ws": {"p50_us": [30.0], "p99_us": [1.0]}})
        self.assertEqual(by_measure(slow)[("same-core p50 64 B", "ws")][8], "NO")

    def test_idle_target_is_absolute_on_wstether(self):
        row = by_measure(node_doc())[("idle memory/client", "ws")]
        self.assertEqual(row[8], "yes")
        fat = node_doc(idle={"wstether": {"clients": 10, "rss_kib": 24.5}, "ws": {"clients": 10, "rss_kib": 1.0}})
        self.assertEqual(by_measure(fat)[("idle memory/client", "ws")][8], "NO")

    def test_missing_client_gives_no_row(self):
        doc = node_doc()
        del doc["throughput"]["64"]["ws"]
        self.assertNotIn(("receive 64 B", "ws"), by_measure(doc))


class Show(unittest.TestCase):
    def show(self, *docs):
        paths = []
        with tempfile.TemporaryDirectory() as tmp:
            for i, d in enumerate(docs):
                p = os.path.join(tmp, f"{i}.json")
                with open(p, "w") as f:
                    json.dump(d, f)
                paths.append(p)
            out = io.StringIO()
            with contextlib.redirect_stdout(out):
                report.show(paths)
            return out.getvalue()

    def test_unpinned_quick_noisy_and_unconfined_runs_are_flagged(self):
        text = self.show(node_doc(pinned=False, quick=True,
                                  machine={"busy_before": "40", "busy_after": "5"},
                                  affinity=[{"process": "client", "pid": 1, "threads": 2, "cpus": ["0-1"],
                                             "expected": "1", "ok": False}]))
        self.assertIn("UNPINNED", text)
        self.assertIn("SMOKE RUN", text)
        self.assertIn("NOISY MACHINE", text)
        self.assertIn("NOT CONFINED", text)
        self.assertNotIn("quiet machine.", text)

    def test_unpinned_run_gives_no_verdict(self):
        text = self.show(node_doc(pinned=False))
        self.assertIn("n/a (unpinned)", text)
        self.assertNotIn(" yes", text.split("== targets")[1])

    def test_cpu_per_message(self):
        c = {"msgs_per_s": [1e6, 2e6], "client_busy": [0.5, 0.5], "server_busy": [0.2, 0.2]}
        self.assertEqual(report.cpu_per_msg(c), "375, 150")

    def test_clean_run_says_so(self):
        text = self.show(node_doc(machine={"busy_before": "2", "busy_after": "3"}))
        self.assertIn("pinned, full-length run on a quiet machine.", text)


if __name__ == "__main__":
    unittest.main()
