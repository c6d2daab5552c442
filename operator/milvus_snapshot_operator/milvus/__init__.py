"""The only package that talks to Milvus: a small gateway over pymilvus plus error classification."""
