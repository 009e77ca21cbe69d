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


#: The numerics-sensitive test modules: their assertions depend on floating-point kernels (matrix
#: products, sin/sigmoid/atan2, the sampling comparisons, training and resume). `.ci/run` runs them
#: again under other kernel choices of the same machine (``-m numerics`` with ``ATEN_CPU_CAPABILITY``
#: and ``MKL_ENABLE_INSTRUCTIONS`` set), so a kernel-dependent assertion fails there first.
NUMERICS_MODULES = frozenset(
    {
        "test_neurons.py",
        "test_fastpath.py",
        "test_randomness.py",
        "test_reliability_randomness.py",
        "test_reliability_resume.py",
        "test_training.py",
        "test_training_options.py",
        "test_inference.py",
        "test_fuzz_inputs.py",
        "test_circuits_distribution.py",
        "test_ensemble.py",
        "test_neurons_stacks.py",
        "test_fastpath_deferred.py",
    }
)


def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.path.name in NUMERICS_MODULES:
            item.add_marker(pytest.mark.numerics)


def pytest_report_header(config):
    """Name the CPU kernels in use, so a failure report says which ones it ran on."""
    mkl = os.environ.get("MKL_ENABLE_INSTRUCTIONS", "(MKL's choice)")
    return (
        f"torch {torch.__version__}, CPU capability {torch.backends.cpu.get_cpu_capability()}, MKL instructions {mkl}"
    )


@pytest.fixture(autouse=True)
def _doctest_helpers(doctest_namespace):
    """``fake_record``: sweep records with made-up numbers for the examples of the experiments package."""
    from tests.records import fake_record

    doctest_namespace["fake_record"] = fake_record
