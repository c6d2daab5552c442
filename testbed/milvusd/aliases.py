"""Collection aliases with Milvus 3.0's rules, on top of milvus-lite's per-database alias store.

milvus-lite keeps aliases (one `aliases.json` per database, so they survive a restart) but its rules
differ from Milvus's rootcoord (meta_table.go CheckIfAlias*, root_coord.go, dropCollectionTask):
  - create_alias to the alias's current target is a no-op success (errIgnoredAlterAlias), to another
    collection 1602 AliasAlreadyExist; lite says "already exists" in both cases;
  - alter_alias of a missing alias is 1600 AliasNotFound, to a missing collection 100 (lite: 100, 100);
  - an alias named like a collection is 1601 AliasCollectionNameConflict, for create and alter;
  - drop_alias of a missing alias succeeds (root_coord.go DropAlias ignores ErrAliasNotFound);
  - drop_collection through an alias, or of a collection that still has aliases, is refused (lite drops
    the collection and its aliases silently); a rename cannot start from or land on an alias;
  - a collection cannot be created under a name that is an alias.
Every rule runs under the service lock, like Milvus's serial DDL.
"""

from __future__ import annotations

from milvus_lite.exceptions import MilvusLiteError

from .errors import (
    UNEXPECTED,
    MilvusError,
    alias_already_exist,
    alias_name_conflict,
    alias_not_found,
    collection_not_found,
    collection_not_found_no_db,
    invalid,
)
from .names import validate_collection_name
from .snapshots import SnapshotService


class AliasService:
    def __init__(self, service: SnapshotService) -> None:
        self._svc = service
        self._db = service.db

    # ── lookups ─────────────────────────────────────────────────

    def target_of(self, db_name: str, alias: str) -> str | None:
        """The collection `alias` points at, or None if it is no alias."""
        target = str(self._db.resolve_collection_name(alias, database_name=db_name))
        return target if target != alias else None

    def is_collection(self, db_name: str, name: str) -> bool:
        """A real collection of that name (an alias does not count); False in an unknown database."""
        return bool(name) and self.target_of(db_name, name) is None and self._exists(db_name, name)

    def _exists(self, db_name: str, name: str) -> bool:
        """milvus-lite has `name` (a collection, or an alias of one); False in an unknown database.

        Callers that already know `name` is no alias use it to skip is_collection's second alias lookup.
        """
        try:
            return bool(self._db.has_collection(name, database_name=db_name))
        except MilvusLiteError:
            return False

    def aliases_of(self, db_name: str, collection: str) -> list[str]:
        return list(self._db.list_aliases(collection, database_name=db_name))

    # ── alias RPCs ──────────────────────────────────────────────

    def create(self, db_name: str, collection: str, alias: str) -> None:
        with self._svc.lock:
            current = self._pair_checks(db_name, collection, alias, collection_not_found(db_name, collection))
            if current == collection:
                return  # already set on this collection: ignored, success
            if current is not None:
                raise alias_already_exist(db_name, alias, current)
            self._db.create_alias(collection, alias, database_name=db_name)

    def alter(self, db_name: str, collection: str, alias: str) -> None:
        with self._svc.lock:
            current = self._pair_checks(db_name, collection, alias, collection_not_found_no_db(collection))
            if current is None:
                raise alias_not_found(db_name, alias)
            if current != collection:
                self._db.alter_alias(collection, alias, database_name=db_name)

    def _pair_checks(self, db_name: str, collection: str, alias: str, not_found: MilvusError) -> str | None:
        """What create and alter both check, in Milvus's order (the two differ in the missing collection's
        message, `not_found`); returns the collection `alias` points at now. Runs under the service lock.
        """
        validate_collection_name(alias, "alias")
        validate_collection_name(collection, "name")
        self._svc.require_db(db_name)
        current = self.target_of(db_name, alias)
        if current is None and self._exists(db_name, alias):
            raise alias_name_conflict(db_name, alias)
        if not self.is_collection(db_name, collection):
            raise not_found
        return current

    def drop(self, db_name: str, alias: str) -> None:
        validate_collection_name(alias, "alias")
        with self._svc.lock:
            self._svc.require_db(db_name)
            if self.target_of(db_name, alias) is not None:
                self._db.drop_alias(alias, database_name=db_name)

    def describe(self, db_name: str, alias: str) -> str:
        validate_collection_name(alias, "alias")
        with self._svc.lock:
            self._svc.require_db(db_name)
            target = self.target_of(db_name, alias)
            if target is None:
                raise alias_not_found(db_name, alias)
            return target

    def list(self, db_name: str, collection: str) -> list[str]:
        with self._svc.lock:
            self._svc.require_db(db_name)
            if not collection:
                return list(self._db.list_aliases(None, database_name=db_name))
            validate_collection_name(collection, "name")
            if not self.is_collection(db_name, collection):
                raise collection_not_found_no_db(collection)
            return self.aliases_of(db_name, collection)

    # ── guards on collection DDL ────────────────────────────────

    def check_droppable(self, db_name: str, name: str) -> None:
        if self.target_of(db_name, name) is not None:
            raise MilvusError(UNEXPECTED, f"cannot drop the collection via alias = {name}")
        if name and self._exists(db_name, name):  # no alias (checked above): a collection
            aliases = self.aliases_of(db_name, name)
            if aliases:
                raise MilvusError(
                    UNEXPECTED,
                    f"unable to drop the collection [{name}] because it has associated aliases "
                    f"[{' '.join(aliases)}], please remove all aliases before dropping the collection",
                )

    def check_renamable(self, db_name: str, old: str, new: str) -> None:
        if self.target_of(db_name, old) is not None:
            raise invalid(f"unsupported use an alias to rename collection, alias:{old}")
        if self.target_of(db_name, new) is not None:
            raise alias_name_conflict(db_name, new)
        if new and self._exists(db_name, new):  # no alias (checked above): a collection
            raise invalid(f"duplicated new collection name {db_name}:{new} with other collection name or alias")

    def check_creatable(self, db_name: str, name: str, prefix: str = "") -> None:
        """A new collection (CreateCollection, a restore's target) must not take an alias's name."""
        if self.target_of(db_name, name) is not None:
            text = f"collection name [{name}] conflicts with an existing alias, please choose a unique name"
            raise MilvusError(UNEXPECTED, f"{prefix}{text}")
