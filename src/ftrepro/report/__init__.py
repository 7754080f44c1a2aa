"""Paper-by-paper tables: the paper's number, ours, and the difference, per cell."""
