"""Settings polars and pyarrow read once, so they are set before either loads.

polars allocates through its own jemalloc, which it sets to keep freed pages for
500 ms (and, as "muzzy" pages, 1 s more), and appends this variable's value to
that, so these win. Handing freed pages back after 100 ms took the 200,000-row
bench workbook from 288 to about 245 MB peak at the same speed, and the
1,000,000-row CSV from 303 to 239 MB for about 3% of its speed, well within its
target (``bench/bench_orderfile.py``).

polars runs a query on its streaming engine unless told otherwise. Ours are many
small ones (a batch of 20,000 rows, a part of a sheet): on the in-memory engine
each costs 4 ms less to set up, and the bench's CSV and workbook run 5% faster
with the same results.

pyarrow (which hands over the parts of a big sheet) would otherwise allocate from
mimalloc, whose first use reserves 1.2 GB of address space: with the worker's
address-space cap (``WORKER_MEMORY_LIMIT_MB``) that is room a file cannot use.

Settings of the operator's own are left alone.
"""

import os

os.environ.setdefault("_RJEM_MALLOC_CONF", "dirty_decay_ms:100,muzzy_decay_ms:0")
os.environ.setdefault("POLARS_ENGINE_AFFINITY", "in-memory")
os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", "system")
