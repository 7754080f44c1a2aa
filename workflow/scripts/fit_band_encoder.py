"""Single / Parallel BERT on the arena preferences (band2025), the checkpoint chosen on the dev
split; then predict the test split and the competition's test rows."""

from ftrepro.fit import fit_and_predict
from ftrepro.io import write_jsonl
from ftrepro.papers.band2025.predict import predict_preference
from ftrepro.papers.band2025.train import train_preference
from ftrepro.train.launch import train_on_job_gpus
from ftrepro.workflow import fingerprint, job

with job(snakemake) as log:  # noqa: F821 (snakemake is injected)
    sm = snakemake  # noqa: F821
    hparams = sm.params.hparams
    log.info("%s %s", sm.wildcards.architecture, dict(sm.params.items()))

    def train(model_dir, checkpoint_dir):
        summary = train_on_job_gpus(
            sm.params.processes,
            train_preference,
            base_dir=sm.input.base,
            train_path=sm.input.train,
            eval_path=sm.input.dev,
            architecture=sm.wildcards.architecture,
            hparams=hparams,
            allocation_config=sm.params.allocation,
            out_dir=model_dir,
            checkpoint_dir=checkpoint_dir,
            frozen_layers=sm.params.frozen_layers,
        )
        log.info("trained: %s", summary)

    batch_size = hparams["per_device_train_batch_size"]

    def predict(model_dir):
        competition = predict_preference(model_dir, sm.input.competition_test, batch_size, labelled=False)
        log.info("%d competition test predictions", write_jsonl(sm.output.competition, competition))
        return predict_preference(model_dir, sm.input.test, batch_size)

    records = fit_and_predict(
        train=train,
        predict=predict,
        fingerprint=fingerprint(sm),
        work_dir=sm.params.work_dir,
        keep_dir=sm.params.keep_dir,
        out_path=sm.output[0],
    )
    log.info("%d predictions", len(records))
