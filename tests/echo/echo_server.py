"""A plain python-websockets echo server for the README example tests.

No subprotocols, no options: what a reader gets from the websockets quickstart. Prints its
``ws://`` URL on the first line of stdout and serves until stdin closes (so it never outlives
the test that started it).
"""

import asyncio
import sys

from websockets.asyncio.server import serve


async def echo(websocket):  # type: ignore[no-untyped-def]
    async for message in websocket:
        await websocket.send(message)


async def main() -> None:
    async with serve(echo, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        print(f"ws://127.0.0.1:{port}/", flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)


if __name__ == "__main__":
    asyncio.run(main())
