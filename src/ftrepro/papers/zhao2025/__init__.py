"""zhao2025: what is this paper's alone (runs, prompts, predictions, report)."""
