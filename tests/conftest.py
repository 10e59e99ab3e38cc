"""Test setup shared by every test: offscreen Qt, a private home folder, one torch thread."""
import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# The test networks are tiny: a second OpenMP thread gains nothing, and on a shared 2-core CPU a
# spinning thread makes every small op wait for a descheduled peer (measured: a 10-step training
# test took 88 s with 2 threads under load, 5 s with 1).
os.environ.setdefault("OMP_NUM_THREADS", "1")

import pytest


@pytest.fixture(autouse=True, scope="session")
def _one_torch_thread():
    """Pin torch to one thread for the whole session (see above)."""
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a dependency
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(autouse=True)
def _private_home(tmp_path_factory, monkeypatch):
    """Keep models, logs and caches of every test in a temporary folder, never the user's."""
    home = tmp_path_factory.mktemp("opdm_home")
    monkeypatch.setenv("OPDM_STUDIO_HOME", str(home))
    yield home


@pytest.fixture(autouse=True)
def _no_kept_adaptation():
    """Each test adapts its networks itself: no adapted copy kept from another test."""
    yield
    import sys
    if "opdm_studio.pipelines.adapt" in sys.modules:
        sys.modules["opdm_studio.pipelines.adapt"].forget_adapted()


def _bf16_reason() -> str | None:
    import torch

    from opdm_studio.core.device import cpu_supports_bf16
    if cpu_supports_bf16():
        return None
    return f"this CPU ({torch.backends.cpu.get_cpu_capability()}) has no bf16 convolutions in oneDNN"


#: Mark for tests that run bf16 convolutions on the CPU: skipped, with the reason, where oneDNN
#: cannot run them (AMD EPYC with AVX2 only); they run on CPUs with AVX512-BF16 or AMX.
_NO_BF16 = _bf16_reason()
requires_bf16 = pytest.mark.skipif(_NO_BF16 is not None, reason=_NO_BF16 or "")
