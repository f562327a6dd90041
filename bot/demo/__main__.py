"""`python -m bot demo [--port 8080]`: CareMap in one command, no Telegram needed.

Starts the fake Bot API on 127.0.0.1, the real CareMap application talking to it through
python-telegram-bot, and a chat page at http://127.0.0.1:<port>. Uses its own SQLite file,
`caremap-demo.db` in the working directory (never DATABASE_URL), and needs no token.
Ctrl-C stops it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from pathlib import Path

USAGE = "python -m bot demo [--port 8080]"


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bot demo",
        description="Try CareMap in a local Telegram-like chat page (no token, no network).",
    )
    parser.add_argument(
        "--port", type=int, default=8080, help="port on 127.0.0.1 (default 8080; 0 = any free)"
    )
    args = parser.parse_args(argv)
    if not 0 <= args.port <= 65535:
        parser.error("--port must be between 0 and 65535")
    return args


async def serve(port: int, workdir: Path) -> None:
    from bot.demo.web import DemoWeb

    demo = DemoWeb(workdir, port=port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    try:
        await demo.start()
        print(f"CareMap demo: open {demo.url} in a browser (Ctrl-C stops it)", flush=True)
        print(f"  database: {demo.runtime.db_path} (reset from the page to seed again)", flush=True)
        await stop.wait()
    finally:
        await demo.stop()
    print("CareMap demo stopped.", flush=True)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(list(sys.argv[1:] if argv is None else argv))
    logging.basicConfig(
        level=logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    logging.getLogger("caremap").setLevel(logging.INFO)
    # the demo generates its key next to its own database; saying so each start is noise
    logging.getLogger("caremap.demo").setLevel(logging.ERROR)
    try:
        asyncio.run(serve(args.port, Path.cwd()))
    except OSError as exc:
        print(
            f"caremap demo: cannot listen on 127.0.0.1:{args.port} ({exc.strerror or exc}); "
            "try another --port",
            file=sys.stderr,
        )
        return 1
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
