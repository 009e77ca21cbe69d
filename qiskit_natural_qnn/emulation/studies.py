"""Success rates on an emulated device: per image, and versus injected identity pairs (noise sweeps on the fast path).

:func:`success_rates` is the fast-path counterpart of running images layer by layer on a simulator of
the device: every image gets ``shots`` passes drawn with the device's exact noise
(:class:`~.device.DeviceEmulation`), or ideal ones with ``noise=None``, and a binomial interval per
image (:class:`~qiskit_natural_qnn.experiments.borderline.SuccessPoint`). :func:`emulated_noise_sweep`
is :func:`~qiskit_natural_qnn.experiments.noise.noise_sweep` on the fast path: one emulation per number
of pairs, the same placement rules (the coupled layout), the same points.

Example:
    >>> import numpy as np
    >>> from qiskit_aer.noise import NoiseModel, ReadoutError
    >>> from qiskit_natural_qnn import NaturalQNN
    >>> from qiskit_natural_qnn.emulation import emulate_device
    >>> net = NaturalQNN(layer_sizes=[4, 2, 3], a=0.0, seed=0)
    >>> model = NoiseModel()
    >>> model.add_all_qubit_readout_error(ReadoutError([[0.7, 0.3], [0.3, 0.7]]))
    >>> images, labels = np.full((2, 4), 0.5), np.array([1, 1])  # the classical network's class: 1
    >>> ideal = success_rates(net, images, labels, shots=100, seed=0)
    >>> noisy = success_rates(net, images, labels, noise=emulate_device(net, noise_model=model), shots=100, seed=0)
    >>> [p.rate.rate for p in ideal], [p.rate.rate for p in noisy], noisy[0].backend
    ([1.0, 1.0], [0.7, 0.75], 'noise model (emulated, 1 copy)')
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from qiskit_natural_qnn.emulation.channels import noise_model_of
from qiskit_natural_qnn.emulation.device import DeviceEmulation, emulate_device
from qiskit_natural_qnn.exceptions import ConfigurationError
from qiskit_natural_qnn.execution.samplers import derive_seed
from qiskit_natural_qnn.experiments.borderline import SuccessPoint, success_points, with_stretch
from qiskit_natural_qnn.experiments.noise import IdentityPairs, coupled_copies
from qiskit_natural_qnn.inference import check_images_labels, predict
from qiskit_natural_qnn.network import NaturalQNN
from qiskit_natural_qnn.randomness import check_seed
from qiskit_natural_qnn.transpile.devices import get_backend
from qiskit_natural_qnn.view import ArrayLike

__all__ = ["emulated_noise_sweep", "success_rates"]


def success_rates(
    model: NaturalQNN,
    images: ArrayLike,
    labels: ArrayLike,
    *,
    noise: DeviceEmulation | None = None,
    shots: int = 15,
    seed: int = 0,
    image_ids: ArrayLike | None = None,
    batch_size: int = 1024,
    confidence: float = 0.95,
    method: str = "wilson",
    pairs: int | None = None,
) -> list[SuccessPoint]:
    """Each image's success rate (passes that pick its label) on the emulated device, with its interval.

    Args:
        model: the network.
        images: ``(n, n_inputs)``; image ``i`` is placed as the ``i``-th image of a layer-by-layer run.
        labels: ``(n,)``.
        noise: the emulated device, or None for the ideal network.
        shots: passes per image.
        seed: the counter-based seed (an int in ``[0, 2**64)``): each image's passes depend on its id only.
        image_ids: the images' ids, reported in the points and keying their random numbers (default ``0..n-1``).
        batch_size: images per batch of the fast path.
        confidence: coverage of the intervals.
        method: ``"wilson"`` or ``"clopper-pearson"``.
        pairs: the identity pairs to report (default: the emulation's own).

    Returns:
        One :class:`~qiskit_natural_qnn.experiments.borderline.SuccessPoint` per image (``backend``: the
        emulation's :meth:`~.DeviceEmulation.describe`, or ``"fast path"``).

    Raises:
        ConfigurationError: bad ``shots``, ``seed``, ``confidence`` or ``method``; an emulation of another network.
        InputError: bad images, labels or ids.
    """
    seed = check_seed(seed)
    x, y, ids = check_images_labels(model, images, labels, image_ids)
    pred = predict(model, x, shots=shots, seed=seed, image_ids=ids, batch_size=batch_size, noise=noise)
    spec = noise.pairs if noise is not None else IdentityPairs()
    n_pairs = spec.pairs if pairs is None else int(pairs)
    return success_points(
        pred.shot_classes,
        y,
        ids,
        n_classes=model.n_outputs,
        a=model.a,
        pairs=n_pairs,
        gate=spec.gate if n_pairs else "",
        backend=noise.describe() if noise is not None else "fast path",
        confidence=confidence,
        method=method,
    )


def emulated_noise_sweep(
    model: NaturalQNN,
    images: ArrayLike,
    labels: ArrayLike,
    *,
    backend: Any,
    pairs: Sequence[int] = (0, 20, 60),
    gate: str = "sx",
    a_values: Sequence[float] | None = None,
    shots: int = 200,
    seed: int = 0,
    copies: int | str = "auto",
    optimization_level: int = 1,
    seed_transpiler: int | None = 0,
    noise_model: Any = None,
    image_ids: ArrayLike | None = None,
    confidence: float = 0.95,
    method: str = "wilson",
) -> list[SuccessPoint]:
    """:func:`~qiskit_natural_qnn.experiments.noise.noise_sweep` on the fast path, with the device's noise emulated.

    One :func:`~.device.emulate_device` per number of pairs (the stretch ``a`` changes the angles, not
    the circuits, so every ``a`` shares it); point ``(a, pairs)`` draws its passes with the seed
    ``derive_seed(seed, i, j)``, as ``noise_sweep`` seeds its runs.

    Args:
        model: the network; its stretch is replaced by each of ``a_values`` (default: its own ``a``).
        images: ``(n, n_inputs)``.
        labels: ``(n,)``.
        backend: the device (a ``BackendV2`` or a name such as ``"fake_torino"``).
        pairs: numbers of identity pairs to sweep.
        gate: ``"sx"`` or ``"cz"``.
        a_values: stretches to sweep.
        shots: passes per image and point.
        seed: the sweep's seed, an int in ``[0, 2**64)``.
        copies: copies of each layer circuit side by side (an int or ``"auto"``).
        optimization_level: of the transpiler, 0-3.
        seed_transpiler: seeds the transpiler.
        noise_model: the Aer noise model (default: the device's, read once for the whole sweep).
        image_ids: ids reported in the points (default ``0..n-1``).
        confidence: coverage of the intervals.
        method: ``"wilson"`` or ``"clopper-pearson"``.

    Returns:
        :class:`~qiskit_natural_qnn.experiments.borderline.SuccessPoint` per image, ``a`` and ``pairs``.

    Raises:
        ConfigurationError: bad options, or a device or circuit the emulation refuses.
    """
    specs = [IdentityPairs(pairs=n, gate=gate) for n in pairs]
    if not specs:
        raise ConfigurationError("pairs is empty; pass the numbers of identity pairs to sweep, e.g. pairs=(0, 20, 60)")
    seed = check_seed(seed)
    x, y, ids = check_images_labels(model, images, labels, image_ids)
    noise_model = noise_model if noise_model is not None else noise_model_of(backend)  # a name: read once
    device = get_backend(backend) if isinstance(backend, str) else backend
    stretches = [model.a] if a_values is None else list(a_values)
    if copies == "auto" and device is not None:  # the placement does not depend on the pairs: search it once
        copies = coupled_copies(model, device)
    emulations = [
        emulate_device(
            model,
            device,
            noise_model=noise_model,
            copies=copies,
            pairs=spec.pairs,
            gate=spec.gate,
            optimization_level=optimization_level,
            seed_transpiler=seed_transpiler,
        )
        for spec in specs
    ]
    out: list[SuccessPoint] = []
    for i, a in enumerate(stretches):
        net = with_stretch(model, a)
        for j, emu in enumerate(emulations):
            out.extend(
                success_rates(
                    net,
                    x,
                    y,
                    noise=emu,
                    shots=shots,
                    seed=derive_seed(seed, i, j),
                    image_ids=ids,
                    confidence=confidence,
                    method=method,
                )
            )
    return out
