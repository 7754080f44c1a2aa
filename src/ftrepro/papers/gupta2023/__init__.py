"""gupta2023: what is this paper's alone (runs, prompts, predictions, report)."""
