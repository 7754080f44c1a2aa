"""Prompted full fine-tuning of an open decoder on one zhao2025 task (section 5.7), loss on the
answer tokens, then generation (and constrained decoding) on the test split. GPU jobs train on
every GPU of the job under torchrun, with the recipe's DeepSpeed config, and predict with the rows
split between the GPUs when the model fits one (ftrepro.train.launch)."""

from ftrepro.data import cap_rows
from ftrepro.fit import fit_and_predict
from ftrepro.io import read_json, read_jsonl
from ftrepro.papers.zhao2025.predict import predict_records, rendered_examples, training_examples
from ftrepro.papers.zhao2025.prompts import task_demos
from ftrepro.train.causal import train_causal_lm
from ftrepro.train.launch import predict_on_job_gpus, train_on_job_gpus
from ftrepro.workflow import fingerprint, job

with job(snakemake) as log:  # noqa: F821 (snakemake is injected)
    sm = snakemake  # noqa: F821
    subtasks, dataset, hparams = sm.params.subtasks, sm.params.dataset, sm.params.hparams
    labels = read_json(sm.input.labels)
    train = read_jsonl(sm.input.train)
    demos = task_demos(train, subtasks, sm.wildcards.shots, sm.params.demo_seed)
    examples = [
        {"prompt": e["prompt"], "answer": e["answer"]}
        for e in training_examples(sm.input.base, train, subtasks, dataset, labels, demos)
    ]
    test_records = cap_rows(read_jsonl(sm.input.test), hparams["predict_rows"], sm.params.demo_seed)
    test = rendered_examples(sm.input.base, test_records, subtasks, dataset, labels, demos)
    log.info(
        "%s %s: %d training examples, %d test prompts, %d process(es), hyperparameters %s",
        sm.wildcards.task,
        sm.wildcards.shots,
        len(examples),
        len(test),
        sm.params.processes,
        hparams,
    )
    predictions = fit_and_predict(
        train=lambda model_dir, checkpoint_dir: train_on_job_gpus(
            sm.params.processes,
            train_causal_lm,
            deepspeed=sm.params.deepspeed,
            base_dir=sm.input.base,
            examples=examples,
            hparams=hparams,
            out_dir=model_dir,
            checkpoint_dir=checkpoint_dir,
        ),
        predict=lambda model_dir: predict_on_job_gpus(
            sm.params.predict_processes,
            predict_records,
            model_dir,
            test,
            subtasks=subtasks,
            dataset=dataset,
            labels=labels,
            max_new_tokens=hparams["max_new_tokens"],
            batch_size=hparams["predict_batch_size"],
            constrained=sm.params.constrained,
        ),
        fingerprint=fingerprint(sm),
        work_dir=sm.params.work_dir,
        keep_dir=sm.params.keep_dir,
        out_path=sm.output[0],
    )
    log.info("%d predictions", len(predictions))
