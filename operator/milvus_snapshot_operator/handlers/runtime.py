"""Operator-wide state shared by all handlers through Kopf's memo: config, clients, caches, wake-ups."""

from __future__ import annotations

import dataclasses

from ..config import OperatorConfig
from ..milvus.jobcache import RestoreJobCache
from ..milvus.pool import GatewayPool
from ..reconcile.outcome import Retry
from .bus import WakeupBus
from .kube import KubeReader


@dataclasses.dataclass
class Runtime:
    config: OperatorConfig
    kube: KubeReader
    pool: GatewayPool
    jobs: RestoreJobCache
    bus: WakeupBus

    @classmethod
    def create(cls, config: OperatorConfig) -> Runtime:
        return cls(
            config=config,
            kube=KubeReader(),
            pool=GatewayPool(),
            jobs=RestoreJobCache(config.restore_poll_seconds),
            bus=WakeupBus(),
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
