"""20-head pre-fine-tuning of a band2025 encoder on the LLM annotations (5 epochs)."""

import shutil
from pathlib import Path

from ftrepro.fit import prepare_work_dir, tensorboard_dir, tensorboard_logs
from ftrepro.papers.band2025.train import prefinetune_properties
from ftrepro.train.launch import train_on_job_gpus
from ftrepro.workflow import fingerprint, job

with job(snakemake) as log:  # noqa: F821 (snakemake is injected)
    sm = snakemake  # noqa: F821
    work_dir = Path(sm.params.work_dir)
    # a rerun of the same job resumes its checkpoints; another configuration's are wiped
    prepare_work_dir(work_dir, fingerprint(sm))
    # curves in logs/<preset>/tensorboard/band2025/<model>/; the training log stays in the model directory
    with tensorboard_logs(tensorboard_dir("band2025", Path(sm.output[0]).name, sm.config["preset"])):
        summary = train_on_job_gpus(
            sm.params.processes,
            prefinetune_properties,
            base_dir=sm.input.base,
            annotations_path=sm.input.annotations,
            train_path=sm.input.train,
            hparams=sm.params.hparams,
            allocation_config=sm.params.allocation,
            out_dir=sm.output[0],
            checkpoint_dir=work_dir / "checkpoints",
        )
    shutil.rmtree(work_dir)
    log.info("pre-finetuned: %s", summary)
