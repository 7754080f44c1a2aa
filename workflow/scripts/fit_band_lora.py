"""A decoder LLM as a LoRA sequence classifier on the arena preferences (band2025), the checkpoint
chosen on the dev split; then predict the test split and the competition's test rows."""

from ftrepro.fit import fit_and_predict
from ftrepro.io import write_jsonl
from ftrepro.papers.band2025.lora import predict_lora_classifier, train_lora_classifier
from ftrepro.train.launch import train_on_job_gpus
from ftrepro.workflow import fingerprint, job

with job(snakemake) as log:  # noqa: F821 (snakemake is injected)
    sm = snakemake  # noqa: F821
    hparams = sm.params.hparams
    log.info("hyperparameters %s", hparams)
    sizes = {"max_length": hparams["max_length"], "batch_size": hparams["predict_batch_size"]}

    def predict(model_dir):
        competition = predict_lora_classifier(
            sm.input.base, model_dir, sm.input.competition_test, labelled=False, **sizes
        )
        log.info("%d competition test predictions", write_jsonl(sm.output.competition, competition))
        return predict_lora_classifier(sm.input.base, model_dir, sm.input.test, **sizes)

    records = fit_and_predict(
        train=lambda model_dir, checkpoint_dir: train_on_job_gpus(
            sm.params.processes,
            train_lora_classifier,
            base_dir=sm.input.base,
            train_path=sm.input.train,
            eval_path=sm.input.dev,
            hparams=hparams,
            out_dir=model_dir,
            checkpoint_dir=checkpoint_dir,
        ),
        predict=predict,
        fingerprint=fingerprint(sm),
        work_dir=sm.params.work_dir,
        keep_dir=sm.params.keep_dir,
        out_path=sm.output[0],
    )
    log.info("%d predictions", len(records))
