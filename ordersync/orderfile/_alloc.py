"""Allocator settings read once, so they are set before polars and pyarrow load.

polars allocates through its own jemalloc, which by default keeps freed pages for
10 s (and muzzy ones longer), so a check's memory only grew: 288 MB peak on the
200,000-row bench workbook. Handing dirty pages back after 100 ms keeps it at
about 250 MB at the same speed (``bench/bench_orderfile.py``).

pyarrow (which hands over the parts of a big sheet) would otherwise allocate from
mimalloc, whose first use reserves 1.2 GB of address space: with the worker's
address-space cap (``WORKER_MEMORY_LIMIT_MB``) that is room a file cannot use.

Settings of the operator's own are left alone.
"""

import os

os.environ.setdefault("_RJEM_MALLOC_CONF", "dirty_decay_ms:100,muzzy_decay_ms:0")
os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", "system")
