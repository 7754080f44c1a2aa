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
        model=lambda wc: base_model(wc.decoder),
        train=lambda wc: derived(zhao_dataset(wc), "train"),
        test=lambda wc: derived(zhao_dataset(wc), "test"),
        labels=lambda wc: labels(zhao_dataset(wc)),
    output:
        "results/zhao2025/{task}.{decoder}.{shots}.noft/predictions.jsonl",
    log:
        "logs/zhao2025/predict/{task}.{decoder}.{shots}.noft.log",
    conda:
        "../../envs/train.yaml"
    threads: sized_threads("inference", wildcard="decoder")
    resources:
        **sized_resources("inference", wildcard="decoder"),
    params:
        subtasks=lambda wc: Z["tasks"][wc.task]["subtasks"],
        dataset=zhao_dataset,
        # generation settings of the fine-tuned runs, so that ft and noft differ only in training
        decoding={
            k: ZHAO_DECODER_RECIPE[k] for k in ("max_new_tokens", "predict_batch_size")
        },
        demo_seed=config["data"]["seed"],
        constrained=Z["constrained_decoding"],
    script:
        "../scripts/predict_zhao_decoder.py"


rule predict_zhao_api:
    """The same prompts through an OpenAI-compatible API (config api; key from api.key_env).
    Answers are appended to the work dir as they come, so a killed job resumes."""
    input:
        train=lambda wc: derived(zhao_dataset(wc), "train"),
        test=lambda wc: derived(zhao_dataset(wc), "test"),
        labels=lambda wc: labels(zhao_dataset(wc)),
    output:
        "results/zhao2025/{task}.{api_model}.{shots}.noft/predictions.jsonl",
    log:
        "logs/zhao2025/predict/{task}.{api_model}.{shots}.noft.log",
    conda:
        "../../envs/train.yaml"
    params:
        model_id=lambda wc: ftconfig.model_spec(config, wc.api_model)["api"],
        task=lambda wc: Z["tasks"][wc.task],
        demo_seed=config["data"]["seed"],
        api=config["api"],
        work_dir="resources/scratch/zhao2025/{task}.{api_model}.{shots}.noft",
    script:
        "../scripts/predict_zhao_api.py"


rule predict_gupta_anchor:
    """Tk-Instruct's heuristics without training: copy the input, or the first positive
    example's output (14.20 and 28.54 ROUGE-L on the full test split)."""
    input:
        raw="resources/raw/superni",
        data="resources/derived/superni",
    output:
        "results/gupta2023/anchor.{method}/predictions.jsonl",
    log:
        "logs/gupta2023/predict/anchor.{method}.log",
    wildcard_constraints:
        method=one_of(gupta_runs.ANCHORS),
    conda:
        "../../envs/evaluate.yaml"
    script:
        "../scripts/predict_gupta_anchor.py"


rule score:
    input:
        "results/{paper}/{run}/predictions.jsonl",
    output:
        "results/{paper}/{run}/metrics.json",
    log:
        "logs/{paper}/score/{run}.log",
    conda:
        "../../envs/evaluate.yaml"
    script:
        "../scripts/score.py"
