"""The benchmark scripts stay runnable against the library they measure.

``benchmarks/`` is not part of the package and no test runs its full measurements (they take minutes
and their figures belong to the machine). What can rot silently is the seam: a benchmark that stands
in for a library function must accept every argument the library passes it. ``train_throughput.py``'s
fused lines replace ``fastpath.sample_layer`` by a compiled wrapper; when the library began to pass
``shape=`` the wrapper raised ``TypeError`` on the first batch, and nothing but a manual run showed it.
"""

from __future__ import annotations

import importlib.util
import inspect
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import torch

from qiskit_natural_qnn import fastpath
from qiskit_natural_qnn.network import NaturalQNN

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.fixture(scope="module")
def train_throughput() -> ModuleType:
    spec = importlib.util.spec_from_file_location("_benchmark_train_throughput", BENCHMARKS / "train_throughput.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _parameters(function: Callable[..., Any]) -> dict[str, object]:
    """Every parameter of ``function``, name -> default (``inspect.Parameter.empty`` where it has none)."""
    return {name: p.default for name, p in inspect.signature(function).parameters.items()}


def test_the_fused_sample_layer_takes_every_argument_of_the_librarys(train_throughput: ModuleType) -> None:
    wrapper = train_throughput.fused_sample_layer()  # torch.compile is lazy: nothing compiles here
    library, fused = _parameters(fastpath.sample_layer), _parameters(wrapper)
    assert list(fused) == list(library), f"the wrapper's parameters {list(fused)} differ from {list(library)}"
    defaults = {name: value for name, value in library.items() if value is not inspect.Parameter.empty}
    assert {name: fused[name] for name in defaults} == defaults


def test_the_wrapper_takes_the_library_path_for_shots_and_counts_only_compiled_calls(
    train_throughput: ModuleType,
) -> None:
    """A pass with shots (``shape=``) is evaluation: the wrapper hands it to the library unchanged."""
    wrapper = train_throughput.fused_sample_layer()
    model = NaturalQNN(layer_sizes=[6, 4, 3], a=0.5, stretch="tanh", seed=3)
    x = torch.rand(5, 6, generator=torch.Generator().manual_seed(1))
    expected = model.sample(x, shots=4, seed=7)
    original = fastpath.sample_layer
    fastpath.sample_layer = wrapper
    try:
        got = model.sample(x, shots=4, seed=7)
    finally:
        fastpath.sample_layer = original
    for mine, theirs in zip(got.activations, expected.activations, strict=True):
        assert torch.equal(mine, theirs)
    assert torch.equal(got.logits, expected.logits)
    assert wrapper.calls == 0
