"""Fine-tune a seq2seq model (T5, Tk-Instruct) on SuperNI records the way Tk-Instruct's
`run_s2s.py` does (docs/protocols.md 1.2-1.3).

The model input is built per batch as `DataCollatorForNI` builds it: the def-pos prompt keeps a
positive example only while the prompt still fits in max_source_length, and a source that is
still too long keeps its first max_source_length tokens. So the records reach the Trainer as a
dataset of records (ftrepro.train.data), tokenized by the collator rather than by `.map`: a
reference is drawn each time an instance is used. A killed job resumes from the last epoch
checkpoint in `checkpoint_dir`; the finished model is written atomically to `out_dir`.
"""

from __future__ import annotations

import logging
import random
from pathlib import Path

from transformers import (
    AutoModelForSeq2SeqLM,
    AutoTokenizer,
    DataCollatorForSeq2Seq,
    Trainer,
    set_seed,
)

from ftrepro.data.superni import DEF_POS
from ftrepro.models.encoding import IGNORE_INDEX, SourceText
from ftrepro.train import train_and_save
from ftrepro.train.arguments import training_arguments
from ftrepro.train.data import from_rows

log = logging.getLogger(__name__)

# the recipe keys this family needs beyond every recipe's (ftrepro.train.arguments)
NEEDS = (
    "lr_scheduler_type",
    "warmup_steps",
    "effective_batch_size",
    "max_source_length",
    "max_target_length",
    "bf16",
    "instructions",
)


# --- model input ------------------------------------------------------------------------------


class Seq2SeqCollator:
    """Records -> padded batch. One reference is drawn per example each time it is used, with the
    global `random` as the collator does: the Trainer seeds it and restores it on resume."""

    def __init__(self, source: SourceText, max_target_length: int):
        self.source, self.max_target_length = source, max_target_length
        self.pad = DataCollatorForSeq2Seq(source.tokenizer, label_pad_token_id=IGNORE_INDEX)

    def __call__(self, records: list[dict]) -> dict:
        features = []
        for record in records:
            target = random.choice(record["references"])
            labels = self.source.tokenizer(
                text_target=target, max_length=self.max_target_length, truncation=True
            )
            features.append({**self.source.encode(record), "labels": labels["input_ids"]})
        return self.pad(features)


# --- training ---------------------------------------------------------------------------------


def train_seq2seq(
    base_dir: str | Path,
    records: list[dict],
    *,
    hparams: dict,
    out_dir: str | Path,
    checkpoint_dir: str | Path,
    raw_dir: str | Path | None = None,
    deepspeed: str | Path | None = None,
    callbacks: list | None = None,
) -> dict:
    """Fine-tune the model in `base_dir` on `records`; save model and tokenizer to `out_dir`.

    `deepspeed`: a DeepSpeed JSON config (config/deepspeed/), for processes started by torchrun
    (ftrepro.train.launch). Returns a summary {global_step, training_loss, train_runtime,
    resumed_from}.
    """
    trainer = seq2seq_trainer(base_dir, records, hparams, checkpoint_dir, raw_dir, deepspeed, callbacks)
    return train_and_save(trainer, checkpoint_dir, out_dir)


def seq2seq_trainer(
    base_dir: str | Path,
    records: list[dict],
    hparams: dict,
    checkpoint_dir: str | Path,
    raw_dir: str | Path | None = None,
    deepspeed: str | Path | None = None,
    callbacks: list | None = None,
) -> Trainer:
    """The Trainer of `train_seq2seq`: the records, Tk-Instruct's model input built per batch."""
    if not records:
        raise ValueError("no training records")
    args = training_arguments(
        hparams,
        checkpoint_dir,
        family="seq2seq",
        needs=NEEDS,
        deepspeed=deepspeed,
        save_strategy="epoch",
        logging_steps=50,
    )
    set_seed(args.seed)
    tokenizer = AutoTokenizer.from_pretrained(base_dir)
    prompt = hparams.get("prompt", DEF_POS)
    source = SourceText(
        tokenizer,
        hparams["max_source_length"],
        instructions=hparams["instructions"],
        raw_dir=raw_dir,
        prompt=prompt,
    )
    log.info("training on %d records (%s)", len(records), prompt if hparams["instructions"] else "input only")
    return Trainer(
        model=AutoModelForSeq2SeqLM.from_pretrained(base_dir),
        args=args,
        train_dataset=from_rows(records),
        data_collator=Seq2SeqCollator(source, hparams["max_target_length"]),
        processing_class=tokenizer,
        callbacks=callbacks,
    )
