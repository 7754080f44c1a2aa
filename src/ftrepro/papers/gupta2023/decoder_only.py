"""SuperNI with a decoder-only model: the mini preset's instruction-tuned model (SmolLM2-135M-
Instruct) stands where the paper has Tk-Instruct, and no PyPI package ships a T5.

The model input is the Tk-Instruct source (`SourceText`: def-pos with the collator's length rule,
or the bare input), sent as the user turn of the model's chat template; the answer is one of the
instance's references cut to `max_target_length` tokens, as Tk-Instruct cuts its labels.
Training and generation are the zhao2025 decoder's (ftrepro.train.causal, ftrepro.infer.causal).
"""

from __future__ import annotations

import random
from pathlib import Path

from transformers import AutoConfig, AutoTokenizer

from ftrepro.data.superni import DEF_POS
from ftrepro.infer.causal import generate
from ftrepro.models.encoding import SourceText
from ftrepro.prompts import render_prompt
from ftrepro.train.causal import train_causal_lm

# room for the chat template's role markers around the source
CHAT_OVERHEAD_TOKENS = 32


def is_decoder_only(model_dir: str | Path) -> bool:
    return not AutoConfig.from_pretrained(model_dir).is_encoder_decoder


def superni_prompts(
    tokenizer,
    records: list[dict],
    *,
    instructions: bool,
    max_source_length: int,
    raw_dir: str | Path | None,
    prompt: str = DEF_POS,
) -> list[str]:
    source = SourceText(
        tokenizer, max_source_length, instructions=instructions, raw_dir=raw_dir, prompt=prompt
    )
    return [render_prompt(tokenizer, [{"role": "user", "content": source(record)}]) for record in records]


def training_examples(
    tokenizer, records: list[dict], hparams: dict, raw_dir: str | Path | None
) -> list[dict]:
    """{"prompt", "answer"} per record. Tk-Instruct draws a reference each time an instance is
    used; a fixed example set draws once per instance, seeded."""
    rng = random.Random(hparams["seed"])
    prompts = superni_prompts(
        tokenizer,
        records,
        instructions=hparams["instructions"],
        max_source_length=hparams["max_source_length"],
        raw_dir=raw_dir,
        prompt=hparams.get("prompt", DEF_POS),
    )
    answers = []
    for record in records:
        ids = tokenizer(rng.choice(record["references"]), add_special_tokens=False)["input_ids"]
        answers.append(tokenizer.decode(ids[: hparams["max_target_length"]]))
    return [
        {"id": r["id"], "prompt": p, "answer": a} for r, p, a in zip(records, prompts, answers, strict=True)
    ]


def train_superni_decoder(
    base_dir: str | Path,
    records: list[dict],
    *,
    hparams: dict,
    out_dir: str | Path,
    checkpoint_dir: str | Path,
    raw_dir: str | Path | None = None,
    deepspeed: str | Path | None = None,
) -> dict:
    """Fine-tune the decoder in `base_dir` with the seq2seq recipe (epochs, batch, lr)."""
    tokenizer = AutoTokenizer.from_pretrained(base_dir)
    causal_hparams = {
        **hparams,
        "max_length": hparams["max_source_length"] + hparams["max_target_length"] + CHAT_OVERHEAD_TOKENS,
        "save_steps": hparams.get("save_steps", 100),
    }
    return train_causal_lm(
        base_dir,
        training_examples(tokenizer, records, hparams, raw_dir),
        causal_hparams,
        out_dir,
        checkpoint_dir,
        deepspeed=deepspeed,
    )


def predict_superni_decoder(
    model_dir: str | Path,
    records: list[dict],
    *,
    instructions: bool,
    batch_size: int,
    max_source_length: int,
    max_new_tokens: int = 128,
    raw_dir: str | Path | None = None,
    prompt: str = DEF_POS,
) -> list[dict]:
    """Greedy answers as ftrepro.infer.seq2seq.predict_seq2seq returns them (same record shape)."""
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    prompts = superni_prompts(
        tokenizer,
        records,
        instructions=instructions,
        max_source_length=max_source_length,
        raw_dir=raw_dir,
        prompt=prompt,
    )
    outputs = generate(model_dir, prompts, max_new_tokens=max_new_tokens, batch_size=batch_size)
    return [
        {
            "task": r["task"],
            "category": r["category"],
            "id": r["id"],
            "prediction": output or "",
            "references": r["references"],
        }
        for r, output in zip(records, outputs, strict=True)
    ]
