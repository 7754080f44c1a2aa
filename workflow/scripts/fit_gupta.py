"""Fine-tune a model on SuperNI tasks (one task: STL and the ablation; all: MTL), then predict
their test split. A seq2seq model (T5, Tk-Instruct) trains as Tk-Instruct does; a decoder-only one
(the mini preset's SmolLM2) on the same sources through its chat template. With instructions the
source is the rule's prompt (ftrepro.data.superni.PROMPTS) in training and prediction alike."""

from ftrepro.data.sources import verify_checksums
from ftrepro.data.superni import DEF_POS, task_records
from ftrepro.fit import fit_and_predict
from ftrepro.infer.seq2seq import predict_seq2seq
from ftrepro.papers.gupta2023.decoder_only import (
    is_decoder_only,
    predict_superni_decoder,
    train_superni_decoder,
)
from ftrepro.train.launch import predict_on_job_gpus, train_on_job_gpus
from ftrepro.train.seq2seq import train_seq2seq
from ftrepro.workflow import fingerprint, job

with job(snakemake) as log:  # noqa: F821 (snakemake is injected)
    sm = snakemake  # noqa: F821
    verify_checksums(sm.input.raw, [f"tasks/{task}.json" for task in sm.params.tasks])  # the prompts' sources
    setting, recipe = sm.params.setting, sm.params.recipe
    prompt = sm.params.get("prompt", DEF_POS)  # only the ablation's rule names one
    hparams = {**recipe, "instructions": setting["instructions"], "prompt": prompt}
    records = task_records(sm.input.data, sm.params.tasks, "train", setting["samples"])
    test = task_records(sm.input.data, sm.params.tasks, "test")
    train, predict = (
        (train_superni_decoder, predict_superni_decoder)
        if is_decoder_only(sm.input.base)
        else (train_seq2seq, predict_seq2seq)
    )
    log.info(
        "setting %s (%s): %d training records, %d test records",
        setting,
        train.__name__,
        len(records),
        len(test),
    )
    predictions = fit_and_predict(
        train=lambda model_dir, checkpoint_dir: train_on_job_gpus(
            sm.params.processes,
            train,
            deepspeed=sm.params.deepspeed,
            base_dir=sm.input.base,
            records=records,
            hparams=hparams,
            out_dir=model_dir,
            checkpoint_dir=checkpoint_dir,
            raw_dir=sm.input.raw,
        ),
        predict=lambda model_dir: predict_on_job_gpus(
            sm.params.predict_processes,  # rows split between the GPUs (if the model fits one)
            predict,
            model_dir,
            test,
            instructions=setting["instructions"],
            prompt=prompt,
            batch_size=recipe["predict_batch_size"],
            max_source_length=recipe["max_source_length"],
            raw_dir=sm.input.raw,
            max_new_tokens=recipe["max_target_length"],  # Tk-Instruct: generation_max_length = 128
        ),
        fingerprint=fingerprint(sm),
        work_dir=sm.params.work_dir,
        keep_dir=sm.params.keep_dir,
        out_path=sm.output[0],
    )
    log.info("%d predictions", len(predictions))
