# Paper-vs-ours tables and the papers' figures, plus the paper-level targets. Each table lists
# every run of the matrix: a run the paper has not reads "not in paper", one without metrics
# "not run". With --config partial=true the tables take only the runs that have finished, so they
# build while a long run goes on or after --keep-going lost some jobs. API runs are planned only
# while their key is set. Runs whose model is another run's in the preset (papers.shared_runs)
# are not made: the tables take that run's numbers and say so.

RUNS = {paper: papers.runs(CFG, paper, with_api=API_KEY_SET) for paper in papers.PAPERS}
# with --config partial=true only the runs whose metrics exist (papers.tabled_runs)
TABLED = {
    paper: papers.tabled_runs(CFG, paper, with_api=API_KEY_SET)
    for paper in papers.PAPERS
}
SHARED = {paper: papers.shared_runs(CFG, paper) for paper in papers.PAPERS}
# how each paper's tables judge a cell against the paper's number (ftrepro.report.Verdicts)
VERDICTS = {
    paper: {"basis": papers.verdict_basis(CFG, paper), "tolerance": CFG.stats.tolerance}
    for paper in papers.PAPERS
}
# each paper's deviations from the paper in this preset, under every table (ftrepro.papers.registry)
DEVIATIONS = {paper: registry.section(CFG, paper) for paper in papers.PAPERS}
ZHAO_DATASETS = list(dict.fromkeys(task.dataset for task in Z.tasks.values()))


localrules:
    zhao2025_table3,
    gupta2023_report,
    band2025_report,


rule zhao2025_table3:
    input:
        metrics=results("zhao2025", TABLED["zhao2025"], "metrics.json"),
        baselines=results(
            "zhao2025",
            papers.finished_runs(CFG, "zhao2025", zhao_runs.baseline_runs(CFG)),
            "metrics.json",
        ),
        targets="config/targets/zhao2025_table3.csv",
    output:
        csv="results/zhao2025/tables/table3.csv",
        md=report("results/zhao2025/tables/table3.md", category="zhao2025"),
    log:
        "logs/zhao2025/table3.log",
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


rule gupta2023_report:
    """Tables 5.1 and 5.2, Figures 5.1-5.4 and the headline numbers of the thesis."""
    input:
        metrics=results("gupta2023", TABLED["gupta2023"], "metrics.json"),
        results="config/targets/gupta2023_results.csv",
        categories="config/targets/gupta2023_categories.csv",
        # Tk-Instruct's category numbers in the thesis's text; the anchors' (README) references
        tk_categories="config/targets/gupta2023_tk_categories.csv",
        anchors="config/targets/gupta2023_anchors.csv",
    output:
        tables=report(
            expand(
                "results/gupta2023/tables/{table}.{ext}",
                table=["table5_1", "table5_2", "headline"],
                ext=["csv", "md"],
            ),
            category="gupta2023",
        ),
        figures=report(
            expand("results/gupta2023/figures/figure5_{i}.png", i=[1, 2, 3, 4]),
            category="gupta2023",
        ),
    log:
        "logs/gupta2023/report.log",
    conda:
        "../../envs/report.yaml"
    params:
        settings=G.settings,
        shared=SHARED["gupta2023"],
        shared_settings=gupta_runs.shared_settings(CFG),
        stand_ins=papers.stand_ins(CFG, "gupta2023"),
        verdicts=VERDICTS["gupta2023"],
        synthetic=CFG.data.synthetic,
        deviations=DEVIATIONS["gupta2023"],
    script:
        "../scripts/gupta2023_report.py"


rule band2025_report:
    """Figure 10 (log loss per model), Figure 11 (gain over single DistilBERT), efficiency, Kaggle
    submissions of the test split's rows and of the competition's test rows."""
    input:
        metrics=results("band2025", TABLED["band2025"], "metrics.json"),
        predictions=results("band2025", TABLED["band2025"], "predictions.jsonl"),
        competition=results(
            "band2025", TABLED["band2025"], "competition_predictions.jsonl"
        ),
        targets="config/targets/band2025_results.csv",
        parameters="config/targets/band2025_parameters.csv",
        # the efficiency score counts the parameters of the models behind the runs
        bases=sorted(
            {base_model(BandRun.parse(run).model) for run in TABLED["band2025"]}
        ),
    output:
        tables=report(
            expand("results/band2025/tables/log_loss.{ext}", ext=["csv", "md"]),
            category="band2025",
        ),
        figures=report(
            expand("results/band2025/figures/figure{i}.png", i=[10, 11]),
            category="band2025",
        ),
        submissions=expand(
            "results/band2025/submissions/{run}.csv", run=TABLED["band2025"]
        ),
        # the competition's test.csv rows; header only where the raw data has none
        competition=expand(
            "results/band2025/submissions/{run}.competition.csv",
            run=TABLED["band2025"],
        ),
    log:
        "logs/band2025/report.log",
    conda:
        "../../envs/report.yaml"
    params:
        runs=RUNS["band2025"],
        shared=SHARED["band2025"],
        stand_ins=papers.stand_ins(CFG, "band2025"),
        verdicts=VERDICTS["band2025"],
        synthetic=CFG.data.synthetic,
        deviations=DEVIATIONS["band2025"],
    script:
        "../scripts/band2025_report.py"


# The papers' targets: their tables and figures (which take every run's metrics)


rule zhao2025:
    input:
        rules.zhao2025_table3.output,


rule gupta2023:
    input:
        rules.gupta2023_report.output,


rule band2025:
    input:
        rules.band2025_report.output,
