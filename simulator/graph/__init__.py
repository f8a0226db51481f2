"""The causal network: link functions, the compiler and the per-step evaluator."""
