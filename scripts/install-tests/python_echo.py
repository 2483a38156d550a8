"""Runs in a fresh venv where only the wstether wheel is installed (no Rust on PATH).

Usage: python_echo.py EXPECTED_VERSION SERVER_PYTHON SERVER_SCRIPT
Checks wstether.__version__, echoes through a python-websockets server, restarts the server on
the same port and checks that the client reconnects by itself and echoes again.
"""

import asyncio
import subprocess
import sys

import wstether

DEADLINE = 20.0  # seconds for each step; a healthy run takes well under one


class Server:
    def __init__(self, python: str, script: str) -> None:
        self.cmd = [python, script]
        self.proc: "subprocess.Popen[str] | None" = None

    def start(self, port: int = 0) -> int:
        self.proc = subprocess.Popen(self.cmd + [str(port)], stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        return int(self.proc.stdout.readline())

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None


async def until(client: wstether.AsyncClient, what: str, match) -> None:
    async def wait() -> None:
        async for event in client:
            if match(event):
                return
        raise AssertionError(f"event stream ended while waiting for {what}")

    try:
        await asyncio.wait_for(wait(), DEADLINE)
    except asyncio.TimeoutError:
        raise AssertionError(f"no {what} within {DEADLINE} s") from None


async def main(version: str, server: Server) -> None:
    assert wstether.__version__ == version, (wstether.__version__, version)
    port = server.start()
    url = f"ws://127.0.0.1:{port}/"
    backoff = wstether.Backoff(initial=0.05, max=0.5)
    async with wstether.connect(url, backoff=backoff) as client:
        await until(client, "open", lambda e: isinstance(e, wstether.Open))
        await client.send("before restart")
        await until(client, "echo", lambda e: isinstance(e, wstether.Message) and e.data == "before restart")

        server.stop()
        server.start(port)
        await until(client, "reopen", lambda e: isinstance(e, wstether.Open))
        await client.send("after restart")
        await until(client, "echo", lambda e: isinstance(e, wstether.Message) and e.data == "after restart")
        unsent = await client.close()
        assert unsent == [], unsent
    print(f"python: wstether {wstether.__version__} echoed, survived a server restart, echoed again")


if __name__ == "__main__":
    srv = Server(sys.argv[2], sys.argv[3])
    try:
        asyncio.run(main(sys.argv[1], srv))
    finally:
        srv.stop()
