"""Generation (and constrained decoding) from the zhao2025 prompts with an open decoder as
released, without fine-tuning; five-shot examples from the train split. A 70B model is spread over
the job's GPUs; a smaller one predicts on all of them, the rows split (ftrepro.train.launch)."""

from ftrepro.data import cap_rows
from ftrepro.io import read_json, read_jsonl, write_jsonl
from ftrepro.papers.zhao2025.predict import predict_records, rendered_examples
from ftrepro.papers.zhao2025.prompts import task_demos
from ftrepro.train.launch import predict_on_job_gpus
from ftrepro.workflow import job

with job(snakemake) as log:  # noqa: F821 (snakemake is injected)
    sm = snakemake  # noqa: F821
    subtasks, dataset, decoding = sm.params.subtasks, sm.params.dataset, sm.params.decoding
    labels = read_json(sm.input.labels)
    demos = task_demos(read_jsonl(sm.input.train), subtasks, sm.wildcards.shots, sm.params.demo_seed)
    test_records = cap_rows(read_jsonl(sm.input.test), decoding["predict_rows"], sm.params.demo_seed)
    test = rendered_examples(sm.input.model, test_records, subtasks, dataset, labels, demos)
    log.info(
        "%s %s: %d test prompts, %d process(es)",
        sm.wildcards.task,
        sm.wildcards.shots,
        len(test),
        sm.params.processes,
    )
    records = predict_on_job_gpus(
        sm.params.processes,  # rows split between the GPUs when the model fits one
        predict_records,
        sm.input.model,
        test,
        subtasks=subtasks,
        dataset=dataset,
        labels=labels,
        max_new_tokens=decoding["max_new_tokens"],
        batch_size=decoding["predict_batch_size"],
        constrained=sm.params.constrained,
    )
    log.info("%d predictions", write_jsonl(sm.output[0], records))
