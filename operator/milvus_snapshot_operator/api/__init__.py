"""Data shapes of the custom resources: pydantic v2 models, no I/O, no kopf, no pymilvus."""

GROUP = "snapshot.milvus.io"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"
CATEGORY = "milvus-snapshots"

# Labels, annotations and the finalizer: every key the operator reads or writes, built from the group.
FINALIZER = f"{GROUP}/finalizer"
SCHEDULE_LABEL = f"{GROUP}/schedule"  # on a schedule's snapshots: the schedule's name
SCHEDULE_UID_ANNOTATION = f"{GROUP}/schedule-uid"  # on a schedule's snapshots: the schedule's UID (ownership)
KEEP_LABEL = f"{GROUP}/keep"  # "true": retention never prunes this snapshot
TRIGGER_ANNOTATION = f"{GROUP}/trigger"  # on a schedule: a new value runs it once
RUN_TIME_ANNOTATION = f"{GROUP}/run-time"  # on a schedule's snapshots: the run's due time (RFC 3339)
CUTOVER_ANNOTATION = f"{GROUP}/cutover"  # on a restore with cutover: Manual, a new value switches the alias
ROLLBACK_ANNOTATION = f"{GROUP}/rollback"  # on a restore that switched an alias, a new value points it back
IMPORTED_LABEL = f"{GROUP}/imported"  # "true": created by a MilvusConnection's inventory to represent a snapshot
IMPORTED_FROM_ANNOTATION = f"{GROUP}/imported-from"  # on imports: <endpoint>/<db>/<collection>/<snapshot>
