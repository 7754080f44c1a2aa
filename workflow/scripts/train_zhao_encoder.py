"""Fine-tune an encoder with one head per subtask (zhao2025 section 5.4)."""

from ftrepro.train.encoder import train_encoder
from ftrepro.workflow import logged

with logged(snakemake) as log:  # noqa: F821 (snakemake is injected)
    sm = snakemake  # noqa: F821
    log.info("subtasks %s, hyperparameters %s", sm.params.subtasks, sm.params.hparams)
    train_encoder(
        base_dir=sm.input.base,
        train_path=sm.input.train,
        labels_path=sm.input.labels,
        subtasks=sm.params.subtasks,
        hparams=sm.params.hparams,
        out_dir=sm.output[0],
        checkpoint_dir=sm.params.checkpoints,
    )
