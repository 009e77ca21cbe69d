"""Test-session settings shared by the unit tests, the doctests and the notebook kernels."""

from __future__ import annotations

import os

os.environ.setdefault("MPLBACKEND", "Agg")
# One OpenMP thread for this process and for the notebook kernels nbmake starts (they inherit the
# environment): on a busy machine, OpenMP threads that wait on each other slowed a 5-second notebook
# cell past nbmake's 300-second limit.
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import pytest  # noqa: E402
import torch  # noqa: E402


@pytest.fixture(autouse=True, scope="session")
def _one_torch_thread():
    """Small tensors gain nothing from threads, and on a busy machine OpenMP threads that wait on each
    other can slow a run a hundredfold; one thread keeps the suite fast everywhere."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
