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


def compression_doc(**over):
    def client(rates, cpu, count, wire_down, wire_up, busy=0.5, ext="permessage-deflate"):
        return {"count": count, "msgs_per_s": rates, "cpu_s": cpu, "server_busy": [busy] * len(rates),
                "compression": ext, "wire": {"n": 16, "down_per_msg": wire_down, "up_per_msg": wire_up}}

    doc = {
        "layer": "compression", "pinned": True, "server_cpu": 0, "client_cpu": 1, "quick": False,
        "rounds": 3, "round_secs": 0.6,
        "servers": {"ws": {"library": "ws", "version": "8"}},
        "clients": {"wstether core": {"library": "wstether (Rust core)", "version": "0.1"}},
        "results": {"ws": {
            "receive": {"2048": {
                # 1,000 messages of 2,048 B = 2.048 MB per round.
                "wstether core": client([200.0, 100.0, 150.0], [0.02048, 0.02048, 0.04096], 1000, 550.0, 9.0),
                "ws": client([100.0, 100.0, 100.0], [0.04096] * 3, 1000, 540.0, 9.0),
                "wstether core (Compression::disabled())": client([400.0] * 3, [0.002048] * 3, 1000, 2052.0, 9.0,
                                                                  busy=0.95, ext=None),
            }},
            "send": {"256": {
                "wstether core": client([50.0] * 3, [0.0256] * 3, 1000, 9.0, 80.0),
                "ws": client([100.0] * 3, [0.0256] * 3, 1000, 9.0, 73.0),
            }},
        }},
        "affinity": [{"process": "client", "pid": 1, "threads": 2, "cpus": ["1"], "expected": "1", "ok": True}],
    }
    doc.update(over)
    return doc


def compression_rows(doc):
    return {(r[1], r[2], r[3]): r for r in report.compression_rows(doc)}


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

    def test_jvm_idle_rows_the_fresh_and_the_further_clients_separately(self):
        def kib(first, more):
            return {"clients": 10, "rss_kib": first, "native_rss_kib": first - 1, "heap_kib": 1.0,
                    "more_rss_kib": more, "more_native_rss_kib": more - 1, "more_heap_kib": 1.0}
        doc = {"layer": "kotlin", "pinned": True,
               "idle": {"wstether listener": kib(40.0, 12.0), "okhttp": kib(133.0, 132.0)}}
        rows = by_measure(doc)
        self.assertEqual(rows[("idle memory/client", "okhttp")][8], "NO")
        self.assertEqual(rows[("idle, n more/client", "okhttp")][4], "12.0 KiB")
        self.assertEqual(rows[("idle, n more/client", "okhttp")][8], "yes")
        del doc["idle"]["wstether listener"]["more_rss_kib"]
        self.assertNotIn(("idle, n more/client", "okhttp"), by_measure(doc))

    def test_missing_client_gives_no_row(self):
        doc = node_doc()
        del doc["throughput"]["64"]["ws"]
        self.assertNotIn(("receive 64 B", "ws"), by_measure(doc))


class CompressionRows(unittest.TestCase):
    def test_throughput_cpu_per_mb_and_wire_bytes_in_the_payloads_direction(self):
        row = compression_rows(compression_doc())[("receive 2 KiB", "wstether core", "ws")]
        self.assertEqual(row[0], "ws")
        self.assertEqual(row[6], "1.50x (1.00-2.00)")
        self.assertEqual(row[7], "10.00 / 20.00")  # median of 10, 10, 20 ms per 2.048 MB
        self.assertEqual(row[8], "0.50x")
        self.assertEqual(row[9], "550 / 540")  # received: bytes that came down
        sent = compression_rows(compression_doc())[("send 256 B", "wstether core", "ws")]
        self.assertEqual(sent[6], "0.50x (0.50-0.50)")
        self.assertEqual(sent[9], "80 / 73")  # sent: bytes that went up

    def test_the_disabled_pair_shows_the_cost_of_compression_and_server_bound_rounds(self):
        row = compression_rows(compression_doc())[("receive 2 KiB", "wstether core", "same, disabled()")]
        self.assertEqual(row[6], "0.38x (0.25-0.50)" + report.SERVER_BOUND)
        self.assertEqual(row[9], "550 / 2,052")

    def test_a_pair_with_a_client_missing_gives_no_row(self):
        self.assertNotIn(("send 256 B", "wstether core", "websockets"), compression_rows(compression_doc()))


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

    def test_compression_alone_prints_its_table_and_flags(self):
        text = self.show(compression_doc(quick=True, machine={"busy_before": "60", "busy_after": "5"}))
        self.assertIn("== compression (issue 14, item 7)", text)
        self.assertNotIn("== targets", text)
        self.assertIn("negotiated with the ws server", text)
        self.assertIn("none (uncompressed)", text)
        self.assertIn("SMOKE RUN", text)
        self.assertIn("NOISY MACHINE", text)

    def test_compression_next_to_the_other_layers(self):
        text = self.show(node_doc(), compression_doc())
        self.assertIn("== targets", text)
        self.assertIn("== compression (issue 14, item 7)", text)

    def test_clean_run_says_so(self):
        text = self.show(node_doc(machine={"busy_before": "2", "busy_after": "3"}))
        self.assertIn("pinned, full-length run on a quiet machine.", text)


if __name__ == "__main__":
    unittest.main()
