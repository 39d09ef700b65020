"""How much one predict request may ask for, checked before anything is decoded.

Texts are counted and measured in characters; images are measured from their headers (Pillow reads
the size without decoding the pixels), each against ``max_image_pixels`` and together against
``max_request_pixels``. A token has at most ``predict_per_token`` requests answered at once; more
wait in line, and past four times that many the next one is told to come back (429), so one client
cannot fill the batches every other client waits on.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from plugins.errors import Unreadable
from robustune.service.errors import ApiError
from robustune.service.settings import Settings

WAITING_PER_SLOT = 4


def too_large(message: str, field: str) -> ApiError:
    """A 413 naming the limit and the field."""
    return ApiError(413, message, "too_large", field)


def check_count(settings: Settings, n: int, field: str) -> None:
    """At least one input and at most ``max_inputs``."""
    if n > settings.max_inputs:
        raise too_large(f"{field}: {n} inputs is over this service's {settings.max_inputs} per request "
                        "(serve --max-inputs); send them in several requests", field)


def check_texts(settings: Settings, texts: list[str]) -> None:
    """Every text at most ``max_text_chars`` characters."""
    check_count(settings, len(texts), "texts")
    for i, text in enumerate(texts):
        if len(text) > settings.max_text_chars:
            raise too_large(f"texts[{i}] has {len(text)} characters, over this service's "
                            f"{settings.max_text_chars} (serve --max-text-chars); the model reads only its "
                            "first few hundred tokens: send the start of the text", f"texts.{i}")


def image_pixels(data: bytes, i: int, field: str = "images") -> int:
    """Width x height of an encoded image, from its header."""
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as img:
            width, height = img.size
    except Image.DecompressionBombError:
        raise too_large(f"{field}[{i}] has far too many pixels to decode", f"{field}.{i}") from None
    except (OSError, ValueError, SyntaxError) as exc:
        raise Unreadable(f"{field}[{i}] cannot be read as an image ({type(exc).__name__}); send png, jpg, "
                         "bmp, gif or webp", field=f"{field}.{i}") from None
    return int(width) * int(height)


def check_images(settings: Settings, raw: list[bytes], field: str = "images") -> None:
    """Every image at most ``max_image_pixels`` and all of them at most ``max_request_pixels``, read from
    their headers (their count is checked before they are read: ``check_count``)."""
    total = 0
    for i, data in enumerate(raw):
        pixels = image_pixels(data, i, field)
        if pixels > settings.max_image_pixels:
            raise too_large(f"{field}[{i}] has {pixels / 1e6:.1f} megapixels, over this service's "
                            f"{settings.max_image_pixels / 1e6:.1f} (serve --max-image-pixels); the model "
                            "sees a small image: scale it down first", f"{field}.{i}")
        total += pixels
        if total > settings.max_request_pixels:
            raise too_large(f"{field}: the images hold over {settings.max_request_pixels / 1e6:.1f} "
                            "megapixels together (serve --max-request-pixels); send fewer per request",
                            field)


class TokenSlots:
    """Per token, at most ``per_token`` requests answered at once and ``WAITING_PER_SLOT`` times as many
    waiting; one past that is a 429."""

    def __init__(self, per_token: int) -> None:
        self.per_token = per_token
        self.slots: dict[str, asyncio.Semaphore] = {}
        self.queued: dict[str, int] = {}

    @asynccontextmanager
    async def hold(self, token: str) -> AsyncIterator[None]:
        """Wait for one of the token's slots (429 when too many wait already)."""
        if self.queued.get(token, 0) >= self.per_token * (1 + WAITING_PER_SLOT):
            raise ApiError(429, f"this token has {self.queued[token]} predict requests under way; wait for "
                                "their answers (serve --predict-per-token)", "too_many", "authorization",
                           {"Retry-After": "1"})
        slot = self.slots.setdefault(token, asyncio.Semaphore(self.per_token))
        self.queued[token] = self.queued.get(token, 0) + 1
        try:
            async with slot:
                yield
        finally:
            self.queued[token] -= 1
            if not self.queued[token]:
                del self.queued[token]
                self.slots.pop(token, None)


def summary(settings: Settings) -> dict[str, Any]:
    """The limits a client may need to know (``GET /v1/limits``)."""
    return {name: getattr(settings, name) for name in (
        "max_body_bytes", "max_inputs", "max_text_chars", "max_image_pixels", "max_request_pixels",
        "predict_per_token", "max_upload_bytes", "max_unpacked_bytes", "max_files", "max_tokens")} | {
        "time_limits_s": settings.limits()}
