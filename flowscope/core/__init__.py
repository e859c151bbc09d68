"""Pure torch/numpy math: no Qt, no threads, no app state (ARCHITECTURE.md)."""
