"""Operator-wide state shared by all handlers through Kopf's memo: config, clients, caches, wake-ups."""

from __future__ import annotations

import dataclasses

from ..config import OperatorConfig
from ..milvus.jobcache import RestoreJobCache
from ..milvus.pool import GatewayPool
from ..reconcile.endpoints import AllowedEndpoints
from ..reconcile.outcome import Retry
from .bus import WakeupBus, key
from .kube import KubeReader, load_config
from .secretwatch import SecretWatches


@dataclasses.dataclass
class Runtime:
    config: OperatorConfig
    allowed: AllowedEndpoints
    kube: KubeReader
    pool: GatewayPool
    jobs: RestoreJobCache
    bus: WakeupBus
    secrets: SecretWatches
    # Snapshots an inventory pass imported lately ((endpoint, db, collection, snapshot) -> until when, monotonic):
    # another namespace's pass that runs before the watch shows the new object must not import them again.
    recent_imports: dict[tuple[str, str, str, str], float] = dataclasses.field(default_factory=dict)

    @classmethod
    def create(cls, config: OperatorConfig) -> Runtime:
        kube_config = load_config()
        kube = KubeReader(kube_config)
        bus = WakeupBus()

        def secret_changed(namespace: str, name: str) -> None:
            kube.forget_secret(namespace, name)
            bus.notify(key("Secret", namespace, name))

        return cls(
            config=config,
            allowed=allowed_endpoints(config),
            kube=kube,
            pool=GatewayPool(),
            jobs=RestoreJobCache(config.restore_poll_seconds),
            bus=bus,
            secrets=SecretWatches(kube_config, secret_changed),
        )

    def delay(self, retry: Retry, failures: int) -> float:
        """Seconds until the next attempt; `failures` counts consecutive transient failures."""
        cfg = self.config
        if retry == Retry.NOW:
            return 0.0
        if retry == Retry.BACKOFF:
            return float(min(cfg.backoff_base_seconds * 2 ** max(failures - 1, 0), cfg.backoff_max_seconds))
        if retry == Retry.SLOW:
            return cfg.slow_retry_seconds
        if retry == Retry.POLL:
            return cfg.restore_poll_seconds
        if retry == Retry.DRIFT:
            return cfg.drift_check_seconds
        return cfg.dependency_wait_seconds


def allowed_endpoints(config: OperatorConfig) -> AllowedEndpoints:
    """Raises ValueError naming MSO_ALLOWED_ENDPOINTS and the bad entry."""
    try:
        return AllowedEndpoints.parse(config.allowed_endpoints.split(","))
    except ValueError as exc:
        raise ValueError(f"MSO_ALLOWED_ENDPOINTS: {exc}") from None


def settings_from_env() -> OperatorConfig:
    """The MSO_* settings, checked before Kopf starts (main.py): a bad value makes the process exit 2 with a
    message naming the variable, instead of a startup handler Kopf would retry forever."""
    config = OperatorConfig.from_env()
    allowed_endpoints(config)
    return config
