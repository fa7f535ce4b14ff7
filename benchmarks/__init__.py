"""Benchmarks run by `zoo bench`; each reports ratios measured side by side in one run."""
