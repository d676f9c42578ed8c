"""The labelled-positions loss equals the standard masked cross-entropy from full logits."""

from __future__ import annotations

import pytest
import torch

from xinyu.train.loss import IGNORE_INDEX, attach_labelled_loss, labelled_cross_entropy


def _batch(vocab: int, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(5, vocab, (3, 17), generator=g)
    attn = torch.ones_like(ids)
    attn[1, 12:] = 0  # right padding
    attn[2, 9:] = 0
    labels = ids.clone()
    labels[:, :6] = IGNORE_INDEX  # a prompt
    labels[attn == 0] = IGNORE_INDEX
    labels[0, 10:12] = IGNORE_INDEX  # a second user turn
    return ids, attn, labels


@pytest.mark.parametrize("softcap", [None, 30.0])
def test_loss_and_gradients_match_full_logits(tiny_model_dir, softcap):
    from transformers import AutoModelForCausalLM

    reference = AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.float32)
    reference.config.final_logit_softcapping = softcap
    patched = AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.float32)
    patched.config.final_logit_softcapping = softcap
    attach_labelled_loss(patched)
    ids, attn, labels = _batch(reference.config.vocab_size)

    expected = reference(input_ids=ids, attention_mask=attn, labels=labels).loss
    expected.backward()
    out = patched(input_ids=ids, attention_mask=attn, labels=labels, xinyu_labelled_loss=True)
    loss = out.loss_sum / out.num_labels
    loss.backward()

    assert int(out.num_labels) == int((labels[:, 1:] != IGNORE_INDEX).sum())
    assert abs(loss.item() - expected.item()) < 1e-5
    ref_grads = dict(reference.named_parameters())
    for name, param in patched.named_parameters():
        torch.testing.assert_close(param.grad, ref_grads[name].grad, rtol=1e-4, atol=1e-6, msg=name)
    # Without the flag the forward is the model's own (logits for generation).
    assert patched(input_ids=ids[:, :4]).logits.shape == (3, 4, reference.config.vocab_size)


def test_chunked_function_matches_dense_with_bias_and_scale():
    torch.manual_seed(0)
    hidden = torch.randn(40, 8, requires_grad=True)
    weight = torch.randn(50, 8, requires_grad=True)
    bias = torch.randn(50, requires_grad=True)
    targets = torch.randint(0, 50, (40,))
    import xinyu.train.loss as loss_mod

    old = loss_mod._CHUNK_BYTES
    loss_mod._CHUNK_BYTES = 4 * 50 * 7  # 7 rows per chunk: several chunks and a ragged last one
    try:
        got = labelled_cross_entropy(hidden, weight, targets, bias=bias, softcap=5.0, scale=0.5)
    finally:
        loss_mod._CHUNK_BYTES = old
    got.backward()
    grads = [t.grad.clone() for t in (hidden, weight, bias)]
    for t in (hidden, weight, bias):
        t.grad = None
    logits = torch.tanh((hidden @ weight.T + bias) * 0.5 / 5.0) * 5.0
    want = torch.nn.functional.cross_entropy(logits, targets, reduction="sum")
    want.backward()
    assert abs(got.item() - want.item()) < 1e-4
    for g, t in zip(grads, (hidden, weight, bias), strict=True):
        torch.testing.assert_close(g, t.grad, rtol=1e-4, atol=1e-5)
