"""Synthetic cuts with ground truth: procedural line art, flat paint and palette (numpy / OpenCV).

Tests, benchmarks, the bundled sample cut, the GUI's screenshot and training data all come from
here (:mod:`.cut`; the scene behind it in :mod:`.scene`), so every layer that needs a cut with a
known answer imports this package; it imports only ``imaging`` and the top-level modules.
"""
