"""Real vector data for the demo and the e2e tests: a small collection, and the search used to compare a
restored collection with its source (same row count, same hits)."""

from __future__ import annotations

import random
from typing import Any

from pymilvus import DataType, MilvusClient

DIM = 8


def client(uri: str, token: str = "", db: str = "default", ca: str | None = None) -> MilvusClient:
    """`ca`: a CA file to verify a TLS server with (https:// URIs)."""
    tls = {"server_pem_path": ca, "dedicated": True} if ca else {}
    return MilvusClient(uri=uri, token=token, db_name=db, timeout=30, **tls)


def create_books(mc: MilvusClient, name: str = "books", rows: int = 300, seed: int = 7) -> None:
    """A collection with `rows` deterministic vectors, flushed, indexed and loaded."""
    schema = mc.create_schema(auto_id=False, enable_dynamic_field=False)
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("vector", DataType.FLOAT_VECTOR, dim=DIM)
    schema.add_field("title", DataType.VARCHAR, max_length=64)
    index = mc.prepare_index_params()
    index.add_index(field_name="vector", index_type="FLAT", metric_type="L2")
    mc.create_collection(name, schema=schema, index_params=index)
    rng = random.Random(seed)
    data = [{"id": i, "vector": [rng.random() for _ in range(DIM)], "title": f"book {i}"} for i in range(rows)]
    mc.insert(name, data)
    mc.flush(name)
    mc.load_collection(name)


def queries(count: int = 5, seed: int = 11) -> list[list[float]]:
    rng = random.Random(seed)
    return [[rng.random() for _ in range(DIM)] for _ in range(count)]


def hits(mc: MilvusClient, collection: str, limit: int = 5) -> list[list[tuple[int, float]]]:
    """Top hits (id, rounded distance) for the fixed queries."""
    result: Any = mc.search(collection, data=queries(), limit=limit, output_fields=["id"], anns_field="vector")
    return [[(int(h["id"]), round(float(h["distance"]), 5)) for h in row] for row in result]


def row_count(mc: MilvusClient, collection: str) -> int:
    result = mc.query(collection, filter="", output_fields=["count(*)"])
    return int(result[0]["count(*)"])


def load(mc: MilvusClient, collection: str) -> None:
    """A restored collection is not loaded; Milvus needs a load before it serves searches."""
    mc.load_collection(collection)
