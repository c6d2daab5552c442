"""milvusd at scale: CreateSnapshot, DescribeSnapshot and ListSnapshots with many snapshots on one collection.

`python benchmarks/milvusd_scale.py [--counts 100,1000,5000] [--samples 100]` prints figures, not pass/fail:
for each count N it creates snapshots up to N on one collection, then reports the mean and p95 latency
of the last `samples` creates before N, of `samples` describes of random existing snapshots, and of a
tenth as many lists (whose reply grows with N). A fresh server on loopback, plain pymilvus 3.0.2.
"""

from __future__ import annotations

import argparse
import functools
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "operator"), str(REPO)]

from testbed import seed  # noqa: E402
from testbed.processes import MilvusServer  # noqa: E402

COLLECTION = "scale"


def timed(call: Callable[[], object]) -> float:
    started = time.perf_counter()
    call()
    return (time.perf_counter() - started) * 1000


def figures(samples: list[float]) -> str:
    p95 = statistics.quantiles(samples, n=20)[-1] if len(samples) >= 2 else samples[0]
    return f"{statistics.mean(samples):8.2f} {p95:8.2f}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--counts", default="100,1000,5000", help="snapshot counts to measure at")
    parser.add_argument("--samples", type=int, default=100, help="calls measured per figure")
    args = parser.parse_args()
    counts = sorted(int(c) for c in args.counts.split(","))
    rng = random.Random(5)
    with tempfile.TemporaryDirectory(prefix="milvusd-scale-") as work:
        server = MilvusServer(Path(work) / "data").start()
        client = seed.client(server.uri)
        try:
            seed.create_books(client, COLLECTION, rows=100)
            print(f"{'snapshots':>9}  {'create ms (mean p95)':>20}  {'describe ms':>17}  {'list ms':>17}  wall s")
            made = 0
            for count in counts:
                started = time.monotonic()
                creates: list[float] = []
                while made < count:
                    name = f"s_{made}"
                    elapsed = timed(functools.partial(client.create_snapshot, name, COLLECTION))
                    made += 1
                    if made > count - args.samples:
                        creates.append(elapsed)
                names = [f"s_{rng.randrange(made)}" for _ in range(args.samples)]
                describes = [timed(functools.partial(client.describe_snapshot, n, COLLECTION)) for n in names]
                lists = [timed(lambda: client.list_snapshots(COLLECTION)) for _ in range(max(3, args.samples // 10))]
                assert len(client.list_snapshots(COLLECTION)) == made
                wall = time.monotonic() - started
                row = f"{figures(creates):>20}  {figures(describes):>17}  {figures(lists):>17}"
                print(f"{count:>9}  {row}  {wall:6.1f}")
        finally:
            client.close()
            server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
