"""Models: base-model preparation (base), tiny random models (tiny), encoders with task heads
(encoder: the multi-head classifier and the base that other heads share)."""
