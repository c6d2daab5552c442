"""`python -m milvus_snapshot_operator`: run the operator."""

import sys

from .handlers.main import main

sys.exit(main())
