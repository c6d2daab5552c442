"""Pure, idempotent state machines: (spec, status, Milvus gateway, clock) -> Outcome. No kopf here."""
