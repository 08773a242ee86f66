"""resonance's benchmark suite (``python -m benchmarks``)."""
