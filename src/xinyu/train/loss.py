"""Cross-entropy on labelled positions only, without materialising vocabulary logits.

Why: the embedded model has a 262k vocabulary, so its LM head costs more than the rest of the
network. A counseling dialogue carries loss on its assistant turns only (about half the tokens), and
padding carries none. The standard forward projects *every* position onto the vocabulary; here the
final hidden states are gathered at the positions whose next-token label is not ``-100`` and only
those rows go through the LM head, in row chunks, so peak memory is one chunk of logits.

The gradient with respect to the hidden states (and to the head's weight, for full fine-tuning) is
computed chunk by chunk during the forward pass and stored: that costs the same matmuls as a
backward pass would, and avoids keeping any logits alive. The result equals the masked
cross-entropy computed from full logits (``tests/train/test_loss.py`` checks value and gradients).
"""

from __future__ import annotations

import types
from dataclasses import dataclass
from typing import Any

import torch

IGNORE_INDEX = -100
# Rows per chunk: keeps one chunk of fp32 logits near 128 MiB whatever the vocabulary size.
_CHUNK_BYTES = 128 * 2**20


class _LabelledCrossEntropy(torch.autograd.Function):
    """Sum of ``-log p(target)`` over rows of ``hidden``, with the gradient computed in the forward."""

    @staticmethod
    def forward(ctx, hidden, weight, bias, targets, softcap, scale, need_grad):
        rows = hidden.shape[0]
        vocab = weight.shape[0]
        chunk = max(1, _CHUNK_BYTES // (4 * vocab))
        grad_w = need_grad[1]
        grad_hidden = torch.empty_like(hidden) if need_grad[0] else None
        grad_weight = torch.zeros(weight.shape, dtype=torch.float32, device=weight.device) if grad_w else None
        grad_bias = torch.zeros(vocab, dtype=torch.float32, device=weight.device) if need_grad[2] else None
        total = torch.zeros((), dtype=torch.float32, device=hidden.device)
        for start in range(0, rows, chunk):
            h = hidden[start : start + chunk]
            t = targets[start : start + chunk]
            # Like the model's own head: project in the weight's dtype, then compute the loss in fp32.
            logits = torch.nn.functional.linear(h, weight, bias).float()
            if scale != 1.0:
                logits.mul_(scale)
            tanh = None
            if softcap:
                tanh = torch.tanh(logits / softcap)
                logits = tanh * softcap
            target_logit = logits.gather(1, t[:, None]).squeeze(1)
            # log-sum-exp by hand, in place: one buffer of logits per chunk, no temporary copies
            peak = logits.amax(dim=1)
            probs = logits.sub_(peak[:, None]).exp_()
            norm = probs.sum(dim=1)
            total += (peak + norm.log() - target_logit).sum()
            if grad_hidden is None and grad_weight is None and grad_bias is None:
                continue
            # d(-log softmax[t]) / d logits = softmax - onehot(t)
            grad = probs.div_(norm[:, None])
            grad[torch.arange(grad.shape[0], device=grad.device), t] -= 1.0
            if tanh is not None:
                grad.mul_(1.0 - tanh * tanh)
            if scale != 1.0:
                grad.mul_(scale)
            if grad_hidden is not None:
                grad_hidden[start : start + chunk] = (grad.to(weight.dtype) @ weight).to(hidden.dtype)
            if grad_weight is not None:
                grad_weight.addmm_(grad.t(), h.float())
            if grad_bias is not None:
                grad_bias += grad.sum(0)
        ctx.save_for_backward(
            *(g if g is not None else torch.empty(0) for g in (grad_hidden, grad_weight, grad_bias))
        )
        ctx.has = (grad_hidden is not None, grad_weight is not None, grad_bias is not None)
        ctx.dtypes = (weight.dtype, None if bias is None else bias.dtype)
        return total

    @staticmethod
    def backward(ctx, grad_output):
        grad_hidden, grad_weight, grad_bias = ctx.saved_tensors
        has_h, has_w, has_b = ctx.has
        scale = grad_output
        return (
            grad_hidden * scale.to(grad_hidden.dtype) if has_h else None,
            (grad_weight * scale).to(ctx.dtypes[0]) if has_w else None,
            (grad_bias * scale).to(ctx.dtypes[1]) if has_b else None,
            None,
            None,
            None,
            None,
        )


def labelled_cross_entropy(
    hidden: torch.Tensor,
    weight: torch.Tensor,
    targets: torch.Tensor,
    bias: torch.Tensor | None = None,
    softcap: float | None = None,
    scale: float = 1.0,
) -> torch.Tensor:
    """Summed cross-entropy of ``targets`` under ``softcap(scale * (hidden @ weight.T + bias))``.

    Args:
        hidden: ``[rows, hidden_size]`` final hidden states at labelled positions.
        weight: LM head weight ``[vocab, hidden_size]``.
        targets: ``[rows]`` target token ids.
        bias: Optional LM head bias.
        softcap: Final logit soft-capping (Gemma-2 style), or None.
        scale: Multiplier applied to the logits before capping (Cohere-style ``logit_scale``).

    Returns:
        A scalar: the sum (not the mean) of the per-row losses, differentiable.
    """
    need = (
        torch.is_grad_enabled() and hidden.requires_grad,
        torch.is_grad_enabled() and weight.requires_grad,
        torch.is_grad_enabled() and bias is not None and bias.requires_grad,
    )
    return _LabelledCrossEntropy.apply(hidden, weight, bias, targets, softcap, float(scale), need)


@dataclass
class LabelledLossOutput:
    """What the patched forward returns when asked for the labelled loss."""

    loss_sum: torch.Tensor
    num_labels: torch.Tensor


def attach_labelled_loss(model: Any) -> None:
    """Let ``model(..., labels=..., xinyu_labelled_loss=True)`` return a :class:`LabelledLossOutput`.

    The call still goes through every wrapper (DDP, PEFT), which distributed training needs; without
    the flag the model's forward is unchanged (generation, evaluation with logits). Patch the
    Hugging Face model itself (inside any PEFT wrapper).
    """
    original_forward = model.forward
    text_config = model.config.get_text_config() if hasattr(model.config, "get_text_config") else model.config
    softcap = getattr(text_config, "final_logit_softcapping", None)
    scale = getattr(text_config, "logit_scale", None) or 1.0

    def forward(self, *args, xinyu_labelled_loss=False, labels=None, **kwargs):
        if not xinyu_labelled_loss:
            if labels is not None:
                kwargs["labels"] = labels
            return original_forward(*args, **kwargs)
        kwargs.pop("num_items_in_batch", None)
        kwargs["use_cache"] = False
        backbone_out = self.base_model(*args, **kwargs)
        hidden = backbone_out.last_hidden_state[:, :-1]
        targets = labels[:, 1:].to(hidden.device)
        mask = targets != IGNORE_INDEX
        head = self.get_output_embeddings()
        loss_sum = labelled_cross_entropy(
            hidden[mask], head.weight, targets[mask], bias=head.bias, softcap=softcap, scale=scale
        )
        return LabelledLossOutput(loss_sum=loss_sum, num_labels=mask.sum())

    model.forward = types.MethodType(forward, model)
