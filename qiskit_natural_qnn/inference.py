"""Inference with a naturally quantized network: shots, majority vote, vote counts, error rates.

A stochastic network classifies an image once per forward pass (a *shot*). The paper
(arXiv:2503.15482) reports two numbers: the **single-shot error** (one stochastic pass) and the **majority-vote error**
over ``S`` independent passes per image (``S = 15`` in the paper). Ties in the vote go to the
smallest class index among the tied classes.

With an int (or NumPy generator) ``seed``, every random number of a pass is a hash of
``(seed, image id, shot, hidden layer, neuron)`` (:mod:`qiskit_natural_qnn.randomness`): an image's
passes are the same whatever the batch size, the order of the images, the other images in the call
or the device. Image ids default to positions in the given array; pass ``image_ids`` (e.g. dataset
indices) to evaluate any subset or reordering consistently with the whole.

Example:
    >>> import numpy as np
    >>> majority, counts = majority_vote(np.array([[1, 2, 2], [0, 1, 3]]), n_classes=4)
    >>> majority.tolist(), counts.tolist()
    ([2, 0], [[0, 1, 2, 0], [1, 1, 0, 1]])
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
import torch

from qiskit_natural_qnn.decode import classes_from_logits
from qiskit_natural_qnn.exceptions import ConfigurationError, InputError
from qiskit_natural_qnn.fastpath import ForwardPass, LayerSampler, NoiseLaw, sample_network
from qiskit_natural_qnn.limits import check_bytes
from qiskit_natural_qnn.network import NaturalQNN, input_tensor, sampling_bytes
from qiskit_natural_qnn.randomness import (
    COUNTER_STOP,
    check_counter,
    check_image_ids,
    check_seed,
    counter_uniform,
    seed_words,
)
from qiskit_natural_qnn.view import ArrayLike, NetworkLike

__all__ = [
    "Prediction",
    "Evaluation",
    "check_images_labels",
    "check_noise",
    "majority_vote",
    "predict",
    "predict_bytes",
    "evaluate",
]


class Prediction(NamedTuple):
    """The outcome of ``shots`` stochastic forward passes per image.

    Attributes:
        shot_classes: ``int64`` array ``(n, S)``: the class (argmax of the logits) of each pass.
        vote_counts: ``int64`` array ``(n, P)``: how many of the ``S`` passes chose each class.
        majority: ``int64`` array ``(n,)``: the majority-vote class (ties -> smallest class index).
        hidden: None unless asked for; else one ``int8`` array ``(n, S, width)`` per hidden layer
            holding the sampled activations in ``{+1, -1}``.
    """

    shot_classes: np.ndarray
    vote_counts: np.ndarray
    majority: np.ndarray
    hidden: list[np.ndarray] | None = None


class Evaluation(NamedTuple):
    """Error rates of a network on labelled images.

    Attributes:
        single_shot_error: the average single-pass error, i.e. the fraction of wrong passes over all
            ``n_images * shots`` individual passes; an unbiased estimate of the error of one
            stochastic pass.
        vote_error: the fraction of images whose majority vote over ``shots`` passes is wrong
            (ties -> smallest class index).
        shots: passes per image ``S``.
        n_images: number of images evaluated.
    """

    single_shot_error: float
    vote_error: float
    shots: int
    n_images: int


def _check_positive_int(name: str, value: Any, example: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ConfigurationError(f"{name} must be an int >= 1, got {value!r}; pass e.g. {example}")
    return int(value)


def majority_vote(shot_classes: np.ndarray, n_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """Majority vote over the shots of each image.

    Ties -> smallest class index: among the classes with the most votes, the one with the smallest
    index wins.

    Args:
        shot_classes: integer array ``(n, S)``: the class chosen by each of ``S`` passes per image.
        n_classes: the number of classes ``P``; every entry must lie in ``[0, P)``.

    Returns:
        ``(majority, vote_counts)``: ``majority`` is ``int64`` ``(n,)``, ``vote_counts`` is
        ``int64`` ``(n, n_classes)`` and each of its rows sums to ``S``.

    Raises:
        ConfigurationError: ``n_classes`` is not an int ``>= 1``.
        InputError: ``shot_classes`` is not a 2-D integer array, has no shots, or holds a class
            outside ``[0, n_classes)``.

    Example:
        >>> majority, counts = majority_vote(np.array([[3, 1, 1, 3]]), n_classes=4)
        >>> int(majority[0]), counts[0].tolist()  # a 2-2 tie between 1 and 3 goes to 1
        (1, [0, 2, 0, 2])
    """
    n_classes = _check_positive_int("n_classes", n_classes, "n_classes=10")
    shot_classes = np.asarray(shot_classes)
    if shot_classes.ndim != 2 or not np.issubdtype(shot_classes.dtype, np.integer):
        raise InputError(
            f"shot_classes must be a 2-D integer array (images, shots), got dtype {shot_classes.dtype} "
            f"and shape {shot_classes.shape}"
        )
    n, shots = shot_classes.shape
    if shots == 0:
        raise InputError("shot_classes has no shots (shape (n, 0)); pass at least one shot per image")
    if shot_classes.size and (shot_classes.min() < 0 or shot_classes.max() >= n_classes):
        bad = shot_classes[(shot_classes < 0) | (shot_classes >= n_classes)][0]
        raise InputError(f"shot_classes must lie in [0, {n_classes}), found {int(bad)}")
    flat = (np.arange(n, dtype=np.int64)[:, None] * n_classes + shot_classes.astype(np.int64)).ravel()
    counts = np.bincount(flat, minlength=n * n_classes).reshape(n, n_classes)
    # np.argmax returns the first maximum: ties go to the smallest class index.
    majority = counts.argmax(axis=1).astype(np.int64)
    return majority, counts.astype(np.int64)


def check_real_dtype(values: Any, what: str) -> None:
    """Refuse arrays of booleans, complex numbers, strings or dates (NumPy would silently convert them).

    Raises:
        InputError: ``values`` is a NumPy array or tensor of such a dtype.
    """
    if isinstance(values, torch.Tensor):
        bad = values.dtype == torch.bool or values.is_complex()
    else:
        bad = isinstance(values, np.ndarray) and values.dtype.kind in "bcUSVmM"
    if bad:
        raise InputError(
            f"{what} must be real numbers, got dtype {values.dtype}; pass a float array (e.g. pixels in [0, 1])"
        )


def _as_images(model: NaturalQNN, images: ArrayLike) -> torch.Tensor:
    """``images`` as a 2-D tensor of width ``n_inputs`` with at least one row (:func:`~.network.input_tensor`)."""
    x = input_tensor(images, what="images")
    if x.ndim != 2 or x.shape[1] != model.n_inputs:
        raise InputError(
            f"images must have shape (n, {model.n_inputs}), got {tuple(x.shape)}; "
            f"flatten each image to {model.n_inputs} values"
        )
    if x.shape[0] == 0:
        raise InputError(f"no images: got shape {tuple(x.shape)}; pass at least one image")
    return x


def _seed_stream(model: NaturalQNN, seed: Any, device: torch.device) -> tuple[int | None, torch.Generator | None]:
    """``(counter seed, None)`` for an int or NumPy seed, ``(None, generator)`` for a stream."""
    seed = check_seed(seed, none=True, numpy_generator=True, torch_generator=True)
    if isinstance(seed, torch.Generator):
        return None, seed
    if seed is None:
        return None, model.generator(device)
    lo, hi = seed_words(seed)  # draws once from a NumPy generator
    return lo | (hi << 32), None


def check_noise(noise: object) -> NoiseLaw | None:
    """Return ``noise`` if it is None or a :class:`~qiskit_natural_qnn.fastpath.NoiseLaw` (``bind``, ``describe``).

    Raises:
        ConfigurationError: anything else.

    Example:
        >>> check_noise("fake_torino")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        qiskit_natural_qnn.exceptions.ConfigurationError: noise must be None or a device's noise law ...
    """
    if noise is None or isinstance(noise, NoiseLaw):
        return noise
    raise ConfigurationError(
        f"noise must be None or a device's noise law (with bind and describe), got {type(noise).__name__}; "
        "pass e.g. qiskit_natural_qnn.emulation.emulate_device(model, 'fake_torino')"
    )


def _bound_law(
    noise: NoiseLaw | None, model: NaturalQNN, start: int, rows: int, shots: int | None, device: torch.device
) -> LayerSampler | None:
    """``noise`` bound to a batch of ``rows`` images at positions ``start, start + 1, ...`` of the run."""
    if noise is None:
        return None
    positions = torch.arange(start, start + rows, device=device)
    return noise.bind(hidden_sizes=model.hidden_sizes, neuron=model.neuron, positions=positions, shots=shots)


def predict_bytes(
    model: NaturalQNN, *, n_images: int, shots: int, batch_size: int = 1024, return_hidden: bool = False
) -> int:
    """An estimate of the bytes :func:`predict` holds: one batch's passes plus the results.

    The batch is :func:`~qiskit_natural_qnn.network.sampling_bytes` of ``min(batch_size, n_images)``
    images times ``shots``; the results are the per-pass classes (int64, twice while they are
    gathered) and, with ``return_hidden``, every hidden activation (int8, twice).

    Example:
        >>> net = NaturalQNN(layer_sizes=[784, 16, 16, 10], seed=0)
        >>> predict_bytes(net, n_images=10_000, shots=15)  # 1,024 images' passes, then 150,000 classes
        16776960
    """
    n, shots = int(n_images), int(shots)
    results = n * shots * 16 + (2 * n * shots * sum(model.hidden_sizes) if return_hidden else 0)
    return sampling_bytes(model, rows=min(int(batch_size), n), shots=shots) + results


def predict(
    model: NaturalQNN,
    images: ArrayLike,
    *,
    shots: int = 15,
    seed: int | np.random.Generator | torch.Generator | None = None,
    batch_size: int = 1024,
    return_hidden: bool = False,
    image_ids: ArrayLike | None = None,
    shot_offset: int = 0,
    max_bytes: int | None = None,
    noise: NoiseLaw | None = None,
) -> Prediction:
    """Classify each image ``shots`` times with independent stochastic passes, then vote.

    Images are processed ``batch_size`` at a time (``batch_size * shots`` passes per batch), so memory
    stays bounded whatever the number of images.

    Randomness:

    * ``seed`` an int or a NumPy generator (one 64-bit integer is drawn from it): **counter-based**
      draws (:func:`~qiskit_natural_qnn.randomness.counter_uniform`). Every random number is a hash
      of ``(seed, image id, shot, hidden layer, neuron)``, so the passes of an image do not depend on
      ``batch_size``, on the order of the images, on which other images are in the call, or on the
      device. An image's id is its position in ``images`` unless ``image_ids`` gives them (e.g. the
      dataset indices, so that a subset or a reordering of a dataset gives each image the same
      passes as the whole). Images with equal ids and inputs get equal passes.
    * ``seed`` a :class:`torch.Generator` on the model's device, or None (the network's own sampling
      stream): the batches consume that one sequential stream, so the draws depend on the batching.

    Args:
        model: the network.
        images: array or tensor ``(n, n_inputs)``.
        shots: passes per image ``S`` (``>= 1``).
        seed: an int in ``[0, 2**64)`` or NumPy generator (counter-based, batch-invariant); a
            :class:`torch.Generator` (used as is); or None (the network's own stream).
        batch_size: images per batch (``>= 1``); with an int or NumPy seed it changes nothing but memory.
        return_hidden: also return every hidden layer's sampled activations (``int8``, memory
            ``n * S * width`` bytes per layer).
        image_ids: with a counter seed, one integer id in ``[0, 2**64)`` per image (default
            ``0, 1, ..., n - 1``).
        shot_offset: with a counter seed, the index of the first shot, in ``[0, 2**64 - shots]``:
            ``shots=5, shot_offset=10`` draws shots 10-14, so a run can be extended with more shots
            without repeating any (shot indexes are 64-bit: distinct shots get distinct draws).
        max_bytes: the most memory the call may hold (default :data:`~qiskit_natural_qnn.limits.MAX_BYTES`,
            estimated by :func:`predict_bytes` before anything is drawn).
        noise: None (the ideal network), or a device's noise law
            (:class:`~qiskit_natural_qnn.fastpath.NoiseLaw`, e.g. from
            ``qiskit_natural_qnn.emulation.emulate_device``): every pass samples the noisy device exactly
            as layer-by-layer execution on it would, image ``i`` of ``images`` placed as the ``i``-th
            image of such a run (``docs/device-noise.md``). With a device without errors the passes
            are those of ``noise=None``, draw for draw.

    Returns:
        The :class:`Prediction`.

    Raises:
        ConfigurationError: ``shots`` or ``batch_size`` not an int ``>= 1``, ``shot_offset`` not an int
            in ``[0, 2**64 - shots]``, a seed of another type or outside ``[0, 2**64)``, ``image_ids`` /
            ``shot_offset`` given without an int or NumPy seed, more memory than ``max_bytes``, or a
            ``noise`` that is not a noise law or was built for another network.
        InputError: images of the wrong shape or dtype, empty, or not finite; weights not finite;
            pre-activations that overflow to NaN, or a ``linear`` stretch's angle beyond
            :data:`~qiskit_natural_qnn.neurons.MAX_ANGLE`; ``image_ids`` not one integer in
            ``[0, 2**64)`` per image.

    Example:
        >>> net = NaturalQNN(layer_sizes=[4, 8, 3], a=0.5, seed=0)
        >>> pred = predict(net, np.ones((2, 4)), shots=5, seed=1)
        >>> pred.shot_classes.shape, pred.vote_counts.shape, pred.majority.shape
        ((2, 5), (2, 3), (2,))
        >>> images = np.random.default_rng(0).random((6, 4))
        >>> whole = predict(net, images, shots=5, seed=1, batch_size=4)
        >>> part = predict(net, images[[5, 2]], shots=5, seed=1, image_ids=[5, 2])
        >>> bool((part.shot_classes == whole.shot_classes[[5, 2]]).all())  # same passes, whatever the batch
        True
    """
    shots = _check_positive_int("shots", shots, "shots=15")
    batch_size = _check_positive_int("batch_size", batch_size, "batch_size=1024")
    noise = check_noise(noise)
    shot_offset = check_counter(shot_offset, name="shot_offset", stop=COUNTER_STOP - shots + 1)
    seed = check_seed(seed, none=True, numpy_generator=True, torch_generator=True)
    if (seed is None or isinstance(seed, torch.Generator)) and (image_ids is not None or shot_offset != 0):
        raise ConfigurationError(
            "image_ids and shot_offset select counter-based draws, which need seed to be an int or a "
            f"numpy.random.Generator, got {'None' if seed is None else type(seed).__name__}; pass e.g. seed=0"
        )
    images = _as_images(model, images)
    n = images.shape[0]
    ids = check_image_ids(image_ids, n) if image_ids is not None else np.arange(n, dtype=np.uint64)
    check_bytes(
        predict_bytes(model, n_images=n, shots=shots, batch_size=batch_size, return_hidden=return_hidden),
        what=f"predict of {n} images with shots={shots}",
        max_bytes=max_bytes,
        fix="lower shots, batch_size or the number of images per call",
    )
    device = model.weights()[0].device
    _bound_law(noise, model, 0, 1, shots, device)  # refuse a law of another network before drawing
    counter_seed, gen = _seed_stream(model, seed, device)
    classes: list[torch.Tensor] = []
    hidden: list[list[torch.Tensor]] = [[] for _ in model.hidden_sizes] if return_hidden else []
    for start in range(0, n, batch_size):
        batch = images[start : start + batch_size]
        law = _bound_law(noise, model, start, int(batch.shape[0]), shots, device)
        if counter_seed is None:
            fp = model.sample(batch, shots=shots, seed=gen, law=law)
        else:
            batch_ids = ids[start : start + batch_size]
            fp = _sample_counter(model, batch, shots, counter_seed, batch_ids, shot_offset, law)
        fp.check_finite()
        classes.append(classes_from_logits(fp.logits).T.cpu())  # (b, S); ties -> smallest class index
        if return_hidden:
            for k, d in enumerate(fp.activations):
                hidden[k].append(d.transpose(0, 1).to(torch.int8).cpu())
    shot_classes = torch.cat(classes).numpy().astype(np.int64)
    majority, counts = majority_vote(shot_classes, model.n_outputs)
    hidden_arrays = [torch.cat(parts).numpy() for parts in hidden] if return_hidden else None
    return Prediction(shot_classes=shot_classes, vote_counts=counts, majority=majority, hidden=hidden_arrays)


@torch.no_grad()
def _sample_counter(
    model: NaturalQNN,
    batch: ArrayLike,
    shots: int,
    seed: int,
    ids: np.ndarray,
    shot_offset: int,
    law: LayerSampler | None = None,
) -> ForwardPass:
    """``shots`` passes per row of ``batch`` with counter-based uniforms keyed by ``ids``."""
    x = model.check_input(batch)
    model.check_weights()
    uniform = counter_uniform(seed=seed, image_ids=ids, shot_offset=shot_offset)
    return sample_network(x, model.weights(), model.biases(), model.neuron, uniform=uniform, shots=shots, law=law)


def split_data(data: Any) -> tuple[Any, Any]:
    """``(images, labels)`` from a Dataset-like object or a 2-sequence."""
    if hasattr(data, "images") and hasattr(data, "labels"):
        return data.images, data.labels
    try:
        images, labels = data
    except (TypeError, ValueError):
        raise InputError(f"data must be a Dataset or an (images, labels) pair, got {type(data).__name__}") from None
    return images, labels


def check_labels(labels: ArrayLike, n_images: int, n_classes: int) -> np.ndarray:
    """Return ``labels`` as an ``int64`` array ``(n_images,)`` with values in ``[0, n_classes)``.

    Raises:
        InputError: wrong shape or length, non-integer values, or a label out of range.
    """
    if isinstance(labels, torch.Tensor):
        labels = labels.detach().cpu().numpy()
    labels = np.asarray(labels)
    if labels.ndim != 1 or labels.shape[0] != n_images:
        raise InputError(f"labels must have shape ({n_images},) to match the images, got {labels.shape}")
    if labels.size and not np.issubdtype(labels.dtype, np.integer):
        raise InputError(f"labels must be integers, got dtype {labels.dtype}")
    if labels.size and (labels.min() < 0 or labels.max() >= n_classes):
        bad = labels[(labels < 0) | (labels >= n_classes)][0]
        raise InputError(
            f"labels must lie in [0, {n_classes}) for a network with {n_classes} outputs, found {int(bad)}"
        )
    return labels.astype(np.int64, copy=False)


def check_images_labels(
    model: NetworkLike, images: ArrayLike, labels: ArrayLike, image_ids: ArrayLike | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The one reader of a labelled batch for the studies (noise sweeps, borderline images, emulation).

    Returns:
        Images ``(n, n_inputs)`` as float64 (one image may be given as a vector), labels ``(n,)`` as
        int64 and image ids ``(n,)`` as uint64 (``0 .. n-1`` when ``image_ids`` is None).

    Raises:
        InputError: images of the wrong shape or none, or invalid labels or image ids.
    """
    x = np.asarray(images, dtype=float)
    if x.ndim == 1:
        x = x[None, :]
    if x.ndim != 2 or x.shape[1] != model.n_inputs or x.shape[0] == 0:
        raise InputError(f"images must have shape (n, {model.n_inputs}), got {np.shape(images)}")
    n = x.shape[0]
    y = check_labels(np.atleast_1d(np.asarray(labels)), n, model.n_outputs)
    ids = np.arange(n, dtype=np.uint64) if image_ids is None else check_image_ids(image_ids, n)
    return x, y, ids


def evaluate(
    model: NaturalQNN,
    data: Any,
    *,
    shots: int = 15,
    seed: int | np.random.Generator | torch.Generator | None = None,
    batch_size: int = 1024,
    image_ids: ArrayLike | None = None,
    shot_offset: int = 0,
    max_bytes: int | None = None,
    noise: NoiseLaw | None = None,
) -> Evaluation:
    """Single-shot and majority-vote error of ``model`` on labelled images.

    Args:
        model: the network.
        data: a :class:`~qiskit_natural_qnn.data.Dataset` or an ``(images, labels)`` pair.
        shots: passes per image ``S``.
        seed: as in :func:`predict`: an int or NumPy generator gives counter-based passes that do not
            depend on ``batch_size`` or the order of the images; a torch generator or None consumes a
            sequential stream.
        batch_size: images per batch, as in :func:`predict`.
        image_ids: one id per image for counter-based draws, as in :func:`predict`.
        shot_offset: the first shot's index for counter-based draws, as in :func:`predict`.
        max_bytes: the memory limit, as in :func:`predict`.
        noise: a device's noise law, as in :func:`predict` (None: the ideal network).

    Returns:
        The :class:`Evaluation`.

    Raises:
        ConfigurationError: bad ``shots``, ``batch_size``, ``seed`` or ``shot_offset``, or more memory
            than ``max_bytes``.
        InputError: empty data, mismatched labels, labels outside ``[0, n_outputs)``, or bad
            ``image_ids``.

    Example:
        >>> net = NaturalQNN(layer_sizes=[4, 8, 3], seed=0)  # a = 0: deterministic
        >>> ev = evaluate(net, (np.eye(4), np.array([0, 1, 2, 0])), shots=3, seed=0)
        >>> ev.single_shot_error == ev.vote_error, ev.shots, ev.n_images
        (True, 3, 4)
    """
    images, labels = split_data(data)
    images = _as_images(model, images)
    labels = check_labels(labels, images.shape[0], model.n_outputs)
    pred = predict(
        model,
        images,
        shots=shots,
        seed=seed,
        batch_size=batch_size,
        image_ids=image_ids,
        shot_offset=shot_offset,
        max_bytes=max_bytes,
        noise=noise,
    )
    single = float((pred.shot_classes != labels[:, None]).mean())
    vote = float((pred.majority != labels).mean())
    return Evaluation(single_shot_error=single, vote_error=vote, shots=int(shots), n_images=int(labels.shape[0]))
