"""gupta2023 seq2seq family: record selection, Tk-Instruct's model input and targets, training with
resume, prediction order, the DeepSpeed configs."""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path

import pytest
from conftest import RecordSteps, StopAfterFirstSave
from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

from ftrepro.data.superni import (
    def_pos_prompt,
    derive_superni,
    prefinetune_records,
    read_split,
    read_task,
    task_records,
)
from ftrepro.data.synthetic import write_synthetic_raw
from ftrepro.infer.seq2seq import predict_seq2seq
from ftrepro.io import DataError, read_jsonl
from ftrepro.models.base import prepare_base_model
from ftrepro.models.encoding import SourceText
from ftrepro.train.arguments import accumulation_steps
from ftrepro.train.seq2seq import Seq2SeqCollator, train_seq2seq

DEEPSPEED = Path(__file__).resolve().parents[1] / "config" / "deepspeed"
HPARAMS = {
    "learning_rate": 5e-3,
    "lr_scheduler_type": "constant",
    "warmup_steps": 0,
    "num_train_epochs": 1,
    "per_device_train_batch_size": 4,
    "effective_batch_size": 4,
    "max_source_length": 64,
    "max_target_length": 16,
    "bf16": True,
    "seed": 0,
    "instructions": False,
}


def superni_with_t5(root: Path) -> Path:
    """Derived SuperNI with 8 test tasks (the 8th, Keyword Tagging, has two references per
    instance) of 20 training instances each, and a tiny random T5."""
    write_synthetic_raw(
        "superni", root / "raw", seed=0, n_test_tasks=8, n_train_tasks=2, instances_per_task=130
    )
    derive_superni(root / "raw", root / "derived", test_tasks=read_split(root / "raw", "test"))
    prepare_base_model({"random": {"architecture": "t5"}}, "seq2seq", root / "base")
    return root


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return superni_with_t5(tmp_path_factory.mktemp("seq2seq"))


@pytest.fixture(scope="module")
def tokenizer(data):
    return AutoTokenizer.from_pretrained(data / "base")


def tasks(data) -> list[str]:
    return read_split(data / "raw", "test")


def train_lines(data, task: str) -> list[dict]:
    return read_jsonl(data / "derived" / "tasks" / task / "train.jsonl")


# --- records ----------------------------------------------------------------------------------


def test_records_are_the_first_lines_of_each_task_concatenated(data):
    first, second = tasks(data)[:2]
    assert task_records(data / "derived", [first], "train", 3) == train_lines(data, first)[:3]
    assert task_records(data / "derived", [first], "train", "all") == train_lines(data, first)
    assert len(train_lines(data, first)) == 20
    assert task_records(data / "derived", [first], "train", 500) == train_lines(data, first)  # fewer: all
    assert (
        task_records(data / "derived", [first, second], "train", 2)
        == train_lines(data, first)[:2] + train_lines(data, second)[:2]
    )
    for bad in (0, "100", None):
        with pytest.raises(ValueError, match="samples"):
            task_records(data / "derived", [first], "train", bad)


def test_prefinetune_records_are_the_whole_set(data):
    records = prefinetune_records(data / "derived")
    assert len(records) == 2 * 100 and records == read_jsonl(data / "derived" / "prefinetune.jsonl")


# --- model input and targets ------------------------------------------------------------------


def test_source_is_the_input_or_the_full_def_pos_prompt_when_it_fits(data, tokenizer):
    record = train_lines(data, tasks(data)[0])[0]
    assert SourceText(tokenizer, 1024, instructions=False)(record) == record["input"]
    with_instructions = SourceText(tokenizer, 1024, instructions=True, raw_dir=data / "raw")(record)
    assert "Positive Example 2 -" in with_instructions and with_instructions == record["encodings"]["def_pos"]
    with pytest.raises(ValueError, match="raw_dir"):
        SourceText(tokenizer, 1024, instructions=True)


def test_the_ablation_prompt_puts_the_task_s_negative_example_in_the_source(data, tokenizer, tmp_path):
    record = train_lines(data, tasks(data)[0])[0]
    source = SourceText(tokenizer, 1024, instructions=True, raw_dir=data / "raw", prompt="def-pos1-neg1")(
        record
    )
    assert "Positive Example 1 -" in source and "Negative Example 1 -" in source
    assert "Positive Example 2 -" not in source
    # a task without negative examples would ablate nothing: refused, naming its file
    raw = tmp_path / "raw"
    shutil.copytree(data / "raw", raw)
    path = raw / "tasks" / f"{record['task']}.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), "Negative Examples": []}))
    with pytest.raises(
        DataError, match=rf"{record['task']}.json: prompt def-pos1-neg1 needs 1 more negative"
    ):
        SourceText(tokenizer, 1024, instructions=True, raw_dir=raw, prompt="def-pos1-neg1")(record)


def test_def_pos_drops_the_examples_that_do_not_fit(data, tokenizer):
    task_name = tasks(data)[0]
    record = train_lines(data, task_name)[0]
    task = read_task(data / "raw" / "tasks" / f"{task_name}.json")
    one_example = def_pos_prompt(
        {**task, "Positive Examples": task["Positive Examples"][:1]}, record["input"]
    )
    limit = len(tokenizer(one_example)["input_ids"])  # room for the first example, not the second

    def fits(text: str) -> bool:
        return len(tokenizer(text)["input_ids"]) <= limit

    expected = def_pos_prompt(task, record["input"], fits=fits)
    assert expected == one_example
    assert SourceText(tokenizer, limit, instructions=True, raw_dir=data / "raw")(record) == expected


def test_overlong_source_keeps_its_first_tokens(data, tokenizer):
    record = train_lines(data, tasks(data)[0])[0]
    ids = tokenizer(record["input"])["input_ids"]
    assert len(ids) > 6
    source = SourceText(tokenizer, 5, instructions=False)
    assert source(record) == tokenizer.decode(ids[:5], skip_special_tokens=True)
    assert len(source(record).split()) < len(record["input"].split())
    encoded = source.encode(record)["input_ids"]
    assert len(encoded) == 5 and encoded[-1] == tokenizer.eos_token_id


def test_collator_draws_a_reference_each_time_and_pads_labels_with_ignore_index(data, tokenizer):
    keyword_task = tasks(data)[7]
    record = next(r for r in train_lines(data, keyword_task) if len(set(r["references"])) == 2)
    short = {**train_lines(data, tasks(data)[0])[0], "references": ["yes"]}
    collate = Seq2SeqCollator(SourceText(tokenizer, 64, instructions=False), max_target_length=16)
    random.seed(0)
    batches = [collate([record, short]) for _ in range(20)]
    targets = {ref: tokenizer(text_target=ref)["input_ids"] for ref in record["references"]}
    yes = tokenizer(text_target="yes")["input_ids"]
    drawn = set()
    for batch in batches:
        width = batch["labels"].shape[1]
        first, second = batch["labels"].tolist()
        drawn |= {ref for ref, ids in targets.items() if first == ids + [-100] * (width - len(ids))}
        assert second == yes + [-100] * (width - len(yes))
    assert drawn == set(record["references"])  # each draw is one whole reference; both come up
    random.seed(0)
    assert collate([record, short])["labels"].tolist() == batches[0]["labels"].tolist()  # seeded


def test_targets_are_cut_to_max_target_length(data, tokenizer):
    record = {**train_lines(data, tasks(data)[0])[0], "references": ["a b c d e f g h"]}
    labels = Seq2SeqCollator(SourceText(tokenizer, 64, instructions=False), max_target_length=4)([record])[
        "labels"
    ]
    assert labels.tolist() == [tokenizer(text_target="a b c")["input_ids"]]


# --- training and prediction ------------------------------------------------------------------


def distinct_target_records(data, n: int) -> list[dict]:
    """Records of single-reference tasks with pairwise different references and inputs of
    different lengths."""
    chosen: dict[str, dict] = {}
    for task in tasks(data)[1:4]:  # topic tasks: one reference, a topic word
        for record in train_lines(data, task):
            chosen.setdefault(record["references"][0], record)
    records = list(chosen.values())[:n]
    assert len(records) == n and len({len(r["input"]) for r in records}) > 1
    return records


def test_training_memorises_and_prediction_comes_back_in_input_order(data, tmp_path):
    records = distinct_target_records(data, 4)
    summary = train_seq2seq(
        data / "base",
        records * 40,
        hparams=HPARAMS,
        out_dir=tmp_path / "model",
        checkpoint_dir=tmp_path / "ckpt",
    )
    assert summary["global_step"] == 40 and summary["resumed_from"] is None
    assert not (tmp_path / "ckpt").exists()
    predictions = predict_seq2seq(
        tmp_path / "model", records, instructions=False, batch_size=2, max_source_length=64
    )
    assert [p["id"] for p in predictions] == [r["id"] for r in records]
    assert all(set(p) == {"task", "category", "id", "prediction", "references"} for p in predictions)
    assert [(p["task"], p["category"], p["references"]) for p in predictions] == [
        (r["task"], r["category"], r["references"]) for r in records
    ]
    assert [p["prediction"] for p in predictions] == [r["references"][0] for r in records]


def test_training_with_instructions_resumes_from_the_epoch_checkpoint(data, tmp_path):
    hparams = {
        **HPARAMS,
        "num_train_epochs": 2,
        "per_device_train_batch_size": 2,
        "effective_batch_size": 2,
        "max_source_length": 128,
        "instructions": True,
    }
    records = task_records(data / "derived", tasks(data)[:2], "train", 3)
    kwargs = {
        "hparams": hparams,
        "out_dir": tmp_path / "model",
        "checkpoint_dir": tmp_path / "ckpt",
        "raw_dir": data / "raw",
    }
    with pytest.raises(KeyboardInterrupt):
        train_seq2seq(data / "base", records, callbacks=[StopAfterFirstSave()], **kwargs)
    assert [p.name for p in (tmp_path / "ckpt").iterdir()] == ["checkpoint-3"]
    assert not (tmp_path / "model").exists()
    steps = RecordSteps()
    summary = train_seq2seq(data / "base", records, callbacks=[steps], **kwargs)
    assert summary["resumed_from"].endswith("checkpoint-3")
    assert (steps.start_step, steps.steps_run, summary["global_step"]) == (3, 3, 6)
    assert not (tmp_path / "ckpt").exists()
    assert AutoModelForSeq2SeqLM.from_pretrained(tmp_path / "model").config.model_type == "t5"
    assert AutoTokenizer.from_pretrained(tmp_path / "model").eos_token == "</s>"


def test_missing_hparams_are_named(data, tmp_path):
    with pytest.raises(ValueError, match="max_target_length"):
        train_seq2seq(
            data / "base",
            [{}],
            hparams={k: v for k, v in HPARAMS.items() if k != "max_target_length"},
            out_dir=tmp_path / "m",
            checkpoint_dir=tmp_path / "c",
        )


# --- DeepSpeed --------------------------------------------------------------------------------


def test_zero2_offload_config_is_tk_instructs_stage2_with_auto_fields():
    config = json.loads((DEEPSPEED / "zero2_offload.json").read_text())
    zero = config["zero_optimization"]
    assert zero["stage"] == 2 and zero["offload_optimizer"] == {"device": "cpu", "pin_memory": True}
    assert zero["overlap_comm"] and zero["contiguous_gradients"]
    auto = {
        "train_batch_size",
        "train_micro_batch_size_per_gpu",
        "gradient_accumulation_steps",
        "gradient_clipping",
    }
    assert all(config[key] == "auto" for key in auto)
    assert config["bf16"]["enabled"] == "auto" and config["optimizer"]["params"]["lr"] == "auto"


def test_zero3_config_gathers_weights_on_save():
    config = json.loads((DEEPSPEED / "zero3.json").read_text())
    assert config["zero_optimization"]["stage"] == 3
    assert config["zero_optimization"]["stage3_gather_16bit_weights_on_model_save"] is True
    assert config["train_micro_batch_size_per_gpu"] == "auto" and config["bf16"]["enabled"] == "auto"


def test_accumulation_keeps_the_effective_batch_on_any_gpu_count():
    recipe = {"per_device_train_batch_size": 1, "effective_batch_size": 16}
    assert [accumulation_steps(recipe, world_size=n) for n in (1, 2, 8)] == [16, 8, 2]
    with pytest.raises(ValueError, match="not a multiple"):
        accumulation_steps(recipe, world_size=3)
