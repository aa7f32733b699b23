"""Synthetic audio-visual counting benchmarks with ground truth exact by construction.

`generate_benchmark(out, SynthConfig(...))` writes videos with audio, items in the
CG-AV-Counting schema and, on request, noisy oracle predictions to compare.
"""

from engine.synth.generate import SynthConfig, SynthResult, generate_benchmark, plan_benchmark
from engine.synth.oracle import PROTOCOLS, RUNS, OracleRun

__all__ = [
    "PROTOCOLS",
    "RUNS",
    "OracleRun",
    "SynthConfig",
    "SynthResult",
    "generate_benchmark",
    "plan_benchmark",
]
