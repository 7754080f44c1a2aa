"""Models: base-model preparation (base), tiny random models (tiny), the zhao2025 multi-head
encoder (encoder)."""
