"""OPDM Studio: reference-based line-art colouring for 2D animation."""

__version__ = "0.1.0"
