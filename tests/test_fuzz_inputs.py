"""Property-based fuzzing of every user-facing input: typed errors or correct results, never a crash.

Each test states an oracle: which inputs are valid, what a valid input must give, and which typed
error an invalid one must raise. ``CASES`` counts the fuzzed cases (printed at the end of the module
with ``pytest -s``; ``--hypothesis-show-statistics`` gives hypothesis' own counts).

The kinds: arrays of any dtype and byte order given to ``predict``, ``sample`` and ``fit``; labels;
``predict``'s settings; constructor and training settings; register names; seeds, image ids and shot
offsets everywhere they enter (one rule: ints in ``[0, 2**64)``); huge pre-activations (every
execution refuses the same inputs or gives the same law); bounded work (sizes refused before
allocating or submitting exactly when their estimate exceeds the limit); types at the API edge; and
``mode="auto"`` choosing only circuits that fit the device.
"""

from __future__ import annotations

import functools
import math
import warnings
from collections import Counter

import hypothesis
import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from qiskit_natural_qnn import (
    ConfigurationError,
    ExecutionError,
    InputError,
    NaturalQNN,
    TrainConfig,
    evaluate,
    fit,
    predict,
)
from qiskit_natural_qnn.data import Dataset
from qiskit_natural_qnn.exceptions import NaturalQNNError, TargetCapabilityError
from qiskit_natural_qnn.neurons import MAX_ANGLE, STRETCH_KINDS, WEAK_UPDATES

CASES: Counter = Counter()
N_IN, N_OUT = 5, 3
_FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.fixture(autouse=True, scope="module")
def _one_thread_and_report():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
    print(f"\n[fuzz] {__name__}: {sum(CASES.values())} cases {dict(CASES)}")


_NETS = {
    "classical": NaturalQNN(layer_sizes=[N_IN, 4, N_OUT], seed=0),
    "method1": NaturalQNN(layer_sizes=[N_IN, 4, 4, N_OUT], a=0.7, seed=1),
    "method2": NaturalQNN(layer_sizes=[N_IN, 4, 4, N_OUT], a=0.3, g=0.8, seed=2, dtype=torch.float64),
}

_DTYPES = [
    np.float16,
    np.float32,
    np.float64,
    np.int8,
    np.int32,
    np.int64,
    np.uint8,
    np.bool_,
    np.complex64,
    ">f2",  # big-endian arrays: predict accepted them and fit refused them; both convert them now
    ">f4",
    ">f8",
    ">i4",
]


@st.composite
def _arrays(draw, width: int = N_IN):
    """Arrays of any dtype, 0-3 dimensions, often the right width, with NaN, infinities and huge values."""
    dtype = np.dtype(draw(st.sampled_from(_DTYPES)))
    ndim = draw(st.integers(0, 3))
    shape = [draw(st.integers(0, 4)) for _ in range(ndim)]
    if ndim and draw(st.booleans()):
        shape[-1] = width
    return draw(hnp.arrays(dtype, tuple(shape)))


def _valid_images(x: np.ndarray, model: NaturalQNN, *, two_d: bool = True) -> bool:
    if x.dtype.kind in "bc" or x.ndim == 0 or x.shape[-1] != model.n_inputs or x.size == 0:
        return False
    if two_d and x.ndim != 2:
        return False
    as_model = torch.as_tensor(x.astype(np.float64)).to(model.layers[0].weight.dtype)
    return bool(torch.isfinite(as_model).all())


@_FUZZ
@given(x=_arrays(), which=st.sampled_from(sorted(_NETS)), as_tensor=st.booleans())
def test_predict_and_sample_on_any_array(x, which, as_tensor) -> None:
    CASES["predict/sample arrays"] += 1
    net = _NETS[which]
    data = torch.from_numpy(x.copy()) if as_tensor and x.dtype.isnative else x
    if _valid_images(x, net):
        try:
            pred = predict(net, data, shots=3, seed=0, batch_size=2)
        except InputError as exc:  # W x overflowed to inf or NaN: only possible with huge inputs
            assert "are not finite: W x overflowed" in str(exc) and np.abs(x.astype(np.float64)).max() > 1e30
            return
        n = x.shape[0]
        assert pred.shot_classes.shape == (n, 3) and pred.vote_counts.shape == (n, N_OUT)
        assert (pred.vote_counts.sum(axis=1) == 3).all()
        # the same numbers as float64 give the same classes (the dtype of the array changes nothing)
        again = predict(net, x.astype(np.float64), shots=3, seed=0)
        np.testing.assert_array_equal(pred.shot_classes, again.shot_classes)
    else:
        with pytest.raises(InputError):
            predict(net, data, shots=3, seed=0, batch_size=2)
    if not as_tensor and x.dtype.kind in "bc":
        return  # NaturalQNN.sample converts such NumPy arrays: see test_sample_refuses_numpy_bool_and_complex
    if _valid_images(x, net, two_d=False):
        fp = net.sample(data, shots=2, seed=1)
        assert fp.logits.shape == (2, *x.shape[:-1], N_OUT)
    else:
        with pytest.raises(InputError):
            net.sample(data, shots=2, seed=1)


@_FUZZ
@given(labels=_arrays(width=6), which=st.sampled_from(sorted(_NETS)))
def test_evaluate_on_any_labels(labels, which) -> None:
    CASES["evaluate labels"] += 1
    net = _NETS[which]
    images = np.random.default_rng(0).random((6, N_IN))
    valid = (
        labels.ndim == 1
        and labels.shape[0] == 6
        and labels.dtype.kind in "iu"
        and bool(((labels >= 0) & (labels < N_OUT)).all())
    )
    if valid:
        ev = evaluate(net, (images, labels), shots=3, seed=0)
        pred = predict(net, images, shots=3, seed=0)
        assert ev.vote_error == float((pred.majority != labels).mean())
    else:
        with pytest.raises(InputError):
            evaluate(net, (images, labels), shots=3, seed=0)


#: Integers at the edges of the 64-bit rule for seeds, image ids and shot offsets.
_EDGE_INTS = [-(2**64), -1, 0, 2**32 - 1, 2**32, 2**63 - 1, 2**63, 2**64 - 3, 2**64 - 1, 2**64, 2**65]

_ANY = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 2**64),
    st.sampled_from(_EDGE_INTS),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=3),
    st.just([1, 2]),
    st.just(np.int64(4)),
    st.just(np.float32(0.5)),
    st.just(1 + 2j),
)


_SMALL = st.one_of(st.integers(-3, 40), _ANY.filter(lambda v: not isinstance(v, int) or isinstance(v, bool)))


@_FUZZ
@given(
    shots=_SMALL,
    batch_size=_SMALL,
    seed=_ANY,
    shot_offset=st.one_of(_SMALL, st.sampled_from(_EDGE_INTS)),
    use_ids=st.booleans(),
)
def test_predict_settings(shots, batch_size, seed, shot_offset, use_ids) -> None:
    CASES["predict settings"] += 1
    net = _NETS["method1"]
    images = np.random.default_rng(0).random((4, N_IN))

    def is_int(v):
        return isinstance(v, (int, np.integer)) and not isinstance(v, bool)

    counter_seed = is_int(seed) and 0 <= seed < 2**64  # one rule: 64-bit seeds, nothing reduced modulo 2**64
    kwargs = {"shots": shots, "batch_size": batch_size, "seed": seed, "shot_offset": shot_offset}
    if use_ids:
        kwargs["image_ids"] = np.arange(4)
    valid = (
        is_int(shots)
        and shots >= 1
        and is_int(batch_size)
        and batch_size >= 1
        and (counter_seed or seed is None)
        and is_int(shot_offset)
        and 0 <= int(shot_offset) <= 2**64 - int(shots)  # shot indexes are 64-bit
        and (counter_seed or (shot_offset == 0 and not use_ids))
    )
    if valid:
        pred = predict(net, images, **kwargs)
        assert pred.shot_classes.shape == (4, shots)
    else:
        with pytest.raises(ConfigurationError):
            predict(net, images, **kwargs)


_REALS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(0, 4),
    st.floats(1e-320, 1e-20),
    st.just(math.pi / 2),
    st.just(math.pi / 2 + 1e-13),
    st.sampled_from([None, "0.5", "x", 1 + 1j, [0.5], True]),
)


def _as_real(v):
    if isinstance(v, (bool, np.bool_)):
        return float(v)
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


@_FUZZ
@given(
    sizes=st.lists(st.one_of(st.integers(-2, 6), st.sampled_from([True, 2.0, "3"])), max_size=5),
    a=_REALS,
    g=_REALS,
    stretch=st.sampled_from([*STRETCH_KINDS, "relu", ""]),
    weak_update=st.sampled_from([*WEAK_UPDATES, "arcsin"]),
)
def test_network_constructor(sizes, a, g, stretch, weak_update) -> None:
    CASES["NaturalQNN settings"] += 1
    ar, gr = _as_real(a), _as_real(g)
    sizes_ok = len(sizes) >= 3 and all(isinstance(s, int) and not isinstance(s, bool) and s >= 1 for s in sizes)
    a_ok = ar is not None and math.isfinite(ar) and ar >= 0 and not (stretch == "linear" and ar == 0)
    g_ok = gr is not None and math.isfinite(gr) and 0 <= gr <= math.pi / 2 + 1e-12
    widths_ok = sizes_ok and (not g_ok or gr >= math.pi / 2 or len(set(sizes[1:-1])) == 1)
    valid = sizes_ok and a_ok and g_ok and widths_ok and stretch in STRETCH_KINDS and weak_update in WEAK_UPDATES
    kwargs = {"layer_sizes": sizes, "a": a, "g": g, "stretch": stretch, "weak_update": weak_update, "seed": 0}
    if not valid:
        with pytest.raises(ConfigurationError):
            NaturalQNN(**kwargs)
        return
    if 0 < ar < 1e-30:
        return  # see test_tiny_stretch_is_refused_or_a_fair_coin_at_z_0
    net = NaturalQNN(**kwargs)
    assert net.a == ar and net.layer_sizes == tuple(sizes)
    # zero inputs give z = 0 in hidden layer 1: its outcome frequency must match the model's probability
    pred = predict(net, np.zeros((1, sizes[0])), shots=400, seed=0, return_hidden=True)
    plus = float((pred.hidden[0] == 1).mean())
    neuron, zero = net.neuron, np.zeros(1)
    if not neuron.measurement.is_projective and len(sizes) > 3:  # a weakly measured qubit, fresh at angle 0
        p = float(neuron.measurement.prob_plus((math.pi / 2) * (1 - neuron.stretch(zero)))[0])
    else:
        p = float(neuron.stretch.prob_plus(zero)[0])
    if p in (0.0, 1.0):
        assert plus == p
    else:
        assert abs(plus - p) < 0.1, f"P(+1) at z = 0 should be {p}, got {plus} for a={ar!r} stretch={stretch}"


_CONFIG_FIELDS = {
    "epochs": st.one_of(st.integers(-1, 3), _ANY),
    "lr": st.one_of(st.floats(-1, 1), _ANY),
    "momentum": st.one_of(st.floats(-0.5, 1.5), _ANY),
    "batch_size": st.one_of(st.integers(-1, 70), _ANY),
    "weight_decay": st.one_of(st.floats(-1, 1), _ANY),
    "eval_shots": st.one_of(st.integers(-1, 20), _ANY),
    "eval_every": st.one_of(st.integers(-1, 3), _ANY),
    "shuffle": st.one_of(st.booleans(), _ANY),
    "seed": st.one_of(st.integers(-1, 2**64), st.sampled_from(_EDGE_INTS), _ANY),
    "schedule": st.sampled_from([None, "cosine", "linear", ""]),
}


@_FUZZ
@given(st.fixed_dictionaries({}, optional=_CONFIG_FIELDS))
def test_train_config(fields) -> None:
    CASES["TrainConfig"] += 1

    def pos_int(v):
        return isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v >= 1

    def real(v):
        return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool) and math.isfinite(v)

    f = {**TrainConfig().to_dict(), **fields}
    valid = (
        all(pos_int(f[k]) for k in ("epochs", "batch_size", "eval_shots", "eval_every"))
        and real(f["lr"])
        and f["lr"] > 0
        and real(f["momentum"])
        and 0 <= f["momentum"] < 1
        and real(f["weight_decay"])
        and f["weight_decay"] >= 0
        and isinstance(f["shuffle"], (bool, np.bool_))
        and (
            f["seed"] is None
            or (isinstance(f["seed"], (int, np.integer)) and not isinstance(f["seed"], bool) and 0 <= f["seed"] < 2**64)
        )
        and f["schedule"] in (None, "cosine")
    )
    if valid:
        config = TrainConfig(**fields)
        assert config.to_dict() == {k: (type(v)(f[k]) if v is not None else None) for k, v in config.to_dict().items()}
    else:
        with pytest.raises(ConfigurationError):
            TrainConfig(**fields)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(images=_arrays(), labels=_arrays(width=4))
def test_fit_on_any_data(images, labels) -> None:
    CASES["fit data"] += 1
    net = NaturalQNN(layer_sizes=[N_IN, 4, N_OUT], a=0.5, seed=0)
    n = images.shape[0] if images.ndim else -1
    valid = (
        _valid_images(images, net)
        and labels.ndim == 1
        and labels.shape[0] == n
        and labels.dtype.kind in "iu"
        and bool(((labels >= 0) & (labels < N_OUT)).all())
    )
    data = Dataset(images, labels, "fuzz")
    config = TrainConfig(epochs=1, batch_size=2, eval_shots=2, seed=0)
    if valid:
        history = fit(net, data, data, config=config, progress=False)
        assert len(history.records) == 1 and math.isfinite(history.records[0].loss)
    else:
        with pytest.raises(InputError):
            fit(net, data, data, config=config, progress=False)


# ------------------------------------------------------------------------------ register names
_BITS = {"h1": np.array([[0, 1, 1], [1, 0, 0]], dtype=bool), "h2": np.array([[1, 1], [0, 1]], dtype=bool)}


def _databin():
    from qiskit.primitives.containers import BitArray, DataBin

    return DataBin(**{k: BitArray.from_bool_array(v, order="little") for k, v in _BITS.items()})


_NAMES = st.one_of(
    st.sampled_from(
        [
            "h1",
            "h2",
            "h3",
            "h0",
            "H1",
            "h1 ",
            "",
            "keys",
            "items",
            "__class__",
            "__dict__",
            "shape",
            "_FIELDS",
            "values",
            "get",
        ]
    ),
    st.text(max_size=6),
    st.integers(-2, 3),
)


@_FUZZ
@given(name=_NAMES, as_mapping=st.booleans(), as_register=st.booleans())
def test_register_decoding_by_any_name(name, as_mapping, as_register) -> None:
    from qiskit.circuit import ClassicalRegister

    from qiskit_natural_qnn.circuits.registers import layer_bits, outcome_counts

    CASES["register names"] += 1
    data = _databin()
    if as_mapping:
        data = {k: getattr(data, k) for k in _BITS}
    reg = name
    if as_register and isinstance(name, str) and name.isidentifier() and name.isascii():
        reg = ClassicalRegister(2, name)
    key = str(name)
    if not as_mapping and hasattr(data, key) and key not in _BITS:
        return  # DataBin attributes: see test_register_names_that_are_databin_attributes
    if key in _BITS:
        np.testing.assert_array_equal(layer_bits(data, reg), _BITS[key].astype(np.int64))
        counts = outcome_counts(data, [reg])
        assert sum(counts.values()) == 2
    else:
        with pytest.raises(ExecutionError, match="no classical register"):
            layer_bits(data, reg)
        with pytest.raises(ExecutionError):
            outcome_counts(data, ["h1", reg])


# --------------------------------------------------------------------------- seeds, ids and shot offsets
_SEEDS = st.one_of(
    st.sampled_from(_EDGE_INTS),
    st.integers(-(2**66), 2**66),
    st.integers(0, 2**64 - 1),
    st.just(np.uint64(2**64 - 1)),
    st.just(np.int64(-5)),
    _ANY,
)
_SEED_SITES = (
    "NaturalQNN",
    "reseed",
    "predict seed",
    "shot_offset",
    "image_ids",
    "TrainConfig",
    "SweepPoint",
    "run seed",
    "make_generator",
    "counter_uniform",
)


@_FUZZ
@given(value=_SEEDS, site=st.sampled_from(_SEED_SITES))
def test_seeds_image_ids_and_shot_offsets_everywhere(value, site) -> None:
    """One rule wherever a seed, an image id or a shot offset enters: an int in [0, 2**64) (offsets: up to
    2**64 - shots) works, anything else is a typed error; never NumPy's error, never a silent modulo."""
    from qiskit_natural_qnn.execution.samplers import resolve_run_seed
    from qiskit_natural_qnn.experiments.sweep import SweepPoint
    from qiskit_natural_qnn.randomness import counter_uniform, make_generator

    CASES["seeds and offsets"] += 1
    is_int = isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))
    in_range = is_int and 0 <= int(value) < 2**64
    net, x = _NETS["method1"], np.random.default_rng(0).random((8, N_IN))
    sites = {
        "NaturalQNN": (lambda: NaturalQNN(layer_sizes=[3, 2, 2], seed=value), in_range or value is None),
        "reseed": (lambda: NaturalQNN(layer_sizes=[3, 2, 2], seed=0).reseed(value), in_range or value is None),
        "predict seed": (lambda: predict(net, x, shots=2, seed=value), in_range or value is None),
        "shot_offset": (
            lambda: predict(net, x, shots=3, seed=0, shot_offset=value),
            is_int and 0 <= value <= 2**64 - 3,
        ),
        "image_ids": (lambda: predict(net, x, shots=2, seed=0, image_ids=[value] * 8), in_range),
        "TrainConfig": (lambda: TrainConfig(seed=value), in_range or value is None),
        "SweepPoint": (lambda: SweepPoint(a=0.0, seed=value), in_range),
        "run seed": (lambda: resolve_run_seed(value), in_range or value is None),
        "make_generator": (lambda: make_generator(value), in_range or value is None),
        "counter_uniform": (lambda: counter_uniform(seed=value, image_ids=[0]), in_range or value is None),
    }
    call, valid = sites[site]
    hypothesis.event(f"{site}: {'valid' if valid else 'refused'}")
    if valid:
        call()
        if site == "shot_offset" and value >= 2**32:
            # the counter takes all 64 bits: an offset 2**32 (or 2**63...) above another draws other numbers
            same_low = predict(net, x, shots=3, seed=0, shot_offset=int(value) % 2**32, return_hidden=True)
            full = predict(net, x, shots=3, seed=0, shot_offset=value, return_hidden=True)
            assert not all(np.array_equal(a, b) for a, b in zip(full.hidden, same_low.hidden))
    else:
        error = InputError if site == "image_ids" else ConfigurationError
        with pytest.raises(error):
            call()


# ------------------------------------------------------------------------------- huge pre-activations
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    exponent=st.floats(-3, 300),
    sign=st.sampled_from([1.0, -1.0]),
    stretch=st.sampled_from(["linear", "linear", "tanh", "hardtanh"]),
    a=st.sampled_from([0.25, 1.0, 4.0]),
    dtype=st.sampled_from([torch.float32, torch.float64]),
    g=st.sampled_from([math.pi / 2, 0.7]),
)
def test_huge_preactivations_are_refused_everywhere_or_give_one_law(exponent, sign, stretch, a, dtype, g) -> None:
    """The fast path, the circuits' angles and the exact enumeration refuse the same pre-activations (a
    linear stretch's rotation beyond MAX_ANGLE = 2**24 pi) and otherwise give the first layer one law."""
    from qiskit_natural_qnn.circuits.angles import input_angles, layer_measurement
    from qiskit_natural_qnn.exact import exact_distribution
    from qiskit_natural_qnn.schedule import carried_angle

    CASES["huge pre-activations"] += 1
    if dtype == torch.float32:
        exponent = min(exponent, 30.0)  # W x stays finite in float32 (its overflow is another, tested error)
    net = NaturalQNN(layer_sizes=[2, 2, 2, 2], a=a, stretch=stretch, g=g, seed=3, dtype=dtype)
    with torch.no_grad():
        net.layers[0].weight.copy_(torch.tensor([[1.0, 0.5], [-0.25, 1.0]]))
    x = np.array([[sign * 10.0**exponent, 0.3]])
    z = np.array([[1.0, 0.5], [-0.25, 1.0]]) @ torch.as_tensor(x).to(dtype).double().numpy()[0]
    rotation = float(np.abs(z).max()) * math.pi / 2 / a
    hypothesis.assume(abs(rotation / MAX_ANGLE - 1) > 1e-4)  # float32 and float64 round z differently there
    expected = stretch == "linear" and rotation > MAX_ANGLE

    def refused(run) -> bool:
        try:
            run()
        except InputError as exc:
            assert "beyond MAX_ANGLE" in str(exc)
            return True
        return False

    outcomes = {
        "fast path": refused(lambda: predict(net, x, shots=2, seed=0)),
        "circuit angles": refused(lambda: input_angles(net, x)),
        "exact": refused(lambda: exact_distribution(net, x[0])),
    }
    hypothesis.event(f"{stretch}: {'refused' if expected else 'accepted'}")
    assert set(outcomes.values()) == {expected}, outcomes
    if expected:
        return
    theta = input_angles(net, x)[0]
    meas = layer_measurement(net, 1)
    p_circuit = np.asarray(meas.prob_plus(theta))  # a fresh qubit rotated by theta, read by layer 1's measurement
    zt = net.layers[0](torch.as_tensor(x).to(dtype)).detach()[0]
    f = net.neuron.stretch(zt)
    p_fast = (meas.prob_plus(carried_angle(f)) if g < math.pi / 2 else net.neuron.stretch.prob_plus(zt)).double()
    dist = exact_distribution(net, x[0])
    p_exact = np.array([sum(p for o, p in dist.items() if o[0][i] == 0) for i in range(2)])
    eps = torch.finfo(dtype).eps
    tol = 1e-9 + 16 * (float(np.abs(theta).max()) + 1) * eps
    np.testing.assert_allclose(p_exact, p_circuit, atol=1e-9 + 16 * float(np.abs(theta).max()) * 2**-52)
    np.testing.assert_allclose(p_fast.numpy(), p_circuit, atol=tol)


# -------------------------------------------------------------------------------------- bounded work
class _Submitted(Exception):
    """Raised by :class:`_NoRun` when a job is submitted: the run passed every check made before submission."""


def _no_run_sampler():
    from qiskit.primitives import BaseSamplerV2

    class _NoRun(BaseSamplerV2):
        def run(self, pubs, *, shots=None):  # noqa: ANN001, ANN201
            raise _Submitted

    return _NoRun()


@_FUZZ
@given(
    what=st.sampled_from(["width", "predict shots", "sample shots", "sampler shots", "pairs"]),
    size=st.one_of(st.integers(1, 3000), st.integers(1, 10**15)),
    limit=st.integers(2**10, 2**22),
)
def test_work_is_bounded_before_allocating_or_submitting(what, size, limit) -> None:
    """Refused (ConfigurationError, with the figure and the limit) exactly when the estimate exceeds the
    limit; otherwise it runs (a sampler run reaches submission)."""
    from qiskit_natural_qnn.circuits import layer_circuit
    from qiskit_natural_qnn.execution import predict_on_sampler
    from qiskit_natural_qnn.execution.layerwise import sampler_run_bytes
    from qiskit_natural_qnn.experiments.noise import identity_pair_instructions, insert_identity_pairs
    from qiskit_natural_qnn.inference import predict_bytes
    from qiskit_natural_qnn.network import parameter_bytes, sampling_bytes

    CASES["bounded work"] += 1
    net, x = _NETS["method1"], np.random.default_rng(0).random((2, N_IN))
    if what == "width":
        need, run = (
            parameter_bytes([N_IN, size, N_OUT]),
            lambda: NaturalQNN(layer_sizes=[N_IN, size, N_OUT], seed=0, max_bytes=limit),
        )
    elif what == "predict shots":
        need = predict_bytes(net, n_images=2, shots=size)
        run = lambda: predict(net, x, shots=size, seed=0, max_bytes=limit)  # noqa: E731
    elif what == "sample shots":
        need, run = sampling_bytes(net, rows=2, shots=size), lambda: net.sample(x, shots=size, seed=0, max_bytes=limit)
    elif what == "sampler shots":
        need = sampler_run_bytes(net, n_images=2, shots=size)

        def run():
            with pytest.raises(ExecutionError) as info:
                predict_on_sampler(
                    net, x, sampler=_no_run_sampler(), shots=size, mode="layerwise", target="aer", max_bytes=limit
                )
            assert isinstance(info.value.__cause__, _Submitted)

    else:
        qc = layer_circuit(net, layer=1).circuit
        need, limit = identity_pair_instructions(qc, pairs=size), limit // 64
        run = lambda: insert_identity_pairs(qc, pairs=size, max_instructions=limit)  # noqa: E731
    hypothesis.event(f"{what}: {'refused' if need > limit else 'ran'}")
    if need > limit:
        with pytest.raises(ConfigurationError, match=rf"would hold .*{need}.*over the limit of .*{limit}"):
            run()
    else:
        run()


# ------------------------------------------------------------------------------------ API edge types
class _IdentityPassManager:
    def run(self, circuits):  # noqa: ANN001, ANN201
        return circuits


@functools.cache
def _tensor_kinds():
    base = torch.rand(3, N_IN, generator=torch.Generator().manual_seed(0))
    with warnings.catch_warnings():  # sparse CSR is "beta", quantized tensors "deprecated": still accepted inputs
        warnings.simplefilter("ignore", UserWarning)
        return _kinds_of(base)


def _kinds_of(base):
    return {
        "dense": base,
        "numpy": base.numpy(),
        "big-endian f4": base.numpy().astype(">f4"),
        "big-endian f8": base.numpy().astype(">f8"),
        "big-endian i4": (base.numpy() * 10).astype(">i4"),
        "sparse coo": base.to_sparse(),
        "sparse csr": base.to_sparse_csr(),
        "meta": base.to("meta"),
        "quantized": torch.quantize_per_tensor(base, 0.1, 0, torch.quint8),
    }


_KINDS_VALID = {"dense", "numpy", "big-endian f4", "big-endian f8", "big-endian i4"}
_EDGE_VALUES = st.one_of(
    _ANY,
    st.sampled_from([torch.float16, torch.bfloat16, torch.float32, torch.float64]),
    st.sampled_from(
        [
            torch.float16,
            torch.bfloat16,
            torch.float32,
            torch.float64,
            torch.int32,
            torch.bool,
            torch.complex64,
            "float32",
            np.float32,
            "model",
            _IdentityPassManager(),
            "run.json",
            object(),
        ]
    ),
)


@_FUZZ
@given(
    site=st.sampled_from(
        ["dtype", "record", "max_sets_per_job", "pass_manager", "dynamic_circuit", "optimization_level", "inputs"]
    ),
    value=_EDGE_VALUES,
    kind=st.sampled_from(sorted(_tensor_kinds())),
    consumer=st.sampled_from(["predict", "sample", "fit"]),
)
def test_types_at_the_api_edge(site, value, kind, consumer) -> None:
    """A value of the wrong type is a typed error (the library's and the builtin's) saying what was
    received; a valid one runs."""
    import os

    from qiskit_natural_qnn.circuits import dynamic_circuit
    from qiskit_natural_qnn.execution import predict_on_sampler
    from qiskit_natural_qnn.network import PARAMETER_DTYPES
    from qiskit_natural_qnn.providers import make_sampler

    CASES["API edge types"] += 1
    net = _NETS["method1"]
    x = np.random.default_rng(0).random((2, N_IN))
    is_int = isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))

    def on_sampler(**kwargs):
        with pytest.raises(ExecutionError) as info:  # valid settings reach submission
            predict_on_sampler(net, x, sampler=_no_run_sampler(), shots=2, mode="layerwise", target="aer", **kwargs)
        assert isinstance(info.value.__cause__, _Submitted)

    if site == "dtype":
        valid = isinstance(value, torch.dtype) and value in PARAMETER_DTYPES
        run = lambda: NaturalQNN(layer_sizes=[3, 2, 2], dtype=value, seed=0)  # noqa: E731
    elif site == "record":
        if value is None or isinstance(value, (str, os.PathLike)):
            return  # a path is written to: tests/test_execution_records.py covers records
        valid, run = False, lambda: on_sampler(record=value)
    elif site == "max_sets_per_job":
        valid = value is None or (is_int and value >= 1)
        run = lambda: on_sampler(max_sets_per_job=value)  # noqa: E731
    elif site == "pass_manager":
        valid = value is None or isinstance(value, _IdentityPassManager)
        run = lambda: on_sampler(pass_manager=value)  # noqa: E731
    elif site == "dynamic_circuit":
        valid, run = False, lambda: dynamic_circuit(value)
    elif site == "optimization_level":
        valid = is_int and 0 <= value <= 3
        run = lambda: make_sampler("aer", optimization_level=value)  # noqa: E731
    else:
        data = _tensor_kinds()[kind]
        valid = kind in _KINDS_VALID
        if consumer == "predict":
            run = lambda: predict(net, data, shots=2, seed=0)  # noqa: E731
        elif consumer == "sample":
            run = lambda: net.sample(data, shots=2, seed=0)  # noqa: E731
        else:
            config = TrainConfig(epochs=1, batch_size=2, eval_shots=1, seed=0)
            model = NaturalQNN(layer_sizes=[N_IN, 4, N_OUT], a=0.5, seed=0)
            run = lambda: fit(model, Dataset(data, np.array([0, 1, 2]), "k"), config=config, progress=False)  # noqa: E731
    hypothesis.event(f"{site}: {'valid' if valid else 'refused'}")
    if valid:
        run()
        if site == "inputs" and consumer == "predict":  # the same numbers in native order give the same passes
            native = np.asarray(data if not isinstance(data, torch.Tensor) else data.numpy(), dtype=np.float64)
            np.testing.assert_array_equal(
                predict(net, native, shots=2, seed=0).shot_classes, predict(net, data, shots=2, seed=0).shot_classes
            )
    else:
        with pytest.raises(NaturalQNNError) as info:
            run()
        assert isinstance(info.value, (ValueError, TypeError)), type(info.value)


# ---------------------------------------------------------------------------------- auto fits the device
@_FUZZ
@given(
    widths=st.lists(st.integers(1, 4), min_size=1, max_size=3),
    stretch=st.sampled_from(["linear", "hardtanh", "tanh"]),
    g=st.sampled_from([math.pi / 2, 0.6]),
    qubits=st.one_of(st.none(), st.integers(1, 16)),
    control_flow=st.booleans(),
)
def test_auto_mode_only_chooses_what_fits_the_device(widths, stretch, g, qubits, control_flow) -> None:
    """choose_mode("auto") never picks a single circuit wider than the device; an explicit mode that does
    not fit is a TargetCapabilityError."""
    import dataclasses

    from qiskit_natural_qnn.execution import choose_mode
    from qiskit_natural_qnn.execution.auto import deferred_qubits, dynamic_qubits
    from qiskit_natural_qnn.transpile.targets import PROFILES

    CASES["auto mode fits"] += 1
    if g < math.pi / 2:
        widths = [widths[0]] * len(widths)
    net = NaturalQNN(layer_sizes=[3, *widths, 2], a=1.0, stretch=stretch, g=g, seed=0)
    profile = dataclasses.replace(PROFILES["ibm" if control_flow else "static"], name="device", num_qubits=qubits)
    choice = choose_mode(net, profile)
    hypothesis.event(f"auto chose {choice.mode}")
    fits = {"dynamic": dynamic_qubits(net), "deferred": deferred_qubits(net)}
    if choice.mode in fits and qubits is not None:
        assert fits[choice.mode] <= qubits, (choice, qubits)
    if control_flow and qubits is not None and dynamic_qubits(net) > qubits:
        with pytest.raises((TargetCapabilityError, NaturalQNNError)):
            choose_mode(net, profile, mode="dynamic")


# ---------------------------------------------------------------- found by the fuzzers, fixed elsewhere
# Each test below pins a defect the fuzzers found in another module, now fixed there
# (docs/reliability.md lists them).
@pytest.mark.parametrize("dtype", [np.bool_, np.complex64])
def test_sample_refuses_numpy_bool_and_complex(dtype) -> None:
    with pytest.raises(InputError, match="real numbers"):
        _NETS["method1"].sample(np.ones((2, N_IN), dtype=dtype), shots=1, seed=0)


@pytest.mark.parametrize(
    ("a", "stretch"), [(1e-300, "tanh"), (1e-300, "hardtanh"), (1e-300, "linear"), (1e-40, "tanh")]
)
def test_tiny_stretch_is_refused_or_a_fair_coin_at_z_0(a, stretch) -> None:
    try:
        net = NaturalQNN(layer_sizes=[3, 8, 2], a=a, stretch=stretch, seed=0)
    except ConfigurationError:
        return
    pred = predict(net, np.zeros((1, 3)), shots=1000, seed=0, return_hidden=True)
    assert 0.4 < float((pred.hidden[0] == 1).mean()) < 0.6  # f_a(0) = 0: P(+1) = 1/2


@pytest.mark.parametrize("name", ["keys", "items", "__class__", "__dict__", "shape", "values"])
def test_register_names_that_are_databin_attributes(name) -> None:
    from qiskit_natural_qnn.circuits.registers import layer_bits

    with pytest.raises(ExecutionError, match="no classical register"):
        layer_bits(_databin(), name)


def test_sample_refuses_preactivations_that_overflow_to_nan() -> None:
    net = NaturalQNN(layer_sizes=[4, 6, 3], a=0.5, seed=0)
    with torch.no_grad():
        net.layers[0].weight.copy_(torch.tensor([[3.0, 3.0, -3.0, -3.0]] * 6))
    with pytest.raises(InputError, match=r"pre-activations of hidden layer 1 are not finite"):
        net.sample(np.full((2, 4), 3e38, dtype=np.float32), shots=2, seed=0)
