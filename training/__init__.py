"""The bundled training package: fine-tune OPDM on finished cuts (importable without Qt)."""
