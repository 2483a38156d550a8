"""A python-websockets echo server on 127.0.0.1 for the install tests.

Usage: echo_server.py [PORT]. Prints the port it listens on, then echoes every message until
killed. Port 0 (the default) picks a free one; a restart passes the same port again.
"""

import asyncio
import sys

from websockets.asyncio.server import serve


async def echo(ws) -> None:
    async for message in ws:
        await ws.send(message)


async def main(port: int) -> None:
    async with serve(echo, "127.0.0.1", port) as server:
        print(server.sockets[0].getsockname()[1], flush=True)
        await asyncio.Future()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 0))
