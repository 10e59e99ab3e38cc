"""What the run scripts here share: the evaluation protocol's windows of a clip as pipeline inputs."""
from opdm_studio.evaluation.protocol import windows
from opdm_studio.pipelines.base import FrameInputs, Interval


def window_inputs(frames, lines, gap):
    """For each protocol window (a, b) of a clip (colour ``frames``, its drawings ``lines``):
    (a, b, [(i, FrameInputs of in-between i, its interval the window's drawings), ...])."""
    for a, b in windows(len(frames), gap):
        span = lines[a:b + 1]
        yield a, b, [(i, FrameInputs(lines[i], frames[a], frames[b], lines[a], lines[b], t=(i - a) / (b - a),
                                     interval=Interval(key=(a, b), load=lambda span=span: span,
                                                       position=i - a, length=b - a + 1)))
                     for i in range(a + 1, b)]
