"""Fine-tune an encoder with one head per subtask (zhao2025 section 5.4), then predict."""

from ftrepro.fit import fit_and_predict
from ftrepro.infer.multihead import predict_encoder
from ftrepro.train.launch import train_on_job_gpus
from ftrepro.train.multihead import train_encoder
from ftrepro.workflow import fingerprint, job

with job(snakemake) as log:  # noqa: F821 (snakemake is injected)
    sm = snakemake  # noqa: F821
    log.info("subtasks %s, hyperparameters %s", sm.params.subtasks, sm.params.hparams)
    records = fit_and_predict(
        train=lambda model_dir, checkpoint_dir: train_on_job_gpus(
            sm.params.processes,
            train_encoder,
            base_dir=sm.input.base,
            train_path=sm.input.train,
            dev_path=sm.input.get("dev"),
            labels_path=sm.input.labels,
            subtasks=sm.params.subtasks,
            hparams=sm.params.hparams,
            out_dir=model_dir,
            checkpoint_dir=checkpoint_dir,
        ),
        predict=lambda model_dir: predict_encoder(
            model_dir, sm.input.test, batch_size=sm.params.hparams["predict_batch_size"]
        ),
        fingerprint=fingerprint(sm),
        work_dir=sm.params.work_dir,
        keep_dir=sm.params.keep_dir,
        out_path=sm.output[0],
    )
    log.info("%d predictions", len(records))
