# One fit job per trained model: train, predict the test split, write predictions.jsonl
# (ftrepro.fit). Work happens in resources/scratch/<paper>/<run>/, not a declared output, so a
# killed job's checkpoints survive and a rerun resumes them. Weights are kept in
# resources/models/<paper>/<run>/ only with keep_checkpoints: true. Pre-finetuned models that
# other runs start from are ordinary outputs.

# ---------------------------------------------------------------- zhao2025


rule fit_zhao_encoder:
    """RoBERTa with one head per subtask (sequence or first-sub-word token head)."""
    input:
        unpack(zhao_encoder_data),
        base=base_model("{encoder}"),
    output:
        predictions("zhao2025", ZHAO_ENCODER),
    log:
        run_log("zhao2025", "fit", ZHAO_ENCODER),
    benchmark:
        run_log("zhao2025", "fit", ZHAO_ENCODER, "benchmark.tsv")
    conda:
        "../../envs/train.yaml"
    threads: sized("full", "encoder")["cpus_per_task"]
    resources:
        **sized("full", "encoder"),
    params:
        subtasks=lambda wc: Z.tasks[wc.task].subtasks,
        hparams=lambda wc: zhao_runs.encoder_hparams(CFG, wc.task),
        processes=processes,
        work_dir=work_dir("zhao2025", ZHAO_ENCODER),
        keep_dir=keep_dir("zhao2025", ZHAO_ENCODER),
    script:
        "../scripts/fit_zhao_encoder.py"


rule fit_zhao_decoder:
    """Prompted full fine-tuning of a Llama model (DeepSpeed), loss on the answer tokens."""
    input:
        unpack(zhao_data),
        base=base_model("{decoder}"),
    output:
        predictions("zhao2025", ZHAO_DECODER["ft"]),
    log:
        run_log("zhao2025", "fit", ZHAO_DECODER["ft"]),
    benchmark:
        run_log("zhao2025", "fit", ZHAO_DECODER["ft"], "benchmark.tsv")
    conda:
        "../../envs/train.yaml"
    threads: sized("full", "decoder")["cpus_per_task"]
    resources:
        **sized("full", "decoder"),
    params:
        subtasks=lambda wc: Z.tasks[wc.task].subtasks,
        dataset=lambda wc: Z.tasks[wc.task].dataset,
        hparams=lambda wc: zhao_runs.decoder_hparams(CFG, wc.decoder),
        deepspeed=lambda wc: zhao_runs.decoder_deepspeed(CFG, wc.decoder),
        demo_seed=CFG.data.seed,
        constrained=Z.constrained_decoding,
        processes=processes,
        predict_processes=predict_processes("decoder"),
        work_dir=work_dir("zhao2025", ZHAO_DECODER["ft"]),
        keep_dir=keep_dir("zhao2025", ZHAO_DECODER["ft"]),
    script:
        "../scripts/fit_zhao_decoder.py"


rule fit_zhao_baseline:
    """TF-IDF + linear SVM (not in the paper) on a dataset's train split, for every subtask of
    its tasks: the sanity floor under the encoders (ftrepro.papers.zhao2025.baselines).
    """
    input:
        unpack(baseline_data),
    output:
        predictions("zhao2025", ZHAO_BASELINE["tfidf-svm"]),
    log:
        run_log("zhao2025", "fit", ZHAO_BASELINE["tfidf-svm"]),
    benchmark:
        run_log("zhao2025", "fit", ZHAO_BASELINE["tfidf-svm"], "benchmark.tsv")
    conda:
        "../../envs/train.yaml"
    resources:
        **CPU_RESOURCES,
    params:
        method="tfidf-svm",
        subtasks=lambda wc: zhao_runs.dataset_subtasks(CFG, wc.dataset),
        seed=CFG.data.seed,
    script:
        "../scripts/fit_zhao_baseline.py"


use rule fit_zhao_baseline as fit_zhao_frozen_baseline with:
    input:
        unpack(baseline_data),
        base=base_model(Z.baseline_encoder),
    output:
        predictions("zhao2025", ZHAO_BASELINE["frozen-encoder"]),
    log:
        run_log("zhao2025", "fit", ZHAO_BASELINE["frozen-encoder"]),
    benchmark:
        run_log("zhao2025", "fit", ZHAO_BASELINE["frozen-encoder"], "benchmark.tsv")
    threads: sized("inference", model=Z.baseline_encoder)["cpus_per_task"]
    resources:
        **sized("inference", model=Z.baseline_encoder),
    params:
        method="frozen-encoder",
        subtasks=lambda wc: zhao_runs.dataset_subtasks(CFG, wc.dataset),
        seed=CFG.data.seed,
        # the encoders' truncation, so that the floor reads what they read
        max_length=lambda wc: zhao_runs.encoder_recipe(CFG, wc.dataset)["max_length"],


# ---------------------------------------------------------------- gupta2023

SEQ2SEQ_RECIPE = CFG.training["gupta2023-seq2seq"]
# ZeRO-2 with optimizer offload where DeepSpeed applies (GPU presets, or launch.cpu_deepspeed)
SEQ2SEQ_DEEPSPEED = CFG.deepspeed(SEQ2SEQ_RECIPE["deepspeed"])


rule prefinetune_t5:
    """T5 trained on every SuperNI train task x 100 instances, without instructions."""
    input:
        base=base_model(G.prefinetune["model"]),
        data="resources/derived/superni",
    output:
        directory("resources/models/gupta2023/prefinetuned"),
    log:
        run_log("gupta2023", "fit", "prefinetuned"),
    benchmark:
        run_log("gupta2023", "fit", "prefinetuned", "benchmark.tsv")
    conda:
        "../../envs/train.yaml"
    threads: sized("full", model=G.prefinetune["model"])["cpus_per_task"]
    resources:
        **sized("full", model=G.prefinetune["model"]),
    params:
        recipe=SEQ2SEQ_RECIPE,
        deepspeed=SEQ2SEQ_DEEPSPEED,
        processes=processes,
        work_dir=work_dir("gupta2023", "prefinetuned"),
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
        predictions("gupta2023", GUPTA_STL),
    log:
        run_log("gupta2023", "fit", GUPTA_STL),
    benchmark:
        run_log("gupta2023", "fit", GUPTA_STL, "benchmark.tsv")
    conda:
        "../../envs/train.yaml"
    threads: sized("full", "setting")["cpus_per_task"]
    resources:
        **sized("full", "setting"),
    params:
        tasks=["{superni_task}"],  # list params are formatted per item: no function per job
        setting=lambda wc: G.settings[wc.setting],
        recipe=SEQ2SEQ_RECIPE,
        deepspeed=SEQ2SEQ_DEEPSPEED,
        processes=processes,
        predict_processes=predict_processes("setting"),
        work_dir=work_dir("gupta2023", GUPTA_STL),
        keep_dir=keep_dir("gupta2023", GUPTA_STL),
    script:
        "../scripts/fit_gupta.py"


# One model per setting on all test tasks at once: the STL rule on other outputs and tasks
use rule fit_gupta_stl as fit_gupta_mtl with:
    output:
        predictions("gupta2023", GUPTA_MTL),
    log:
        run_log("gupta2023", "fit", GUPTA_MTL),
    benchmark:
        run_log("gupta2023", "fit", GUPTA_MTL, "benchmark.tsv")
    params:
        tasks=G.test_tasks,
        setting=lambda wc: G.settings[wc.setting],
        recipe=SEQ2SEQ_RECIPE,
        deepspeed=SEQ2SEQ_DEEPSPEED,
        processes=processes,
        predict_processes=predict_processes("setting"),
        work_dir=work_dir("gupta2023", GUPTA_MTL),
        keep_dir=keep_dir("gupta2023", GUPTA_MTL),


# ---------------------------------------------------------------- band2025

ANNOTATION = B.annotation


# a local annotator is a base model; an API one or a supplied file needs none
LOCAL_ANNOTATOR = not ANNOTATION["file"] and CFG.models[B.annotator].kind != "api"


rule annotate_arena:
    """20 properties per (prompt, response) from an LLM; resumable, or supplied by the user."""
    input:
        model=[base_model(B.annotator)] if LOCAL_ANNOTATOR else [],
        supplied=[ANNOTATION["file"]] if ANNOTATION["file"] else [],
        train=derived("arena", "train"),
    output:
        "resources/annotations/band2025/properties.jsonl",
    log:
        "logs/band2025/annotate_arena.log",
    conda:
        "../../envs/train.yaml"
    threads: sized("inference", model=B.annotator)["cpus_per_task"]
    resources:
        **sized("inference", model=B.annotator),
    params:
        annotation=ANNOTATION,
        rows=B.annotation_rows,
        spec=CFG.models[B.annotator].spec,
        api=API_PARAMS,
        work_dir=work_dir("band2025", "annotations"),
    script:
        "../scripts/annotate_arena.py"


rule prefinetune_band_encoder:
    """20 heads (one per property, 4 ratings each) on the annotations, 5 epochs."""
    input:
        base=base_model("{band_encoder}"),
        annotations="resources/annotations/band2025/properties.jsonl",
        train=derived("arena", "train"),  # the texts of the annotated rows
    output:
        directory("resources/models/band2025/{band_encoder}.prefinetuned"),
    log:
        run_log("band2025", "fit", "{band_encoder}.prefinetuned"),
    benchmark:
        run_log("band2025", "fit", "{band_encoder}.prefinetuned", "benchmark.tsv")
    conda:
        "../../envs/train.yaml"
    threads: sized("full", "band_encoder")["cpus_per_task"]
    resources:
        **sized("full", "band_encoder"),
    params:
        hparams=CFG.training["band2025-prefinetune"],
        allocation=B.allocation,
        processes=processes,
        work_dir=work_dir("band2025", "{band_encoder}.prefinetuned"),
    script:
        "../scripts/prefinetune_band_encoder.py"


rule fit_band_encoder:
    """Single or parallel BERT on the arena preferences (A / B / tie): the checkpoint of lowest
    dev loss, then the test split (and the competition's test rows) predicted."""
    input:
        base=band_start,
        train=derived("arena", "train"),
        dev=derived("arena", "dev"),
        test=derived("arena", "test"),
        competition_test=derived("arena", "competition_test"),
    output:
        predictions("band2025", BAND_ENCODER),
        competition=competition_predictions(BAND_ENCODER),
    log:
        run_log("band2025", "fit", BAND_ENCODER),
    benchmark:
        run_log("band2025", "fit", BAND_ENCODER, "benchmark.tsv")
    conda:
        "../../envs/train.yaml"
    threads: sized("full", "band_encoder")["cpus_per_task"]
    resources:
        **sized("full", "band_encoder"),
    params:
        hparams=CFG.training["band2025-encoder"],
        allocation=B.allocation,
        # llm-augmented runs keep the lowest pre-finetuned layers as they are
        frozen_layers=lambda wc: (
            CFG.training["band2025-encoder"]["frozen_layers"]
            if wc.variant == "llm-augmented"
            else 0
        ),
        processes=processes,
        work_dir=work_dir("band2025", BAND_ENCODER),
        keep_dir=keep_dir("band2025", BAND_ENCODER),
    script:
        "../scripts/fit_band_encoder.py"


rule fit_band_lora:
    """Llama 3.1 8B sequence classifier with LoRA (r 4, alpha 8, q/v): the checkpoint of lowest
    dev loss, then the test split (and the competition's test rows) predicted."""
    input:
        base=base_model("{llm}"),
        train=derived("arena", "train"),
        dev=derived("arena", "dev"),
        test=derived("arena", "test"),
        competition_test=derived("arena", "competition_test"),
    output:
        predictions("band2025", BAND_LORA),
        competition=competition_predictions(BAND_LORA),
    log:
        run_log("band2025", "fit", BAND_LORA),
    benchmark:
        run_log("band2025", "fit", BAND_LORA, "benchmark.tsv")
    conda:
        "../../envs/train.yaml"
    threads: sized("lora", "llm")["cpus_per_task"]
    resources:
        **sized("lora", "llm"),
    params:
        hparams=CFG.training["band2025-lora"],
        processes=processes,
        work_dir=work_dir("band2025", BAND_LORA),
        keep_dir=keep_dir("band2025", BAND_LORA),
    script:
        "../scripts/fit_band_lora.py"
