"""Pre-finetune T5 on the SuperNI train tasks x 100 instances without instructions (baseline 1)."""

import shutil
from pathlib import Path

from ftrepro.data.superni import prefinetune_records
from ftrepro.fit import prepare_work_dir, tensorboard_dir, tensorboard_logs
from ftrepro.train.launch import train_on_job_gpus
from ftrepro.train.seq2seq import train_seq2seq
from ftrepro.workflow import fingerprint, job

with job(snakemake) as log:  # noqa: F821 (snakemake is injected)
    sm = snakemake  # noqa: F821
    hparams = {**sm.params.recipe, "instructions": False}
    work_dir = Path(sm.params.work_dir)
    # a rerun of the same job resumes its checkpoints; another configuration's are wiped
    prepare_work_dir(work_dir, fingerprint(sm))
    # curves in logs/<preset>/tensorboard/gupta2023/<model>/; the training log stays in the model directory
    with tensorboard_logs(tensorboard_dir("gupta2023", Path(sm.output[0]).name, sm.config["preset"])):
        summary = train_on_job_gpus(
            sm.params.processes,
            train_seq2seq,
            deepspeed=sm.params.deepspeed,
            base_dir=sm.input.base,
            records=prefinetune_records(sm.input.data),
            hparams=hparams,
            out_dir=sm.output[0],
            checkpoint_dir=work_dir / "checkpoints",
        )
    shutil.rmtree(work_dir)
    log.info("pre-finetuned: %s", summary)
