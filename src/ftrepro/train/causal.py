"""Full fine-tuning of a causal LM on (prompt, answer) pairs with transformers' Trainer.

Task-agnostic: Llama trains on classification prompts, SmolLM2 on SuperNI prompts, each through
its paper's prompts. The loss covers the answer tokens and the EOS after them only (labels -100
on the prompt and on padding), and its logits are computed in chunks of at most `logits_budget_mb`
(Llama 3's 128k vocabulary would otherwise take half a MB per token), only where an answer
token is predicted.

A micro-batch takes one of three shapes, which the recipe chooses:
- padded (the default): neighbours in the length order of the examples (LengthBucketSampler),
  so padding stays a small share of the processed tokens (benchmarks/padding.py);
- `packing`: the micro-batch's examples flattened into one row without padding
  (DataCollatorWithFlattening), positions restarting at each example, so that the attention
  keeps them apart: flash attention's varlen kernels on GPUs, and on CPUs SDPA under the
  block-diagonal mask transformers builds from the positions (exact, but dense: dearer than
  the padding it saves there). Batches are drawn at random: there is no padding to group for;
- `shared_prefix` (not with packing, whose rows cannot share a KV cache): the prompt head every
  example shares (instructions, label lists, five-shot examples: about 450 of a MASSIVE intent
  example's 475 tokens) runs once per micro-batch and the rows attend to its KV cache: the same
  loss for a fraction of the compute, on one process (CPU presets).

A killed job resumes from the last step checkpoint in `checkpoint_dir`; the finished model is
written atomically to `out_dir`. Multi-GPU runs start this once per GPU (ftrepro.train.launch).
"""

from __future__ import annotations

import logging
import random
from collections.abc import Iterator, Sequence
from pathlib import Path

import datasets
import torch
import torch.nn.functional as F
from torch.utils.checkpoint import checkpoint
from torch.utils.data import Sampler
from transformers import (
    AutoModelForCausalLM,
    AutoTokenizer,
    DataCollatorForSeq2Seq,
    DataCollatorWithFlattening,
    Trainer,
    TrainerCallback,
    set_seed,
)

from ftrepro.models.encoding import IGNORE_INDEX, encode_example, log_encoded, shared_prefix
from ftrepro.train import train_and_save
from ftrepro.train.arguments import attention_implementation, training_arguments
from ftrepro.train.data import columns, from_rows, rows, tokenize

log = logging.getLogger(__name__)

# the recipe keys this family needs beyond every recipe's (ftrepro.train.arguments)
NEEDS = (
    "lr_scheduler_type",
    "warmup_steps",
    "effective_batch_size",
    "max_length",
    "bf16",
)
# logits of one loss chunk when the recipe sets no budget (float32: 1 GiB is 2,000 positions of
# Llama 3's 128k vocabulary)
LOGITS_BUDGET_MB = 1024


# --- examples -> token ids ----------------------------------------------------------------------


def encode_dataset(tokenizer, examples: Sequence[dict], max_length: int) -> datasets.Dataset:
    """{"input_ids", "labels"} per {"prompt", "answer"} example (encode_example), as a dataset."""
    features = tokenize(
        from_rows(examples),
        _encode_batch,
        desc="encoding examples",
        tokenizer=tokenizer,
        max_length=max_length,
    )
    log_encoded([len(ids) for ids in features["input_ids"]], max_length)
    return features


def _encode_batch(batch: dict, tokenizer, max_length: int) -> dict:
    return columns([encode_example(tokenizer, example, max_length) for example in rows(batch)])


# --- training -----------------------------------------------------------------------------------


def train_causal_lm(
    base_dir: str | Path,
    examples: Sequence[dict],
    hparams: dict,
    out_dir: str | Path,
    checkpoint_dir: str | Path,
    deepspeed: str | Path | None = None,
    callbacks=(),
) -> dict:
    """Fine-tune the causal LM in `base_dir` on {"prompt", "answer"} examples; save model and
    tokenizer to `out_dir`.

    `hparams`: a recipe with NEEDS, `save_steps` and `max_steps` or `num_train_epochs`.
    `deepspeed`: a DeepSpeed JSON config (config/deepspeed/), for processes started by torchrun.
    Returns a summary {global_step, training_loss, train_runtime, resumed_from}.
    """
    if not examples:
        raise ValueError("no training examples")
    checkpoint_dir = Path(checkpoint_dir)
    trainer = causal_trainer(base_dir, examples, hparams, checkpoint_dir, deepspeed, callbacks)
    return train_and_save(trainer, checkpoint_dir, out_dir)


def causal_trainer(
    base_dir: str | Path,
    examples: Sequence[dict],
    hparams: dict,
    checkpoint_dir: Path,
    deepspeed: str | Path | None = None,
    callbacks=(),
) -> Trainer:
    """The Trainer of `train_causal_lm`: encoded examples in padded, packed or prefix-sharing
    micro-batches (see the module)."""
    # before the model: with ZeRO-3 the arguments make from_pretrained load the weights sharded
    args = training_arguments(
        hparams,
        checkpoint_dir,
        family="causal LM",
        needs=NEEDS,
        deepspeed=deepspeed,
        save_strategy="steps",
        logging_steps=10,
    )
    set_seed(args.seed)
    tokenizer = AutoTokenizer.from_pretrained(base_dir)
    tokenizer.padding_side = "right"
    if tokenizer.pad_token is None:  # Llama has none; padding is masked out of attention and loss
        tokenizer.pad_token = tokenizer.eos_token
    log.info(
        "batch of %d: %d process(es) x %d per device x %d accumulation steps",
        args.per_device_train_batch_size * args.world_size * args.gradient_accumulation_steps,
        args.world_size,
        args.per_device_train_batch_size,
        args.gradient_accumulation_steps,
    )
    model = load_for_training(base_dir)
    max_length = min(hparams["max_length"], model.config.max_position_embeddings)
    features = encode_dataset(tokenizer, examples, max_length)
    prefix, packing = [], _packing(hparams)
    if hparams.get("shared_prefix"):
        _check_shared_prefix(args, deepspeed)
        prefix, features = split_shared_prefix(features)
        log.info("a prefix of %d tokens shared by every example runs once per micro-batch", len(prefix))
    return CausalTrainer(
        model=model,
        args=args,
        train_dataset=features,
        data_collator=batch_collator(tokenizer, packing),
        processing_class=tokenizer,
        callbacks=[*callbacks, KVCacheForGeneration()],
        prefix=prefix,
        packing=packing,
        logits_budget=int(hparams.get("logits_budget_mb", LOGITS_BUDGET_MB) * 2**20),
    )


def _packing(hparams: dict) -> bool:
    if hparams.get("packing") and hparams.get("shared_prefix"):
        raise ValueError(
            "causal LM hparams: packing and shared_prefix exclude each other (packed rows cannot "
            "attend to one prefix's KV cache): set one of them false"
        )
    return bool(hparams.get("packing"))


def batch_collator(tokenizer, packing: bool):
    """Packed rows (positions restart per example; flash attention also gets the examples'
    boundaries) or padded ones (padding out of attention and loss)."""
    if packing:
        flash = attention_implementation().startswith("flash")
        return DataCollatorWithFlattening(separator_id=IGNORE_INDEX, return_flash_attn_kwargs=flash)
    return DataCollatorForSeq2Seq(tokenizer, label_pad_token_id=IGNORE_INDEX)


def _check_shared_prefix(args, deepspeed) -> None:
    """One process without DeepSpeed (two forwards per backward under DDP or ZeRO are untested),
    and no activation checkpointing (which turns the prefix's KV cache off)."""
    if args.world_size > 1 or deepspeed or args.activation_checkpointing:
        raise ValueError(
            "causal LM hparams: shared_prefix needs one process, no deepspeed and "
            "activation_checkpointing: false"
        )


def split_shared_prefix(features: datasets.Dataset) -> tuple[list[int], datasets.Dataset]:
    """The prompt head every feature shares, and the features without it. What is left of each
    prompt is at least one token, so the first label left is a prompt's (-100): no answer token
    is predicted from the prefix alone."""
    prompts = [
        ids[: labels.count(IGNORE_INDEX)] for ids, labels in zip(features["input_ids"], features["labels"])
    ]
    prefix = shared_prefix(prompts)
    return prefix, tokenize(features, _cut_head, desc="cutting the shared prefix", cut=len(prefix))


def _cut_head(batch: dict, cut: int) -> dict:
    return {key: [value[cut:] for value in values] for key, values in batch.items()}


class KVCacheForGeneration(TrainerCallback):
    """Training runs without a KV cache; the saved model generates with one."""

    def on_train_end(self, args, state, control, model=None, **kwargs):
        model.config.use_cache = True


class LengthBucketSampler(Sampler[int]):
    """Example indices in buckets of `bucket_size` neighbours in length order, buckets in random
    order. Each epoch (seed + epoch: a resumed run replays it) the examples are shuffled, so ties
    fall differently, sorted by length and cut into buckets; the buckets are shuffled but a
    smaller last one stays last, so that every later bucket still starts a batch."""

    def __init__(self, lengths: Sequence[int], bucket_size: int, seed: int):
        self.lengths, self.bucket_size, self.seed, self.epoch = list(lengths), bucket_size, seed, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.lengths)

    def __iter__(self) -> Iterator[int]:
        rng = random.Random(self.seed + self.epoch)
        order = sorted(rng.sample(range(len(self.lengths)), len(self.lengths)), key=self.lengths.__getitem__)
        buckets = [order[i : i + self.bucket_size] for i in range(0, len(order), self.bucket_size)]
        last = [buckets.pop()] if len(buckets[-1]) < self.bucket_size else []
        rng.shuffle(buckets)
        return iter([i for bucket in buckets + last for i in bucket])


class CausalTrainer(Trainer):
    """A Trainer for answer-only causal LM losses. Padded micro-batches (on all GPUs at once) each
    come from one length bucket; packed ones are drawn at random. With a `prefix`, the batches
    hold what follows it: each micro-batch runs the prefix first and its rows continue from the
    prefix's KV cache, at the positions after it. The model returns hidden states, not logits:
    the loss computes its logits in chunks of at most `logits_budget` bytes (ChunkedCausalLoss)."""

    def __init__(
        self, *args, prefix: Sequence[int] = (), packing: bool = False, logits_budget: int, **kwargs
    ):
        model = kwargs["model"]
        super().__init__(
            *args, compute_loss_func=ChunkedCausalLoss(model.get_output_embeddings(), logits_budget), **kwargs
        )
        self.prefix, self.packing = list(prefix), packing

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        if self.prefix:
            inputs = self._after_prefix(model, inputs)
        # no logits from the model (an empty mask keeps none): the loss makes its own in chunks
        no_logits = torch.zeros_like(inputs["input_ids"], dtype=torch.bool)
        inputs = {**inputs, "logits_to_keep": no_logits, "output_hidden_states": True}
        return super().compute_loss(
            model, inputs, return_outputs=return_outputs, num_items_in_batch=num_items_in_batch
        )

    def _after_prefix(self, model, inputs: dict) -> dict:
        ids = inputs["input_ids"]
        rows, width, cut = ids.shape[0], ids.shape[1], len(self.prefix)
        prefix = torch.tensor([self.prefix], device=ids.device)
        # only its cache is used: the LM head runs on one position instead of the whole prefix
        cache = model(input_ids=prefix, use_cache=True, logits_to_keep=1).past_key_values
        cache.batch_repeat_interleave(rows)  # differentiable: the prefix gets every row's gradient
        head_mask = torch.ones(rows, cut, dtype=inputs["attention_mask"].dtype, device=ids.device)
        return {
            **inputs,
            "attention_mask": torch.cat([head_mask, inputs["attention_mask"]], dim=1),
            "position_ids": torch.arange(cut, cut + width, device=ids.device).expand(rows, -1),
            "past_key_values": cache,
        }

    def _get_train_sampler(self, train_dataset=None) -> Sampler:
        if self.packing:
            return super()._get_train_sampler(train_dataset)
        dataset = self.train_dataset if train_dataset is None else train_dataset
        return LengthBucketSampler(
            [len(ids) for ids in dataset["input_ids"]],
            self.args.per_device_train_batch_size * self.args.world_size,
            self.args.seed,
        )


class ChunkedCausalLoss:
    """The answer-only causal LM loss (Trainer's `compute_loss_func`) from the last hidden states:
    only positions that predict a labelled token get logits, at most `budget` bytes of float32
    logits at a time. Each chunk's logits are recomputed in the backward pass instead of being
    kept, so no more than one chunk's logits exist at once. Summed over the tokens and divided by
    the Trainer's token count of the whole accumulated batch (`num_items_in_batch`), or their
    mean without it: the Trainer's own causal LM loss, exactly."""

    def __init__(self, lm_head: torch.nn.Module, budget: int):
        self.lm_head, self.budget = lm_head, budget

    def chunk_size(self) -> int:
        """Positions per chunk: as many float32 rows of the vocabulary as fit the budget (at least one)."""
        return max(1, self.budget // (self.lm_head.out_features * 4))

    def __call__(self, outputs, labels: torch.Tensor, num_items_in_batch=None) -> torch.Tensor:
        hidden = outputs.hidden_states[-1]
        # position t predicts token t + 1; a packed row's boundaries are -100 already
        targets = F.pad(labels[..., 1:], (0, 1), value=IGNORE_INDEX).to(hidden.device)
        scored = targets != IGNORE_INDEX
        hidden, targets = hidden[scored], targets[scored]
        total = hidden.sum() * 0.0  # a graph even without a labelled token
        size = self.chunk_size()
        for start in range(0, len(targets), size):
            chunk = slice(start, start + size)
            total = total + checkpoint(self._chunk_loss, hidden[chunk], targets[chunk], use_reentrant=False)
        if num_items_in_batch is None:
            return total / max(1, len(targets))
        return total / torch.as_tensor(num_items_in_batch, device=total.device)

    def _chunk_loss(self, hidden: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(self.lm_head(hidden).float(), targets, reduction="sum")


def load_for_training(base_dir: str | Path):
    """The model in float32, whatever its checkpoint's dtype: with bf16 autocast (or DeepSpeed's
    bf16 mode) the optimizer still updates float32 weights, where a 1e-6 step is not rounded
    away. No KV cache: training needs none."""
    model = AutoModelForCausalLM.from_pretrained(
        base_dir, dtype=torch.float32, attn_implementation=attention_implementation()
    )
    model.config.use_cache = False
    return model
