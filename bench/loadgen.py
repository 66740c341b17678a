"""A small threaded load generator for scenarios with a fixed list of requests (group PATCH),
where each request must carry a payload that is used once. Runs in its own process:

    python -m bench.loadgen SPEC.json   ->  prints one JSON line with the results

SPEC: {"port": N, "concurrency": N, "headers": {...}, "requests": [[method, path, body], ...]}
"""

from __future__ import annotations

import http.client
import json
import queue
import sys
import threading
import time


def percentile(values: list[float], pct: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


def main() -> None:
    with open(sys.argv[1], encoding="utf-8") as spec_file:
        spec = json.load(spec_file)
    work: queue.Queue[list[str]] = queue.Queue()
    for item in spec["requests"]:
        work.put(item)
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    lock = threading.Lock()

    def worker() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", spec["port"], timeout=60)
        while True:
            try:
                method, path, body = work.get_nowait()
            except queue.Empty:
                break
            started = time.perf_counter()
            try:
                connection.request(method, path, body=body, headers=spec["headers"])
                response = connection.getresponse()
                response.read()
                status = response.status
            except (OSError, http.client.HTTPException):
                connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", spec["port"], timeout=60)
                status = 0
            elapsed = time.perf_counter() - started
            with lock:
                latencies.append(elapsed)
                statuses[status] = statuses.get(status, 0) + 1
        connection.close()

    started = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(spec["concurrency"])]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    duration = time.perf_counter() - started
    errors = sum(count for status, count in statuses.items() if not 200 <= status < 300)
    print(
        json.dumps(
            {
                "requests": len(latencies),
                "duration_us": int(duration * 1e6),
                "errors": errors,
                "statuses": {str(k): v for k, v in statuses.items()},
                "p50": int(percentile(latencies, 50) * 1e6),
                "p95": int(percentile(latencies, 95) * 1e6),
                "p99": int(percentile(latencies, 99) * 1e6),
                "max": int(max(latencies, default=0) * 1e6),
            }
        )
    )


if __name__ == "__main__":
    main()
