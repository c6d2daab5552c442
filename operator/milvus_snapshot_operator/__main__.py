"""`python -m milvus_snapshot_operator`: run the operator."""

import sys

# pymilvus imports pandas, and pandas picks up pyarrow when it is installed (pymilvus depends on it for
# bulk writes, which the operator never does): ~60 MB of RSS for nothing. Marking it absent before anything
# imports it makes pandas run without it. Only the operator process does this; the library is unaffected.
sys.modules.setdefault("pyarrow", None)  # type: ignore[arg-type]

from .memory import limit_arenas  # noqa: E402
from .milvus import defer_pandas  # noqa: E402

limit_arenas()  # before any thread starts
defer_pandas.install()  # before pymilvus is imported

from .handlers.main import main  # noqa: E402
from .memory import settle_gc  # noqa: E402

settle_gc()  # after the imports: their objects are never garbage
sys.exit(main())
