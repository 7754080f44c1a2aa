# Paper-vs-ours tables and the papers' figures, plus the paper-level targets. API runs are
# planned only while their key is set; without it their cells read "not run".


localrules:
    zhao2025_table3,
    gupta2023_report,
    band2025_report,


def implemented_metrics(paper):
    runs = papers.runs(config, paper, with_api=API_KEY_SET)
    return results(paper, runs, "metrics.json")


rule zhao2025_table3:
    input:
        metrics=implemented_metrics("zhao2025"),
        targets="config/targets/zhao2025_table3.csv",
    output:
        csv="results/zhao2025/tables/table3.csv",
        md="results/zhao2025/tables/table3.md",
    log:
        "logs/zhao2025/table3.log",
    conda:
        "../../envs/report.yaml"
    script:
        "../scripts/zhao2025_table3.py"


rule gupta2023_report:
    """Tables 5.1 and 5.2, Figures 5.1-5.4 and the headline numbers of the thesis."""
    input:
        metrics=implemented_metrics("gupta2023"),
        results="config/targets/gupta2023_results.csv",
        categories="config/targets/gupta2023_categories.csv",
    output:
        tables=expand(
            "results/gupta2023/tables/{table}.{ext}",
            table=["table5_1", "table5_2", "headline"],
            ext=["csv", "md"],
        ),
        figures=expand("results/gupta2023/figures/figure5_{i}.png", i=[1, 2, 3, 4]),
    log:
        "logs/gupta2023/report.log",
    conda:
        "../../envs/report.yaml"
    params:
        settings=G["settings"],
    script:
        "../scripts/gupta2023_report.py"


BAND_RUNS = papers.runs(config, "band2025")


rule band2025_report:
    """Figure 10 (log loss per model), Figure 11 (gain over single DistilBERT), efficiency, Kaggle submissions."""
    input:
        metrics=implemented_metrics("band2025"),
        predictions=results("band2025", BAND_RUNS, "predictions.jsonl"),
        targets="config/targets/band2025_results.csv",
        parameters="config/targets/band2025_parameters.csv",
        # the efficiency score counts the parameters of the models behind the runs
        bases=sorted(
            {base_model(band_runs.BandRun.parse(run).model) for run in BAND_RUNS}
        ),
    output:
        tables=expand("results/band2025/tables/log_loss.{ext}", ext=["csv", "md"]),
        figures=expand("results/band2025/figures/figure{i}.png", i=[10, 11]),
        submissions=expand("results/band2025/submissions/{run}.csv", run=BAND_RUNS),
    log:
        "logs/band2025/report.log",
    conda:
        "../../envs/report.yaml"
    params:
        runs=papers.runs(config, "band2025"),
    script:
        "../scripts/band2025_report.py"


rule zhao2025:
    input:
        rules.zhao2025_table3.output,
        results(
            "zhao2025",
            papers.runs(config, "zhao2025", with_api=API_KEY_SET),
            "metrics.json",
        ),


rule gupta2023:
    input:
        rules.gupta2023_report.output,
        results("gupta2023", papers.runs(config, "gupta2023"), "metrics.json"),


rule band2025:
    input:
        rules.band2025_report.output,
        results("band2025", papers.runs(config, "band2025"), "metrics.json"),
