"""What the service's Ray executor needs from the library: joining Ray the way the launchers do."""

from __future__ import annotations

from finetune.ray_init import EXECUTOR_ENV, init_ray, on_loopback

__all__ = ["EXECUTOR_ENV", "init_ray", "on_loopback"]
