"""The fast formulations of the neuron math are the textbook ones bit for bit, and the stacks of several
networks (StretchStack, MeasurementStack) give each network what its own neuron gives (qiskit_natural_qnn.neurons).

Every comparison is exact (``torch.equal``) against an independent textbook expression evaluated by the
same kernels: ``where(z > 0, 1, -1)``, ``where(u < p, 1, -1)``, ``where(m > 0, r_plus, r_minus)``.
"""

from __future__ import annotations

import math
import subprocess
import sys

import pytest
import torch

from qiskit_natural_qnn.exceptions import ConfigurationError, InputError
from qiskit_natural_qnn.fastpath import sample_sign
from qiskit_natural_qnn.neurons import (
    Measurement,
    MeasurementStack,
    Stretch,
    StretchStack,
    activation_from_sign_bit,
    uniform_kernels,
)

FLOATS = (torch.float16, torch.bfloat16, torch.float32, torch.float64)


def _specials(dtype: torch.dtype) -> torch.Tensor:
    """Zeros of both signs, infinities, NaNs of both signs, the smallest subnormals, the largest numbers."""
    info = torch.finfo(dtype)
    nan = torch.tensor(float("nan"), dtype=dtype)
    values = [0.0, -0.0, 1.0, -1.0, math.inf, -math.inf, info.tiny, -info.tiny, info.max, -info.max, 1e-3, -1e-3]
    tiny_sub = torch.tensor(info.tiny, dtype=dtype) / 4  # a subnormal
    return torch.cat(
        [torch.tensor(values, dtype=dtype), nan.view(1), (-nan).view(1), tiny_sub.view(1), -tiny_sub.view(1)]
    )


@pytest.mark.parametrize("dtype", FLOATS)
def test_the_sign_neuron_is_where_z_is_positive(dtype) -> None:
    z = torch.cat([_specials(dtype), torch.randn(1000, generator=torch.Generator().manual_seed(0)).to(dtype)])
    expected = torch.where(z > 0, 1.0, -1.0).to(dtype)  # sgn(0) = -1 and NaN -> -1, as the numpy path says
    assert torch.equal(Stretch(a=0.0)(z), expected)
    assert torch.equal(Stretch(a=0.7, kind="sgn")(z.view(2, -1)), expected.view(2, -1))


def test_constants_cached_as_tensors_keep_the_sign_of_zero() -> None:
    """g = 0 makes the constant -sin g = -0.0; a cache keyed by value would hand it to ``0 - z`` as the
    constant 0.0 later, and the sign neuron would send z = +0 to +1. A fresh interpreter, so that -0.0 is
    the first zero the cache sees."""
    code = (
        "import torch\n"
        "from qiskit_natural_qnn.neurons import Measurement, Stretch\n"
        "for dtype in (torch.float32, torch.float64):\n"
        "    Measurement(g=0.0).readout(torch.zeros(4, dtype=dtype))\n"
        "    print(Stretch(a=0.0)(torch.zeros(4, dtype=dtype)).tolist())\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split("\n")[:2] == ["[-1.0, -1.0, -1.0, -1.0]"] * 2


@pytest.mark.parametrize("dtype", FLOATS)
def test_activation_from_sign_bit_is_minus_copysign(dtype) -> None:
    v = _specials(dtype)
    assert torch.equal(activation_from_sign_bit(v), torch.copysign(torch.ones((), dtype=dtype), v).neg())


@pytest.mark.parametrize("dtype", (torch.float32, torch.float64))
def test_a_sampled_outcome_is_plus_one_exactly_when_u_is_below_p(dtype) -> None:
    gen = torch.Generator().manual_seed(1)
    p = torch.rand(4000, generator=gen, dtype=dtype)
    u = torch.rand(4000, generator=gen, dtype=dtype)
    u[:1000] = p[:1000]  # ties: u == p is an outcome -1
    p[1000:1010], u[1000:1010] = 0.0, 0.0
    p[1010:1020] = 1.0
    assert torch.equal(sample_sign(p, u), torch.where(u < p, 1.0, -1.0).to(dtype))


@pytest.mark.parametrize("g", [0.05, 0.7, math.pi / 4, math.pi / 2 - 1e-7])
@pytest.mark.parametrize("dtype", (torch.float32, torch.float64))
def test_the_weak_update_selects_each_outcomes_ratio_exactly(g, dtype) -> None:
    meas = Measurement(g=g)
    gen = torch.Generator().manual_seed(2)
    phi = (torch.rand(64, 32, generator=gen, dtype=dtype) - 0.5) * 12
    m = torch.where(torch.rand(64, 32, generator=gen) < 0.5, 1.0, -1.0).to(dtype)
    r_plus, r_minus = meas._ratios()
    ratio = torch.where(m > 0, torch.tensor(r_plus, dtype=dtype), torch.tensor(r_minus, dtype=dtype))
    expected = torch.atan2(torch.sin(phi * 0.5) * ratio, torch.cos(phi * 0.5)) * 2.0
    p_plus, update = meas.readout(phi)
    assert torch.equal(update(m), expected)
    assert torch.equal(meas.post_angle(phi, m), expected)


# ------------------------------------------------------------------------------------------ stacks
STRETCHES = {
    "tanh": [Stretch(a=a) for a in (0.3, 0.5, 2.0)],
    "hardtanh": [Stretch(a=a, kind="hardtanh") for a in (0.3, 0.5, 2.0)],
    "linear": [Stretch(a=a, kind="linear") for a in (0.3, 0.5, 2.0)],
    "sgn": [Stretch(a=0.0), Stretch(a=0.5, kind="sgn"), Stretch(a=0.0, kind="hardtanh")],
    "one a": [Stretch(a=0.5)] * 3,
}


@pytest.mark.parametrize("name", list(STRETCHES))
@pytest.mark.parametrize("dtype", (torch.float32, torch.float64))
def test_a_stretch_stack_gives_each_network_its_own_values(name, dtype) -> None:
    stretches = STRETCHES[name]
    z = torch.randn(3, 64, 16, generator=torch.Generator().manual_seed(3), dtype=dtype) * 2
    assert uniform_kernels(64 * 16, dtype)
    stack = StretchStack(stretches=tuple(stretches))
    assert torch.equal(stack(z), torch.stack([s(z[k]) for k, s in enumerate(stretches)]))
    assert torch.equal(stack.prob_plus(z), torch.stack([s.prob_plus(z[k]) for k, s in enumerate(stretches)]))


@pytest.mark.parametrize("gs", [(0.3, 0.7, 1.2), (math.pi / 2,) * 3, (0.5,) * 3])
@pytest.mark.parametrize("dtype", (torch.float32, torch.float64))
def test_a_measurement_stack_gives_each_network_its_own_readout(gs, dtype) -> None:
    measurements = [Measurement(g=g) for g in gs]
    gen = torch.Generator().manual_seed(4)
    phi = (torch.rand(3, 64, 16, generator=gen, dtype=dtype) - 0.5) * 12
    m = torch.where(torch.rand(3, 64, 16, generator=gen) < 0.5, 1.0, -1.0).to(dtype)
    stack = MeasurementStack(measurements=tuple(measurements))
    p_plus, update = stack.readout(phi)
    singles = [meas.readout(phi[k]) for k, meas in enumerate(measurements)]
    assert torch.equal(p_plus, torch.stack([p for p, _ in singles]))
    assert torch.equal(update(m), torch.stack([u(m[k]) for k, (_, u) in enumerate(singles)]))
    assert torch.equal(
        stack.prob_plus(phi), torch.stack([meas.prob_plus(phi[k]) for k, meas in enumerate(measurements)])
    )


def test_uniform_kernels_asks_for_whole_blocks_of_128_bytes() -> None:
    assert uniform_kernels(32, torch.float32) and uniform_kernels(16, torch.float64)
    assert not uniform_kernels(16, torch.float32) and not uniform_kernels(33, torch.float32)


@pytest.mark.parametrize(
    ("build", "match"),
    [
        (lambda: StretchStack(stretches=()), r"^a StretchStack needs one or more Stretch objects, got \[\]"),
        (
            lambda: StretchStack(stretches=(Stretch(a=0.5), Stretch(a=0.0))),
            r"one stretch function, got the kinds \['sgn', 'tanh'\]",
        ),
        (
            lambda: MeasurementStack(measurements=(Measurement(), Measurement(g=0.5))),
            r"projective or weak measurements, not both",
        ),
        (
            lambda: MeasurementStack(measurements=(Measurement(g=0.5, update="authors_arcsin"),)),
            r"the 'circuit' update of weak measurements, got \['authors_arcsin'\]",
        ),
    ],
)
def test_stacks_refuse_networks_of_different_kinds(build, match) -> None:
    with pytest.raises(ConfigurationError, match=match):
        build()


def test_a_linear_stack_refuses_the_first_network_with_a_rotation_beyond_max_angle() -> None:
    stack = StretchStack(stretches=(Stretch(a=1.0, kind="linear"), Stretch(a=0.5, kind="linear")))
    z = torch.zeros(2, 4, 8)
    z[1, 2, 3] = 2.0**30
    with pytest.raises(InputError, match=r"^a pre-activation \|z\| = 1\.07374e\+09 gives .* beyond MAX_ANGLE"):
        stack(z)
