"""The one prediction loop of classifiers: transformers' Trainer.predict over encoded features.
Logits that are not finite (a model whose weights diverged) are an error, never a prediction."""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Sequence

import torch
from transformers import Trainer, TrainingArguments


def predict_logits(
    model,
    features: Sequence[dict],
    collator: Callable[[list[dict]], dict],
    batch_size: int,
    reduce: Callable[[torch.Tensor], torch.Tensor] | None = None,
):
    """The model's logits for every feature, in order, as numpy arrays (a dict of them when the
    model's logits are a dict). `reduce` turns each batch's logits into what is kept (a softmax,
    an argmax) on the device, so that only that is gathered.

    Batches are padded per batch; logits of different lengths (token heads) are padded with -100
    at the end when they are put together.
    """
    with tempfile.TemporaryDirectory() as scratch:  # Trainer wants an output_dir; predict writes nothing
        args = TrainingArguments(
            output_dir=scratch,
            per_device_eval_batch_size=batch_size,
            report_to="none",
            dataloader_num_workers=0,
            dataloader_pin_memory=torch.cuda.is_available(),
            remove_unused_columns=False,  # the collator takes the features as they are
        )
        trainer = Trainer(
            model=model,
            args=args,
            data_collator=collator,
            preprocess_logits_for_metrics=_each_tensor(reduce or (lambda logits: logits)),
        )
        return trainer.predict(list(features)).predictions


def _each_tensor(reduce: Callable[[torch.Tensor], torch.Tensor]):
    def preprocess(logits, labels):
        if isinstance(logits, dict):
            return {k: reduce(_finite(v)) for k, v in logits.items()}
        return reduce(_finite(logits))

    return preprocess


def _finite(logits: torch.Tensor) -> torch.Tensor:
    if not torch.isfinite(logits).all():
        raise ValueError("the model's logits are not all finite: its weights diverged (NaN or infinity)")
    return logits


def softmax(logits: torch.Tensor) -> torch.Tensor:
    """Class probabilities, computed in float32 whatever the model's dtype."""
    return torch.softmax(logits.float(), dim=-1)
