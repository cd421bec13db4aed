"""Stream a generated simple-orders CSV through MetrikaClient to the emulator.

Prints the client's peak RSS and throughput, and, as a baseline measured in the
same run, the peak RSS of plain ``requests`` ``files=`` on a smaller file.

    .venv/bin/python bench/metrika_upload_stream.py            # 1 GB
    .venv/bin/python bench/metrika_upload_stream.py --size-mb 100
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil
import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ordersync.metrika import MetrikaClient  # noqa: E402

TOKEN = "y0_demo-agency-long-lived-token"  # noqa: S105 - the demo seed's token
COUNTER = 90000001
HEADER = (
    "id,create_date_time,client_uniq_id,emails,phones,order_status,revenue,cost,"
    "currency\n"
)
STATUSES = ("PAID", "IN_PROGRESS", "CANCELLED", "SPAM")
MB = 1024 * 1024

EMULATOR = """
import json, sys
from ordersync.metrika.emulator import serve
seed = json.load(open(sys.argv[1]))
seed["settings"].update(json.loads(sys.argv[2]))
def ready(server):
    print(server.url, flush=True)
serve(port=0, seed=seed, ready=ready)
"""


def generate(path: Path, size: int) -> int:
    """Write a valid CSV of about ``size`` bytes; return its data rows."""
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = 0
    written = 0
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write(HEADER)
        written += len(HEADER)
        while written < size:
            batch = []
            for i in range(rows, rows + 10_000):
                batch.append(
                    f"ord-{i:010d},2024-{i % 12 + 1:02d}-{i % 28 + 1:02d} "
                    f"{i % 24:02d}:{i % 60:02d}:{i % 59:02d},cust-{i % 500_000},"
                    f'"client{i}@example.com,alt{i % 97}@example.org",'
                    f"7999{i % 10_000_000:07d},{STATUSES[i % 4]},"
                    f"{i % 100_000}.{i % 100:02d},{i % 5_000}.00,RUB\n"
                )
            chunk = "".join(batch)
            if written + len(chunk) > size:
                # Stop just under the size: Metrika's limit is 1 GB per file.
                batch = _fit(batch, size - written)
                chunk = "".join(batch)
            out.write(chunk)
            written += len(chunk)
            rows += len(batch)
            if len(batch) < 10_000:
                break
    return rows


def _fit(lines: list[str], room: int) -> list[str]:
    kept = []
    for line in lines:
        room -= len(line)
        if room < 0:
            break
        kept.append(line)
    return kept


def count_rows(path: Path) -> int:
    """Count data rows of a generated file (no quoted newlines in it)."""
    lines = 0
    with path.open("rb") as source:
        while block := source.read(8 * MB):
            lines += block.count(b"\n")
    return lines - 1


class PeakRSS:
    """Sample this process's RSS every few milliseconds and keep the peak."""

    def __init__(self) -> None:
        self._process = psutil.Process()
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self._process.memory_info().rss)
            time.sleep(0.005)

    def __enter__(self) -> PeakRSS:
        self.peak = self._process.memory_info().rss
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._process.memory_info().rss)


def start_emulator(settings: dict) -> tuple[subprocess.Popen, str]:
    seed = ROOT / "ordersync/metrika/emulator/demo_seed.json"
    process = subprocess.Popen(
        [sys.executable, "-c", EMULATOR, str(seed), json.dumps(settings)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    url = process.stdout.readline().strip()
    if not url.startswith("http://127.0.0.1:"):
        process.kill()
        raise SystemExit(f"emulator did not start: {url!r}")
    return process, url


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=1024)
    parser.add_argument("--baseline-mb", type=int, default=128)
    parser.add_argument(
        "--validate-rows",
        action="store_true",
        help="Have the emulator check every row (slower; measures the emulator too).",
    )
    args = parser.parse_args()

    data = ROOT / "bench/data"
    big = data / f"orders-{args.size_mb}mb.csv"
    small = data / f"orders-{args.baseline_mb}mb.csv"
    for path, size_mb in ((big, args.size_mb), (small, args.baseline_mb)):
        if (
            not path.exists()
            or not size_mb * MB - MB < path.stat().st_size <= size_mb * MB
        ):
            started = time.monotonic()
            generate(path, size_mb * MB)
            print(f"generated {path.name} in {time.monotonic() - started:.1f}s")
    rows = count_rows(big)

    settings = {
        "validate_rows": args.validate_rows,
        "store_orders": False,
        "rps_per_ip": None,
    }
    emulator, url = start_emulator(settings)
    try:
        process = psutil.Process()
        idle = process.memory_info().rss
        client = MetrikaClient(url, TOKEN, connect_timeout=5, read_timeout=600)
        size = big.stat().st_size
        with PeakRSS() as stream_peak, big.open("rb") as source:
            cpu_before = process.cpu_times()
            started = time.monotonic()
            result = client.upload_simple_orders(COUNTER, source, merge_mode="SAVE")
            elapsed = time.monotonic() - started
            cpu_after = process.cpu_times()
        cpu = (cpu_after.user - cpu_before.user) + (
            cpu_after.system - cpu_before.system
        )
        assert result.elements_count == rows, (result.elements_count, rows)

        small_size = small.stat().st_size
        before_baseline = process.memory_info().rss
        with PeakRSS() as baseline_peak, small.open("rb") as source:
            started = time.monotonic()
            response = requests.post(
                f"{url}/cdp/api/v1/counter/{COUNTER}/data/simple_orders",
                params={"merge_mode": "SAVE"},
                files={"file": ("orders.csv", source, "text/csv")},
                headers={"Authorization": f"OAuth {TOKEN}"},
                # One sendall of the whole body: the connect timeout bounds it.
                timeout=(600, 600),
            )
            baseline_elapsed = time.monotonic() - started
        response.raise_for_status()
    finally:
        emulator.terminate()
        emulator.wait()

    stream_extra = stream_peak.peak - idle
    baseline_extra = baseline_peak.peak - before_baseline
    print(
        f"python {sys.version.split()[0]}, pid {os.getpid()}, emulator rows checked: "
        f"{'every row' if args.validate_rows else 'header + row count'}"
    )
    print(f"streamed file:      {size / MB:.1f} MiB, {rows} rows")
    print(f"client idle RSS:    {idle / MB:.1f} MiB")
    print(
        f"client peak RSS:    {stream_peak.peak / MB:.1f} MiB "
        f"(+{stream_extra / MB:.1f} MiB over idle; target < 100 MiB)"
    )
    print(f"throughput:         {size / MB / elapsed:.1f} MiB/s ({elapsed:.1f}s wall)")
    print(
        f"client CPU:         {cpu:.1f}s, i.e. {size / MB / cpu:.0f} MiB/s if the "
        "server kept up (the emulator's CSV parsing is the bottleneck)"
    )
    print(
        f"baseline files=:    {small_size / MB:.1f} MiB file, peak RSS "
        f"{baseline_peak.peak / MB:.1f} MiB (+{baseline_extra / MB:.1f} MiB), "
        f"{small_size / MB / baseline_elapsed:.1f} MiB/s"
    )
    print(
        f"RSS per file MiB:   streaming +{stream_extra / size:.4f} MiB, "
        f"files= +{baseline_extra / small_size:.4f} MiB"
    )


if __name__ == "__main__":
    main()
