"""Circuit structure (registers, conditionals, parameters), exactness reports, angles, errors, drawings."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from qiskit.circuit import ControlFlowOp, IfElseOp, ParameterExpression

from qiskit_natural_qnn import ConfigurationError, InputError, NaturalQNN
from qiskit_natural_qnn.circuits import (
    LOOKUP_WIDTH_LIMIT,
    bind_inputs,
    bind_layer,
    check_exact,
    deferred_circuit,
    dynamic_circuit,
    input_angles,
    input_parameter_values,
    layer_angles,
    layer_circuit,
    layer_circuits,
    linear_feedforward,
    lookup_angles,
    post_angles,
)
from qiskit_natural_qnn.circuits.angles import register_patterns
from qiskit_natural_qnn.exceptions import CircuitNotExactError


def _net(sizes, *, a=1.0, stretch="linear", g=math.pi / 2, seed=0, bias=False, scale=None, **kw) -> NaturalQNN:
    net = NaturalQNN(layer_sizes=sizes, a=a, stretch=stretch, g=g, seed=seed, bias=bias, dtype=torch.float64, **kw)
    if scale is not None:
        with torch.no_grad():
            for layer in net.layers[1:]:
                layer.weight.mul_(scale)
    return net


def _ops(circuit, name):
    """Instructions named ``name``, at any depth."""
    found = []
    for inst in circuit.data:
        if inst.operation.name == name:
            found.append(inst)
        if isinstance(inst.operation, ControlFlowOp):
            for block in inst.operation.blocks:
                found.extend(_ops(block, name))
    return found


# ----------------------------------------------------------------------------- layer circuits
def test_layer_circuits_method1_structure() -> None:
    net = _net([5, 3, 2, 4, 2], stretch="tanh")
    lcs = layer_circuits(net)
    assert [lc.layer for lc in lcs] == [1, 2, 3]
    for lc, width in zip(lcs, (3, 2, 4)):
        qc = lc.circuit
        assert [r.name for r in qc.qregs] == ["neuron"]
        assert [(r.name, r.size) for r in qc.cregs] == [(f"h{lc.layer}", width)]
        assert lc.register == qc.cregs[0]
        assert set(qc.parameters) == set(lc.angles) and len(lc.angles) == width
        assert dict(qc.count_ops()) == {"ry": width, "measure": width}
        assert not lc.weak
    # every neuron i is measured into clbit i of its layer register
    qc = lcs[2].circuit
    for inst in _ops(qc, "measure"):
        assert qc.find_bit(inst.qubits[0]).index == qc.find_bit(inst.clbits[0]).index


def test_layer_circuits_method2_structure() -> None:
    net = _net([5, 3, 3, 3, 2], stretch="tanh", g=0.5)
    lcs = layer_circuits(net)
    assert [lc.weak for lc in lcs] == [True, True, False]  # the last hidden layer is measured strongly
    qc = lcs[0].circuit
    assert [r.name for r in qc.qregs] == ["neuron", "ancilla"]
    assert dict(qc.count_ops()) == {"ry": 3, "rzy": 3, "h": 3, "measure": 3}
    assert all(float(i.operation.params[0]) == 0.5 for i in _ops(qc, "rzy"))
    assert {qc.find_bit(i.qubits[0]).registers[0][0].name for i in _ops(qc, "measure")} == {"ancilla"}
    assert dict(lcs[2].circuit.count_ops()) == {"ry": 3, "measure": 3}


def test_bind_layer() -> None:
    lc = layer_circuit(_net([4, 2, 2]), layer=1)
    bound = bind_layer(lc, np.array([[0.1, 0.2], [0.3, 0.4], [0.5, 0.6]]))
    assert len(bound) == 3 and all(c.num_parameters == 0 for c in bound)
    assert [float(i.operation.params[0]) for i in _ops(bound[2], "ry")] == [0.5, 0.6]
    with pytest.raises(
        InputError, match=r"angles of hidden layer 1 must have shape \(2,\) or \(batch, 2\), got \(3,\)"
    ):
        bind_layer(lc, [0.1, 0.2, 0.3])
    with pytest.raises(InputError, match="NaN or infinity"):
        bind_layer(lc, [0.1, float("nan")])


def test_layer_out_of_range() -> None:
    with pytest.raises(ConfigurationError, match=r"layer must be a hidden-layer number in \[1, 1\] \(1-based\), got 2"):
        layer_circuit(_net([4, 2, 2]), layer=2)


# ----------------------------------------------------------------------------- angles
def test_input_angles_use_the_stretch() -> None:
    net = _net([3, 2, 2], a=0.5, stretch="tanh", bias=True)
    with torch.no_grad():
        net.layers[0].bias.copy_(torch.tensor([0.1, -0.2], dtype=torch.float64))
    x = np.array([[0.2, 0.5, 0.9], [0.0, 1.0, 0.3]])
    z = x @ net.layers[0].weight.detach().numpy().T + np.array([0.1, -0.2])
    np.testing.assert_allclose(input_angles(net, x), (math.pi / 2) * (1 - np.tanh(z / 0.5)))
    assert input_angles(net, x[0]).shape == (2,)
    with pytest.raises(InputError, match=r"inputs must have shape \(batch, 3\), got \(2, 4\)"):
        input_angles(net, np.zeros((2, 4)))


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    widths=st.lists(st.integers(1, 4), min_size=2, max_size=2),
    weak=st.booleans(),
    bias=st.booleans(),
)
def test_linear_feedforward_and_lookup_agree_with_layer_angles(seed, widths, weak, bias) -> None:
    if weak:
        widths = [widths[0], widths[0]]
    net = _net([3, *widths, 2], a=1.7, stretch="linear", g=0.6 if weak else math.pi / 2, seed=seed, bias=bias)
    if bias:
        with torch.no_grad():
            net.layers[1].bias.uniform_(-0.5, 0.5)
    patterns = register_patterns(widths[0])
    carried = np.zeros_like(patterns, dtype=float) if weak else None
    exact = layer_angles(net, layer=2, bits=patterns, carried=carried)
    ff = linear_feedforward(net, layer=2)
    np.testing.assert_allclose(ff.base + patterns @ ff.per_bit.T, exact, atol=1e-12)
    np.testing.assert_allclose(lookup_angles(net, layer=2), exact, atol=1e-12)


def test_layer_angles_method2_needs_carried_state() -> None:
    net = _net([3, 2, 2, 2], g=0.6)
    with pytest.raises(ConfigurationError, match=r"Method 2 \(g = 0\.6\) carries each neuron's state"):
        layer_angles(net, layer=2, bits=[0, 1])
    with pytest.raises(ConfigurationError, match="carried angles apply to Method 2 only"):
        layer_angles(_net([3, 2, 2, 2]), layer=2, bits=[0, 1], carried=[0.0, 0.0])
    with pytest.raises(InputError, match=r"bits of hidden layer 1 must hold bits 0 or 1, got values \[0, 2\]"):
        layer_angles(net, layer=2, bits=[0, 2], carried=[0.0, 0.0])
    phi = np.array([0.3, 2.0])
    post = post_angles(net, layer=1, angles=phi, bits=[0, 1])
    np.testing.assert_allclose(post, net.neuron.measurement.post_angle(phi, np.array([1.0, -1.0])))


# ----------------------------------------------------------------------------- dynamic circuits
def test_linear_dynamic_structure() -> None:
    net = _net([5, 3, 4, 2, 2], stretch="linear", a=2.0)
    nc = dynamic_circuit(net, construction="linear")
    qc = nc.circuit
    assert nc.construction == "linear" and nc.exactness.exact
    assert [r.name for r in qc.qregs] == ["neuron1", "neuron2", "neuron3"]
    assert [(r.name, r.size) for r in nc.layer_registers] == [("h1", 3), ("h2", 4), ("h3", 2)]
    assert list(qc.cregs) == nc.layer_registers
    assert set(qc.parameters) == set(nc.input_angles) and len(nc.input_angles) == 3
    # n conditionals per layer, not n**2: one per bit of the previous layer, each on a single clbit
    ifs = [i.operation for i in qc.data if isinstance(i.operation, IfElseOp)]
    assert len(ifs) == 3 + 4
    assert all(op.condition[1] == 1 and not isinstance(op.condition[0], type(qc.cregs[0])) for op in ifs)
    assert all(op.blocks[1] is None if len(op.blocks) > 1 else True for op in ifs)
    assert qc.num_vars == 0 and qc.num_input_vars == 0
    assert [len(s.data) > 0 for s in nc.layer_segments] == [True, True, True]
    # every conditional RY angle is a plain float
    assert all(not isinstance(i.operation.params[0], ParameterExpression) for op in ifs for i in op.blocks[0].data)


def test_lookup_dynamic_structure_and_register_values() -> None:
    net = _net([5, 3, 2, 2, 2], stretch="tanh", a=0.8)
    nc = dynamic_circuit(net)  # auto -> lookup for tanh
    assert nc.construction == "lookup"
    ifs = [i.operation for i in nc.circuit.data if isinstance(i.operation, IfElseOp)]
    assert len(ifs) == 2**3 + 2**2
    values = [op.condition[1] for op in ifs[:8]]
    assert values == list(range(8)) and all(op.condition[0].name == "h1" for op in ifs[:8])
    table = lookup_angles(net, layer=2)
    for v, op in enumerate(ifs[:8]):
        assert [float(i.operation.params[0]) for i in op.blocks[0].data] == pytest.approx(table[v].tolist())


def test_method2_dynamic_structure_and_reuse() -> None:
    net = _net([5, 2, 2, 2, 2], stretch="linear", g=0.5)
    nc = dynamic_circuit(net, construction="linear")
    assert [r.name for r in nc.circuit.qregs] == ["neuron", "ancilla1", "ancilla2"]
    assert nc.circuit.count_ops()["rzy"] == 4 and nc.circuit.count_ops()["if_else"] == 4
    reuse = dynamic_circuit(net, construction="linear", reuse_qubits=True)
    assert [r.name for r in reuse.circuit.qregs] == ["neuron", "ancilla"]
    assert reuse.circuit.num_qubits == 4 and reuse.circuit.count_ops()["reset"] == 2
    # the own-outcome term: block j rotates neuron j by pi W_jj / a - pi
    ff = linear_feedforward(net, layer=2)
    w = net.layers[1].weight.detach().numpy()
    np.testing.assert_allclose(np.diag(ff.per_bit), math.pi * np.diag(w) / net.a - math.pi)


def test_method1_reuse_fits_on_widest_layer() -> None:
    net = _net([5, 3, 4, 2, 2], stretch="linear", a=2.0)
    nc = dynamic_circuit(net, reuse_qubits=True)
    assert [(r.name, r.size) for r in nc.circuit.qregs] == [("neuron", 4)]
    # only qubits measured before are reset: layer 2 reuses 3 of its 4 qubits, layer 3 reuses 2
    assert nc.circuit.count_ops()["reset"] == 3 + 2
    flip = dynamic_circuit(net, reuse_qubits=True, reset_method="conditional_x")
    assert "reset" not in flip.circuit.count_ops()
    assert flip.circuit.count_ops()["if_else"] == nc.circuit.count_ops()["if_else"] + 3 + 2
    with pytest.raises(ConfigurationError, match=r"reset_method must be one of reset, conditional_x, got 'measure'"):
        dynamic_circuit(net, reuse_qubits=True, reset_method="measure")


def test_deferred_structure() -> None:
    net = _net([5, 3, 2, 2], stretch="hardtanh", a=3.0, scale=0.5)
    nc = deferred_circuit(net)
    qc = nc.circuit
    assert nc.construction == "deferred"
    assert not any(isinstance(i.operation, ControlFlowOp) for i in qc.data)
    assert qc.count_ops()["cry"] == 3 * 2
    assert all(not isinstance(p, ParameterExpression) for i in _ops(qc, "cry") for p in i.operation.params)
    names = [i.operation.name for i in qc.data]
    first_measure = names.index("measure")
    assert set(names[first_measure:]) == {"measure"}  # every measurement at the end
    weak = deferred_circuit(_net([5, 2, 2, 2], g=0.7))
    assert [r.name for r in weak.circuit.qregs] == ["neuron", "ancilla1"]
    # Method 2: CRYs are controlled by the previous layer's ancillas
    controls = {weak.circuit.find_bit(i.qubits[0]).registers[0][0].name for i in _ops(weak.circuit, "cry")}
    assert controls == {"ancilla1"}


def test_bind_inputs_and_parameter_values() -> None:
    net = _net([4, 3, 3, 2], stretch="linear", a=2.0)
    nc = dynamic_circuit(net)
    x = np.random.default_rng(1).uniform(size=(5, 4))
    bound = bind_inputs(nc, model=net, x=x)
    assert len(bound) == 5 and all(c.num_parameters == 0 for c in bound)
    first = [float(i.operation.params[0]) for i in bound[3].data[:3]]
    np.testing.assert_allclose(first, input_angles(net, x[3]))
    values = input_parameter_values(nc, model=net, x=x)
    assert values.shape == (5, 3)
    order = [list(nc.input_angles).index(p) for p in nc.circuit.parameters]
    np.testing.assert_allclose(values, input_angles(net, x)[:, order])
    with pytest.raises(InputError, match=r"inputs must have shape \(batch, 4\), got \(3,\)"):
        bind_inputs(nc, model=net, x=np.zeros(3))
    other = _net([4, 3, 2, 2], stretch="linear", a=2.0)
    with pytest.raises(
        InputError, match=r"the circuit was built for layer sizes \[4, 3, 3, 2\], got a model with \[4, 3, 2, 2\]"
    ):
        bind_inputs(nc, model=other, x=np.zeros(4))


# ----------------------------------------------------------------------------- exactness
def test_exactness_linear_rules() -> None:
    assert check_exact(_net([4, 3, 3, 2], stretch="linear"), "linear").exact
    tanh = check_exact(_net([4, 3, 3, 2], stretch="tanh", a=0.5), "linear")
    assert not tanh.exact and "not affine" in tanh.reasons[0]
    sgn = check_exact(_net([4, 3, 3, 2], a=0.0, stretch="tanh"), "linear")
    assert not sgn.exact and "sign neuron" in sgn.reasons[0]
    assert check_exact(_net([4, 3, 2], stretch="tanh", a=0.5), "linear").exact  # one hidden layer
    assert check_exact(_net([4, 3, 3, 2], stretch="tanh"), "layers").exact


def test_exactness_hardtanh_boundary() -> None:
    net = _net([4, 3, 3, 2], stretch="hardtanh", a=1.0, bias=True)
    w = np.array([[0.2, -0.3, 0.1], [0.5, 0.25, -0.15], [-0.1, 0.1, 0.1]])
    b = np.array([0.4, 0.1, -0.2])
    with torch.no_grad():
        net.layers[1].weight.copy_(torch.tensor(w))
        net.layers[1].bias.copy_(torch.tensor(b))
    # row L1 norms + |b|: 1.0, 1.0, 0.5 -> exactly at a = 1: exact
    report = check_exact(net, "linear")
    assert report.exact and "= 1 <= a = 1" in report.reasons[0]
    with torch.no_grad():
        net.layers[1].bias[1] = 0.11
    report = check_exact(net, "linear")
    assert not report.exact
    assert (
        "hidden layer 2: 1 neuron(s) can saturate (neuron 1 has sum_j |W_ij| + |b_i| = 1.01 > a = 1)"
        in report.reasons[0]
    )
    assert check_exact(net, "deferred").exact is False
    assert check_exact(net, "auto").construction == "lookup"


def test_exactness_lookup_width_limit() -> None:
    assert LOOKUP_WIDTH_LIMIT == 8
    net = _net([4, 9, 2, 2], stretch="tanh", a=0.5)
    report = check_exact(net, "lookup")
    assert not report.exact
    assert (
        "hidden layer 1 has 9 neurons: a lookup over its register needs 2**9 = 512 conditional blocks"
        in report.reasons[0]
    )
    assert check_exact(net, "lookup", lookup_width_limit=9).exact
    # the last layer's width does not matter (nothing reads its register)
    assert check_exact(_net([4, 2, 12], stretch="tanh"), "lookup").exact
    auto = check_exact(net, "auto")
    assert not auto.exact and auto.construction == "auto" and "layer by layer" in auto.reasons[-1]


def test_exactness_authors_arcsin_never_single_circuit() -> None:
    net = _net([4, 2, 2, 2], stretch="linear", g=0.5, weak_update="authors_arcsin")
    for construction in ("linear", "lookup", "deferred"):
        report = check_exact(net, construction)
        assert not report.exact and "authors' arcsin" in report.reasons[0]
    assert check_exact(net, "layers").exact


def test_explain_reads_well() -> None:
    text = check_exact(_net([4, 3, 3, 2], stretch="tanh", a=0.5), "linear").explain()
    assert text.splitlines()[0] == "construction 'linear': NOT exact"
    assert "layer_circuits" in text


# ----------------------------------------------------------------------------- errors
def test_tanh_with_linear_raises() -> None:
    net = _net([4, 3, 3, 2], stretch="tanh", a=0.5)
    with pytest.raises(
        CircuitNotExactError,
        match=r"the 'linear' single circuit cannot express this network exactly: stretch 'tanh' is not affine in z.*layer_circuits",
    ):
        dynamic_circuit(net, construction="linear")
    with pytest.raises(
        CircuitNotExactError, match=r"the 'deferred' single circuit cannot express.*stretch 'tanh' is not affine"
    ):
        deferred_circuit(net)


def test_lookup_above_width_limit_raises() -> None:
    net = _net([4, 9, 2, 2], stretch="sgn", a=0.0)
    with pytest.raises(
        CircuitNotExactError,
        match=r"hidden layer 1 has 9 neurons: a lookup over its register needs 2\*\*9 = 512 conditional blocks, above the limit of 8 bits \(256 blocks\)",
    ):
        dynamic_circuit(net, construction="lookup")
    with pytest.raises(CircuitNotExactError, match=r"the 'auto' single circuit cannot express this network exactly"):
        dynamic_circuit(net)


def test_bad_construction_names() -> None:
    net = _net([4, 2, 2, 2])
    with pytest.raises(
        ConfigurationError, match=r"dynamic_circuit takes construction 'linear', 'lookup' or 'auto', got 'deferred'"
    ):
        dynamic_circuit(net, construction="deferred")
    with pytest.raises(ConfigurationError, match=r"unknown construction 'fancy'"):
        check_exact(net, "fancy")
    with pytest.raises(ConfigurationError, match=r"lookup_width_limit must be an int in \[1, 16\], got 20"):
        check_exact(net, "lookup", lookup_width_limit=20)


# ----------------------------------------------------------------------------- drawings
def test_draw_text_reads_well() -> None:
    net = _net([4, 2, 2, 2], stretch="linear", g=0.6)
    text = str(dynamic_circuit(net).circuit.draw("text", fold=-1))
    for name in ("neuron_0", "ancilla1_1", "h1: 2/", "h2: 2/", "Rzy(0.6)", "If-0", "Ry(theta1[0])"):
        assert name in text


def test_draw_mpl_saves_png(tmp_path) -> None:
    pytest.importorskip("pylatexenc", reason="qiskit's mpl drawer needs pylatexenc")
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    net = _net([4, 3, 3, 2], stretch="tanh", a=0.6)
    for i, qc in enumerate((dynamic_circuit(net).circuit, layer_circuit(net, layer=1).circuit)):
        fig = qc.draw("mpl", fold=30)
        path = tmp_path / f"c{i}.png"
        fig.savefig(path)
        plt.close(fig)
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 5000


def test_circuit_angles_refuse_what_the_fast_path_refuses() -> None:
    """Huge weights into layer 2: some bit pattern's rotation is beyond MAX_ANGLE, so the dynamic circuit
    (linear or lookup) that holds every pattern is refused; a W x that overflows float64 is refused with the
    fast path's message."""
    from qiskit_natural_qnn.circuits.angles import input_angles, linear_feedforward, lookup_angles
    from qiskit_natural_qnn.inference import predict

    net = NaturalQNN(layer_sizes=[2, 2, 2, 2], a=1.0, stretch="linear", seed=0, dtype=torch.float64)
    with torch.no_grad():
        net.layers[1].weight.copy_(torch.tensor([[1e8, 1e8], [0.5, -0.5]], dtype=torch.float64))
    for build in (
        lambda: linear_feedforward(net, layer=2),
        lambda: lookup_angles(net, layer=2),
        lambda: dynamic_circuit(net),
    ):
        with pytest.raises(InputError, match=r"beyond MAX_ANGLE = 2\*\*24 \* pi"):
            build()
    with torch.no_grad():
        net.layers[1].weight.copy_(torch.tensor([[1e7, -1e7], [0.5, -0.5]], dtype=torch.float64))
    assert linear_feedforward(net, layer=2).per_bit.shape == (2, 2)  # |z| <= 2e7: pi/2 * 2e7 < 2**24 pi
    tanh = NaturalQNN(layer_sizes=[2, 2, 2], a=0.5, seed=0, dtype=torch.float64)
    with torch.no_grad():
        tanh.layers[0].weight.fill_(1e308)
    overflow = r"pre-activations of hidden layer 1 are not finite: W x overflowed torch\.float64"
    for run in (lambda: input_angles(tanh, [[10.0, 10.0]]), lambda: predict(tanh, [[10.0, 10.0]], shots=2, seed=0)):
        with pytest.raises(InputError, match=overflow):
            run()
