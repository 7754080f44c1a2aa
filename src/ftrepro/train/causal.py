"""Full fine-tuning of a causal LM on (prompt, answer) pairs with transformers' Trainer.

Task-agnostic: Llama trains on classification prompts, SmolLM2 on SuperNI prompts, each
through its paper's prompts. The loss covers the answer tokens and the EOS after them only (labels -100 on the
prompt and on padding). Micro-batches hold neighbours in the length order of the examples
(LengthBucketSampler), so padding stays a small share of the processed tokens
(benchmarks/padding.py). Packing several examples into one row would remove padding altogether,
but without varlen flash-attention kernels (GPU only) the row's attention is computed in full
under a block mask, which costs more than the padding it saves. With the recipe's
`shared_prefix` the prompt head every example shares (instructions, label lists, five-shot
examples: about 450 of a MASSIVE intent example's 475 tokens) runs once per micro-batch and the
rows attend to its KV cache: the same loss for a fraction of the compute, on one process (CPU
presets). A killed job resumes from the last step checkpoint in `checkpoint_dir`; the finished
model is written atomically to `out_dir`. Multi-GPU runs start this once per GPU
(ftrepro.train.launch).
"""

from __future__ import annotations

import logging
import random
from collections.abc import Iterator, Sequence
from pathlib import Path

import torch
from torch.utils.data import Sampler
from transformers import (
    AutoModelForCausalLM,
    AutoTokenizer,
    DataCollatorForSeq2Seq,
    Trainer,
    TrainerCallback,
    set_seed,
)

from ftrepro.models.encoding import IGNORE_INDEX, encode_examples, shared_prefix
from ftrepro.train import train_and_save
from ftrepro.train.arguments import training_arguments

log = logging.getLogger(__name__)

# the recipe keys this family needs beyond every recipe's (ftrepro.train.arguments)
NEEDS = (
    "lr_scheduler_type",
    "warmup_steps",
    "effective_batch_size",
    "max_length",
    "bf16",
    "activation_checkpointing",
)


# --- examples -> token ids ----------------------------------------------------------------------


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
    """The Trainer of `train_causal_lm`: encoded examples, length-grouped padded batches."""
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
    features = encode_examples(tokenizer, examples, max_length)
    prefix = []
    if hparams.get("shared_prefix"):
        _check_shared_prefix(hparams, args, deepspeed)
        prefix, features = split_shared_prefix(features)
        log.info("a prefix of %d tokens shared by every example runs once per micro-batch", len(prefix))
    trainer = LengthGroupedTrainer(
        model=model,
        args=args,
        train_dataset=features,
        data_collator=DataCollatorForSeq2Seq(tokenizer, label_pad_token_id=IGNORE_INDEX),
        processing_class=tokenizer,
        callbacks=[*callbacks, KVCacheForGeneration()],
        prefix=prefix,
    )
    return trainer


def _check_shared_prefix(hparams: dict, args, deepspeed) -> None:
    """One process without DeepSpeed (two forwards per backward under DDP or ZeRO are untested),
    and no activation checkpointing (which turns the prefix's KV cache off)."""
    if args.world_size > 1 or deepspeed or hparams["activation_checkpointing"]:
        raise ValueError(
            "causal LM hparams: shared_prefix needs one process, no deepspeed and "
            "activation_checkpointing: false"
        )


def split_shared_prefix(features: list[dict]) -> tuple[list[int], list[dict]]:
    """The prompt head every feature shares, and the features without it. What is left of each
    prompt is at least one token, so the first label left is a prompt's (-100): no answer token
    is predicted from the prefix alone."""
    prompts = [f["input_ids"][: f["labels"].count(IGNORE_INDEX)] for f in features]
    prefix = shared_prefix(prompts)
    cut = len(prefix)
    return prefix, [{key: value[cut:] for key, value in f.items()} for f in features]


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


class LengthGroupedTrainer(Trainer):
    """A Trainer whose micro-batches (on all GPUs at once) each come from one length bucket.
    With a `prefix`, the batches hold what follows it: each micro-batch runs the prefix first and
    its rows continue from the prefix's KV cache, at the positions after it."""

    def __init__(self, *args, prefix: Sequence[int] = (), **kwargs):
        super().__init__(*args, **kwargs)
        self.prefix = list(prefix)

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        if self.prefix:
            inputs = self._after_prefix(model, inputs)
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
        dataset = self.train_dataset if train_dataset is None else train_dataset
        return LengthBucketSampler(
            [len(feature["input_ids"]) for feature in dataset],
            self.args.per_device_train_batch_size * self.args.world_size,
            self.args.seed,
        )


def load_for_training(base_dir: str | Path):
    """The model in float32, whatever its checkpoint's dtype: with bf16 autocast (or DeepSpeed's
    bf16 mode) the optimizer still updates float32 weights, where a 1e-6 step is not rounded
    away. No KV cache: training needs none."""
    model = AutoModelForCausalLM.from_pretrained(base_dir, dtype=torch.float32)
    model.config.use_cache = False
    return model
