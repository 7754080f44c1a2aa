# One fit job per trained model: train, predict the test split, write predictions.jsonl
# (ftrepro.fit). Work happens in resources/scratch/<paper>/<run>/, not a declared output, so a
# killed job's checkpoints survive and a rerun resumes them. Weights are kept in
# resources/models/<paper>/<run>/ only with keep_checkpoints: true. Pre-finetuned models that
# other runs start from are ordinary outputs.

# ---------------------------------------------------------------- zhao2025

ZHAO_DECODER_FIT = predictions("zhao2025", ZHAO_DECODER["ft"])


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
    threads: trained(predictions("zhao2025", ZHAO_ENCODER))["cpus_per_task"]
    resources:
        **trained(predictions("zhao2025", ZHAO_ENCODER)),
    params:
        subtasks=lambda wc: Z.tasks[wc.task].subtasks,
        hparams=laid_out(
            predictions("zhao2025", ZHAO_ENCODER),
            lambda wc: zhao_runs.encoder_hparams(CFG, wc.task),
        ),
        processes=layout_processes(predictions("zhao2025", ZHAO_ENCODER)),
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
    threads: trained(ZHAO_DECODER_FIT)["cpus_per_task"]
    resources:
        **trained(ZHAO_DECODER_FIT),
    params:
        subtasks=lambda wc: Z.tasks[wc.task].subtasks,
        dataset=lambda wc: Z.tasks[wc.task].dataset,
        hparams=laid_out(
            ZHAO_DECODER_FIT, lambda wc: zhao_runs.decoder_hparams(CFG, wc.decoder)
        ),
        deepspeed=layout_deepspeed(ZHAO_DECODER_FIT),
        demo_seed=CFG.data.seed,
        constrained=Z.constrained_decoding,
        processes=layout_processes(ZHAO_DECODER_FIT),
        predict_processes=layout_predict_processes(ZHAO_DECODER_FIT),
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
PREFINETUNED_T5 = "resources/models/gupta2023/prefinetuned"


rule prefinetune_t5:
    """T5 trained on every SuperNI train task x 100 instances, without instructions."""
    input:
        base=base_model(G.prefinetune["model"]),
        data="resources/derived/superni",
    output:
        directory(PREFINETUNED_T5),
    log:
        run_log("gupta2023", "fit", "prefinetuned"),
    benchmark:
        run_log("gupta2023", "fit", "prefinetuned", "benchmark.tsv")
    conda:
        "../../envs/train.yaml"
    threads: trained(PREFINETUNED_T5)["cpus_per_task"]
    resources:
        **trained(PREFINETUNED_T5),
    params:
        recipe=laid_out(PREFINETUNED_T5, SEQ2SEQ_RECIPE),
        deepspeed=layout_deepspeed(PREFINETUNED_T5),
        processes=layout_processes(PREFINETUNED_T5),
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
    threads: trained(predictions("gupta2023", GUPTA_STL))["cpus_per_task"]
    resources:
        **trained(predictions("gupta2023", GUPTA_STL)),
    params:
        tasks=["{superni_task}"],  # list params are formatted per item: no function per job
        setting=lambda wc: G.settings[wc.setting],
        recipe=laid_out(predictions("gupta2023", GUPTA_STL), SEQ2SEQ_RECIPE),
        deepspeed=layout_deepspeed(predictions("gupta2023", GUPTA_STL)),
        processes=layout_processes(predictions("gupta2023", GUPTA_STL)),
        predict_processes=layout_predict_processes(predictions("gupta2023", GUPTA_STL)),
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
    threads: trained(predictions("gupta2023", GUPTA_MTL))["cpus_per_task"]
    resources:
        **trained(predictions("gupta2023", GUPTA_MTL)),
    params:
        tasks=G.test_tasks,
        setting=lambda wc: G.settings[wc.setting],
        recipe=laid_out(predictions("gupta2023", GUPTA_MTL), SEQ2SEQ_RECIPE),
        deepspeed=layout_deepspeed(predictions("gupta2023", GUPTA_MTL)),
        processes=layout_processes(predictions("gupta2023", GUPTA_MTL)),
        predict_processes=layout_predict_processes(predictions("gupta2023", GUPTA_MTL)),
        work_dir=work_dir("gupta2023", GUPTA_MTL),
        keep_dir=keep_dir("gupta2023", GUPTA_MTL),


# ---------------------------------------------------------------- band2025

ANNOTATION = B.annotation


# a local annotator is a base model; an API one or a supplied file needs none
LOCAL_ANNOTATOR = not ANNOTATION["file"] and CFG.models[B.annotator].kind != "api"
BAND_PREFINETUNED = "resources/models/band2025/{band_encoder}.prefinetuned"


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
        directory(BAND_PREFINETUNED),
    log:
        run_log("band2025", "fit", "{band_encoder}.prefinetuned"),
    benchmark:
        run_log("band2025", "fit", "{band_encoder}.prefinetuned", "benchmark.tsv")
    conda:
        "../../envs/train.yaml"
    threads: trained(BAND_PREFINETUNED)["cpus_per_task"]
    resources:
        **trained(BAND_PREFINETUNED),
    params:
        hparams=laid_out(BAND_PREFINETUNED, CFG.training["band2025-prefinetune"]),
        allocation=B.allocation,
        processes=layout_processes(BAND_PREFINETUNED),
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
    threads: trained(predictions("band2025", BAND_ENCODER))["cpus_per_task"]
    resources:
        **trained(predictions("band2025", BAND_ENCODER)),
    params:
        hparams=laid_out(
            predictions("band2025", BAND_ENCODER), CFG.training["band2025-encoder"]
        ),
        allocation=B.allocation,
        # llm-augmented runs keep the lowest pre-finetuned layers as they are
        frozen_layers=lambda wc: (
            CFG.training["band2025-encoder"]["frozen_layers"]
            if wc.variant == "llm-augmented"
            else 0
        ),
        processes=layout_processes(predictions("band2025", BAND_ENCODER)),
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
    threads: trained(predictions("band2025", BAND_LORA))["cpus_per_task"]
    resources:
        **trained(predictions("band2025", BAND_LORA)),
    params:
        hparams=laid_out(
            predictions("band2025", BAND_LORA), CFG.training["band2025-lora"]
        ),
        processes=layout_processes(predictions("band2025", BAND_LORA)),
        work_dir=work_dir("band2025", BAND_LORA),
        keep_dir=keep_dir("band2025", BAND_LORA),
    script:
        "../scripts/fit_band_lora.py"
