"""Milvus `merr`-style business errors, carried in `common.Status` rather than as gRPC errors.

pymilvus retries gRPC-level failures but raises on a non-zero Status, so every business failure must
become a Status with both `code` (new merr code) and `error_code` (legacy enum) filled.
"""

from __future__ import annotations

import re
from typing import Any

from pymilvus.grpc_gen import common_pb2

SUCCESS = 0
COLLECTION_NOT_FOUND = 100
COLLECTION_NOT_LOADED = 101
COLLECTION_NOT_FULLY_LOADED = 103
DATABASE_NOT_FOUND = 800
PARAMETER_INVALID = 1100
PARAMETER_MISSING = 1101
ALIAS_NOT_FOUND = 1600
ALIAS_COLLECTION_NAME_CONFLICT = 1601
ALIAS_ALREADY_EXIST = 1602
IMPORT_FAILED = 2100
UNEXPECTED = 65535  # any non-merr error, e.g. rootcoord's fmt.Errorf texts

# The numeric codes of merr's ErrSnapshotNotFound / ErrSnapshotPinned are unknown (not in the version of
# Milvus's merr table we could read), so they answer as a non-merr error; clients match on the reason text.
SNAPSHOT_NOT_FOUND = UNEXPECTED
SNAPSHOT_PINNED = UNEXPECTED
DUPLICATE_COLLECTION = UNEXPECTED

# merr's oldCode(): the legacy `error_code` enum pymilvus reports as `compatible_code`.
_LEGACY = {
    SUCCESS: common_pb2.Success,
    COLLECTION_NOT_FOUND: common_pb2.CollectionNotExists,
    PARAMETER_INVALID: common_pb2.IllegalArgument,
}


class MilvusError(Exception):
    """A failure that the server reports in `Status` (code + reason)."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


def status(code: int = SUCCESS, reason: str = "") -> Any:
    """A `common.Status` with `code` and the matching legacy `error_code`."""
    legacy = _LEGACY.get(code, common_pb2.UnexpectedError)
    return common_pb2.Status(code=code, error_code=legacy, reason=reason)


def error_status(err: MilvusError) -> Any:
    return status(err.code, err.reason)


def invalid(msg: str, fields: str = "") -> MilvusError:
    """merr.WrapErrParameterInvalid*: `<msg>: invalid parameter[k=v]...`."""
    return MilvusError(PARAMETER_INVALID, f"{msg}: invalid parameter{fields}")


def missing(msg: str) -> MilvusError:
    return MilvusError(PARAMETER_MISSING, f"{msg}: missing parameter")


def collection_not_found(db_name: str, collection: str) -> MilvusError:
    return MilvusError(COLLECTION_NOT_FOUND, f"collection not found[database={db_name}][collection={collection}]")


def collection_not_found_no_db(collection: str) -> MilvusError:
    """merr.WrapErrCollectionNotFound without the database field (what AlterAlias and ListAliases say)."""
    return MilvusError(COLLECTION_NOT_FOUND, f"collection not found[collection={collection}]")


def alias_not_found(db_name: str, alias: str) -> MilvusError:
    return MilvusError(ALIAS_NOT_FOUND, f"alias not found[database={db_name}][alias={alias}]")


def alias_name_conflict(db_name: str, alias: str) -> MilvusError:
    return MilvusError(
        ALIAS_COLLECTION_NAME_CONFLICT, f"alias and collection name conflict[database={db_name}][alias={alias}]"
    )


def alias_already_exist(db_name: str, alias: str, target: str) -> MilvusError:
    return MilvusError(
        ALIAS_ALREADY_EXIST,
        f"{alias} is alias to another collection: {target}: alias already exist[database={db_name}][alias={alias}]",
    )


def collection_not_loaded(collection_id: int, prefix: str = "") -> MilvusError:
    """merr.WrapErrCollectionNotLoaded(collectionID), wrapped by the caller's `prefix` ("failed to search")."""
    text = f"collection not loaded[collection={collection_id}]"
    return MilvusError(COLLECTION_NOT_LOADED, f"{prefix}: {text}" if prefix else text)


def database_not_found(db_name: str) -> MilvusError:
    return MilvusError(DATABASE_NOT_FOUND, f"database not found[database={db_name}]")


def snapshot_not_found(collection_id: int, name: str) -> MilvusError:
    return MilvusError(SNAPSHOT_NOT_FOUND, f"collection {collection_id}: snapshot not found[snapshot={name}]")


_LITE_DATABASE_MISSING = re.compile(r"database '(.*)' does not exist")
# milvus-lite maps DatabaseNotFoundError to (6, 6); ShowCollections fails it with the generic code 1.
_LITE_DATABASE_MISSING_CODES = (1, 6)


def milvus_database_status(st: Any) -> None:
    """Rewrite milvus-lite's unknown-database Status in place as Milvus's 800."""
    match = _LITE_DATABASE_MISSING.fullmatch(st.reason)
    if st.code in _LITE_DATABASE_MISSING_CODES and match:
        st.CopyFrom(error_status(database_not_found(match.group(1))))


def restore_job_not_found(job_id: int) -> MilvusError:
    return MilvusError(IMPORT_FAILED, f"restore job not found: jobID={job_id}: importing data failed")
