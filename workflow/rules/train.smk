# One fit job per trained model: train, predict the test split, write predictions.jsonl
# (ftrepro.fit). Work happens in resources/scratch/<paper>/<run>/, not a declared output, so a
# killed job's checkpoints survive and a rerun resumes them. Weights are kept in
# resources/models/<paper>/<run>/ only with keep_checkpoints: true. Pre-finetuned models that
# other runs start from are ordinary outputs.


def zhao_encoder_hparams(wildcards):
    recipe = ftconfig.training_recipe(config, "zhao2025-encoder")
    return {**recipe, "epochs": recipe["epochs"][zhao_dataset(wildcards)]}


def fit_params(wildcards, output):
    """Where a fit job works and, with keep_checkpoints, where its weights stay: named after the
    run directory of its output, results/<paper>/<run>/predictions.jsonl."""
    _, paper, run, _ = Path(output[0]).parts
    return {
        "work_dir": f"resources/scratch/{paper}/{run}",
        "keep_dir": (
            f"resources/models/{paper}/{run}" if config["keep_checkpoints"] else None
        ),
    }


# ---------------------------------------------------------------- zhao2025


rule fit_zhao_encoder:
    """RoBERTa with one head per subtask (sequence or first-sub-word token head)."""
    input:
        base=lambda wc: base_model(wc.encoder),
        train=lambda wc: derived(zhao_dataset(wc), "train"),
        test=lambda wc: derived(zhao_dataset(wc), "test"),
        labels=lambda wc: labels(zhao_dataset(wc)),
    output:
        "results/zhao2025/{task}.{encoder}.ft/predictions.jsonl",
    log:
        "logs/zhao2025/fit/{task}.{encoder}.ft.log",
    benchmark:
        "logs/zhao2025/fit/{task}.{encoder}.ft.benchmark.tsv"
    conda:
        "../../envs/train.yaml"
    threads: sized_threads("full", wildcard="encoder")
    resources:
        **sized_resources("full", wildcard="encoder"),
    params:
        subtasks=lambda wc: Z["tasks"][wc.task]["subtasks"],
        hparams=zhao_encoder_hparams,
        fit=fit_params,
    script:
        "../scripts/fit_zhao_encoder.py"


ZHAO_DECODER_RECIPE = ftconfig.training_recipe(config, "zhao2025-decoder")


def zhao_decoder_size(wildcards):
    """The paper's small (7-8B) or large (70B) recipe, by the model's paper-scale size."""
    params_b = config["models"][wildcards.decoder]["params_b"]
    return (
        "large" if params_b >= ZHAO_DECODER_RECIPE["large_from_params_b"] else "small"
    )


def zhao_decoder_hparams(wildcards):
    recipe = {k: v for k, v in ZHAO_DECODER_RECIPE.items() if k != "deepspeed"}
    return {**recipe, "max_steps": recipe["max_steps"][zhao_decoder_size(wildcards)]}


def zhao_decoder_deepspeed(wildcards):
    """ZeRO-2 (optimizer offload) for 7-8B, ZeRO-3 (optimizer offload) for 70B; none on CPU presets."""
    if not ftconfig.uses_gpu(config):
        return None
    return ZHAO_DECODER_RECIPE["deepspeed"][zhao_decoder_size(wildcards)]


rule fit_zhao_decoder:
    """Prompted full fine-tuning of a Llama model (DeepSpeed), loss on the answer tokens."""
    input:
        base=lambda wc: base_model(wc.decoder),
        train=lambda wc: derived(zhao_dataset(wc), "train"),
        test=lambda wc: derived(zhao_dataset(wc), "test"),
        labels=lambda wc: labels(zhao_dataset(wc)),
    output:
        "results/zhao2025/{task}.{decoder}.{shots}.ft/predictions.jsonl",
    log:
        "logs/zhao2025/fit/{task}.{decoder}.{shots}.ft.log",
    benchmark:
        "logs/zhao2025/fit/{task}.{decoder}.{shots}.ft.benchmark.tsv"
    conda:
        "../../envs/train.yaml"
    threads: sized_threads("full", wildcard="decoder")
    resources:
        **sized_resources("full", wildcard="decoder"),
    params:
        subtasks=lambda wc: Z["tasks"][wc.task]["subtasks"],
        dataset=zhao_dataset,
        hparams=zhao_decoder_hparams,
        deepspeed=zhao_decoder_deepspeed,
        demo_seed=config["data"]["seed"],
        constrained=Z["constrained_decoding"],
        fit=fit_params,
    script:
        "../scripts/fit_zhao_decoder.py"


# ---------------------------------------------------------------- gupta2023


SEQ2SEQ_RECIPE = ftconfig.training_recipe(config, "gupta2023-seq2seq")
# DeepSpeed (ZeRO-2 with optimizer offload) on GPUs; plain PyTorch on CPU presets
SEQ2SEQ_DEEPSPEED = SEQ2SEQ_RECIPE["deepspeed"] if ftconfig.uses_gpu(config) else None


def gupta_start(wildcards):
    """Baselines that start from the pre-finetuned T5 take it; the rest the base model."""
    setting = G["settings"][wildcards.setting]
    if setting["init"] == "prefinetuned":
        return "resources/models/gupta2023/prefinetuned"
    return base_model(setting["model"])


rule prefinetune_t5:
    """T5 trained on every SuperNI train task x 100 instances, without instructions."""
    input:
        base=base_model(G["prefinetune"]["model"]),
        data="resources/derived/superni",
    output:
        directory("resources/models/gupta2023/prefinetuned"),
    log:
        "logs/gupta2023/fit/prefinetuned.log",
    benchmark:
        "logs/gupta2023/fit/prefinetuned.benchmark.tsv"
    conda:
        "../../envs/train.yaml"
    threads: sized_threads("full", model=G["prefinetune"]["model"])
    resources:
        **sized_resources("full", model=G["prefinetune"]["model"]),
    params:
        recipe=SEQ2SEQ_RECIPE,
        deepspeed=SEQ2SEQ_DEEPSPEED,
        work_dir="resources/scratch/gupta2023/prefinetuned",
    script:
        "../scripts/prefinetune_t5.py"


rule fit_gupta_stl:
    """One model per SuperNI test task and setting (952 at paper scale); on SLURM they go out as
    job arrays (profiles/slurm)."""
    input:
        base=gupta_start,
        data="resources/derived/superni",
        raw="resources/raw/superni",  # definitions and examples of the instruction prompt
    output:
        "results/gupta2023/stl.{superni_task}.{setting}/predictions.jsonl",
    log:
        "logs/gupta2023/fit/stl.{superni_task}.{setting}.log",
    benchmark:
        "logs/gupta2023/fit/stl.{superni_task}.{setting}.benchmark.tsv"
    conda:
        "../../envs/train.yaml"
    threads: sized_threads("full", wildcard="setting")
    resources:
        **sized_resources("full", wildcard="setting"),
    params:
        tasks=lambda wc: [wc.superni_task],
        setting=lambda wc: G["settings"][wc.setting],
        recipe=SEQ2SEQ_RECIPE,
        deepspeed=SEQ2SEQ_DEEPSPEED,
        fit=fit_params,
    script:
        "../scripts/fit_gupta.py"


rule fit_gupta_mtl:
    """One model per setting on all test tasks at once."""
    input:
        base=gupta_start,
        data="resources/derived/superni",
        raw="resources/raw/superni",
    output:
        "results/gupta2023/mtl.{setting}/predictions.jsonl",
    log:
        "logs/gupta2023/fit/mtl.{setting}.log",
    benchmark:
        "logs/gupta2023/fit/mtl.{setting}.benchmark.tsv"
    conda:
        "../../envs/train.yaml"
    threads: sized_threads("full", wildcard="setting")
    resources:
        **sized_resources("full", wildcard="setting"),
    params:
        tasks=SUPERNI_TASKS,
        setting=lambda wc: G["settings"][wc.setting],
        recipe=SEQ2SEQ_RECIPE,
        deepspeed=SEQ2SEQ_DEEPSPEED,
        fit=fit_params,
    script:
        "../scripts/fit_gupta.py"


# ---------------------------------------------------------------- band2025


ANNOTATION = B["annotation"]
ANNOTATOR_SPEC = ftconfig.model_spec(config, B["annotator"])


def annotator_model(wildcards):
    """A local annotator's base model; none for an API one or a supplied file."""
    local = not ANNOTATION["file"] and "api" not in ANNOTATOR_SPEC
    return [base_model(B["annotator"])] if local else []


rule annotate_arena:
    """20 properties per (prompt, response) from an LLM; resumable, or supplied by the user."""
    input:
        model=annotator_model,
        supplied=[ANNOTATION["file"]] if ANNOTATION["file"] else [],
        train=derived("arena", "train"),
    output:
        "resources/annotations/band2025/properties.jsonl",
    log:
        "logs/band2025/annotate_arena.log",
    conda:
        "../../envs/train.yaml"
    threads: sized_threads("inference", model=B["annotator"])
    resources:
        **sized_resources("inference", model=B["annotator"]),
    params:
        annotation=ANNOTATION,
        rows=min(
            ANNOTATION["rows"],
            ftconfig.preset(config)["data"].get("annotation_rows", ANNOTATION["rows"]),
        ),
        spec=ANNOTATOR_SPEC,
        api=config["api"],
        work_dir="resources/scratch/band2025/annotations",
    script:
        "../scripts/annotate_arena.py"


rule prefinetune_band_encoder:
    """20 heads (one per property, 4 ratings each) on the annotations, 5 epochs."""
    input:
        base=lambda wc: base_model(wc.band_encoder),
        annotations="resources/annotations/band2025/properties.jsonl",
        train=derived("arena", "train"),  # the texts of the annotated rows
    output:
        directory("resources/models/band2025/{band_encoder}.prefinetuned"),
    log:
        "logs/band2025/fit/{band_encoder}.prefinetuned.log",
    benchmark:
        "logs/band2025/fit/{band_encoder}.prefinetuned.benchmark.tsv"
    conda:
        "../../envs/train.yaml"
    threads: sized_threads("full", wildcard="band_encoder")
    resources:
        **sized_resources("full", wildcard="band_encoder"),
    params:
        hparams=ftconfig.training_recipe(config, "band2025-prefinetune"),
        allocation=B["allocation"],
        work_dir="resources/scratch/band2025/{band_encoder}.prefinetuned",
    script:
        "../scripts/prefinetune_band_encoder.py"


def band_start(wildcards):
    if wildcards.variant == "llm-augmented":
        return f"resources/models/band2025/{wildcards.band_encoder}.prefinetuned"
    return base_model(wildcards.band_encoder)


rule fit_band_encoder:
    """Single or parallel BERT on the arena preferences (A / B / tie)."""
    input:
        base=band_start,
        train=derived("arena", "train"),
        validation=derived("arena", "validation"),
    output:
        "results/band2025/{band_encoder}.{architecture}.{variant}/predictions.jsonl",
    log:
        "logs/band2025/fit/{band_encoder}.{architecture}.{variant}.log",
    benchmark:
        "logs/band2025/fit/{band_encoder}.{architecture}.{variant}.benchmark.tsv"
    conda:
        "../../envs/train.yaml"
    threads: sized_threads("full", wildcard="band_encoder")
    resources:
        **sized_resources("full", wildcard="band_encoder"),
    params:
        hparams=ftconfig.training_recipe(config, "band2025-encoder"),
        allocation=B["allocation"],
        # llm-augmented runs keep the lowest pre-finetuned layers as they are
        frozen_layers=lambda wc: (
            ftconfig.training_recipe(config, "band2025-encoder")["frozen_layers"]
            if wc.variant == "llm-augmented"
            else 0
        ),
        fit=fit_params,
    script:
        "../scripts/fit_band_encoder.py"


rule fit_band_lora:
    """Llama 3.1 8B sequence classifier with LoRA (r 4, alpha 8, q/v)."""
    input:
        base=lambda wc: base_model(wc.llm),
        train=derived("arena", "train"),
        validation=derived("arena", "validation"),
    output:
        "results/band2025/{llm}.lora/predictions.jsonl",
    log:
        "logs/band2025/fit/{llm}.lora.log",
    benchmark:
        "logs/band2025/fit/{llm}.lora.benchmark.tsv"
    conda:
        "../../envs/train.yaml"
    threads: sized_threads("lora", wildcard="llm")
    resources:
        **sized_resources("lora", wildcard="llm"),
    params:
        hparams=ftconfig.training_recipe(config, "band2025-lora"),
        fit=fit_params,
    script:
        "../scripts/fit_band_lora.py"
