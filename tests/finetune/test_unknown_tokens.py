"""Texts a tokenizer cannot read: the share of [UNK] pieces, the warning of train and recommend, and a
profile that counts characters for a script without spaces."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import CliResult

Cli = Callable[..., CliResult]
CHINESE = ["这部电影非常好看，演员的表演很自然", "剧情拖沓，看得我昏昏欲睡",
           "音乐和画面都很美，值得一看", "完全浪费时间，不推荐",
           "故事感人，结局让人落泪", "对白生硬，人物单薄"]
ENGLISH = ["a warm and funny film", "a dull, lifeless mess", "the cast is wonderful",
           "boring from start to end"]


def _csv(path: Path, texts: list[str], repeat: int = 4) -> Path:
    rows = [f'"{t} {r}",{"pos" if i % 2 == 0 else "neg"}' for r in range(repeat) for i, t in enumerate(texts)]
    path.write_text("text,label\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return path


def test_unknown_share_counts_unk_pieces() -> None:
    from finetune.data.unknown_tokens import unknown_shares, unknown_warning
    from plugins.backbones.config import BackboneConfig
    from plugins.backbones.scratch import _tokenizer

    tokenizer = _tokenizer(BackboneConfig())
    per_text, overall = unknown_shares(tokenizer, CHINESE)
    assert overall > 0.2 and all(s > 0 for s in per_text)
    unk = tokenizer.unk_token_id
    ids = tokenizer(CHINESE[0])["input_ids"][1:-1]
    assert per_text[0] == pytest.approx(sum(i == unk for i in ids) / len(ids))  # counted by hand
    assert unknown_shares(tokenizer, ENGLISH)[1] == 0.0
    assert unknown_warning(overall, "x") is not None and unknown_warning(0.05, "x") is None


def test_train_and_recommend_warn_on_unreadable_texts(cli: Cli, tmp_path: Path) -> None:
    from finetune.data.config import SplitConfig
    from finetune.data.spec import load_data
    from finetune.data.splits import make_splits
    from finetune.selection.recommend import profile

    data = _csv(tmp_path / "zh.csv", CHINESE)
    prof = profile(make_splits(load_data(f"csv:{data}"), SplitConfig()))
    assert prof.text_words is not None and prof.text_words <= 2 and (prof.text_chars or 0) > 10
    assert (prof.unknown or 0) > 0.2
    r = cli("train", "--data", f"csv:{data}", "--model", "bert", "--adapter", "linear-probe", "--out",
            tmp_path / "b")
    assert r.code == 0, r.err
    assert "unknown to the model's tokenizer ([UNK])" in r.out + r.err
    english = cli("train", "--data", f"csv:{_csv(tmp_path / 'en.csv', ENGLISH)}", "--model", "bert",
                  "--adapter", "linear-probe", "--out", tmp_path / "e")
    assert english.code == 0 and "[UNK]" not in english.out + english.err
    # explanations mark the words the model cannot read and give each text's share of them
    ex = cli("explain", tmp_path / "b", "--text", CHINESE[0], "--text", "a warm film", "--out",
             tmp_path / "x")
    assert ex.code == 0, ex.err
    import json

    items = json.loads((tmp_path / "x" / "explanations.json").read_text())["items"]
    assert items[0]["unknown_share"] > 0.2 and any(items[0]["unknown"]) and items[1]["unknown_share"] == 0
    page = (tmp_path / "x" / "explanations.html").read_text()
    assert 'class="unk"' in page and "unreadable to the model: [UNK]" in page
    assert json.loads((tmp_path / "x" / "explanations.json").read_text())["unknown_share"] > 0.1  # overall
    # the report says how much of its texts the model cannot read, and marks the words
    rep = cli("report", tmp_path / "b", "--data", f"csv:{data}", "--out", tmp_path / "r.html", "--gallery",
              "2", "--quality-n", "2", "--shortcut-n", "4", "--quiet")
    assert rep.code == 0, rep.err
    html = (tmp_path / "r.html").read_text()
    assert "word pieces are unknown to the model" in html and 'class="unk"' in html  # ' is escaped
