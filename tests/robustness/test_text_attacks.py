"""Text attacks on a real MiniLM text bundle: budgets kept, special tokens untouched, exact counts."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from plugins.bundle import Bundle, load_bundle
from plugins.registry import registry
from robustness.attacks.embedding_pgd import perturb_embeddings
from robustness.attacks.text_base import TextAttackConfig, TextTarget
from robustness.attacks.word_level import WordLevel, allowed_words, char_edits
from robustness.config import AuditConfig
from robustness.text_audit import run_text_audit
from tests.conftest import NEGATIVE, POSITIVE

TEXTS = [*POSITIVE, *NEGATIVE, "a dull [SEP] boring mess", "superb [CLS] warm and clever"]


@pytest.fixture(scope="module")
def bundle(text_bundle: Path) -> Bundle:
    return load_bundle(text_bundle)


@pytest.fixture(scope="module")
def target(bundle: Bundle) -> TextTarget:
    return TextTarget(bundle.model, bundle.tokenizer, 128, batch_size=8)  # type: ignore[arg-type]


def labels(bundle: Bundle) -> torch.Tensor:
    pos, neg = bundle.labels.index("pos"), bundle.labels.index("neg")
    return torch.tensor([pos] * len(POSITIVE) + [neg] * len(NEGATIVE) + [neg, pos])


def test_text_attacks_are_registered_for_text() -> None:
    for name in ("embedding-pgd", "word-level"):
        assert registry.get("attack", name).modality == "text"
    assert registry.get("attack", "pgd").modality == "image"


def test_embedding_pgd_keeps_budget_and_special_tokens(bundle: Bundle, target: TextTarget) -> None:
    y = labels(bundle)
    ids, mask = target.encode(TEXTS)
    eps = 0.1
    torch.manual_seed(0)
    delta, emb, editable = perturb_embeddings(target, ids, mask, y, eps, steps=5)
    ratio = delta.norm(dim=-1) / emb.norm(dim=-1)
    assert float(ratio.max()) <= eps + 1e-6
    assert float(ratio.max()) > eps / 2  # it did move
    assert bool((delta[~editable] == 0).all())  # [CLS], [SEP] (also the literal ones) and padding
    special = target.special_mask(ids)
    assert bool(special[:, 0].all()) and bool((editable & special).sum() == 0)
    with torch.no_grad():
        clean = (bundle.model(ids, mask).argmax(1) == y).float().mean()
        robust = (bundle.model.forward_embeddings(emb + delta, mask).argmax(1) == y).float().mean()  # type: ignore[operator]
    assert robust <= clean


def test_word_level_counts_words_exactly_and_never_touches_special_tokens(bundle: Bundle,
                                                                       target: TextTarget) -> None:
    y = labels(bundle)
    outcomes = WordLevel(TextAttackConfig()).run(target, TEXTS, y, [0.1, 0.5])
    clean = target.probabilities(TEXTS).argmax(1) == y
    for eps, outcome in outcomes.items():
        assert outcome.texts is not None and outcome.violations == 0
        for text, adv, changed in zip(TEXTS, outcome.texts, outcome.words_changed.tolist(), strict=True):
            a, b = text.split(), adv.split()
            assert len(a) == len(b)
            assert changed == sum(x != z for x, z in zip(a, b, strict=True))  # counted independently
            assert changed <= allowed_words(eps, len(a))
            assert [w for w in a if "[" in w] == [w for w in b if "[" in w]  # literal special tokens stay
            ia, ib = target.encode([text])[0][0], target.encode([adv])[0][0]
            assert ia[target.special_mask(ia)].tolist() == ib[target.special_mask(ib)].tolist()
        assert bool((outcome.queries >= 1).all())
    assert (outcomes[0.5].correct & clean).sum() <= (outcomes[0.1].correct & clean).sum()
    fooled = clean & ~outcomes[0.5].correct
    assert int(fooled.sum()) >= 1  # a linear probe on 48 sentences is not word-robust
    assert bool((outcomes[0.5].words_changed[fooled] >= 1).all())


def test_word_level_one_run_answers_each_budget(bundle: Bundle, target: TextTarget) -> None:
    y = labels(bundle)
    attack = WordLevel(TextAttackConfig())
    both = attack.run(target, TEXTS, y, [0.2, 0.5])[0.2]
    alone = attack.run(target, TEXTS, y, [0.2])[0.2]
    assert alone.texts == both.texts
    assert torch.equal(alone.correct, both.correct) and torch.equal(alone.queries, both.queries)


def test_char_edits_keep_first_letter_and_differ() -> None:
    edits = char_edits("boring", 6)
    assert len(edits) == 6 and len(set(edits)) == 6
    assert all(e != "boring" and e[0] == "b" for e in edits)
    assert char_edits("a", 6) == []


def test_text_audit_report(bundle: Bundle) -> None:
    y = labels(bundle)
    cfg = AuditConfig(attacks=("embedding-pgd", "word-level"), eps=(0.05, 0.3), steps=3, batch_size=8)
    result = run_text_audit(bundle.model, bundle.tokenizer, 128, TEXTS, y,  # type: ignore[arg-type]
                            bundle.labels, cfg)
    report = result.report
    assert report["modality"] == "text" and report["n"] == len(TEXTS)
    for name in cfg.attacks:
        for key in ("0.05", "0.3"):
            stats = report["attacks"][name][key]
            assert 0 <= stats["robust_accuracy"] <= report["clean_accuracy"]
            assert 0 <= stats["success_rate"] <= 1
    worst = report["worst_case"]["0.3"]["robust_accuracy"]
    assert worst <= min(report["attacks"][a]["0.3"]["robust_accuracy"] for a in cfg.attacks)
    assert not [f for f in report["flags"] if f["code"] == "outside_ball"]
    assert {r["attack"] for r in result.texts} == {"word-level"} and len(result.texts) == len(TEXTS)
