"""The one prediction loop of classifiers: transformers' Trainer.predict over encoded features."""

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
            preprocess_logits_for_metrics=None if reduce is None else _each_tensor(reduce),
        )
        return trainer.predict(list(features)).predictions


def _each_tensor(reduce: Callable[[torch.Tensor], torch.Tensor]):
    def preprocess(logits, labels):
        return {k: reduce(v) for k, v in logits.items()} if isinstance(logits, dict) else reduce(logits)

    return preprocess


def softmax(logits: torch.Tensor) -> torch.Tensor:
    """Class probabilities, computed in float32 whatever the model's dtype."""
    return torch.softmax(logits.float(), dim=-1)
