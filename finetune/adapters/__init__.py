"""Adapter plugins: linear-probe, full, partial."""

from finetune.adapters.base import Adapter, AdapterConfig, TrainPlan

__all__ = ["Adapter", "AdapterConfig", "TrainPlan"]
