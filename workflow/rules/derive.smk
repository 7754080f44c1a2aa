# Label files every later stage reads (formats in config/README.md). Presets cap rows here, so
# everything downstream sees the same data.


rule derive_20newsgroups:
    """train and test as released; a dev split held out of train where the preset asks for one."""
    input:
        raw_data("20newsgroups"),
    output:
        **newsgroups_splits(),
        labels=labels("20newsgroups"),
    log:
        logs_path("derive", "20newsgroups.log"),
    conda:
        "../../envs/data.yaml"
    resources:
        **CPU_RESOURCES,
    params:
        max_rows=CFG.data.caps("20newsgroups"),
        seed=CFG.data.seed,
        strip=CFG.data.newsgroups_remove,  # derive_newsgroups(remove=): a name snakemake reserves
        dev_rows=CFG.data.held_out_dev.get("20newsgroups"),
        pinned_rows=pinned_rows("20newsgroups"),
    script:
        "../scripts/derive.py"


rule derive_massive:
    input:
        raw_data("massive"),
    output:
        train=derived("massive", "train"),
        dev=derived("massive", "dev"),
        test=derived("massive", "test"),
        labels=labels("massive"),
    log:
        logs_path("derive", "massive.log"),
    conda:
        "../../envs/data.yaml"
    resources:
        **CPU_RESOURCES,
    params:
        max_rows=CFG.data.caps("massive"),
        seed=CFG.data.seed,
        pinned_rows=pinned_rows("massive"),
    script:
        "../scripts/derive.py"


rule derive_superni:
    """Per test task: test (first 100 instances), validation (next 10), train (the rest, in a
    seeded order so every sample size is a prefix); the pre-finetuning set; a manifest.
    """
    input:
        raw_data("superni"),
    output:
        directory(derived_data("superni")),
    log:
        logs_path("derive", "superni.log"),
    benchmark:
        logs_path("derive", "superni.benchmark.tsv")
    conda:
        "../../envs/data.yaml"
    resources:
        **CPU_RESOURCES,
    params:
        test_tasks=CFG.gupta2023.derived_tasks,  # the ablation's task too
        train_tasks=CFG.gupta2023.train_tasks,
        prefinetune_per_task=CFG.gupta2023.prefinetune["samples_per_task"],
        max_rows=CFG.data.caps("superni"),
        seed=CFG.data.seed,
    script:
        "../scripts/derive_superni.py"


rule derive_arena:
    """Seeded train / dev / test splits stratified by label (data.arena_splits), and the
    competition's unlabelled test rows where the raw data has its test.csv; rows with malformed
    JSON or not exactly one winner are listed by id in malformed_rows.md, never dropped silently.
    """
    input:
        raw_data("arena"),
    output:
        train=derived("arena", "train"),
        dev=derived("arena", "dev"),
        test=derived("arena", "test"),
        competition_test=derived("arena", "competition_test"),
        labels=labels("arena"),
        report=f"{derived_data('arena')}/malformed_rows.md",
    log:
        logs_path("derive", "arena.log"),
    conda:
        "../../envs/data.yaml"
    resources:
        **CPU_RESOURCES,
    params:
        splits=CFG.data.arena_splits,
        max_rows=CFG.data.caps("arena"),
        seed=CFG.data.seed,
        pinned_rows=pinned_rows("arena"),
    script:
        "../scripts/derive.py"


rule data_stats:
    """Rows per split, label distributions and token-length percentiles of every dataset."""
    input:
        derived=[
            labels("20newsgroups"),
            labels("massive"),
            derived_data("superni"),
            labels("arena"),
        ],
        tokenizers=sorted({base_model(m) for m in CFG.data.stats_tokenizers.values()}),
    output:
        STATS,
    log:
        logs_path("derive", "stats.log"),
    conda:
        "../../envs/data.yaml"
    resources:
        **CPU_RESOURCES,
    params:
        # filled here: Snakemake formats string params with the wildcards, not a dict's values
        tokenizers={
            dataset: of_preset(base_model(model))
            for dataset, model in CFG.data.stats_tokenizers.items()
        },
        tokenizer_names=CFG.data.stats_tokenizers,
        sample=CFG.data.stats_sample,
        seed=CFG.data.seed,
    script:
        "../scripts/data_stats.py"
