# band2025's rules: its job table (ftrepro.papers.band2025.jobs) gives each rule's outputs, log,
# work directory, inputs and resources. The LLM property annotations and the encoders
# pre-finetuned on them are ordinary outputs; fit jobs train (the checkpoint chosen on the dev
# split), predict the test split and the competition's test rows and write predictions.jsonl
# (ftrepro.fit) in resources/scratch/band2025/<run>/, so a killed job resumes. Then the log-loss
# table, Figures 10/11 and Kaggle submissions per run.
from ftrepro.papers.band2025 import jobs as band

B = CFG.band2025


localrules:
    band2025_report,


rule annotate_arena:
    """20 properties per (prompt, response) from an LLM; resumable, or supplied by the user."""
    input:
        unpack(job_inputs(band.ANNOTATE)),
    output:
        **band.ANNOTATE.output,
    log:
        band.ANNOTATE.log,
    conda:
        "../../envs/train.yaml"
    threads: job_threads(band.ANNOTATE)
    resources:
        **job_resources(band.ANNOTATE),
    params:
        annotation=B.annotation,
        rows=B.annotation_rows,
        spec=CFG.models[B.annotator].spec,
        api=API_PARAMS,
        work_dir=band.ANNOTATE.work_dir,
    script:
        "../scripts/annotate_arena.py"


rule prefinetune_band_encoder:
    """20 heads (one per property, 4 ratings each) on the annotations, 5 epochs."""
    input:
        unpack(job_inputs(band.PREFINETUNE)),
    output:
        directory(band.PREFINETUNE.output["model"]),
    log:
        band.PREFINETUNE.log,
    benchmark:
        band.PREFINETUNE.benchmark
    conda:
        "../../envs/train.yaml"
    threads: job_threads(band.PREFINETUNE)
    resources:
        **job_resources(band.PREFINETUNE),
    params:
        hparams=laid_out(band.PREFINETUNE, CFG.training["band2025-prefinetune"]),
        allocation=B.allocation,
        processes=layout_processes(band.PREFINETUNE),
        work_dir=band.PREFINETUNE.work_dir,
    script:
        "../scripts/prefinetune_band_encoder.py"


rule fit_band_encoder:
    """Single or parallel BERT on the arena preferences (A / B / tie): the checkpoint of lowest
    dev loss, then the test split (and the competition's test rows) predicted."""
    input:
        unpack(job_inputs(band.ENCODER)),
    output:
        **band.ENCODER.output,
    log:
        band.ENCODER.log,
    benchmark:
        band.ENCODER.benchmark
    conda:
        "../../envs/train.yaml"
    threads: job_threads(band.ENCODER)
    resources:
        **job_resources(band.ENCODER),
    params:
        hparams=laid_out(band.ENCODER, CFG.training["band2025-encoder"]),
        allocation=B.allocation,
        # llm-augmented runs keep the lowest pre-finetuned layers as they are
        frozen_layers=lambda wc: (
            CFG.training["band2025-encoder"]["frozen_layers"]
            if wc.variant == band.LLM_AUGMENTED
            else 0
        ),
        processes=layout_processes(band.ENCODER),
        work_dir=band.ENCODER.work_dir,
        keep_dir=keep_dir(band.ENCODER),
    script:
        "../scripts/fit_band_encoder.py"


rule fit_band_lora:
    """Llama 3.1 8B sequence classifier with LoRA (r 4, alpha 8, q/v): the checkpoint of lowest
    dev loss, then the test split (and the competition's test rows) predicted."""
    input:
        unpack(job_inputs(band.LORA)),
    output:
        **band.LORA.output,
    log:
        band.LORA.log,
    benchmark:
        band.LORA.benchmark
    conda:
        "../../envs/train.yaml"
    threads: job_threads(band.LORA)
    resources:
        **job_resources(band.LORA),
    params:
        hparams=laid_out(band.LORA, CFG.training["band2025-lora"]),
        processes=layout_processes(band.LORA),
        work_dir=band.LORA.work_dir,
        keep_dir=keep_dir(band.LORA),
    script:
        "../scripts/fit_band_lora.py"


rule band2025_report:
    """Figure 10 (log loss per model), Figure 11 (gain over single DistilBERT), efficiency, Kaggle
    submissions of the test split's rows and of the competition's test rows."""
    input:
        unpack(job_inputs(band.REPORT)),
    output:
        # this preset's paths, as the submissions' (a file per tabled run) must be
        tables=report(of_preset(band.REPORT.output["tables"]), category="band2025"),
        figures=report(of_preset(band.REPORT.output["figures"]), category="band2025"),
        submissions=report_job(band.REPORT).outputs["submissions"],
        # the competition's test.csv rows; header only where the raw data has none
        competition=report_job(band.REPORT).outputs["competition"],
    log:
        of_preset(band.REPORT.log),
    conda:
        "../../envs/report.yaml"
    params:
        runs=RUNS["band2025"],
        shared=SHARED["band2025"],
        stand_ins=papers.stand_ins(CFG, "band2025"),
        verdicts=VERDICTS["band2025"],
        synthetic=CFG.data.synthetic,
        deviations=DEVIATIONS["band2025"],
        preset=CFG.preset,
    script:
        "../scripts/band2025_report.py"
