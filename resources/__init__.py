"""Bundled data: the default model, the sample cut, icons, the README screenshot."""
from importlib.resources import files


def resource_path(*parts: str):
    """Return a Traversable for a file or folder inside the bundled resources."""
    node = files(__name__)
    for p in parts:
        node = node / p
    return node
