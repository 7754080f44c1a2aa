"""Tk-Instruct few-shot without fine-tuning (the thesis's Figure 1.1): the model as released predicts
every test task's test instances from the definition and two positive examples, as Tk-Instruct
evaluates. A seq2seq model decodes as the fine-tuned ones do; a decoder-only stand-in (the mini
preset's SmolLM2) reads the same source through its chat template."""

from ftrepro.data.sources import verify_checksums
from ftrepro.data.superni import task_records
from ftrepro.infer.seq2seq import predict_seq2seq
from ftrepro.io import write_jsonl
from ftrepro.papers.gupta2023.decoder_only import is_decoder_only, predict_superni_decoder
from ftrepro.train.launch import predict_on_job_gpus
from ftrepro.workflow import job

with job(snakemake) as log:  # noqa: F821 (snakemake is injected)
    sm = snakemake  # noqa: F821
    verify_checksums(sm.input.raw, [f"tasks/{task}.json" for task in sm.params.tasks])  # the prompts' sources
    decoding = sm.params.decoding
    test = task_records(sm.input.data, sm.params.tasks, "test")
    predict = predict_superni_decoder if is_decoder_only(sm.input.base) else predict_seq2seq
    log.info(
        "%d test records of %d tasks, %d process(es)", len(test), len(sm.params.tasks), sm.params.processes
    )
    records = predict_on_job_gpus(
        sm.params.processes,  # rows split between the GPUs when the model fits one
        predict,
        sm.input.base,
        test,
        instructions=True,
        batch_size=decoding["predict_batch_size"],
        max_source_length=decoding["max_source_length"],
        raw_dir=sm.input.raw,
        max_new_tokens=decoding["max_target_length"],  # Tk-Instruct: generation_max_length = 128
    )
    log.info("%d predictions", write_jsonl(sm.output[0], records))
