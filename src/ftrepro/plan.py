"""The memory and cost plan of a preset: every job of the three papers that loads a model, with
its parameters, GPUs, ZeRO stage, estimated memory per GPU and GPU-hours (ftrepro.costs), in
`ftrepro plan` and results/plan.tsv. A GPU job whose estimate exceeds `cluster.gpu_memory_gb`
is an error here, before anything is queued.

Data sizes are the papers' full splits, capped by the preset; token counts per example are the
assumptions of config `plan.tokens` (results/data/stats.md measures the real ones).
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from ftrepro.config import Config
from ftrepro.costs import GB, Zero, activation_bytes, gpu_hours, kv_cache_bytes, model_states_bytes
from ftrepro.papers.band2025 import runs as band_runs
from ftrepro.papers.gupta2023 import runs as gupta_runs
from ftrepro.papers.zhao2025 import runs as zhao_runs
from ftrepro.resources import job_resources


class PlanError(ValueError):
    """A job whose estimated memory per GPU exceeds what it asks for."""


@dataclass(frozen=True)
class Work:
    """What one job does, before it is sized."""

    paper: str
    job: str  # its output: the target that makes it
    model: str
    mode: str  # full | lora | inference (ftrepro.resources)
    train_tokens: float = 0
    infer_tokens: float = 0
    micro_tokens: int = 0  # tokens of one training micro-batch (batch x longest sequence)
    target_tokens: int = 0  # seq2seq: the decoder's share of micro_tokens
    logits: bool = True
    checkpointing: bool = False
    kv_tokens: int = 0  # inference: tokens whose keys and values are held at once
    deepspeed: str | None = None


@dataclass(frozen=True)
class Row:
    paper: str
    job: str
    model: str
    params_b: float
    gpus: int
    zero: str
    mem_gb_per_gpu: float
    gpu_memory_gb: float
    train_tokens: float
    infer_tokens: float
    gpu_hours: float


def plan(config: Config) -> list[Row]:
    """Every model-loading job of the config's preset, sized; PlanError names the first job (and
    both figures) whose memory per GPU exceeds `cluster.gpu_memory_gb`."""
    rows = [size(config, work) for work in jobs(config)]
    for row in rows:
        if row.gpus and row.mem_gb_per_gpu > row.gpu_memory_gb:
            raise PlanError(
                f"{row.job}: needs an estimated {row.mem_gb_per_gpu:.1f} GB per GPU on {row.gpus} GPU(s), "
                f"over cluster.gpu_memory_gb {row.gpu_memory_gb:g}"
            )
    return rows


def size(config: Config, work: Work) -> Row:
    declared = config.models[work.model]
    gpus = job_resources(declared.params_b, work.mode, config.cluster, config.gpu)["gpu"]
    zero = Zero.read(work.deepspeed) if work.deepspeed and config.gpu else None
    memory = 0.0
    if gpus:
        states = model_states_bytes(declared, work.mode, gpus, zero)
        if work.mode == "inference":
            memory = states + kv_cache_bytes(declared, work.kv_tokens, gpus)
        else:
            source = work.micro_tokens - work.target_tokens
            memory = states + activation_bytes(
                declared, source, work.checkpointing, work.logits and not work.target_tokens
            )
            if work.target_tokens:  # seq2seq: the decoder stack on the targets, and their logits
                memory += activation_bytes(declared, work.target_tokens, work.checkpointing, True)
    return Row(
        paper=work.paper,
        job=work.job,
        model=work.model,
        params_b=declared.params_b,
        gpus=gpus,
        zero=str(zero) if zero else "-",
        mem_gb_per_gpu=round(memory / GB, 1),
        gpu_memory_gb=config.cluster["gpu_memory_gb"],
        train_tokens=work.train_tokens,
        infer_tokens=work.infer_tokens,
        gpu_hours=round(gpu_hours(declared, work.train_tokens, work.infer_tokens, config.plan.gpu), 2)
        if gpus
        else 0.0,
    )


def jobs(config: Config) -> Iterator[Work]:
    yield from _zhao_jobs(config)
    yield from _gupta_jobs(config)
    yield from _band_jobs(config)


# --- the three papers --------------------------------------------------------------------------


def _rows(config: Config, dataset: str, split: str) -> int:
    full = config.plan.rows[dataset][split]
    cap = config.data.caps(dataset).get(split)
    return min(full, cap) if cap else full


def _zhao_jobs(config: Config) -> Iterator[Work]:
    z, tokens = config.zhao2025, config.plan.tokens
    decoder = config.training["zhao2025-decoder"]
    for name in zhao_runs.encoder_runs(config):
        run = zhao_runs.ZhaoRun.parse(name)
        dataset = z.tasks[run.task].dataset
        encoder = zhao_runs.encoder_hparams(config, run.task)
        length = min(tokens[dataset]["text"], encoder["max_length"])
        yield Work(
            "zhao2025",
            f"results/zhao2025/{name}/predictions.jsonl",
            run.model,
            "full",
            train_tokens=_rows(config, dataset, "train") * encoder["num_train_epochs"] * length,
            infer_tokens=_rows(config, dataset, "test") * length,
            micro_tokens=encoder["per_device_train_batch_size"] * encoder["max_length"],
            logits=False,
        )
    for name in zhao_runs.decoder_runs(config, "ft") + zhao_runs.decoder_runs(config, "noft"):
        run = zhao_runs.ZhaoRun.parse(name)
        dataset = z.tasks[run.task].dataset
        longest = min(decoder["max_length"], config.models[run.model].shape.context)
        example = min(_prompt_tokens(tokens, dataset, run.shots), longest)
        test = _rows(config, dataset, "test") * (example + decoder["max_new_tokens"])
        kv = decoder["predict_batch_size"] * longest
        if run.mode == "noft":
            job = f"results/zhao2025/{name}/predictions.jsonl"
            yield Work("zhao2025", job, run.model, "inference", infer_tokens=test, kv_tokens=kv)
            continue
        recipe_size = zhao_runs.decoder_size(config, run.model)
        yield Work(
            "zhao2025",
            f"results/zhao2025/{name}/predictions.jsonl",
            run.model,
            "full",
            train_tokens=decoder["max_steps"][recipe_size] * decoder["effective_batch_size"] * example,
            infer_tokens=test,
            micro_tokens=decoder["per_device_train_batch_size"] * longest,
            checkpointing=decoder["activation_checkpointing"],
            deepspeed=zhao_runs.decoder_deepspeed(config, run.model),
        )


def _prompt_tokens(tokens: dict, dataset: str, shots: str) -> int:
    """A zhao2025 prompt with its answer: instructions and label list, the query, and five
    demonstrations in the five-shot setting."""
    per_example = tokens[dataset]["text"] + tokens[dataset]["answer"]
    return tokens["zhao_prompt"][dataset] + per_example * (6 if shots == "five-shot" else 1)


def _gupta_jobs(config: Config) -> Iterator[Work]:
    g, tokens = config.gupta2023, config.plan.tokens["superni"]
    recipe = config.training["gupta2023-seq2seq"]
    rows = config.plan.rows["superni"]
    caps = config.data.caps("superni")
    per_task = min(rows["train_per_task"], caps.get("train", rows["train_per_task"]))
    test = min(rows["test_per_task"], caps.get("test", rows["test_per_task"]))
    tasks = g.test_tasks

    def work(job: str, model: str, samples: float, instructions: bool, tested: int = 0) -> Work:
        source = min(tokens["def_pos" if instructions else "input_only"], recipe["max_source_length"])
        example = source + min(tokens["target"], recipe["max_target_length"])
        batch = recipe["per_device_train_batch_size"]
        return Work(
            "gupta2023",
            job,
            model,
            "full",
            train_tokens=samples * recipe["num_train_epochs"] * example,
            infer_tokens=tested * example,
            micro_tokens=batch * (recipe["max_source_length"] + recipe["max_target_length"]),
            target_tokens=batch * recipe["max_target_length"],
            deepspeed=recipe.get("deepspeed"),
        )

    def samples(setting: dict) -> float:
        return per_task if setting["samples"] == "all" else min(setting["samples"], per_task)

    pre = g.prefinetune
    train_tasks = g.train_tasks or rows["train_tasks"]
    yield work(
        "resources/models/gupta2023/prefinetuned",
        pre["model"],
        train_tasks * min(pre["samples_per_task"], per_task),
        pre["instructions"],
    )
    for name in gupta_runs.stl_runs(config) + gupta_runs.mtl_runs(config):
        run = gupta_runs.GuptaRun.parse(name)
        setting = g.settings[run.setting]
        n_tasks = 1 if run.paradigm == "stl" else len(tasks)
        yield work(
            f"results/gupta2023/{name}/predictions.jsonl",
            setting["model"],
            n_tasks * samples(setting),
            setting["instructions"],
            tested=n_tasks * test,
        )


def _band_jobs(config: Config) -> Iterator[Work]:
    b, tokens = config.band2025, config.plan.tokens["arena"]
    annotated = b.annotation_rows
    if not b.annotation["file"] and "api" not in config.models[b.annotator].spec:
        prompt = tokens["annotation_prompt"] + tokens["annotation_answer"]
        job = "resources/annotations/band2025/properties.jsonl"
        yield Work(
            "band2025", job, b.annotator, "inference", infer_tokens=annotated * prompt, kv_tokens=prompt
        )
    train, dev, test = (_rows(config, "arena", split) for split in ("train", "dev", "test"))
    pre = config.training["band2025-prefinetune"]
    for encoder in b.encoders:
        if "llm-augmented" in b.variants:
            yield Work(
                "band2025",
                f"resources/models/band2025/{encoder}.prefinetuned",
                encoder,
                "full",
                train_tokens=2
                * annotated
                * pre["num_train_epochs"]
                * pre["max_length"],  # two responses a row
                micro_tokens=pre["per_device_train_batch_size"] * pre["max_length"],
                logits=False,
            )
    recipe = config.training["band2025-encoder"]
    for name in band_runs.encoder_runs(config):
        run = band_runs.BandRun.parse(name)
        pairs = 2 if run.architecture == "parallel" else 1  # parallel: (prompt, response) x 2 per row
        example = pairs * recipe["max_length"]
        batch = recipe["per_device_train_batch_size"] * recipe["gradient_accumulation_steps"]
        evaluations = train * recipe["num_train_epochs"] / batch / recipe["eval_steps"] + 1
        yield Work(
            "band2025",
            f"results/band2025/{name}/predictions.jsonl",
            run.model,
            "full",
            train_tokens=train * recipe["num_train_epochs"] * example,
            infer_tokens=(dev * evaluations + test) * example,  # dev at each evaluation, then test
            micro_tokens=recipe["per_device_train_batch_size"] * example,
            logits=False,
        )
    lora = config.training["band2025-lora"]
    length = min(tokens["text"], lora["max_length"])
    batch = lora["per_device_train_batch_size"] * lora["gradient_accumulation_steps"]
    evaluations = train * lora["num_train_epochs"] / batch / lora["save_steps"] + 1
    for name in band_runs.llm_runs(config):
        yield Work(
            "band2025",
            f"results/band2025/{name}/predictions.jsonl",
            band_runs.BandRun.parse(name).model,
            "lora",
            train_tokens=train * lora["num_train_epochs"] * length,
            infer_tokens=(dev * evaluations + test) * length,  # dev at each checkpoint, then test
            micro_tokens=lora["per_device_train_batch_size"] * lora["max_length"],
            checkpointing=lora["activation_checkpointing"],
            logits=False,  # a 3-way head, not the vocabulary
        )


# --- output ------------------------------------------------------------------------------------


def write_tsv(rows: list[Row], path: str | Path) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(Row.__dataclass_fields__), delimiter="\t")
        writer.writeheader()
        writer.writerows(asdict(row) for row in rows)


def summary(rows: list[Row]) -> str:
    """Per paper: jobs, GPU jobs, GPU-hours and the largest memory per GPU; then the total."""
    lines = ["| paper | jobs | GPU jobs | GPU-hours | max GB per GPU |", "|---|---:|---:|---:|---:|"]
    for paper in dict.fromkeys(r.paper for r in rows):
        mine = [r for r in rows if r.paper == paper]
        lines.append(_summary_line(paper, mine))
    lines.append(_summary_line("all", rows))
    return "\n".join(lines)


def _summary_line(name: str, rows: list[Row]) -> str:
    gpu_rows = [r for r in rows if r.gpus]
    peak = max((r.mem_gb_per_gpu for r in gpu_rows), default=0.0)
    hours = sum(r.gpu_hours for r in rows)
    return f"| {name} | {len(rows)} | {len(gpu_rows)} | {hours:,.0f} | {peak:.1f} |"
