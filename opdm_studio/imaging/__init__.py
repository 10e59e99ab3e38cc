"""imaging layer of OPDM Studio (see DESIGN.md)."""
