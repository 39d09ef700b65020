"""Text explanations on a real MiniLM bundle: word merging, Captum agreement, rollout."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from captum.attr import LayerIntegratedGradients

from explain.config import ExplainConfig
from explain.methods.attention_rollout import rollout
from explain.text import encode, explain_texts, merge_words
from plugins import RobustuneError
from plugins.bundle import Bundle, load_bundle
from plugins.registry import registry

TEXTS = ["a warm, funny and clever film", "unbelievably dull and tedious", "superb acting"]


@pytest.fixture(scope="module")
def bundle(text_bundle: Path) -> Bundle:
    return load_bundle(text_bundle)


def test_merge_words_sums_pieces_and_keeps_the_text() -> None:
    words, scores = merge_words("unbelievably dull", [None, 0, 0, 0, 1, None],
                                torch.tensor([[0, 0], [0, 2], [2, 8], [8, 12], [13, 17], [0, 0]]),
                                torch.tensor([9.0, 1.0, 2.0, 3.0, 4.0, 9.0]))
    assert words == ["unbelievably", "dull"] and scores == [6.0, 4.0]


def test_integrated_gradients_on_words_equals_captum(bundle: Bundle) -> None:
    model, tok = bundle.model, bundle.tokenizer
    cfg = ExplainConfig(n_steps=16, internal_batch_size=16)
    result = explain_texts(registry.get("explainer", "integrated-gradients")(cfg), model, tok, TEXTS)
    assert [r.text for r in result] == TEXTS
    assert result[0].words == ["a", "warm", ",", "funny", "and", "clever", "film"]
    enc = encode(tok, TEXTS, 128)
    ids, mask = enc["input_ids"], enc["attention_mask"]
    target = torch.tensor([r.target for r in result])
    special = torch.isin(ids, torch.tensor(tok.all_special_ids))
    reference = torch.where(special, ids, torch.full_like(ids, tok.pad_token_id))
    for p in model.parameters():
        p.requires_grad_(False)
    try:
        direct = LayerIntegratedGradients(model, model.get_input_embeddings()).attribute(
            ids, baselines=reference, target=target, additional_forward_args=(mask,), n_steps=16,
            internal_batch_size=16).sum(-1)
    finally:
        for p in model.parameters():
            p.requires_grad_(True)
    for j, r in enumerate(result):
        tokens = direct[j][~special[j] & mask[j].bool()]
        assert sum(r.scores) == pytest.approx(float(tokens.sum()), abs=1e-4)
    # completeness: attributions add up to f(x) - f(reference) for the target logit
    with torch.no_grad():
        gap = (model(ids, mask) - model(reference, mask)).gather(1, target.view(-1, 1)).squeeze(1)
    assert torch.allclose(direct.sum(1), gap, atol=0.05 * float(gap.abs().max()) + 1e-3)


def test_attention_rollout_scores_words(bundle: Bundle) -> None:
    result = explain_texts(registry.get("explainer", "attention-rollout")(ExplainConfig()), bundle.model,
                           bundle.tokenizer, TEXTS)
    for r in result:
        assert len(r.words) == len(r.scores) >= 2 and all(s > 0 for s in r.scores)


def test_rollout_of_identity_attention_is_the_first_token() -> None:
    eye = torch.eye(4).expand(1, 2, 4, 4)
    assert torch.allclose(rollout((eye, eye), torch.ones(1, 4)), torch.tensor([[1.0, 0, 0, 0]]))


def test_image_only_methods_refuse_texts(bundle: Bundle) -> None:
    with pytest.raises(RobustuneError, match="gradcam explains images"):
        explain_texts(registry.get("explainer", "gradcam")(ExplainConfig()), bundle.model, bundle.tokenizer,
                      TEXTS)


def test_token_deletion_beats_random_for_integrated_gradients(bundle: Bundle) -> None:
    from explain.base import explain_mode
    from explain.quality import QualityConfig, token_curves
    from tests.conftest import NEGATIVE, POSITIVE

    model, tok = bundle.model, bundle.tokenizer
    texts = POSITIVE + NEGATIVE
    enc = encode(tok, texts, 128)
    ids, mask = enc["input_ids"], enc["attention_mask"]
    with torch.no_grad():
        target = model(ids, mask).argmax(1)
    editable = mask.bool() & ~torch.isin(ids, torch.tensor(tok.all_special_ids))
    ig = registry.get("explainer", "integrated-gradients")(ExplainConfig(n_steps=16))
    with explain_mode(model, 0):
        scores = ig.explain_tokens(model, tok, ids, mask, target)
    curves = token_curves(model, ids, mask, target, scores, editable, tok.pad_token_id,
                          QualityConfig(steps=8))
    assert curves["deletion_auc"] < curves["deletion_auc_random"]
    assert curves["insertion_auc"] > curves["insertion_auc_random"]
