"""Train band2025's encoders with transformers' Trainer: the preference classifiers (Single /
Parallel BERT) and the 20-head pre-fine-tuning on the LLM annotations.

The paper's settings ("Single BERT"): lr 2e-5, batch 16 (training and evaluation), 3 epochs,
weight decay 0.01, fp16, gradient accumulation 2, linear schedule with 500 warm-up steps,
evaluation every 500 steps and the best model by evaluation loss restored at the end. fp16 is
used on GPUs only (CPU runs are fp32). A killed job resumes from its last checkpoint in
`checkpoint_dir`; the finished model is written atomically to `out_dir`.

Pre-fine-tuning uses the same settings with 5 epochs and no evaluation: the paper names no held-out
annotations, so the model after the last epoch is kept.
"""

from __future__ import annotations

import logging
from pathlib import Path

import datasets
from transformers import AutoTokenizer, Trainer, TrainingArguments, set_seed

from ftrepro.data.arena import LABELS
from ftrepro.io import DataError
from ftrepro.models.encoder import EncoderCollator
from ftrepro.papers.band2025.annotate import RESPONSE_PROPERTIES, read_annotations
from ftrepro.papers.band2025.models import (
    PreferenceClassifier,
    PreferenceCollator,
    PropertyHeadsEncoder,
    allocation_for,
    encode_preference,
    freeze_lower_layers,
    gold_label,
)
from ftrepro.train import train_and_save
from ftrepro.train.arguments import training_arguments
from ftrepro.train.data import columns, from_rows, load_split, rows, tokenize_split

log = logging.getLogger(__name__)

# the recipe keys these models need beyond every recipe's (ftrepro.train.arguments)
NEEDS = (
    "gradient_accumulation_steps",
    "num_train_epochs",
    "weight_decay",
    "warmup_steps",
    "fp16",
    "max_length",
)


def preference_features(path: str | Path, tokenizer, architecture: str, allocation) -> datasets.Dataset:
    """Encoded arena records of a derived JSONL file, with label ids (A, B, tie -> 0, 1, 2)."""
    return tokenize_split(
        path, _encode_preferences, tokenizer=tokenizer, architecture=architecture, allocation=allocation
    )


def _encode_preferences(batch: dict, path: str, tokenizer, architecture: str, allocation) -> dict:
    records = rows(batch)
    labels = [LABELS.index(gold_label(r, path)) for r in records]
    features = encode_preference(tokenizer, records, architecture, allocation)
    return columns([{**f, "labels": label} for f, label in zip(features, labels)])


def train_preference(
    base_dir: str | Path,
    train_path: str | Path,
    eval_path: str | Path,
    architecture: str,
    hparams: dict,
    allocation_config: dict,
    out_dir: str | Path,
    checkpoint_dir: str | Path,
    *,
    frozen_layers: int = 0,
    deepspeed: str | Path | None = None,
    callbacks: list | None = None,
) -> dict:
    """Fine-tune a Single or Parallel classifier on the encoder in `base_dir` (with its first
    `frozen_layers` encoder layers frozen), choosing the checkpoint with the lowest loss on
    `eval_path`; save it to `out_dir`. Returns a training summary."""
    args = _training_args(hparams, checkpoint_dir, deepspeed, evaluate=True)
    set_seed(args.seed)  # before the head is initialised
    allocation = allocation_for(architecture, allocation_config, hparams["max_length"])
    tokenizer = AutoTokenizer.from_pretrained(base_dir)
    with args.main_process_first(desc="tokenizing"):  # the other processes read its cache
        train_set = preference_features(train_path, tokenizer, architecture, allocation)
        eval_set = preference_features(eval_path, tokenizer, architecture, allocation)
    model = PreferenceClassifier.from_base(base_dir, architecture, allocation)
    if frozen_layers:
        log.info(
            "frozen: %d parameter tensors of the first %d layers",
            len(freeze_lower_layers(model.backbone, frozen_layers)),
            frozen_layers,
        )
    trainer = Trainer(
        model=model,
        args=args,
        train_dataset=train_set,
        eval_dataset=eval_set,
        data_collator=PreferenceCollator(tokenizer),
        processing_class=tokenizer,  # saved with the model
        callbacks=callbacks,
    )
    log.info(
        "training %s on %d examples from %s (evaluation: %d from %s)",
        architecture,
        len(train_set),
        train_path,
        len(eval_set),
        eval_path,
    )
    return _train_and_save(trainer, out_dir, Path(checkpoint_dir))


def property_features(
    annotations_path: str | Path, train_path: str | Path, tokenizer, allocation
) -> datasets.Dataset:
    """Two examples per annotated arena row: (prompt, response_a) and (prompt, response_b), each
    with its 20 ratings as labels {property: 0..3}. Annotated ids must be arena train rows."""
    annotations = read_annotations(annotations_path)
    if not annotations:
        raise DataError(f"{annotations_path}: no annotated rows with status 'ok'")
    split = load_split(train_path)
    row_of = {row_id: n for n, row_id in enumerate(split["id"])}
    unknown = [a["id"] for a in annotations if a["id"] not in row_of]
    if unknown:
        raise DataError(
            f"{annotations_path}: {len(unknown)} annotated id(s) are not rows of {train_path}, "
            f"e.g. {unknown[:3]}"
        )
    arena = split.select([row_of[a["id"]] for a in annotations])
    pairs = encode_preference(tokenizer, list(arena), "parallel", allocation)
    features = []
    for annotation, pair in zip(annotations, pairs):
        for i, response in enumerate(("response_a", "response_b")):
            ratings = annotation[response]
            features.append(
                {**{k: v[i] for k, v in pair.items()}, "labels": {p: ratings[p] for p in RESPONSE_PROPERTIES}}
            )
    return from_rows(features)


def prefinetune_properties(
    base_dir: str | Path,
    annotations_path: str | Path,
    train_path: str | Path,
    hparams: dict,
    allocation_config: dict,
    out_dir: str | Path,
    checkpoint_dir: str | Path,
    *,
    deepspeed: str | Path | None = None,
    callbacks: list | None = None,
) -> dict:
    """Train the 20 property heads on the encoder in `base_dir` with the parallel (prompt,
    response) allocation; save the model (its encoder loads with AutoModel) to `out_dir`."""
    args = _training_args(hparams, checkpoint_dir, deepspeed, evaluate=False)
    set_seed(args.seed)
    allocation = allocation_for("parallel", allocation_config, hparams["max_length"])
    tokenizer = AutoTokenizer.from_pretrained(base_dir)
    train_set = property_features(annotations_path, train_path, tokenizer, allocation)
    model = PropertyHeadsEncoder.for_properties(base_dir, RESPONSE_PROPERTIES, hparams["max_length"])
    trainer = Trainer(
        model=model,
        args=args,
        train_dataset=train_set,
        data_collator=EncoderCollator(tokenizer),
        processing_class=tokenizer,
        callbacks=callbacks,
    )
    log.info(
        "pre-fine-tuning %d property heads on %d (prompt, response) examples from %s",
        len(RESPONSE_PROPERTIES),
        len(train_set),
        annotations_path,
    )
    return _train_and_save(trainer, out_dir, Path(checkpoint_dir))


def _train_and_save(trainer: Trainer, out_dir: str | Path, checkpoint_dir: Path) -> dict:
    summary = train_and_save(trainer, checkpoint_dir, out_dir)
    best = trainer.state.best_model_checkpoint
    if best:
        log.info("best checkpoint %s (eval loss %.4f)", best, trainer.state.best_metric)
    return {**summary, "best_checkpoint": best, "best_eval_loss": trainer.state.best_metric}


def _training_args(
    hparams: dict, checkpoint_dir: str | Path, deepspeed: str | Path | None, evaluate: bool
) -> TrainingArguments:
    """The paper's Trainer settings; with `evaluate`, evaluation and checkpoints every
    `eval_steps` and the best model by evaluation loss at the end, else a checkpoint every epoch."""
    if evaluate:
        schedule = {
            "eval_strategy": "steps",
            "save_strategy": "steps",
            "save_steps": hparams.get("eval_steps"),
            "logging_strategy": "steps",
            "logging_steps": hparams.get("eval_steps"),
            "load_best_model_at_end": True,
            "metric_for_best_model": "loss",
            "greater_is_better": False,
        }
    else:
        schedule = {"eval_strategy": "no", "save_strategy": "epoch", "logging_strategy": "epoch"}
    return training_arguments(
        hparams,
        checkpoint_dir,
        family="band2025 encoder",
        needs=NEEDS,
        deepspeed=deepspeed,
        # training, evaluation and prediction share the paper's one batch size
        per_device_eval_batch_size=hparams.get("per_device_train_batch_size"),
        lr_scheduler_type="linear",
        prediction_loss_only=True,
        **schedule,
    )
