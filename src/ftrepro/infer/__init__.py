"""Prediction entry points, one module per model family; all write the shared predictions format."""
