# zhao2025's rules: its job table (ftrepro.papers.zhao2025.jobs) gives each rule's outputs, log,
# work directory, inputs and resources. Fit jobs train, predict the test split and write
# predictions.jsonl (ftrepro.fit); their work happens in resources/scratch/zhao2025/<run>/, not a
# declared output, so a killed job's checkpoints survive and a rerun resumes them, and weights are
# kept in resources/models/zhao2025/<run>/ only with keep_checkpoints: true. Predict jobs prompt
# the open decoders as released and the API models. Then Table 3 over every run of the matrix.
from dataclasses import asdict

from ftrepro.papers.zhao2025 import jobs as zhao
from ftrepro.papers.zhao2025 import runs as zhao_runs

Z = CFG.zhao2025
ZHAO_DATASETS = list(dict.fromkeys(task.dataset for task in Z.tasks.values()))


localrules:
    predict_zhao_api,
    zhao2025_table3,


rule fit_zhao_encoder:
    """RoBERTa with one head per subtask (sequence or first-sub-word token head)."""
    input:
        unpack(job_inputs(zhao.ENCODER)),
    output:
        **zhao.ENCODER.output,
    log:
        zhao.ENCODER.log,
    benchmark:
        zhao.ENCODER.benchmark
    conda:
        "../../envs/train.yaml"
    threads: job_threads(zhao.ENCODER)
    resources:
        **job_resources(zhao.ENCODER),
    params:
        subtasks=lambda wc: Z.tasks[wc.task].subtasks,
        hparams=laid_out(
            zhao.ENCODER, lambda wc: zhao_runs.encoder_hparams(CFG, wc.task)
        ),
        processes=layout_processes(zhao.ENCODER),
        work_dir=zhao.ENCODER.work_dir,
        keep_dir=keep_dir(zhao.ENCODER),
    script:
        "../scripts/fit_zhao_encoder.py"


rule fit_zhao_decoder:
    """Prompted full fine-tuning of a Llama model (DeepSpeed), loss on the answer tokens."""
    input:
        unpack(job_inputs(zhao.DECODER)),
    output:
        **zhao.DECODER.output,
    log:
        zhao.DECODER.log,
    benchmark:
        zhao.DECODER.benchmark
    conda:
        "../../envs/train.yaml"
    threads: job_threads(zhao.DECODER)
    resources:
        **job_resources(zhao.DECODER),
    params:
        subtasks=lambda wc: Z.tasks[wc.task].subtasks,
        dataset=lambda wc: Z.tasks[wc.task].dataset,
        hparams=laid_out(
            zhao.DECODER, lambda wc: zhao_runs.decoder_hparams(CFG, wc.decoder)
        ),
        deepspeed=layout_deepspeed(zhao.DECODER),
        demo_seed=CFG.data.seed,
        constrained=Z.constrained_decoding,
        processes=layout_processes(zhao.DECODER),
        predict_processes=layout_predict_processes(zhao.DECODER),
        work_dir=zhao.DECODER.work_dir,
        keep_dir=keep_dir(zhao.DECODER),
    script:
        "../scripts/fit_zhao_decoder.py"


rule fit_zhao_baseline:
    """TF-IDF + linear SVM (not in the paper) on a dataset's train split, for every subtask of
    its tasks: the sanity floor under the encoders (ftrepro.papers.zhao2025.baselines).
    """
    input:
        unpack(job_inputs(zhao.BASELINES["tfidf-svm"])),
    output:
        **zhao.BASELINES["tfidf-svm"].output,
    log:
        zhao.BASELINES["tfidf-svm"].log,
    benchmark:
        zhao.BASELINES["tfidf-svm"].benchmark
    conda:
        "../../envs/train.yaml"
    resources:
        **job_resources(zhao.BASELINES["tfidf-svm"]),
    params:
        method="tfidf-svm",
        subtasks=lambda wc: zhao_runs.dataset_subtasks(CFG, wc.dataset),
        seed=CFG.data.seed,
    script:
        "../scripts/fit_zhao_baseline.py"


use rule fit_zhao_baseline as fit_zhao_frozen_baseline with:
    input:
        unpack(job_inputs(zhao.BASELINES["frozen-encoder"])),
    output:
        **zhao.BASELINES["frozen-encoder"].output,
    log:
        zhao.BASELINES["frozen-encoder"].log,
    benchmark:
        zhao.BASELINES["frozen-encoder"].benchmark
    threads: job_threads(zhao.BASELINES["frozen-encoder"])
    resources:
        **job_resources(zhao.BASELINES["frozen-encoder"]),
    params:
        method="frozen-encoder",
        subtasks=lambda wc: zhao_runs.dataset_subtasks(CFG, wc.dataset),
        seed=CFG.data.seed,
        # the encoders' truncation, so that the floor reads what they read
        max_length=lambda wc: zhao_runs.encoder_recipe(CFG, wc.dataset)["max_length"],


rule predict_zhao_decoder:
    """Greedy generation from the listings' prompts; five-shot examples from the train split."""
    input:
        unpack(job_inputs(zhao.PROMPTED)),
    output:
        **zhao.PROMPTED.output,
    log:
        zhao.PROMPTED.log,
    conda:
        "../../envs/train.yaml"
    threads: job_threads(zhao.PROMPTED)
    resources:
        **job_resources(zhao.PROMPTED),
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
        processes=predict_processes(zhao.PROMPTED),
    script:
        "../scripts/predict_zhao_decoder.py"


rule predict_zhao_api:
    """The same prompts through an OpenAI-compatible API (config api; key from api.key_env).
    Answers are appended to the work dir as they come, so a killed job resumes."""
    input:
        unpack(job_inputs(zhao.API)),
    output:
        **zhao.API.output,
    log:
        zhao.API.log,
    conda:
        "../../envs/train.yaml"
    params:
        model_id=lambda wc: CFG.models[wc.api_model].spec["api"],
        task=lambda wc: asdict(Z.tasks[wc.task]),
        demo_seed=CFG.data.seed,
        # what the answers depend on; how the client calls (concurrency, retries) is config api's
        api=API_PARAMS,
        work_dir=zhao.API.work_dir,
    script:
        "../scripts/predict_zhao_api.py"


rule zhao2025_table3:
    input:
        unpack(job_inputs(zhao.TABLE3)),
    output:
        csv=zhao.TABLE3.output["csv"],
        md=report(zhao.TABLE3.output["md"], category="zhao2025"),
    log:
        zhao.TABLE3.log,
    conda:
        "../../envs/report.yaml"
    params:
        runs=RUNS["zhao2025"],
        shared=SHARED["zhao2025"],
        tasks={name: asdict(task) for name, task in Z.tasks.items()},
        baselines=zhao_runs.baseline_descriptions(CFG),
        encoders=Z.encoders,
        synthetic=CFG.data.synthetic,
        deviations=DEVIATIONS["zhao2025"],
        stand_ins={
            **papers.stand_ins(CFG, "zhao2025"),
            "frozen-encoder": zhao_runs.frozen_encoder_name(CFG),
        },
        verdicts=VERDICTS["zhao2025"],
        # what the preset changed under the paper's names: data caps and truncation
        note=dict(
            preset=CFG.preset,
            caps={dataset: CFG.data.caps(dataset) for dataset in ZHAO_DATASETS},
            full_rows=CFG.plan.rows,
            held_out_dev=CFG.data.held_out_dev,
            decoder_rows=CFG.training["zhao2025-decoder"].get("predict_rows"),
            max_length={
                dataset: zhao_runs.encoder_recipe(CFG, dataset)["max_length"]
                for dataset in ZHAO_DATASETS
            },
        ),
    script:
        "../scripts/zhao2025_table3.py"
