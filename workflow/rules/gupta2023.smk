# gupta2023's rules: its job table (ftrepro.papers.gupta2023.jobs) gives each rule's outputs, log,
# work directory, inputs and resources. The pre-finetuned T5 that baseline 1 starts from is an
# ordinary output; STL and MTL fit jobs train, predict the test split and write predictions.jsonl
# (ftrepro.fit) in resources/scratch/gupta2023/<run>/, so a killed job resumes; the anchors and
# Tk-Instruct few-shot predict without training; the task-242 ablation is an STL fit per prompt.
# Then Tables 5.1/5.2, Figures 5.1-5.4, Figure 1.1 and the case study over every run of the matrix.
from ftrepro.papers.gupta2023 import jobs as gupta
from ftrepro.papers.gupta2023 import runs as gupta_runs

G = CFG.gupta2023
SEQ2SEQ_RECIPE = CFG.training["gupta2023-seq2seq"]


localrules:
    predict_gupta_anchor,
    gupta2023_prompt_tokens,
    gupta2023_report,


rule prefinetune_t5:
    """T5 trained on every SuperNI train task x 100 instances, without instructions."""
    input:
        unpack(job_inputs(gupta.PREFINETUNE)),
    output:
        directory(gupta.PREFINETUNE.output["model"]),
    log:
        gupta.PREFINETUNE.log,
    benchmark:
        gupta.PREFINETUNE.benchmark
    conda:
        "../../envs/train.yaml"
    threads: job_threads(gupta.PREFINETUNE)
    resources:
        **job_resources(gupta.PREFINETUNE),
    params:
        recipe=laid_out(gupta.PREFINETUNE, SEQ2SEQ_RECIPE),
        deepspeed=layout_deepspeed(gupta.PREFINETUNE),
        processes=layout_processes(gupta.PREFINETUNE),
        work_dir=gupta.PREFINETUNE.work_dir,
    script:
        "../scripts/prefinetune_t5.py"


rule fit_gupta_stl:
    """One model per SuperNI test task and setting (952 at paper scale); on SLURM they go out as
    job arrays (profiles/slurm)."""
    input:
        unpack(job_inputs(gupta.STL)),
    output:
        **gupta.STL.output,
    log:
        gupta.STL.log,
    benchmark:
        gupta.STL.benchmark
    conda:
        "../../envs/train.yaml"
    threads: job_threads(gupta.STL)
    resources:
        **job_resources(gupta.STL),
    params:
        tasks=["{superni_task}"],  # list params are formatted per item: no function per job
        setting=lambda wc: G.settings[wc.setting],
        recipe=laid_out(gupta.STL, SEQ2SEQ_RECIPE),
        deepspeed=layout_deepspeed(gupta.STL),
        processes=layout_processes(gupta.STL),
        predict_processes=layout_predict_processes(gupta.STL),
        work_dir=gupta.STL.work_dir,
        keep_dir=keep_dir(gupta.STL),
    script:
        "../scripts/fit_gupta.py"


# One model per setting on all test tasks at once: the STL rule on other outputs and tasks
use rule fit_gupta_stl as fit_gupta_mtl with:
    input:
        unpack(job_inputs(gupta.MTL)),
    output:
        **gupta.MTL.output,
    log:
        gupta.MTL.log,
    benchmark:
        gupta.MTL.benchmark
    threads: job_threads(gupta.MTL)
    resources:
        **job_resources(gupta.MTL),
    params:
        tasks=G.test_tasks,
        setting=lambda wc: G.settings[wc.setting],
        recipe=laid_out(gupta.MTL, SEQ2SEQ_RECIPE),
        deepspeed=layout_deepspeed(gupta.MTL),
        processes=layout_processes(gupta.MTL),
        predict_processes=layout_predict_processes(gupta.MTL),
        work_dir=gupta.MTL.work_dir,
        keep_dir=keep_dir(gupta.MTL),


# The task-242 ablation (§5.2.5): the STL rule with the run's prompt (STL and MTL have no `prompt`
# param: def-pos, and their jobs' params, hence fingerprints and finished outputs, stay as they were)
use rule fit_gupta_stl as fit_gupta_ablation with:
    input:
        unpack(job_inputs(gupta.ABLATION)),
    output:
        **gupta.ABLATION.output,
    log:
        gupta.ABLATION.log,
    benchmark:
        gupta.ABLATION.benchmark
    threads: job_threads(gupta.ABLATION)
    resources:
        **job_resources(gupta.ABLATION),
    params:
        tasks=["{superni_task}"],
        setting=lambda wc: G.settings[wc.setting],
        prompt="{prompt}",
        recipe=laid_out(gupta.ABLATION, SEQ2SEQ_RECIPE),
        deepspeed=layout_deepspeed(gupta.ABLATION),
        processes=layout_processes(gupta.ABLATION),
        predict_processes=layout_predict_processes(gupta.ABLATION),
        work_dir=gupta.ABLATION.work_dir,
        keep_dir=keep_dir(gupta.ABLATION),


rule predict_gupta_fewshot:
    """Tk-Instruct as released, without fine-tuning, on every test task's test instances:
    definition + 2 positive examples, Tk-Instruct's evaluation (the thesis's 54.30, Figure 1.1).
    """
    input:
        unpack(job_inputs(gupta.FEWSHOT)),
    output:
        **gupta.FEWSHOT.output,
    log:
        gupta.FEWSHOT.log,
    conda:
        "../../envs/train.yaml"
    threads: job_threads(gupta.FEWSHOT)
    resources:
        **job_resources(gupta.FEWSHOT),
    params:
        tasks=G.test_tasks,
        decoding={
            k: SEQ2SEQ_RECIPE[k]
            for k in ("predict_batch_size", "max_source_length", "max_target_length")
        },
        processes=predict_processes(gupta.FEWSHOT),
    script:
        "../scripts/predict_gupta_fewshot.py"


rule gupta2023_prompt_tokens:
    """The case study's prompt lengths: def-pos tokens of every derived test task's test
    instances, by the Tk-Instruct model's tokenizer (the thesis gives 1192, 1256, 781, 648).
    """
    input:
        unpack(job_inputs(gupta.PROMPT_TOKENS)),
    output:
        **gupta.PROMPT_TOKENS.output,
    log:
        gupta.PROMPT_TOKENS.log,
    conda:
        "../../envs/train.yaml"
    params:
        max_source_length=SEQ2SEQ_RECIPE["max_source_length"],
    script:
        "../scripts/gupta2023_prompt_tokens.py"


rule predict_gupta_anchor:
    """Tk-Instruct's heuristics without training: copy the input, or the first positive
    example's output (14.20 and 28.54 ROUGE-L on the full test split)."""
    input:
        unpack(job_inputs(gupta.ANCHOR)),
    output:
        **gupta.ANCHOR.output,
    log:
        gupta.ANCHOR.log,
    conda:
        "../../envs/evaluate.yaml"
    params:
        tasks=G.test_tasks,  # not the ablation's task that derive adds
    script:
        "../scripts/predict_gupta_anchor.py"


rule gupta2023_report:
    """Tables 5.1 and 5.2, Figures 5.1-5.4, the headline numbers, Figure 1.1 and the case study."""
    input:
        unpack(job_inputs(gupta.REPORT)),
    output:
        tables=report(gupta.REPORT.output["tables"], category="gupta2023"),
        figures=report(gupta.REPORT.output["figures"], category="gupta2023"),
    log:
        gupta.REPORT.log,
    conda:
        "../../envs/report.yaml"
    params:
        settings=G.settings,
        shared=SHARED["gupta2023"],
        shared_settings=gupta_runs.shared_settings(CFG, SHARED["gupta2023"]),
        stand_ins=papers.stand_ins(CFG, "gupta2023"),
        verdicts=VERDICTS["gupta2023"],
        synthetic=CFG.data.synthetic,
        deviations=DEVIATIONS["gupta2023"],
        case_study=G.case_study,
        ablation=gupta_runs.ablation_pair(CFG),
        preset=CFG.preset,
    script:
        "../scripts/gupta2023_report.py"
