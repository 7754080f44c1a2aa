# Label files every later stage reads (formats in config/README.md). Presets cap rows here, so
# everything downstream sees the same data.


rule derive_20newsgroups:
    input:
        "resources/raw/20newsgroups",
    output:
        train=derived("20newsgroups", "train"),
        test=derived("20newsgroups", "test"),
        labels=labels("20newsgroups"),
    params:
        max_rows=ftconfig.max_rows(config),
        seed=config["data"]["seed"],
    resources:
        **CPU_RESOURCES,
    conda:
        "../../envs/data.yaml"
    log:
        "logs/derive/20newsgroups.log",
    script:
        "../scripts/derive_20newsgroups.py"


rule derive_massive:
    input:
        "resources/raw/massive",
    output:
        train=derived("massive", "train"),
        dev=derived("massive", "dev"),
        test=derived("massive", "test"),
        labels=labels("massive"),
    params:
        max_rows=ftconfig.max_rows(config),
        seed=config["data"]["seed"],
    resources:
        **CPU_RESOURCES,
    conda:
        "../../envs/data.yaml"
    log:
        "logs/derive/massive.log",
    script:
        "../scripts/derive_massive.py"


rule derive_superni:
    """Per test task: test (first 100 instances), validation (next 10), train (the rest, in a
    seeded order so every sample size is a prefix); the pre-finetuning set; task categories."""
    input:
        "resources/raw/superni",
    output:
        directory("resources/derived/superni"),
    params:
        test_tasks=SUPERNI_TASKS,
        max_rows=ftconfig.max_rows(config),
        prefinetune=G["prefinetune"],
        seed=config["data"]["seed"],
    resources:
        **CPU_RESOURCES,
    conda:
        "../../envs/data.yaml"
    log:
        "logs/derive/superni.log",
    script:
        "../scripts/derive_superni.py"


rule derive_arena:
    input:
        "resources/raw/arena",
    output:
        train=derived("arena", "train"),
        validation=derived("arena", "validation"),
        report="resources/derived/arena/malformed_rows.md",
    params:
        max_rows=ftconfig.max_rows(config),
        seed=config["data"]["seed"],
    resources:
        **CPU_RESOURCES,
    conda:
        "../../envs/data.yaml"
    log:
        "logs/derive/arena.log",
    script:
        "../scripts/derive_arena.py"
