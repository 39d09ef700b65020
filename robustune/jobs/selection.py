"""Options shared by the model-selection jobs (compare, tune, recommend): a set of train options."""

from __future__ import annotations

from typing import Any

from finetune.run_config import from_options
from plugins.errors import InvalidInput, opt

SELECT_OPTIONS = ("data", "epochs", "lr", "batch_size", "image_size", "max_length", "per_class",
                  "test_per_class", "seed", "patience", "text_column", "label_column")


def check_options(options: dict[str, Any]) -> None:
    """Raise unless ``options`` are valid train options with data (the model and out come later)."""
    if "data" not in options:
        raise InvalidInput(f"missing {opt('data')}; it is required", field="data")
    for key in ("backbone", "model", "out"):
        if key in options:
            raise InvalidInput(f"{opt(key)} is set by this job itself; leave it out of the options",
                               field=key)
    from_options({**options, "backbone": "cnn", "out": "unused"})
