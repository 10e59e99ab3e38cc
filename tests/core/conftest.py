"""tests/core: one torch thread. The tiny test networks gain nothing from more, and on a shared
CPU a second spinning OpenMP thread makes every small op wait (measured 3x slower here)."""
import pytest
import torch


@pytest.fixture(autouse=True, scope="session")
def _one_torch_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
