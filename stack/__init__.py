"""The stack's wiring: explicit providers and the outputs contract."""
