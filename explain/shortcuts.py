"""What a model relies on across many examples: regions of images (a corner stamp, a watermark, a
border) that hold a large share of the attribution in most images of a class, confirmed by intervening.

For each class, the images the model predicts as that class are explained (Integrated Gradients by
default, the method that saw the planted stamp where Grad-CAM did not); each map is the absolute
attribution summed over channels and scaled to sum 1. Square windows of a few sizes, and the image's
border, are scanned over the class's mean map; the region holding the most attribution for its area is
the candidate, *concentrated* where its share is ``min_ratio`` times its area's share. Two interventions
then ask whether the model needs it: the region painted with the other classes' mean pixels there (does
the prediction leave the class?) and the region's pixels pasted onto the other classes' images (does it
become the class?). A finding is a concentrated region with a flip rate of at least ``min_flips`` (30%)
either way. The border is also tried by intervention alone, because gradients can miss a frame (a cnn
relying on a planted 2-pixel border gave it 0.8x its area's share of Integrated Gradients). Windows are
small (at most a quarter of the image's side), so the object itself is not called a shortcut.
Lapuschkin et al. 2019 ("Unmasking Clever Hans predictors") cluster the maps (SpRAy); each class's
clusters are reported beside the finding as evidence of distinct strategies.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from explain.base import Explainer


@dataclass(frozen=True)
class ShortcutConfig:
    """How shortcuts are looked for."""

    per_class: int = 40  # images explained per predicted class
    sizes: tuple[float, ...] = (0.08, 0.12, 0.18, 0.25)  # window sides, as fractions of the image side
    frames: tuple[float, ...] = (0.03, 0.06)  # border widths, as fractions of the image side
    min_ratio: float = 3.0  # attribution share over area share for a concentrated region
    min_flips: float = 0.3  # share of images whose prediction an intervention flips
    clusters: int = 3  # SpRAy clusters per class
    min_others: int = 8  # images of other classes a pasted flip rate needs to count (a near-chance model
    # that predicts one class for almost everything leaves too few)


@dataclass
class Region:
    """A window of the model's input, in pixels: columns x..x+size, rows y..y+size; or, with ``frame``,
    the image's border that many pixels wide."""

    x: int
    y: int
    size: int
    frame: int = 0

    def mask(self, height: int, width: int) -> Tensor:
        """The region's pixels. Shape: -> (H, W) bool."""
        inside = torch.zeros(height, width, dtype=torch.bool)
        if self.frame:
            inside[:] = True
            inside[self.frame : height - self.frame, self.frame : width - self.frame] = False
        else:
            inside[self.y : self.y + self.size, self.x : self.x + self.size] = True
        return inside

    def where(self, height: int, width: int) -> str:
        """Its place and pixels in words: "the top-left corner (x 2-4, y 3-5 of the 32x32 input)"."""
        if self.frame:
            return f"the border ({self.frame} px wide, of the {width}x{height} input)"
        return (f"{self.describe(height, width)} (x {self.x}-{self.x + self.size - 1}, y {self.y}-"
                f"{self.y + self.size - 1} of the {width}x{height} input)")

    def describe(self, height: int, width: int) -> str:
        """Where it is, in words (e.g. "the top-left corner")."""
        if self.frame:
            return "the border"
        cy, cx = (self.y + self.size / 2) / height, (self.x + self.size / 2) / width
        row = "top" if cy < 1 / 3 else "bottom" if cy > 2 / 3 else "middle"
        col = "left" if cx < 1 / 3 else "right" if cx > 2 / 3 else "centre"
        place = "the centre" if (row, col) == ("middle", "centre") else f"the {row}-{col}"
        corner = row != "middle" and col != "centre"
        return f"{place} {'corner' if corner else 'area'}"


@dataclass
class ClassEvidence:
    """What the model's maps for one predicted class show."""

    cls: int
    n: int
    region: Region
    ratio: float  # attribution share of the window over its area share, on the mean map
    hot: float  # share of the class's images whose own map is concentrated there
    removed_flips: float  # painted with the other classes' mean pixels: share no longer predicted cls
    pasted_flips: float  # pasted onto other classes' images: share now predicted cls
    pasted_n: int
    mean_map: Tensor  # (H, W), sums to 1
    clusters: list[dict[str, Any]] = field(default_factory=list)  # SpRAy: size and mean map of each
    finding: bool = False
    by: str = "attribution"  # what pointed at the region: the maps, or (a border) the intervention alone


def normalized_maps(attr: Tensor) -> Tensor:
    """Absolute attribution summed over channels, each map scaled to sum 1 (an all-zero or non-finite
    map stays zero). Shape: (N, C, H, W) -> (N, H, W)."""
    maps = attr.detach().float().nan_to_num(0.0, 0.0, 0.0).abs().sum(1)
    total = maps.flatten(1).sum(1).view(-1, 1, 1)
    return torch.where(total > 0, maps / total.clamp_min(1e-30), torch.zeros_like(maps))


def best_window(mean_map: Tensor, cfg: ShortcutConfig) -> tuple[Region, float]:
    """The region (square window or border) holding the most attribution for its area, and that ratio;
    of regions within 10% of the best ratio, the largest (a 4-pixel stamp is named whole, not by the
    3-pixel window inside it, which holds as much per pixel). Shape: (H, W)."""
    h, w = mean_map.shape
    found: list[tuple[Region, float]] = []
    for frac in cfg.sizes:
        s = max(2, round(min(h, w) * frac))
        mass = F.avg_pool2d(mean_map[None, None], s, stride=1)[0, 0] * s * s  # (H-s+1, W-s+1)
        ratio = mass / (s * s / (h * w))
        flat = int(ratio.argmax())
        found.append((Region(flat % ratio.shape[1], flat // ratio.shape[1], s), float(ratio.flatten()[flat])))
    for frac in cfg.frames:
        frame = Region(0, 0, 0, max(1, round(min(h, w) * frac)))
        inside = frame.mask(h, w)
        found.append((frame, float(mean_map[inside].sum()) / (float(inside.sum()) / (h * w))))
    top = max(v for _, v in found)
    close = [(r, v) for r, v in found if v >= 0.9 * top]
    return max(close, key=lambda rv: int(rv[0].mask(h, w).sum()))


def _share_in(maps: Tensor, r: Region) -> Tensor:
    """Each map's attribution inside the region. Shape: (N, H, W) -> (N,)."""
    return maps[:, r.mask(maps.shape[1], maps.shape[2])].sum(1)


@torch.no_grad()
def _predict(model: nn.Module, x: Tensor, batch: int = 64) -> Tensor:
    return torch.cat([model(x[i : i + batch]).argmax(1) for i in range(0, len(x), batch)]) if len(x) else \
        torch.zeros(0, dtype=torch.long)


def interventions(model: nn.Module, mine: Tensor, others: Tensor, cls: int, r: Region
                  ) -> tuple[float, float]:
    """(share of ``mine`` that leave ``cls`` when the region is painted with the other images' mean pixels
    there, share of ``others`` (not predicted ``cls``) that become ``cls`` when each gets the region of
    one of ``mine``). A window is widened by half its side on each side first: the attribution's peak
    can be part of a mark (its edge), and the mark is what is moved. Shape: (N, C, H, W) in [0, 1],
    (M, C, H, W)."""
    inside = r.mask(mine.shape[-2], mine.shape[-1])
    if not r.frame:
        grow = max(1, r.size // 2)
        inside = F.max_pool2d(inside[None, None].float(), 2 * grow + 1, stride=1, padding=grow)[0, 0] > 0
    painted = mine.clone()
    if len(others):
        painted[:, :, inside] = others[:, :, inside].mean(0, keepdim=True)
    else:
        painted[:, :, inside] = mine.mean()
    removed = float((_predict(model, painted) != cls).double().mean()) if len(mine) else 0.0
    if not len(others) or not len(mine):
        return removed, 0.0
    pasted = others.clone()
    donors = torch.arange(len(others)) % len(mine)
    pasted[:, :, inside] = mine[donors][:, :, inside]
    return removed, float((_predict(model, pasted) == cls).double().mean())


def spray(maps: Tensor, k: int) -> list[dict[str, Any]]:
    """SpRAy: spectral clustering of the (downscaled) maps of one class; each cluster's size and mean
    map, largest first. Shape: (N, H, W) -> clusters with "n" and "map" (H, W)."""
    if len(maps) < 2 * k:
        return [{"n": len(maps), "map": maps.mean(0)}] if len(maps) else []
    from sklearn.cluster import SpectralClustering

    small = F.adaptive_avg_pool2d(maps[:, None], (min(16, maps.shape[1]), min(16, maps.shape[2])))
    features = small.flatten(1).double().numpy()
    neighbours = min(10, len(maps) - 1)
    labels = SpectralClustering(n_clusters=k, affinity="nearest_neighbors", n_neighbors=neighbours,
                                random_state=0, assign_labels="cluster_qr").fit_predict(features)
    found = [{"n": int((labels == c).sum()), "map": maps[torch.as_tensor(labels == c)].mean(0)}
             for c in range(k) if (labels == c).any()]
    return sorted(found, key=lambda c: -c["n"])


def find_shortcuts(model: nn.Module, pixels: Tensor, pred: Tensor, method: Explainer,
                   cfg: ShortcutConfig | None = None) -> list[ClassEvidence]:
    """Per predicted class (with at least 4 images), the evidence; ``finding`` where a small region is
    concentrated and an intervention on it flips predictions. Shape: pixels (N, 3, H, W) in [0, 1], pred
    (N,)."""
    cfg = cfg or ShortcutConfig()
    out = []
    h, w = pixels.shape[-2:]
    for cls in pred.unique().tolist():
        idx = torch.nonzero(pred == cls).flatten()
        if len(idx) < 4:
            continue
        pick = idx[: cfg.per_class]
        mine = pixels[pick]
        maps = normalized_maps(method(model, mine, pred[pick]))
        mean_map = maps.mean(0)
        region, ratio = best_window(mean_map, cfg)
        area = float(region.mask(h, w).double().mean())
        hot = float((_share_in(maps, region) >= cfg.min_ratio * area).double().mean())
        rest = torch.nonzero(pred != cls).flatten()[: cfg.per_class * 2]
        others = pixels[rest] if len(rest) >= cfg.min_others else pixels[rest][:0]
        removed, pasted = interventions(model, mine, others, int(cls), region)
        finding = ratio >= cfg.min_ratio and max(removed, pasted) >= cfg.min_flips
        by = "attribution"
        if not finding and len(others):  # a border is tested whatever the maps say: gradients can miss it
            for frac in cfg.frames:
                frame = Region(0, 0, 0, max(1, round(min(h, w) * frac)))
                moved = interventions(model, mine, others, int(cls), frame)
                if max(moved) >= cfg.min_flips:
                    inside = frame.mask(h, w)
                    region, (removed, pasted), finding, by = frame, moved, True, "intervention"
                    ratio = float(mean_map[inside].sum()) / float(inside.double().mean())
                    hot = float((_share_in(maps, frame) >= cfg.min_ratio * float(inside.double().mean()))
                                .double().mean())
                    break
        out.append(ClassEvidence(int(cls), len(pick), region, ratio, hot, removed, pasted, len(others),
                                 mean_map, spray(maps, cfg.clusters), finding, by))
    return out
