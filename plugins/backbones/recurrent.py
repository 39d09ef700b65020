"""``rnn`` (Elman) and ``lstm``: texts over learned token embeddings, images as sequences of rows."""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from plugins.backbones.scratch import ScratchBackbone, masked_max, scratch_factory
from plugins.errors import InvalidInput, opt

MAX_ROWS = 64  # longer row sequences make a slow and poor model: use cnn
POOLINGS = ("last", "max", "mean")


class Recurrent(ScratchBackbone):
    """A stacked, optionally bidirectional recurrent encoder with ``pooling`` over its outputs.

    Shape: texts (N, L) ids -> (N, hidden * directions); images (N, 3, H, W) -> rows (N, H, 3W)
    -> (N, hidden * directions).
    """

    CELL: ClassVar[type[nn.RNNBase]] = nn.RNN
    BASE: ClassVar[dict[str, Any]] = {"hidden": 128, "layers": 1, "bidirectional": False, "dropout": 0.2}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        o = self.opts
        if o["pooling"] not in POOLINGS:
            raise InvalidInput(f"{self.plugin} pooling={o['pooling']!r} is unknown; use one of "
                               f"{', '.join(POOLINGS)}")
        if self.modality == "text":
            self.embed = self.embedding(int(o["embed_dim"]))
            width = int(o["embed_dim"])
        else:
            if not 2 <= self.image_size <= MAX_ROWS:
                raise InvalidInput(
                    f"{self.plugin} reads an image as a sequence of rows: {self.image_size} rows of "
                    f"{3 * self.image_size} values make no sense as a sequence model; pass "
                    f"{opt('image_size')} {MAX_ROWS} or less (at least 2), or use {opt('model')} cnn"
                )
            width = 3 * self.image_size
        layers = int(o["layers"])
        cell: Any = self.CELL
        self.rnn = cell(width, int(o["hidden"]), num_layers=layers, batch_first=True,
                             bidirectional=bool(o["bidirectional"]),
                             dropout=float(o["dropout"]) if layers > 1 else 0.0)
        self.drop = nn.Dropout(float(o["dropout"]))
        self.num_features = int(o["hidden"]) * (2 if o["bidirectional"] else 1)

    def _encode(self, seq: Tensor, lengths: Tensor | None) -> Tensor:
        """Shape: (N, L, D), (N,) lengths or None (every sequence whole: image rows) -> (N, F)."""
        if lengths is None:  # nothing to pack: the plain call, which ONNX export can also trace
            padded, state = self.rnn(seq)
        else:
            packed = pack_padded_sequence(seq, lengths.cpu().clamp_min(1), batch_first=True,
                                          enforce_sorted=False)
            out, state = self.rnn(packed)
        if self.opts["pooling"] == "last":
            h = state[0] if isinstance(state, tuple) else state  # (layers * dirs, N, hidden)
            dirs = 2 if self.opts["bidirectional"] else 1
            return self.drop(torch.cat(list(h[-dirs:]), 1))  # type: ignore[no-any-return]
        if lengths is None:
            lengths = torch.full((seq.shape[0],), seq.shape[1], dtype=torch.long)
        else:
            padded, _ = pad_packed_sequence(out, batch_first=True, total_length=seq.shape[1])
        mask = torch.arange(seq.shape[1], device=seq.device)[None] < lengths.to(seq.device)[:, None]
        if self.opts["pooling"] == "max":
            return self.drop(masked_max(padded, mask))  # type: ignore[no-any-return]
        m = mask.unsqueeze(-1).to(padded.dtype)
        return self.drop((padded * m).sum(1) / m.sum(1).clamp_min(1))  # type: ignore[no-any-return]

    def forward_image(self, x: Tensor) -> Tensor:
        return self._encode(x.permute(0, 2, 1, 3).flatten(2), None)  # rows: (N, H, C * W)

    def forward_embeddings(self, embeds: Tensor, attention_mask: Tensor) -> Tensor:
        return self._encode(embeds, attention_mask.sum(1).long())

    def blocks(self) -> list[list[nn.Module]]:
        groups: list[list[nn.Module]] = [[self.embed]] if self.modality == "text" else []
        return groups + [[self.rnn]]


def _family(cell: type[nn.RNNBase], plugin: str) -> dict[str, type[ScratchBackbone]]:
    image = type(f"Row{plugin.upper()}", (Recurrent,), {
        "CELL": cell, "plugin": plugin, "DEFAULTS": {**Recurrent.BASE, "pooling": "last"},
        "TRAINING": {"*": {"epochs": 40, "lr": 3e-3}}})
    text = type(f"Text{plugin.upper()}", (Recurrent,), {
        "CELL": cell, "plugin": plugin,
        "DEFAULTS": {**Recurrent.BASE, "embed_dim": 128, "pooling": "max"}})
    return {"image": image, "text": text}


rnn = scratch_factory(_family(nn.RNN, "rnn"), "rnn",
                      "from scratch: Elman RNN over tokens or image rows (hidden, layers, bidirectional)")
lstm = scratch_factory(_family(nn.LSTM, "lstm"), "lstm",
                       "from scratch: LSTM over tokens or image rows (hidden, layers, bidirectional)")
