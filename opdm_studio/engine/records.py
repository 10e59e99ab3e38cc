"""What a project records per frame: :class:`KeyFrame` (where a key's paint comes from) and
:class:`FrameResult` (what the engine produced for a frame and what it was made from)."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

from opdm_studio.pipelines import method_name

__all__ = ["STATUSES", "FrameResult", "KeyFrame"]

# Result statuses: "done" = coloured by a method, "keyframe" = copied through from a keyframe,
# "held" = same drawing as an earlier frame whose colours it reuses.
STATUSES = ("done", "keyframe", "held")


@dataclass
class KeyFrame:
    """A keyframe: which frame, and where its colour comes from."""

    index: int
    source: str = "cut"      # "cut" = the cut's colour folder; "file" = an explicit image; "result" = promoted result
    path: str | None = None  # "file" / "result": its copy in the project, relative to the project folder

    def to_dict(self, name: str) -> dict[str, Any]:
        """JSON form (frames are stored by name as well as index)."""
        return {"name": name, "index": self.index, "source": self.source, "path": self.path}


@dataclass
class FrameResult:
    """What the engine produced for one frame."""

    index: int
    status: str                                        # see STATUSES
    keys: tuple[int, int] | None = None                # (prev, next) keyframe indices used
    method: str | None = None
    color_path: str | None = None                      # stored colour-only layer, relative to project
    confidence_path: str | None = None                 # stored confidence map (8-bit PNG), relative
    outputs: dict[str, str] = field(default_factory=dict)  # layer -> exported file (absolute)
    confidence: float | None = None                    # mean per-region confidence, area weighted
    flagged: int = 0                                   # regions flagged for review
    regions: int = 0                                   # closed regions in the drawing
    source_index: int | None = None                    # for "held": the frame whose colours it reuses
    recipe: dict[str, Any] | None = None               # ColorizeSettings.recipe() it was made with
    sources: dict[str, str] | None = None              # digests of its drawing and keys (sources.py)
    seconds: float = 0.0                               # time spent colouring it
    finished: float = 0.0                              # unix time

    def to_dict(self, names: list[str]) -> dict[str, Any]:
        """JSON form; frames are stored by name too so a re-sorted cut still maps correctly."""
        d = asdict(self)
        d["name"] = names[self.index]
        d["keys"] = list(self.keys) if self.keys is not None else None
        d["key_names"] = [names[k] for k in self.keys] if self.keys is not None else None
        d["source_name"] = names[self.source_index] if self.source_index is not None else None
        return d

    @classmethod
    def from_dict(cls, data: dict[str, Any], index: int) -> FrameResult:
        """Build from JSON, with the index resolved against the current cut."""
        known = {f.name for f in fields(cls)}
        kw = {k: v for k, v in data.items() if k in known}
        kw["index"] = index
        if kw.get("keys") is not None:
            kw["keys"] = (int(kw["keys"][0]), int(kw["keys"][1]))
        # Results written before the method was named "model" say "opdm", in the recipe too:
        # read as today's name they stay current.
        if isinstance(kw.get("method"), str):
            kw["method"] = method_name(kw["method"])
        if isinstance(kw.get("recipe"), dict) and isinstance(kw["recipe"].get("method"), str):
            kw["recipe"] = {**kw["recipe"], "method": method_name(kw["recipe"]["method"])}
        if kw.get("status") not in STATUSES:
            raise ValueError(f"unknown status {kw.get('status')!r}")
        return cls(**kw)
