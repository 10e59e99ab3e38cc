"""OPDM Studio: reference-based line-art colouring for 2D animation."""
import os

__version__ = "0.1.0"

# OpenMP threads that spin while waiting (libgomp's default) make torch 5-15x slower as soon as
# another busy process shares the cores (measured: small preset, 2 threads, 2.1 s per sampler step
# with the machine loaded vs 0.15 s with passive waiting). Set here, in the top package, so every
# entry point (CLI, GUI, tests) gets it before torch is imported; the user's own setting wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
