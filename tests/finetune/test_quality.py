"""Data quality: confident learning, planted label flips found by cross-fitting, near-copies across splits,
--dedupe, and the classical baseline against a hand-written scikit-learn pipeline."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from finetune.data.config import SplitConfig
from finetune.data.spec import load_data
from finetune.data.splits import make_splits
from finetune.data.types import ImageData, SourceData, TextData


def test_confident_learning_flags_what_the_definition_says() -> None:
    from finetune.quality.issues import find_issues

    probs = torch.tensor([[0.9, 0.05, 0.05], [0.8, 0.1, 0.1], [0.1, 0.85, 0.05], [0.2, 0.7, 0.1],
                          [0.05, 0.05, 0.9], [0.88, 0.07, 0.05], [0.3, 0.4, 0.3]])
    labels = torch.tensor([0, 0, 1, 1, 2, 2, 2])
    found = find_issues(probs, labels)
    # thresholds: class means over their own labels; example 5 (labeled 2) is confidently 0 (0.88 >= 0.85):
    # one issue counted, and the one listed is the lowest probability of its given label
    assert found.thresholds.tolist() == pytest.approx([0.85, 0.775, (0.9 + 0.05 + 0.3) / 3], abs=1e-6)
    assert found.counted == 1 and found.flagged.tolist() == [False, False, False, False, False, True, False]
    assert int(found.suggested[5]) == 0 and found.top(1).tolist() == [5]
    assert found.order.tolist()[:3] == [5, 6, 3]  # then by the probability of the given label
    assert int(found.suggested[6]) == 1  # not confidently anything: the likeliest other class


def _flip(labels: torch.Tensor, share: float, classes: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    flipped = rng.choice(len(labels), int(len(labels) * share), replace=False)
    labels[flipped] = (labels[flipped] + torch.as_tensor(rng.integers(1, classes, len(flipped)))) % classes
    return flipped


def test_planted_flips_on_digits_are_found_by_cross_fitted_trainings() -> None:
    from finetune.quality.crossfit import cross_fit
    from finetune.quality.issues import find_issues
    from finetune.run.prepare import resolve_names
    from finetune.run_config import from_options

    cfg = from_options({"data": "digits", "backbone": "cnn", "per_class": 80, "epochs": 6, "out": "unused"})
    splits = make_splits(load_data("digits"), cfg.split)
    flipped = _flip(splits.train.labels, 0.1, 10, seed=3)  # 10% of the training labels
    fitted = cross_fit(resolve_names(cfg, splits), splits, folds=5)
    assert fitted.probs.shape == (800, 10) and "5 trainings of cnn" in fitted.method
    found = find_issues(fitted.probs, fitted.data.labels)
    k = len(flipped)
    recall = len(set(found.top(k).tolist()) & set(flipped.tolist())) / k
    assert recall >= 0.6, recall


def test_a_planted_copy_across_train_and_holdout_is_listed() -> None:
    from finetune.quality.duplicates import across, count_by_pair

    splits = make_splits(load_data("digits"), SplitConfig())
    assert isinstance(splits.train.images, torch.Tensor) and isinstance(splits.test.images, torch.Tensor)
    copy = (splits.train.images[7].float() * 0.9 + 10).to(torch.uint8)  # darker, shifted: still a copy
    test = splits.test
    test.images = torch.cat([test.images, copy[None]])
    test.labels = torch.cat([test.labels, splits.train.labels[7:8]])
    test.ids = [*(test.ids or []), "planted"]
    found = across({"train": splits.train, "val": splits.val, "test": test})
    planted = [c for c in found if c.split_a == "train" and c.a == 7 and c.split_b == "test"]
    assert planted and planted[0].b == len(test) - 1 and planted[0].cosine > 0.99
    assert count_by_pair(found)["train-test"] >= 1

    texts = TextData(["A great film, truly.", "dull and slow", "a GREAT film truly", "loved it"],
                     torch.tensor([1, 0, 1, 1]), ["neg", "pos"])
    other = TextData(["great film truly a", "nothing like it"], torch.tensor([1, 0]), ["neg", "pos"])
    word_copies = across({"train": texts, "test": other})
    assert {(c.a, c.b) for c in word_copies} == {(0, 0), (2, 0)}  # same words, any case or order


def test_dedupe_removes_holdout_copies_before_splitting() -> None:
    digits = load_data("digits").pool
    assert isinstance(digits.images, torch.Tensor)
    pool = digits.subset(range(300))
    test = digits.subset(range(300, 400))
    test.images = torch.cat([test.images, pool.images[:5]])  # five holdout copies of training images
    test.labels = torch.cat([test.labels, pool.labels[:5]])
    source = SourceData("planted", pool, test)
    plain = make_splits(source, SplitConfig())
    assert len(plain.test) == 105
    deduped = make_splits(SourceData("planted", pool.subset(range(300)), test.subset(range(105))),
                          SplitConfig(dedupe=True))
    assert len(deduped.test) <= 100
    assert any("holdout examples that copy training ones" in n for n in deduped.notes)


def test_the_baseline_matches_a_hand_written_scikit_learn_pipeline(monkeypatch: pytest.MonkeyPatch) -> None:
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    import finetune.quality.baseline as baseline

    monkeypatch.setattr(baseline, "has_hog", lambda: False)  # pixels only, as the hand pipeline
    splits = make_splits(load_data("digits"), SplitConfig())
    ours = baseline.fit_baseline(splits)

    def pixels(data: ImageData) -> np.ndarray:
        return (data.images.float() / 255).flatten(1).numpy()  # type: ignore[union-attr]

    xt, xv, xs = pixels(splits.train), pixels(splits.val), pixels(splits.test)  # type: ignore[arg-type]
    yt, yv, ys = (s.labels.numpy() for s in (splits.train, splits.val, splits.test))
    scaler = StandardScaler().fit(xt)
    zt, zv = scaler.transform(xt), scaler.transform(xv)
    scores = {c: LogisticRegression(C=c, max_iter=2000).fit(zt, yt).score(zv, yv)
              for c in (0.01, 0.1, 1.0, 10.0, 100.0)}
    c = max(scores, key=lambda k: scores[k])
    both, y_both = np.concatenate([xt, xv]), np.concatenate([yt, yv])
    scaler = StandardScaler().fit(both)
    hand = LogisticRegression(C=c, max_iter=2000).fit(scaler.transform(both), y_both).score(
        scaler.transform(xs), ys)
    assert ours.name == "logistic regression on 8x8 pixels"  # its C may differ where validation ties
    assert ours.test_accuracy == pytest.approx(hand, abs=0.01) and ours.test_accuracy > 0.9


def test_texts_without_spaces_get_character_grams() -> None:
    from finetune.quality.vectors import describe, spaceless, text_analyzer

    chinese = ["他们在森林里走了很久才看见那座房子", "天色已晚我们应该回家去了吧朋友们"]
    assert spaceless(chinese) and describe(text_analyzer(chinese)) == "TF-IDF char 1-3 grams"
    english = ["a plain English sentence", "another one here"]
    assert describe(text_analyzer(english)) == "TF-IDF word 1-2 grams"


def test_the_verdict_says_when_the_baseline_is_as_good() -> None:
    from finetune.quality.baseline import verdict

    base = {"name": "logistic regression on TF-IDF word 1-2 grams", "test_accuracy": 0.76,
            "val_accuracy": 0.7}
    worse = verdict(0.707, base)
    assert worse.startswith("the model's holdout accuracy is 0.707 against 0.760")
    assert "as good or better" in worse
    assert "points better" in verdict(0.80, base) and "0.700" in verdict(0.75, base, "validation")
