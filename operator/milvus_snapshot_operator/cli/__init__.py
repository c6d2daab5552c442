"""`kubectl milvus-snapshot`: snapshot, restore, trigger, status and explain from a terminal, without YAML.

A kubectl plugin (the console script `kubectl-milvus_snapshot`). It talks to the API server only, through the
official `kubernetes` client, never to Milvus: everything it shows is what the operator wrote into status and
events. It imports the API models and constants and nothing of the operator's machinery (import-linter).
"""
