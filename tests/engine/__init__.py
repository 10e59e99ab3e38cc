"""Tests of the engine: project, plan, colouriser, models, CLI."""
