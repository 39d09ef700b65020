"""What names and references the API takes, as patterns: the server checks a value with them and the
OpenAPI document states them, so a request the schema allows is one the server takes.

Each pattern is bare (``full`` anchors it for a check, ``schema`` for JSON Schema), and ``SAYS`` words
it for the one-line error that names the field.
"""

from __future__ import annotations

import re

from plugins.duration import DURATION, DURATION_SAYS
from plugins.errors import InvalidInput
from robustune.jobs.catalog import WEIGHT_SOURCES

BUILTIN_DATA = ("digits", "fashion-mnist", "rotten-tomatoes")

LABEL = r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}"  # an alias, a tag key
MODEL_NAME = r"[A-Za-z0-9][A-Za-z0-9._-]{0,199}"
PROJECT_NAME = r"[a-z0-9][a-z0-9._-]{0,99}"
DATASET_ID = r"ds_[0-9a-f]{16}"
JOB_ID = r"job_[0-9a-f]{16}"
VERSION_ID = r"mv_[0-9a-f]{16}"
MODEL_REF = rf"{VERSION_ID}|{MODEL_NAME}(?:@[0-9]{{1,9}}|:{LABEL})?"
ALIAS = r"[A-Za-z][A-Za-z0-9._-]{0,99}"  # a letter first: an alias is never read as a version number
VERSION_OR_ALIAS = rf"[0-9]{{1,9}}|{ALIAS}"
BASE64 = r"(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?"
DATASET_REF = rf"{DATASET_ID}|{'|'.join(re.escape(d) for d in BUILTIN_DATA)}"
WEIGHTS_REF = rf"{'|'.join(WEIGHT_SOURCES)}|{DATASET_ID}"
ARCHITECTURE = r"[A-Za-z0-9][A-Za-z0-9._-]{0,199}"  # a registered or timm model
ARCHITECTURE_REF = rf"{DATASET_ID}|{ARCHITECTURE}"  # one model: a name, or an uploaded Hugging Face folder
ARCHITECTURES = rf"{ARCHITECTURE}(?::{LABEL})?(?:,{ARCHITECTURE}(?::{LABEL})?){{0,31}}"  # NAME[:ADAPTER],...
TEXT_LINE = r"[^\x00-\x1f\x7f-\x9f\u2028\u2029]{1,200}"  # a name people give: one line, no control characters
SEGMENT = r"[^/\\.~\x00-\x1f\x7f][^/\\\x00-\x1f\x7f]*"  # a path segment not starting with . or ~
INLINE = rf"(?:{SEGMENT})(?:/{SEGMENT})*"  # a value, or a hub id (org/name): never a path up or from the root
FILENAME = r"[^/\\\x00-\x1f\x7f-\x9f.][^/\\\x00-\x1f\x7f-\x9f]{0,254}"

SAYS = {
    LABEL: "letters, digits, '.', '_' or '-' (at most 100)",
    MODEL_NAME: "letters, digits, '.', '_' or '-' (at most 200)",
    PROJECT_NAME: "lowercase letters, digits, '.', '_' or '-' (at most 100)",
    DATASET_ID: "the id of an upload (POST /v1/datasets)",
    JOB_ID: "the id of a job",
    MODEL_REF: "a registered model: name, name@VERSION, name:ALIAS or a version id",
    VERSION_OR_ALIAS: "a version number or an alias",
    DATASET_REF: f"a dataset id (POST /v1/datasets) or one of {', '.join(BUILTIN_DATA)}",
    WEIGHTS_REF: f"one of {', '.join(WEIGHT_SOURCES)}, or the id of uploaded weights",
    ARCHITECTURE_REF: "a registered model or timm name, or the id of an uploaded Hugging Face folder",
    ARCHITECTURES: "registered model or timm names, NAME[:ADAPTER] comma-separated",
    ALIAS: "a letter, then letters, digits, '.', '_' or '-' (at most 100)",
    INLINE: "the value itself (no leading /, ~ or ., no ASCII control characters: paths on the server are "
            "refused)",
    TEXT_LINE: "one line of text (1 to 200 characters, no control characters)",
    FILENAME: "a plain file name (no folder, control character or leading dot)",
    DURATION: DURATION_SAYS,
}


def full(pattern: str) -> re.Pattern[str]:
    """The pattern matching a whole value (``$`` would let a trailing newline through)."""
    return re.compile(rf"(?:{pattern})\Z")


def schema(pattern: str) -> str:
    """The pattern as JSON Schema states it (anchored at both ends)."""
    return f"^(?:{pattern})$"


def says(pattern: str) -> str:
    """The pattern in words (for an error), or the pattern itself."""
    return SAYS.get(pattern, f"of the form {pattern}")


def check(value: str, pattern: str, field: str) -> str:
    """``value`` if it matches ``pattern``; else an InvalidInput naming ``field``."""
    if not full(pattern).match(value):
        raise InvalidInput(f"{field} must be {says(pattern)}", field=field)
    return value
