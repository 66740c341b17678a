"""An SMTP sink for the benchmark: accepts every message on loopback and counts it.

Each message appends one line (its first recipient) to the file given with `--log`, so the
benchmark can count deliveries and find duplicates without talking to this process.
"""

from __future__ import annotations

import argparse
import signal
import threading
from typing import Any

from aiosmtpd.controller import Controller


class CountingHandler:
    def __init__(self, path: str) -> None:
        self.path = path
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock, open(self.path, "a", encoding="utf-8") as log:
            log.write(",".join(envelope.rcpt_tos) + "\n")
        return "250 Message accepted for delivery"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--log", required=True)
    args = parser.parse_args()
    open(args.log, "w").close()
    controller = Controller(CountingHandler(args.log), hostname="127.0.0.1", port=args.port)
    controller.start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    controller.stop()


if __name__ == "__main__":
    main()
