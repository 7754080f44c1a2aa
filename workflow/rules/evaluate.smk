# Runs without training: prompted open decoders as released and API models ->
# results/<paper>/<run>/predictions.jsonl (fit jobs in train.smk write theirs). Then every
# run's score: predictions (gold labels included) -> metrics.json, a local job without GPU, so a
# metric fix rescores every run without touching a GPU.


localrules:
    predict_zhao_api,
    predict_gupta_anchor,
    score,


rule predict_zhao_decoder:
    """Greedy generation from the listings' prompts; five-shot examples from the train split."""
    input:
        unpack(zhao_data),
        model=base_model("{decoder}"),
    output:
        predictions("zhao2025", ZHAO_DECODER["noft"]),
    log:
        run_log("zhao2025", "predict", ZHAO_DECODER["noft"]),
    conda:
        "../../envs/train.yaml"
    threads: sized("inference", "decoder")["cpus_per_task"]
    resources:
        **sized("inference", "decoder"),
    params:
        subtasks=lambda wc: Z.tasks[wc.task].subtasks,
        dataset=lambda wc: Z.tasks[wc.task].dataset,
        # generation settings of the fine-tuned runs, so that ft and noft differ only in training
        decoding={
            k: CFG.training["zhao2025-decoder"][k]
            for k in ("max_new_tokens", "predict_batch_size", "predict_rows")
        },
        demo_seed=CFG.data.seed,
        constrained=Z.constrained_decoding,
        processes=predict_processes("decoder"),
    script:
        "../scripts/predict_zhao_decoder.py"


rule predict_zhao_api:
    """The same prompts through an OpenAI-compatible API (config api; key from api.key_env).
    Answers are appended to the work dir as they come, so a killed job resumes."""
    input:
        unpack(zhao_data),
    output:
        predictions("zhao2025", ZHAO_API),
    log:
        run_log("zhao2025", "predict", ZHAO_API),
    conda:
        "../../envs/train.yaml"
    params:
        model_id=lambda wc: CFG.models[wc.api_model].spec["api"],
        task=lambda wc: asdict(Z.tasks[wc.task]),
        demo_seed=CFG.data.seed,
        api=API_PARAMS,
        work_dir=work_dir("zhao2025", ZHAO_API),
    script:
        "../scripts/predict_zhao_api.py"


rule predict_gupta_anchor:
    """Tk-Instruct's heuristics without training: copy the input, or the first positive
    example's output (14.20 and 28.54 ROUGE-L on the full test split)."""
    input:
        raw="resources/raw/superni",
        data="resources/derived/superni",
    output:
        predictions("gupta2023", GUPTA_ANCHOR),
    log:
        run_log("gupta2023", "predict", GUPTA_ANCHOR),
    conda:
        "../../envs/evaluate.yaml"
    script:
        "../scripts/predict_gupta_anchor.py"


rule score:
    """Metrics of a run's predictions; releases the run's work directory, where a fit keeps its
    predictions until snakemake has recorded it as finished (ftrepro.fit)."""
    input:
        predictions("{paper}", "{run}"),
    output:
        "results/{paper}/{run}/metrics.json",
    log:
        run_log("{paper}", "score", "{run}"),
    conda:
        "../../envs/evaluate.yaml"
    params:
        # every metric's 95% interval: a seeded percentile bootstrap over the test rows
        bootstrap={"resamples": CFG.stats.resamples, "seed": CFG.stats.seed},
        work_dir=work_dir("{paper}", "{run}"),
    script:
        "../scripts/score.py"
