"""The four kinds as the plugin names them: API plural, short names, and `KIND/NAME` parsing like kubectl."""

from __future__ import annotations

import dataclasses

from ..api import GROUP, connection, restore, schedule, snapshot


@dataclasses.dataclass(frozen=True)
class Kind:
    kind: str
    plural: str
    short: str  # the CRD's first short name, used when printing `short/name`
    aliases: tuple[str, ...]  # further short names

    @property
    def singular(self) -> str:
        return self.kind.lower()

    def spellings(self) -> set[str]:
        """Every way kubectl accepts the resource: kind, singular, plural, short names, plural.group."""
        names = {self.singular, self.plural, self.short, *self.aliases}
        return names | {f"{name}.{GROUP}" for name in (self.singular, self.plural)}


CONNECTION = Kind(connection.KIND, connection.PLURAL, "mconn", ())
SNAPSHOT = Kind(snapshot.KIND, snapshot.PLURAL, "msnap", ("msnaps",))
RESTORE = Kind(restore.KIND, restore.PLURAL, "mrestore", ("mrestores",))
SCHEDULE = Kind(schedule.KIND, schedule.PLURAL, "msched", ("mscheds",))
KINDS = (CONNECTION, SCHEDULE, SNAPSHOT, RESTORE)


class UnknownKind(ValueError):
    pass


def kind_named(name: str) -> Kind:
    """The kind for `name` in any of kubectl's spellings (case-insensitive, as kubectl is)."""
    wanted = name.lower()
    for kind in KINDS:
        if wanted in kind.spellings():
            return kind
    choices = ", ".join(k.short for k in KINDS)
    raise UnknownKind(f'the server doesn\'t have a resource type "{name}" of this plugin (one of: {choices})')


def parse_ref(first: str, second: str | None = None) -> tuple[Kind, str]:
    """`msnap/x` or `msnap x` (kubectl's two forms) into (kind, name)."""
    if second is None:
        kind_name, slash, name = first.partition("/")
        if not slash or not name or not kind_name:
            raise UnknownKind(f"expected KIND/NAME or KIND NAME, got {first!r}")
        return kind_named(kind_name), name
    if "/" in first:
        raise UnknownKind(f"there is no need to specify a resource type as a separate argument: {first!r}")
    return kind_named(first), second
