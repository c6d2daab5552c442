"""`python -m milvus_snapshot_operator`: run the operator."""

import sys

from .memory import limit_arenas
from .milvus import lazy_imports

limit_arenas()  # before any thread starts
lazy_imports.block_pyarrow()  # before pandas or pymilvus is imported
lazy_imports.install()  # pandas deferred until used: before pymilvus is imported

from .handlers.main import main  # noqa: E402
from .memory import settle_gc  # noqa: E402

settle_gc()  # after the imports: their objects are never garbage
sys.exit(main())
