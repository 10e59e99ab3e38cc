"""engine layer of OPDM Studio (see DESIGN.md): project, plan, colouriser, models, CLI commands."""
