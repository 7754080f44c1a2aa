"""Generation (and constrained decoding) from the zhao2025 prompts with an open decoder as
released, without fine-tuning; five-shot examples from the train split."""

from ftrepro.io import read_json, read_jsonl, write_jsonl
from ftrepro.papers.zhao2025.predict import predict_records, rendered_examples
from ftrepro.papers.zhao2025.prompts import task_demos
from ftrepro.workflow import job

with job(snakemake) as log:  # noqa: F821 (snakemake is injected)
    sm = snakemake  # noqa: F821
    subtasks, dataset, decoding = sm.params.subtasks, sm.params.dataset, sm.params.decoding
    labels = read_json(sm.input.labels)
    demos = task_demos(read_jsonl(sm.input.train), subtasks, sm.wildcards.shots, sm.params.demo_seed)
    test = rendered_examples(sm.input.model, read_jsonl(sm.input.test), subtasks, dataset, labels, demos)
    log.info("%s %s: %d test prompts", sm.wildcards.task, sm.wildcards.shots, len(test))
    records = predict_records(
        sm.input.model,
        test,
        subtasks,
        dataset,
        labels,
        max_new_tokens=decoding["max_new_tokens"],
        batch_size=decoding["predict_batch_size"],
        constrained=sm.params.constrained,
    )
    log.info("%d predictions", write_jsonl(sm.output[0], records))
