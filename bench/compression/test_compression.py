#!/usr/bin/env python3
"""Checks the compression bench's own parts without measuring anything: the payload pools and
the counting relay (over real sockets on 127.0.0.1). Standard library only."""

import json
import os
import random
import socket
import sys
import threading
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402
import payloads  # noqa: E402


class Payloads(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.pools = payloads.pools()

    def test_every_message_is_json_of_exactly_its_size(self):
        for size, pool in self.pools.items():
            for msg in pool:
                self.assertEqual(len(msg), int(size))
                self.assertTrue(msg.isascii())
                self.assertIsInstance(json.loads(msg), dict)

    def test_no_message_repeats_within_any_deflate_window(self):
        # Distinct messages, and a pool longer than 32 KiB: a client wraps around only after
        # the largest window (15 bits) has moved past the first copy.
        for size, pool in self.pools.items():
            self.assertEqual(len(set(pool)), len(pool))
            self.assertGreaterEqual(len(pool) * int(size), 256 * 1024)

    def test_the_same_seed_gives_the_same_messages(self):
        for size, make in payloads.MAKERS.items():
            rng = random.Random(payloads.SEED + size)
            self.assertEqual([make(i, rng) for i in range(3)], self.pools[str(size)][:3])


class Window(unittest.TestCase):
    def test_bounded_in_bytes_and_messages(self):
        self.assertEqual(bench.window(256), (256, 64))
        self.assertEqual(bench.window(2048), (256, 64))
        self.assertEqual(bench.window(65536), (8, 2))
        self.assertEqual(bench.window(1 << 20), (8, 2))


class RelayCounts(unittest.TestCase):
    def test_counts_each_direction_of_each_connection(self):
        server = socket.create_server(("127.0.0.1", 0))

        def echo_twice():
            for _ in range(2):
                conn, _ = server.accept()
                with conn:
                    data = conn.recv(100)
                    conn.sendall(data * 3)
                    conn.shutdown(socket.SHUT_WR)
                    while conn.recv(100):
                        pass

        t = threading.Thread(target=echo_twice, daemon=True)
        t.start()
        relay = bench.Relay(server.getsockname()[1])
        try:
            for i, payload in enumerate([b"abcd", b"xy"], start=1):
                with socket.create_connection(("127.0.0.1", relay.port)) as c:
                    c.sendall(payload)
                    got = b""
                    while len(got) < 3 * len(payload):
                        got += c.recv(100)
                    self.assertEqual(got, payload * 3)
                    c.shutdown(socket.SHUT_WR)
                    while c.recv(100):
                        pass
                self.assertEqual(relay.finished(i, timeout=10), {"up": len(payload), "down": 3 * len(payload)})
        finally:
            relay.close()
            server.close()
        t.join(10)


if __name__ == "__main__":
    unittest.main()
