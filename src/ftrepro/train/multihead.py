"""The multi-head encoder family: fine-tune a MultiHeadEncoder (one head per subtask of a label
file) on one classification task with transformers' Trainer.

A killed job resumes from the last epoch checkpoint in `checkpoint_dir`; the finished model is
written atomically to `out_dir` and the checkpoints are then removed. A recipe that evaluates
(`eval_strategy`) scores a dev split each epoch with `dev_accuracy`, and with
`load_best_model_at_end` the best epoch is the model kept.
"""

from __future__ import annotations

import logging
from pathlib import Path

import datasets
import numpy as np
from transformers import EvalPrediction, Trainer, set_seed

from ftrepro.data import WORD_SUBTASKS
from ftrepro.io import DataError, read_json
from ftrepro.models.encoder import EncoderCollator, MultiHeadEncoder, first_subword_labels, tokenize_record
from ftrepro.models.encoding import IGNORE_INDEX, load_tokenizer
from ftrepro.train import train_and_save
from ftrepro.train.arguments import training_arguments
from ftrepro.train.data import columns, rows, tokenize_split

log = logging.getLogger(__name__)

# the recipe keys this family needs beyond every recipe's (ftrepro.train.arguments)
NEEDS = ("num_train_epochs", "max_length", "weight_decay", "warmup_ratio")


def head_kind(subtask: str) -> str:
    return "token" if subtask in WORD_SUBTASKS else "sequence"


def read_label_names(labels_path: str | Path, subtasks: list[str]) -> dict[str, list[str]]:
    labels = read_json(labels_path)
    missing = [s for s in subtasks if s not in labels]
    if missing:
        raise DataError(f"{labels_path}: no label list for subtask(s) {', '.join(missing)}")
    return {s: list(labels[s]) for s in subtasks}


def encode_dataset(
    path: str | Path, tokenizer, label_names: dict[str, list[str]], max_length: int
) -> datasets.Dataset:
    """Features with label ids for every record of a derived JSONL file (ftrepro.train.data)."""
    return tokenize_split(
        path,
        _encode_records,
        with_indices=True,
        tokenizer=tokenizer,
        label_names=label_names,
        max_length=max_length,
    )


def _encode_records(
    batch: dict, indices: list[int], path: str, tokenizer, label_names: dict[str, list[str]], max_length: int
) -> dict:
    word_level = any(head_kind(s) == "token" for s in label_names)
    index = {s: {name: i for i, name in enumerate(names)} for s, names in label_names.items()}
    features = []
    for n, record in zip((i + 1 for i in indices), rows(batch), strict=True):
        encoding = tokenize_record(tokenizer, record, word_level, max_length)
        labels = {}
        for subtask, ids in index.items():
            gold = (record.get("labels") or {}).get(subtask)
            where = f"{path}: record {n} (id {record.get('id')!r}): subtask {subtask!r}"
            if gold is None:
                raise DataError(f"{where}: no gold label")
            if head_kind(subtask) == "token":
                if len(gold) != len(record["words"]):
                    raise DataError(f"{where}: {len(gold)} labels for {len(record['words'])} words")
                gold_ids = [_label_id(ids, g, where) for g in gold]
                labels[subtask] = first_subword_labels(encoding.word_ids(), gold_ids)
            else:
                labels[subtask] = _label_id(ids, gold, where)
        features.append({**encoding, "labels": labels})
    return columns(features)


def _label_id(ids: dict[str, int], label: str, where: str) -> int:
    if label not in ids:
        raise DataError(f"{where}: label {label!r} is not in the label list")
    return ids[label]


def best_labels(logits: dict, labels) -> dict:
    """The argmax label id per head (Trainer's `preprocess_logits_for_metrics`), so that
    evaluation keeps ids rather than every logit of every token."""
    return {name: head.argmax(-1) for name, head in logits.items()}


def dev_accuracy(prediction: EvalPrediction) -> dict[str, float]:
    """Accuracy per head on the dev split (token heads: on the words' first sub-words) and their
    mean, "accuracy", which picks the best epoch (`metric_for_best_model: accuracy`)."""
    scores = {}
    for name, gold in prediction.label_ids.items():
        pred = prediction.predictions[name]
        scored = gold != IGNORE_INDEX
        scores[f"accuracy_{name}"] = float(np.mean(pred[scored] == gold[scored]))
    return {**scores, "accuracy": float(np.mean(list(scores.values())))}


def evaluates(hparams: dict) -> bool:
    """Whether a recipe scores a dev split during training (eval_strategy other than "no")."""
    return hparams.get("eval_strategy", "no") != "no"


def train_encoder(
    base_dir: str | Path,
    train_path: str | Path,
    labels_path: str | Path,
    subtasks: list[str],
    hparams: dict,
    out_dir: str | Path,
    checkpoint_dir: str | Path,
    *,
    dev_path: str | Path | None = None,
    deepspeed: str | Path | None = None,
    callbacks: list | None = None,
) -> dict:
    """Train heads for `subtasks` on the encoder in `base_dir`; save the model to `out_dir`.
    `dev_path`: the dev split, which a recipe that evaluates needs (and any other ignores).

    Returns a summary {global_step, training_loss, train_runtime, resumed_from, best_metric}.
    """
    if evaluates(hparams) and dev_path is None:
        raise ValueError(f"encoder hparams: eval_strategy {hparams['eval_strategy']!r} needs a dev split")
    args = training_arguments(
        hparams,
        checkpoint_dir,
        family="encoder",
        needs=NEEDS,
        deepspeed=deepspeed,
        lr_scheduler_type="linear",
        save_strategy="epoch",
        logging_strategy="epoch",
    )
    set_seed(args.seed)  # before the heads are initialised
    label_names = read_label_names(labels_path, subtasks)
    word_level = any(head_kind(s) == "token" for s in subtasks)
    tokenizer = load_tokenizer(base_dir, word_level)
    with args.main_process_first(desc="tokenizing"):  # the other processes read its cache
        train_set = encode_dataset(train_path, tokenizer, label_names, hparams["max_length"])
        dev_set = (
            encode_dataset(dev_path, tokenizer, label_names, hparams["max_length"])
            if evaluates(hparams)
            else None
        )
    model = MultiHeadEncoder.from_base(
        base_dir,
        {s: (head_kind(s), len(label_names[s])) for s in subtasks},
        label_names=label_names,
        max_length=hparams["max_length"],
    )
    trainer = Trainer(
        model=model,
        args=args,
        train_dataset=train_set,
        eval_dataset=dev_set,
        compute_metrics=dev_accuracy if dev_set else None,
        preprocess_logits_for_metrics=best_labels if dev_set else None,
        data_collator=EncoderCollator(tokenizer),
        processing_class=tokenizer,  # saved with the model
        callbacks=callbacks,
    )
    log.info("training %s on %d examples from %s", "+".join(subtasks), len(train_set), train_path)
    summary = train_and_save(trainer, checkpoint_dir, out_dir)
    if dev_set:
        log.info(
            "best dev %s %s at %s",
            args.metric_for_best_model,
            trainer.state.best_metric,
            trainer.state.best_model_checkpoint,
        )
    return {**summary, "best_metric": trainer.state.best_metric}
