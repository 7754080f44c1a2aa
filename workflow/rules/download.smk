# Raw files in each dataset's real format under resources/raw/<dataset>/, from the configured
# source: synthetic (generated offline), local (a mirror directory), hub (the public sources,
# pinned; partial downloads in data.download_dir resume on a rerun). Local rules: cluster
# compute nodes often have no internet.


localrules:
    download,
    prepare_model,


rule download:
    output:
        directory(raw_data("{dataset}")),
    log:
        logs_path("download", "{dataset}.log"),
    conda:
        "../../envs/data.yaml"
    params:
        source=CFG.data.source,
        local_dir=CFG.data.local_dir,
        pin=lambda wc: CFG.data.hub.get(wc.dataset),
        download_dir=CFG.data.download_dir,
        seed=CFG.data.seed,
        # SuperNI's task selection; None elsewhere, so changing it reruns no other download
        superni_tasks=lambda wc: (
            CFG.gupta2023.derived_tasks if wc.dataset == "superni" else None
        ),
        superni_train_tasks=lambda wc: (
            CFG.gupta2023.train_tasks if wc.dataset == "superni" else None
        ),
    script:
        "../scripts/download.py"


rule prepare_model:
    """A base model directory (weights + tokenizer) for the model name in the chosen preset."""
    output:
        directory(base_model("{model}")),
    log:
        logs_path("prepare_model", "{model}.log"),
    conda:
        "../../envs/data.yaml"
    params:
        spec=lambda wc: CFG.models[wc.model].spec,
        kind=lambda wc: CFG.models[wc.model].kind,
    script:
        "../scripts/prepare_model.py"
