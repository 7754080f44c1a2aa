"""A decoder LLM as a 3-way preference classifier with LoRA (band2025's Llama 3.1 8B model).

AutoModelForSequenceClassification reads the hidden state of the last non-pad token into a linear
head (hidden -> 3). LoRA adapters (r 4, alpha 8 on q_proj and v_proj in the paper) and the head
train; the base weights stay frozen. With a dev split (`eval_path`) the loss on it is measured at
every checkpoint and the checkpoint of lowest dev loss is the model, as the encoders choose
theirs; the test split is never seen. A killed job resumes from the last Trainer checkpoint; the
adapter and head are written atomically to `out_dir` (PeftModel.save_pretrained) with the tokenizer.
"""

from __future__ import annotations

import logging
from pathlib import Path

import datasets
import torch
from peft import LoraConfig, PeftModel, TaskType, get_peft_model
from transformers import (
    AutoModelForSequenceClassification,
    AutoTokenizer,
    DataCollatorWithPadding,
    Trainer,
    set_seed,
)

from ftrepro.data.arena import LABELS
from ftrepro.infer.loading import load_model
from ftrepro.infer.logits import predict_logits, softmax
from ftrepro.io import DataError, iter_jsonl
from ftrepro.train import train_and_save
from ftrepro.train.arguments import attention_implementation, training_arguments
from ftrepro.train.data import rows, tokenize_split

log = logging.getLogger(__name__)

# the recipe keys this model needs beyond every recipe's (ftrepro.train.arguments)
NEEDS = (
    "gradient_accumulation_steps",
    "num_train_epochs",
    "max_length",
    "weight_decay",
    "warmup_ratio",
    "lora_r",
    "lora_alpha",
    "lora_dropout",
    "target_modules",
)


def preference_text(record: dict) -> str:
    """The classifier's input: prompt, then both responses, each turn list joined (the paper gives no template)."""
    return "\n\n".join(
        f"{title}:\n" + "\n".join(record[key])
        for title, key in (("Prompt", "prompt"), ("Response A", "response_a"), ("Response B", "response_b"))
    )


def load_tokenizer(model_dir: str | Path):
    """The model's tokenizer with a pad token (Llama checkpoints ship none: eos stands in)."""
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def encode_records(path: str | Path, tokenizer, max_length: int) -> datasets.Dataset:
    """input_ids / attention_mask (tail-truncated to max_length) and the label index of every arena
    record, as a dataset (ftrepro.train.data)."""
    return tokenize_split(path, _encode_batch, with_indices=True, tokenizer=tokenizer, max_length=max_length)


def _encode_batch(batch: dict, indices: list[int], path: str, tokenizer, max_length: int) -> dict:
    records = rows(batch)
    for n, record in zip(indices, records, strict=True):
        if record.get("label") not in LABELS:
            raise DataError(
                f"{path}: record {n + 1} (id {record.get('id')!r}): label {record.get('label')!r} "
                f"is not one of {list(LABELS)}"
            )
    encoding = tokenizer([preference_text(r) for r in records], truncation=True, max_length=max_length)
    return {**encoding, "labels": [LABELS.index(r["label"]) for r in records]}


def lora_model(base_dir: str | Path, tokenizer, hparams: dict) -> PeftModel:
    """The base decoder with a fresh 3-way head; LoRA on `target_modules`, the head ("score") trained in full."""
    model = AutoModelForSequenceClassification.from_pretrained(
        base_dir,
        num_labels=len(LABELS),
        id2label=dict(enumerate(LABELS)),
        label2id={label: i for i, label in enumerate(LABELS)},
        dtype=_dtype(),
        attn_implementation=attention_implementation(),
    )
    model.config.pad_token_id = tokenizer.pad_token_id  # how the model finds the last non-pad token
    config = LoraConfig(
        task_type=TaskType.SEQ_CLS,
        r=hparams["lora_r"],
        lora_alpha=hparams["lora_alpha"],
        lora_dropout=hparams["lora_dropout"],
        target_modules=list(hparams["target_modules"]),
        modules_to_save=["score"],
    )
    return get_peft_model(model, config)


def train_lora_classifier(
    base_dir: str | Path,
    train_path: str | Path,
    hparams: dict,
    out_dir: str | Path,
    checkpoint_dir: str | Path,
    *,
    eval_path: str | Path | None = None,
    deepspeed: str | Path | None = None,
    callbacks: list | None = None,
) -> dict:
    """Train LoRA adapters and the head on the arena train split, keeping the checkpoint of lowest
    loss on `eval_path` (the dev split; None: the last); save adapter, head and tokenizer to `out_dir`.

    Returns a summary {global_step, training_loss, train_runtime, resumed_from, trainable_params,
    best_checkpoint, best_eval_loss}.
    """
    trainer = lora_trainer(
        base_dir,
        train_path,
        hparams,
        checkpoint_dir,
        eval_path=eval_path,
        deepspeed=deepspeed,
        callbacks=callbacks,
    )

    def save(directory: Path) -> None:
        trainer.model.save_pretrained(
            directory
        )  # the adapters and the head: the base weights stay where they are
        trainer.processing_class.save_pretrained(directory)

    trainable, _ = trainer.model.get_nb_trainable_parameters()
    summary = train_and_save(trainer, checkpoint_dir, out_dir, save)
    best = {
        "best_checkpoint": trainer.state.best_model_checkpoint,
        "best_eval_loss": trainer.state.best_metric,
    }
    if best["best_checkpoint"]:
        log.info("best checkpoint %s (dev loss %.4f)", best["best_checkpoint"], best["best_eval_loss"])
    return {**summary, "trainable_params": trainable, **best}


def lora_trainer(
    base_dir: str | Path,
    train_path: str | Path,
    hparams: dict,
    checkpoint_dir: str | Path,
    *,
    eval_path: str | Path | None = None,
    deepspeed: str | Path | None = None,
    callbacks: list | None = None,
) -> Trainer:
    """The Trainer of `train_lora_classifier`: encoded arena records, the LoRA model, padded
    batches; with `eval_path`, the dev loss at every checkpoint and the best one kept."""
    # the dev loss at every checkpoint; the lowest is the model restored at the end
    selection = (
        {
            "eval_strategy": "steps",
            "eval_steps": hparams.get("save_steps"),
            "load_best_model_at_end": True,
            "metric_for_best_model": "loss",
            "greater_is_better": False,
            "prediction_loss_only": True,
            "per_device_eval_batch_size": hparams.get(
                "predict_batch_size", hparams["per_device_train_batch_size"]
            ),
        }
        if eval_path is not None
        else {}
    )
    args = training_arguments(
        hparams,
        checkpoint_dir,
        family="LoRA",
        needs=NEEDS,
        deepspeed=deepspeed,
        lr_scheduler_type="linear",
        save_strategy="steps",
        logging_steps=50,
        **selection,
    )
    set_seed(args.seed)  # before the head and the adapters are initialised
    tokenizer = load_tokenizer(base_dir)
    with args.main_process_first(desc="tokenizing"):  # the other processes read its cache
        train_set = encode_records(train_path, tokenizer, hparams["max_length"])
        eval_set = (
            encode_records(eval_path, tokenizer, hparams["max_length"]) if eval_path is not None else None
        )
    model = lora_model(base_dir, tokenizer, hparams)
    trainable, total = model.get_nb_trainable_parameters()
    log.info(
        "trainable parameters: %d of %d; training on %d examples from %s",
        trainable,
        total,
        len(train_set),
        train_path,
    )
    return Trainer(
        model=model,
        args=args,
        train_dataset=train_set,
        eval_dataset=eval_set,
        data_collator=DataCollatorWithPadding(tokenizer),
        processing_class=tokenizer,
        callbacks=callbacks,
    )


def load_lora_classifier(base_dir: str | Path, model_dir: str | Path) -> tuple[PeftModel, object]:
    """(model in eval mode, tokenizer) from the base weights and a saved adapter + head."""
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    base = load_model(
        base_dir,
        AutoModelForSequenceClassification,
        num_labels=len(LABELS),
        pad_token_id=tokenizer.pad_token_id,  # how the model finds the last non-pad token
    )
    return PeftModel.from_pretrained(base, model_dir).eval(), tokenizer


def predict_lora_classifier(
    base_dir: str | Path,
    model_dir: str | Path,
    records_path: str | Path,
    *,
    max_length: int,
    batch_size: int,
    labelled: bool = True,
) -> list[dict]:
    """{"id", "label" (gold), "probs": {"A", "B", "tie"}} for every record of a derived arena split;
    `labelled=False` for rows without a gold label (the competition's test rows; none: [])."""
    records = list(iter_jsonl(records_path))
    if not records and not labelled:
        return []
    model, tokenizer = load_lora_classifier(base_dir, model_dir)
    features = [tokenizer(preference_text(r), truncation=True, max_length=max_length) for r in records]
    probs = predict_logits(model, features, DataCollatorWithPadding(tokenizer), batch_size, reduce=softmax)
    return [
        {
            "id": record["id"],
            **({"label": record["label"]} if labelled else {}),
            "probs": dict(zip(LABELS, p.tolist())),
        }
        for record, p in zip(records, probs, strict=True)
    ]


def _dtype() -> torch.dtype:
    """bf16 weights where the GPU supports it (an 8B model in fp32 needs 32 GB before activations)."""
    return torch.bfloat16 if torch.cuda.is_available() and torch.cuda.is_bf16_supported() else torch.float32
