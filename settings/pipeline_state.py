"""pipelineState: the settings of the pipeline-state Redis (components.pipeline_state)."""

from __future__ import annotations

from .redis import RedisDatabase


class PipelineState(RedisDatabase):
    """pipelineState: Redis for CDC cursors and dedup keys. Never evicts (not configurable)."""
