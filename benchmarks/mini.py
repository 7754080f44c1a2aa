"""Runtime and memory of one mini encoder run and one mini decoder run (issue 16), on the real
MASSIVE data, torch threads pinned as a job pins them (ftrepro.workflow.limit_threads).

The runs: massive-intent zero-shot with SmolLM2-135M-Instruct (the mini stand-in of the Llamas)
and massive-intent with all-MiniLM-L6-v2 (that of the RoBERTas), each with the mini preset's
recipe from config/config.yaml, on the preset's splits derived from `--data` (../shared/data
laid out as data.local_dir wants it). Each stage runs in a process of its own, so that its peak
RSS is its own (imports and model included, as a job's max_rss in snakemake's benchmark file).
Baselines measured in the same run: the decoder trained on whole prompts (the recipe without
`shared_prefix`, 4 prompts per micro-batch as before issue 16: the same 16 per step) and every
prediction and encoder stage on one thread.

A subset, so that it takes a bounded time (about 8 minutes on 2 idle cores): the decoder trains
`--steps` steps (the baseline `--baseline-steps`), predicts `--rows` test rows (generation and
constrained decoding); the encoder trains one epoch on `--encoder-rows` rows and predicts the
preset's test split. tokens/s counts whole examples (prompt and answer) for training, so a shared
prefix read once counts as often as the rows that use it, and prompt tokens for prediction. The
last line scales the decoder's rates to the recipe's full run.

    python benchmarks/mini.py [--data ../shared/data] [--threads 2]
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import REPO

from ftrepro import config as ftconfig
from ftrepro.data.massive import derive_massive
from ftrepro.models.base import prepare_base_model
from ftrepro.papers.zhao2025 import runs as zhao_runs

TASK, SUBTASKS, DATASET = "massive-intent", ["intent"], "massive"
DECODER, ENCODER = "llama3-8b", "roberta-base"  # paper names; the mini preset stands models behind them
MINI = ftconfig.load(REPO / "config" / "config.yaml", {"preset": "mini"})


# --------------------------------------------------------------------------- one stage (a child)


def run_stage(stage: dict) -> dict:
    """Run one stage in this process; its wall and CPU time, the process's peak RSS, its rates."""
    from ftrepro.workflow import limit_threads

    limit_threads(stage["threads"])
    work = STAGES[stage["name"]]
    usage, start = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    measures = work(stage)
    wall = time.perf_counter() - start
    end = resource.getrusage(resource.RUSAGE_SELF)
    cpu = end.ru_utime + end.ru_stime - usage.ru_utime - usage.ru_stime
    rates = {"rows/s": measures["rows"] / wall, "tokens/s": measures["tokens"] / wall}
    return {**stage, **measures, **rates, "wall_s": wall, "cpu_s": cpu, "peak_rss_mb": end.ru_maxrss / 1024}


def decoder_fit(stage: dict) -> dict:
    from transformers import AutoTokenizer

    from ftrepro.io import read_json, read_jsonl
    from ftrepro.models.encoding import encode_examples
    from ftrepro.papers.zhao2025.predict import training_examples
    from ftrepro.train.causal import train_causal_lm

    root, base = Path(stage["root"]), stage["decoder_base"]
    labels = read_json(root / DATASET / "labels.json")
    train = read_jsonl(root / DATASET / "train.jsonl")
    examples = [
        {"prompt": e["prompt"], "answer": e["answer"]}
        for e in training_examples(base, train, SUBTASKS, DATASET, labels, None)
    ]
    recipe = zhao_runs.decoder_hparams(MINI, DECODER)
    hparams = {**recipe, "max_steps": stage["steps"], "save_steps": 10**6, "shared_prefix": stage["shared"]}
    if not stage["shared"]:  # whole prompts as the recipe before issue 16 ran them: 4 per micro-batch
        hparams["per_device_train_batch_size"] = 4  # (16 whole prompts at once peak at ~17 GB RSS)
    summary = train_causal_lm(base, examples, hparams, stage["model_out"], root / f"ckpt-{stage['label']}")
    lengths = [
        len(f["input_ids"]) for f in encode_examples(AutoTokenizer.from_pretrained(base), examples, 10**6)
    ]
    rows = stage["steps"] * recipe["effective_batch_size"]
    return {"rows": rows, "tokens": rows * sum(lengths) / len(lengths), "train_s": summary["train_runtime"]}


def decoder_predict(stage: dict) -> dict:
    from transformers import AutoTokenizer

    from ftrepro.io import read_json, read_jsonl
    from ftrepro.models.encoding import encode_prompt
    from ftrepro.papers.zhao2025.predict import predict_records, rendered_examples

    root, model = Path(stage["root"]), stage["decoder_model"]
    labels = read_json(root / DATASET / "labels.json")
    test = read_jsonl(root / DATASET / "test.jsonl")[: stage["rows"]]
    examples = rendered_examples(model, test, SUBTASKS, DATASET, labels, None)
    recipe = zhao_runs.decoder_hparams(MINI, DECODER)
    predict_records(
        model,
        examples,
        SUBTASKS,
        DATASET,
        labels,
        max_new_tokens=recipe["max_new_tokens"],
        batch_size=recipe["predict_batch_size"],
        constrained=True,
    )
    tokenizer = AutoTokenizer.from_pretrained(model)
    return {
        "rows": len(examples),
        "tokens": sum(len(encode_prompt(tokenizer, e["prompt"])) for e in examples),
    }


def encoder_fit(stage: dict) -> dict:
    from ftrepro.train.multihead import train_encoder

    root = Path(stage["root"])
    hparams = {**zhao_runs.encoder_hparams(MINI, TASK), "num_train_epochs": 1}
    train_path = root / "encoder-train.jsonl"
    train_encoder(
        stage["encoder_base"],
        train_path,
        root / DATASET / "labels.json",
        SUBTASKS,
        hparams,
        stage["model_out"],
        root / f"ckpt-{stage['label']}",
        dev_path=root / DATASET / "dev.jsonl",  # the recipe scores dev after each epoch
    )
    return _encoder_work(stage["encoder_base"], train_path)


def encoder_predict(stage: dict) -> dict:
    from ftrepro.infer.multihead import predict_encoder

    test_path = Path(stage["root"]) / DATASET / "test.jsonl"
    predict_encoder(stage["encoder_model"], test_path, batch_size=64)
    return _encoder_work(stage["encoder_model"], test_path)


def _encoder_work(model_dir: str, path: Path) -> dict:
    from transformers import AutoTokenizer

    from ftrepro.io import read_jsonl

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    records = read_jsonl(path)
    return {"rows": len(records), "tokens": sum(len(tokenizer(r["text"])["input_ids"]) for r in records)}


STAGES = {
    "decoder fit": decoder_fit,
    "decoder predict": decoder_predict,
    "encoder fit": encoder_fit,
    "encoder predict": encoder_predict,
}


# --------------------------------------------------------------------------- the table (the parent)


def prepare(root: Path, data: Path, encoder_rows: int) -> dict:
    """The preset's MASSIVE splits and both base models in `root`."""
    raw = data / "massive" / "en-US.jsonl.gz"
    if not raw.is_file():
        sys.exit(f"{raw} not found: pass --data, a directory laid out like ../shared/data")
    plain = root / "en-US.jsonl"
    subprocess.run(f"gunzip -c {raw} > {plain}", shell=True, check=True)
    derive_massive(plain, root / DATASET, max_rows=MINI.data.caps(DATASET), seed=MINI.data.seed)
    train_lines = (root / DATASET / "train.jsonl").read_text().splitlines(keepends=True)
    (root / "encoder-train.jsonl").write_text("".join(train_lines[:encoder_rows]))
    paths = {"root": str(root)}
    for role, name, kind in (("decoder_base", DECODER, "decoder"), ("encoder_base", ENCODER, "encoder")):
        paths[role] = str(root / role)
        prepare_base_model(MINI.models[name].spec, kind, root / role)
    return paths


def measure(stage: dict) -> dict:
    result = subprocess.run(
        [sys.executable, __file__, "--stage", json.dumps(stage)], capture_output=True, text=True
    )
    if result.returncode != 0:
        sys.exit(f"stage {stage['label']} failed:\n{result.stderr[-3000:]}")
    measured = json.loads(result.stdout.strip().splitlines()[-1])
    print(f"  {stage['label']}: {measured['wall_s']:.0f} s", file=sys.stderr, flush=True)
    return measured


def plan(args, paths: dict) -> list[dict]:
    """The stages in order: each model is predicted from its fit with the mini recipe on
    `threads` threads (the first fit of its kind); the baselines' models are thrown away."""
    root, threads = Path(paths["root"]), args.threads
    models = {"decoder_model": str(root / "decoder-model"), "encoder_model": str(root / "encoder-model")}
    stages = [
        ("decoder fit", "shared prefix (mini recipe)", threads, {"steps": args.steps, "shared": True}),
        ("decoder fit", "whole prompts (baseline)", threads, {"steps": args.baseline_steps, "shared": False}),
        ("decoder predict", "generate + constrained", threads, {"rows": args.rows}),
        ("decoder predict", "generate + constrained", 1, {"rows": args.rows}),
        ("encoder fit", "1 epoch", threads, {}),
        ("encoder fit", "1 epoch", 1, {}),
        ("encoder predict", "test split", threads, {}),
        ("encoder predict", "test split", 1, {}),
    ]
    planned = []
    for i, (name, how, n, extra) in enumerate(stages):
        kind = name.split()[0]
        first_fit = name.endswith("fit") and not any(p["name"] == name for p in planned)
        model_out = models[f"{kind}_model"] if first_fit else str(root / f"thrown-away-{i}")
        label = f"{name}, {how}, {n} thread(s)"
        planned.append(
            {
                **paths,
                **models,
                **extra,
                "name": name,
                "how": how,
                "threads": n,
                "label": label,
                "model_out": model_out,
            }
        )
    return planned


def table(results: list[dict]) -> str:
    lines = [
        "| run | stage | how | threads | work | wall s | CPU s | peak RSS MB | rows/s | tokens/s |",
        "|---|---|---|---:|---|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        model, stage = r["name"].split()
        work = f"{r['steps']} steps" if "steps" in r else f"{r['rows']} rows"
        lines.append(
            f"| {model} | {stage} | {r['how']} | {r['threads']} | {work} | {r['wall_s']:.0f} | "
            f"{r['cpu_s']:.0f} | {r['peak_rss_mb']:.0f} | {r['rows/s']:.2f} | {r['tokens/s']:.0f} |"
        )
    return "\n".join(lines)


def full_run_estimate(results: list[dict]) -> str:
    """The decoder's measured rates, scaled to the recipe's steps and predicted rows."""
    recipe = zhao_runs.decoder_hparams(MINI, DECODER)
    fit, predict = results[0], results[2]
    loading = fit["wall_s"] - fit["train_s"]  # model, tokenizer, examples: once per run
    steps = fit["train_s"] * recipe["max_steps"] / fit["steps"]
    rows = predict["wall_s"] * (recipe["predict_rows"] or 0) / predict["rows"]
    return (
        f"At these rates the mini decoder run ({recipe['max_steps']} steps, {recipe['predict_rows']} rows) "
        f"takes about {(loading + steps + rows) / 60:.0f} min on {fit['threads']} thread(s): "
        f"{loading / 60:.1f} loading, {steps / 60:.1f} training, {rows / 60:.1f} predicting."
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--threads", type=int, default=2, help="a mini job's threads (resources.CPU_JOB)")
    parser.add_argument("--steps", type=int, default=12, help="decoder training steps (mini recipe)")
    parser.add_argument("--baseline-steps", type=int, default=2, help="decoder steps on whole prompts")
    parser.add_argument("--rows", type=int, default=64, help="decoder test rows predicted")
    parser.add_argument("--encoder-rows", type=int, default=2000, help="encoder training rows")
    parser.add_argument("--stage", help=argparse.SUPPRESS)  # a child: one stage, one JSON line
    args = parser.parse_args()
    if args.stage:
        print(json.dumps(run_stage(json.loads(args.stage))))
        return
    started = time.perf_counter()
    root = Path(tempfile.mkdtemp(prefix="ftrepro-mini-"))
    try:
        paths = prepare(root, args.data, args.encoder_rows)
        results = [measure(stage) for stage in plan(args, paths)]
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print(f"massive-intent on {args.data} (mini preset splits), torch threads pinned per stage")
    print(table(results))
    print(full_run_estimate(results))
    print(f"benchmark wall time: {(time.perf_counter() - started) / 60:.1f} min")


if __name__ == "__main__":
    main()
