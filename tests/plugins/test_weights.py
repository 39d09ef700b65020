"""Weight sources: local files checked key by key, pickles refused, packaged weights by position."""

from __future__ import annotations

from pathlib import Path

import pytest
import timm
import torch
from safetensors.torch import save_file

from plugins import RobustuneError
from plugins.assets import locate
from plugins.backbones import BackboneConfig, build_backbone
from plugins.weights import read_state_dict

MARKER = Path("/tmp/robustune-pickle-ran")


class Payload:
    """Unpickling this would create MARKER: it must never run."""

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (MARKER.touch, ())


def _resnet18_sd(num_classes: int = 10) -> dict[str, torch.Tensor]:
    torch.manual_seed(1)
    return timm.create_model("resnet18", num_classes=num_classes).state_dict()


@pytest.mark.parametrize("suffix", [".safetensors", ".pth"])
def test_local_file_loads_every_tensor(tmp_path: Path, suffix: str) -> None:
    sd = _resnet18_sd()
    path = tmp_path / f"w{suffix}"
    if suffix == ".safetensors":
        save_file(sd, str(path))
    else:
        torch.save(sd, path)
    backbone = build_backbone("resnet18", BackboneConfig(weights=str(path)))
    loaded = backbone.model.state_dict()
    assert torch.equal(loaded["conv1.weight"], sd["conv1.weight"])
    assert torch.equal(loaded["layer4.1.bn2.running_var"], sd["layer4.1.bn2.running_var"])
    assert "fc.weight" not in loaded  # the old head is dropped, a new one is built


def test_hf_style_folder(tmp_path: Path) -> None:
    save_file(_resnet18_sd(), str(tmp_path / "model.safetensors"))
    backbone = build_backbone("resnet18", BackboneConfig(weights=str(tmp_path)))
    assert backbone.num_features == 512


def test_mismatched_weights_name_the_keys(tmp_path: Path) -> None:
    path = tmp_path / "r34.safetensors"
    save_file(timm.create_model("resnet34").state_dict(), str(path))
    with pytest.raises(RobustuneError, match=r"do not fit .*unexpected \(first: layer1\.2"):
        build_backbone("resnet18", BackboneConfig(weights=str(path)))


def test_pickle_payload_is_refused(tmp_path: Path) -> None:
    MARKER.unlink(missing_ok=True)
    path = tmp_path / "evil.pth"
    torch.save({"conv1.weight": torch.zeros(1), "x": Payload()}, path)
    with pytest.raises(RobustuneError, match="pickled objects beyond tensors; refused"):
        read_state_dict(path)
    assert not MARKER.exists()


def test_corrupt_safetensors(tmp_path: Path) -> None:
    path = tmp_path / "bad.safetensors"
    path.write_bytes(b"\x00\x01not safetensors")
    with pytest.raises(RobustuneError, match="not valid safetensors"):
        read_state_dict(path)


def test_packaged_efficientnet_loads_by_position() -> None:
    backbone = build_backbone("efficientnet_lite0", BackboneConfig(weights="packaged"))
    raw = torch.load(locate("efficientnet_lite0"), weights_only=True, map_location="cpu")
    assert torch.equal(backbone.model.conv_stem.weight, raw["_conv_stem.weight"])
    assert torch.equal(backbone.model.bn2.running_mean, raw["_bn1.running_mean"])
    assert backbone.preprocessing()["mean"] == [0.5, 0.5, 0.5]
    assert backbone.preprocessing()["input_size"] == [3, 224, 224]


def test_hub_failure_is_a_clear_error() -> None:
    with pytest.raises(RobustuneError, match="could not fetch hub weights for resnet18"):
        build_backbone("resnet18", BackboneConfig(weights="hub"))


def test_any_timm_name_passes_through() -> None:
    backbone = build_backbone("mobilenetv3_small_050", BackboneConfig(weights="none", image_size=64))
    assert backbone.forward_features(torch.rand(2, 3, 64, 64)).shape == (2, backbone.num_features)


def test_packaged_mobilenet_v2_loads_by_position() -> None:
    backbone = build_backbone("mobilenet_v2", BackboneConfig(weights="packaged"))
    raw = read_state_dict(locate("mobilenetv2"))
    first, last = next(iter(raw)), list(raw)[-2]
    assert torch.equal(backbone.features[0][0].weight, raw[first])
    assert torch.equal(backbone.features[18][1].running_var, raw[last])
