#!/usr/bin/env python3
"""Writes the compression bench's messages: JSON like a market-data feed or a chat app sends.

Every server and client of the bench reads the same file, so all of them send and check the same
bytes. Standard library only; seeded, so the file is the same on every machine and every run.

  * 256 B: a ticker/trade update (one product, prices, sizes, a timestamp, a sequence number);
  * 2 KiB: an order-book update (some 45 price levels with sizes);
  * 64 KiB: a page of chat history (about 190 messages with users, timestamps and text).

Each size has a pool of distinct messages of exactly that many bytes (ASCII), at least 256 KiB
per size. Clients and servers send the pool in order and wrap around, so a message is never
repeated within any deflate window (at most 32 KiB): compression finds only what real feeds
share from one message to the next (keys, symbols, nearby prices), not a copy of itself.

  payloads.py OUT.json
"""

from __future__ import annotations

import json
import random
import sys
from typing import Callable, Dict, List

SIZES = (256, 2048, 65536)
POOL_BYTES = 256 * 1024
SEED = 7692  # RFC 7692

PRODUCTS = ["BTC-USD", "ETH-USD", "SOL-USD", "BTC-EUR", "ETH-BTC", "XRP-USD", "ADA-USD", "DOGE-USD"]
BASE_PRICE = {"BTC-USD": 43120.0, "ETH-USD": 2345.6, "SOL-USD": 101.37, "BTC-EUR": 39870.0,
              "ETH-BTC": 0.05441, "XRP-USD": 0.6123, "ADA-USD": 0.5871, "DOGE-USD": 0.0912}
USERS = ["alice", "bob", "carol", "dmitri", "eve", "farah", "gus", "hiro", "ines", "jules",
         "kwame", "lena", "mateo", "noor", "olga", "pavel", "quinn", "rosa", "sven", "tariq"]
WORDS = ("the a to and of is in it you that for on we this with be are have not can do at just "
         "so but was if my me what all get like no your out up know there one they think about "
         "now will how when time good see right then yes here see more did would could should "
         "deploy build test release server client socket message queue retry timeout latency "
         "price order market book trade fill spread bid ask limit stop cancel update feed "
         "meeting lunch tomorrow today tonight weekend coffee thanks sorry great nice cool "
         "issue bug fix patch review merge branch commit ticket link doc page screen phone "
         "please check again later soon maybe sure okay agreed done wait still already").split()


def iso(ms: int) -> str:
    """A UTC timestamp with microseconds, as feeds print them."""
    s, ms = divmod(ms, 1000)
    m, s = divmod(s, 60)
    h, m = divmod(m, 60)
    d, h = divmod(h, 24)
    return f"2026-12-{1 + d % 28:02d}T{h:02d}:{m:02d}:{s:02d}.{ms:03d}{ms * 7 % 1000:03d}Z"


def fit(obj: Dict, size: int, rng: random.Random, grow: Callable[[Dict], None],
        shrink: Callable[[Dict], bool]) -> str:
    """`obj` as compact JSON of exactly `size` bytes: grows it, then pads with an id field."""
    text = json.dumps(obj, separators=(",", ":"))
    while len(text) < size - 48:
        grow(obj)
        text = json.dumps(obj, separators=(",", ":"))
    while len(text) > size - 24:
        if not shrink(obj):
            raise ValueError(f"cannot fit a message into {size} bytes")
        text = json.dumps(obj, separators=(",", ":"))
    # A request id of the exact length left: hex, like the ids feeds attach.
    obj["client_oid"] = ""
    pad = size - len(json.dumps(obj, separators=(",", ":")))
    obj["client_oid"] = "".join(rng.choice("0123456789abcdef") for _ in range(pad))
    text = json.dumps(obj, separators=(",", ":"))
    assert len(text) == size and text.isascii(), (size, len(text))
    return text


def ticker(i: int, rng: random.Random) -> str:
    product = rng.choice(PRODUCTS)
    price = BASE_PRICE[product] * (1 + rng.gauss(0, 0.002))
    spread = BASE_PRICE[product] * 0.00002
    obj = {
        "type": "ticker", "sequence": 81234567 + i, "product_id": product,
        "price": f"{price:.5g}", "open_24h": f"{BASE_PRICE[product] * 0.98:.5g}",
        "volume_24h": f"{rng.uniform(1e3, 1e5):.8f}", "best_bid": f"{price - spread:.5g}",
        "best_ask": f"{price + spread:.5g}", "side": rng.choice(["buy", "sell"]),
        "time": iso(1_000_000 + i * 37), "trade_id": 600123456 + i * 3,
        "last_size": f"{rng.expovariate(20):.8f}",
    }
    return fit(obj, 256, rng, lambda o: o.update(high_24h=f"{price * 1.01:.5g}"),
               lambda o: bool(o.pop("open_24h", None) or o.pop("volume_24h", None)))


def book_update(i: int, rng: random.Random) -> str:
    product = rng.choice(PRODUCTS)
    mid = BASE_PRICE[product] * (1 + rng.gauss(0, 0.002))
    tick = BASE_PRICE[product] * 0.00001
    obj = {"type": "l2update", "product_id": product, "time": iso(2_000_000 + i * 11),
           "sequence": 91234567 + i, "changes": []}

    def grow(o: Dict) -> None:
        side = rng.choice(["buy", "sell"])
        level = rng.randint(1, 400) * tick
        price = mid - level if side == "buy" else mid + level
        size = "0.00000000" if rng.random() < 0.2 else f"{rng.expovariate(3):.8f}"
        o["changes"].append([side, f"{price:.6g}", size])

    return fit(obj, 2048, rng, grow, lambda o: bool(o["changes"] and o["changes"].pop()))


def chat_page(i: int, rng: random.Random) -> str:
    room = rng.choice(["general", "random", "deploys", "trading-desk", "support"])
    obj = {"type": "history", "room": room, "page": i, "has_more": True, "messages": []}
    ts = 1_764_633_600_000 + i * 3_600_000

    def grow(o: Dict) -> None:
        nonlocal ts
        ts += rng.randint(500, 90_000)
        user = rng.choice(USERS)
        text = " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 28)))
        msg = {"id": f"m{ts:x}", "user": {"id": USERS.index(user) + 1000, "name": user},
               "ts": ts, "text": text.capitalize() + rng.choice([".", "!", "?", ""])}
        if rng.random() < 0.15:
            msg["reactions"] = [{"emoji": rng.choice(["+1", "eyes", "tada", "heart"]),
                                 "count": rng.randint(1, 9)}]
        o["messages"].append(msg)

    return fit(obj, 65536, rng, grow, lambda o: bool(o["messages"] and o["messages"].pop()))


MAKERS = {256: ticker, 2048: book_update, 65536: chat_page}


def pools() -> Dict[str, List[str]]:
    out = {}
    for size in SIZES:
        rng = random.Random(SEED + size)
        out[str(size)] = [MAKERS[size](i, rng) for i in range(max(16, POOL_BYTES // size))]
    return out


def main(argv: List[str]) -> int:
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    with open(argv[0], "w") as f:
        json.dump(pools(), f)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
