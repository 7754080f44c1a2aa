"""The zhao2025 prompts through an OpenAI-compatible chat API (issue 4): resumable per record."""

from ftrepro.io import read_json
from ftrepro.papers.zhao2025.api_runs import predict_api
from ftrepro.papers.zhao2025.prompts import run_examples
from ftrepro.workflow import api_settings, fingerprint, job

with job(snakemake) as log:  # noqa: F821 (snakemake is injected)
    sm = snakemake  # noqa: F821
    labels = read_json(sm.input.labels)
    examples = run_examples(
        sm.params.task, sm.wildcards.shots, sm.input.train, sm.input.test, labels, sm.params.demo_seed
    )
    log.info(
        "%d %s prompts for %s at %s",
        len(examples),
        sm.wildcards.shots,
        sm.params.model_id,
        sm.params.api["base_url"] or "the default endpoint",
    )
    records = predict_api(
        examples,
        labels,
        sm.params.model_id,
        api_settings(sm),
        sm.output[0],
        work_dir=sm.params.work_dir,
        fingerprint=fingerprint(sm),
    )
    log.info(
        "%d predictions, %d unparsed, %d too long",
        len(records),
        sum(not r["parsed"] and not r["too_long"] for r in records),
        sum(r["too_long"] for r in records),
    )
