# predict: a model's outputs on the test split -> results/<paper>/<run>/predictions.jsonl, each
# line carrying its gold labels; score: predictions -> metrics.json (a local job, no GPU, so a
# metric fix rescores every run without touching a GPU).


localrules:
    predict_zhao_api,
    score,


# ---------------------------------------------------------------- zhao2025


rule predict_zhao_encoder:
    input:
        model="resources/models/zhao2025/{task}.{encoder}.ft",
        test=lambda wc: derived(zhao_dataset(wc), "test"),
    output:
        "results/zhao2025/{task}.{encoder}.ft/predictions.jsonl",
    params:
        batch_size=64,
    threads: sized_threads("inference", wildcard="encoder")
    resources:
        **sized_resources("inference", wildcard="encoder"),
    log:
        "logs/zhao2025/predict/{task}.{encoder}.ft.log",
    script:
        "../scripts/predict_zhao_encoder.py"


def zhao_decoder_model(wildcards):
    if wildcards.mode == "ft":
        return f"resources/models/zhao2025/{wildcards.task}.{wildcards.decoder}.{wildcards.shots}.ft"
    return base_model(wildcards.decoder)


rule predict_zhao_decoder:
    """Greedy generation from the listings' prompts; five-shot examples from the train split."""
    input:
        model=zhao_decoder_model,
        train=lambda wc: derived(zhao_dataset(wc), "train"),
        test=lambda wc: derived(zhao_dataset(wc), "test"),
        labels=lambda wc: labels(zhao_dataset(wc)),
    output:
        "results/zhao2025/{task}.{decoder}.{shots}.{mode}/predictions.jsonl",
    threads: sized_threads("inference", wildcard="decoder")
    resources:
        **sized_resources("inference", wildcard="decoder"),
    log:
        "logs/zhao2025/predict/{task}.{decoder}.{shots}.{mode}.log",
    script:
        "../scripts/predict_zhao_decoder.py"


rule predict_zhao_api:
    """The same prompts through an OpenAI-compatible API (key from OPENAI_API_KEY)."""
    input:
        train=lambda wc: derived(zhao_dataset(wc), "train"),
        test=lambda wc: derived(zhao_dataset(wc), "test"),
        labels=lambda wc: labels(zhao_dataset(wc)),
    output:
        "results/zhao2025/{task}.{api_model}.{shots}.noft/predictions.jsonl",
    params:
        model_id=lambda wc: ftconfig.model_spec(config, wc.api_model)["api"],
    log:
        "logs/zhao2025/predict/{task}.{api_model}.{shots}.noft.log",
    script:
        "../scripts/predict_zhao_api.py"


# ---------------------------------------------------------------- gupta2023


rule predict_gupta_stl:
    input:
        model="resources/models/gupta2023/stl.{superni_task}.{setting}",
        data="resources/derived/superni",
    output:
        "results/gupta2023/stl.{superni_task}.{setting}/predictions.jsonl",
    params:
        setting=lambda wc: G["settings"][wc.setting],
        tasks=lambda wc: [wc.superni_task],
    threads: sized_threads("inference", wildcard="setting")
    resources:
        **sized_resources("inference", wildcard="setting"),
    log:
        "logs/gupta2023/predict/stl.{superni_task}.{setting}.log",
    script:
        "../scripts/predict_gupta.py"


rule predict_gupta_mtl:
    input:
        model="resources/models/gupta2023/mtl.{setting}",
        data="resources/derived/superni",
    output:
        "results/gupta2023/mtl.{setting}/predictions.jsonl",
    params:
        setting=lambda wc: G["settings"][wc.setting],
        tasks=SUPERNI_TASKS,
    threads: sized_threads("inference", wildcard="setting")
    resources:
        **sized_resources("inference", wildcard="setting"),
    log:
        "logs/gupta2023/predict/mtl.{setting}.log",
    script:
        "../scripts/predict_gupta.py"


# ---------------------------------------------------------------- band2025


rule predict_band_encoder:
    input:
        model="resources/models/band2025/{band_encoder}.{architecture}.{variant}",
        validation=derived("arena", "validation"),
    output:
        "results/band2025/{band_encoder}.{architecture}.{variant}/predictions.jsonl",
    threads: sized_threads("inference", wildcard="band_encoder")
    resources:
        **sized_resources("inference", wildcard="band_encoder"),
    log:
        "logs/band2025/predict/{band_encoder}.{architecture}.{variant}.log",
    script:
        "../scripts/predict_band.py"


rule predict_band_lora:
    input:
        model="resources/models/band2025/{llm}.lora",
        validation=derived("arena", "validation"),
    output:
        "results/band2025/{llm}.lora/predictions.jsonl",
    threads: sized_threads("inference", wildcard="llm")
    resources:
        **sized_resources("inference", wildcard="llm"),
    log:
        "logs/band2025/predict/{llm}.lora.log",
    script:
        "../scripts/predict_band.py"


# ---------------------------------------------------------------- every paper


rule score:
    input:
        "results/{paper}/{run}/predictions.jsonl",
    output:
        "results/{paper}/{run}/metrics.json",
    log:
        "logs/{paper}/score/{run}.log",
    script:
        "../scripts/score.py"
