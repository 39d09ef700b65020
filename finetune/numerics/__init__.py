"""Choosing how a model computes (``--precision``): candidates, timing, the cache and ``choose``.

The contract (``Numerics``, ``Choice``) is ``plugins/numerics.py``; this floor measures and applies it.
"""

from finetune.numerics.apply import apply, candidates, half_dtype, is_convolutional, native_half
from finetune.numerics.cache import cache_file, cache_key
from finetune.numerics.choose import AGREEMENT, choose
from finetune.numerics.timing import kept_state, time_candidates

__all__ = ["AGREEMENT", "apply", "cache_file", "cache_key", "candidates", "choose", "half_dtype",
           "is_convolutional", "kept_state", "native_half", "time_candidates"]
