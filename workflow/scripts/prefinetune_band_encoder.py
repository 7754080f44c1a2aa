"""20-head pre-fine-tuning of a band2025 encoder on the LLM annotations (5 epochs)."""

import shutil
from pathlib import Path

from ftrepro.fit import job_fingerprint, prepare_work_dir
from ftrepro.papers.band2025.train import prefinetune_properties
from ftrepro.workflow import job

with job(snakemake) as log:  # noqa: F821 (snakemake is injected)
    sm = snakemake  # noqa: F821
    work_dir = Path(sm.params.work_dir)
    # a rerun of the same job resumes its checkpoints; another configuration's are wiped
    prepare_work_dir(
        work_dir,
        job_fingerprint({"hparams": sm.params.hparams, "allocation": sm.params.allocation}, list(sm.input)),
    )
    summary = prefinetune_properties(
        sm.input.base,
        sm.input.annotations,
        sm.input.train,
        sm.params.hparams,
        sm.params.allocation,
        out_dir=sm.output[0],
        checkpoint_dir=work_dir / "checkpoints",
    )
    shutil.rmtree(work_dir)
    log.info("pre-finetuned: %s", summary)
