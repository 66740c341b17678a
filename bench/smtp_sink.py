"""An SMTP sink for the benchmark and the cluster: accepts every message on loopback and counts it.

Each message appends one line (its recipients, comma-separated) to the file given with `--log`,
so the benchmark can count deliveries and find duplicates without talking to this process. With
`--store DIR` each message is also kept whole, one file per message (written to a temporary name
and renamed, so a reader never sees half a message), for tests that read subjects or links.
"""

from __future__ import annotations

import argparse
import os
import signal
import threading
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller


class CountingHandler:
    def __init__(self, path: str, store: Path | None = None) -> None:
        self.path = path
        self.store = store
        self.lock = threading.Lock()
        self.count = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            self.count += 1
            if self.store is not None:
                partial = self.store / f".{self.count:08d}.tmp"
                partial.write_bytes(envelope.content)
                os.replace(partial, self.store / f"{self.count:08d}.eml")
            with open(self.path, "a", encoding="utf-8") as log:
                log.write(",".join(envelope.rcpt_tos) + "\n")
        return "250 Message accepted for delivery"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--log", required=True)
    parser.add_argument("--store", type=Path, help="Keep each message as a file in this folder.")
    args = parser.parse_args()
    open(args.log, "w").close()
    if args.store is not None:
        args.store.mkdir(parents=True, exist_ok=True)
    controller = Controller(
        CountingHandler(args.log, args.store), hostname="127.0.0.1", port=args.port
    )
    controller.start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    controller.stop()


if __name__ == "__main__":
    main()
