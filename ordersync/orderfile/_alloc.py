"""Settings polars' allocator reads once, so they are set before polars is imported.

polars allocates through its own jemalloc, which by default keeps freed pages for
10 s (and muzzy ones longer), so a check's memory only grew: 288 MB peak on the
200,000-row bench workbook. Handing dirty pages back after 100 ms keeps it at
about 245 MB at the same speed (``bench/bench_orderfile.py``); a setting of the
operator's own is left alone.
"""

import os

os.environ.setdefault("_RJEM_MALLOC_CONF", "dirty_decay_ms:100,muzzy_decay_ms:0")
