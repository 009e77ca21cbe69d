"""Inference with a naturally quantized network: shots, majority vote, vote counts, error rates.

A stochastic network classifies an image once per forward pass (a *shot*). PAPER.md section 5
reports two numbers: the **single-shot error** (one stochastic pass) and the **majority-vote error**
over ``S`` independent passes per image (``S = 15`` in the paper). Ties in the vote go to the
smallest class index among the tied classes.

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

from .exceptions import ConfigurationError, InputError
from .fastpath import make_generator
from .network import NaturalQNN

__all__ = ["Prediction", "Evaluation", "majority_vote", "predict", "evaluate"]


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


def _as_images(model: NaturalQNN, images: Any) -> np.ndarray | torch.Tensor:
    """``images`` as a 2-D array or tensor of width ``n_inputs`` with at least one row."""
    if not isinstance(images, torch.Tensor):
        try:
            images = np.asarray(images)
        except (TypeError, ValueError):
            raise InputError(
                f"images must be a numeric array of shape (n, {model.n_inputs}), got {type(images).__name__}"
            ) from None
    if images.ndim != 2 or images.shape[1] != model.n_inputs:
        raise InputError(
            f"images must have shape (n, {model.n_inputs}), got {tuple(images.shape)}; "
            f"flatten each image to {model.n_inputs} values"
        )
    if images.shape[0] == 0:
        raise InputError(f"no images: got shape {tuple(images.shape)}; pass at least one image")
    return images


def _generator_for(model: NaturalQNN, seed: Any, device: torch.device) -> torch.Generator:
    if isinstance(seed, torch.Generator):
        return seed
    if seed is None:
        return model.generator(device)
    return make_generator(seed, device)


def predict(
    model: NaturalQNN,
    images: Any,
    *,
    shots: int = 15,
    seed: int | np.random.Generator | None = None,
    batch_size: int = 1024,
    return_hidden: bool = False,
) -> Prediction:
    """Classify each image ``shots`` times with independent stochastic passes, then vote.

    Images are processed ``batch_size`` at a time (``batch_size * shots`` passes per batch), so memory
    stays bounded whatever the number of images. Every batch draws from one random stream, made once
    from ``seed``: the same seed, images and ``batch_size`` give the same prediction (another
    ``batch_size`` consumes the stream in another order: same statistics, other draws).

    Args:
        model: the network.
        images: array or tensor ``(n, n_inputs)``.
        shots: passes per image ``S`` (``>= 1``).
        seed: an int or NumPy generator for a reproducible stream; a :class:`torch.Generator` on the
            model's device is used as is; None draws from the network's own sampling stream.
        batch_size: images per batch (``>= 1``).
        return_hidden: also return every hidden layer's sampled activations (``int8``, memory
            ``n * S * width`` bytes per layer).

    Returns:
        The :class:`Prediction`.

    Raises:
        ConfigurationError: ``shots`` or ``batch_size`` not an int ``>= 1``.
        InputError: images of the wrong shape, empty, or not finite; weights not finite.

    Example:
        >>> net = NaturalQNN(layer_sizes=[4, 8, 3], a=0.5, seed=0)
        >>> pred = predict(net, np.ones((2, 4)), shots=5, seed=1)
        >>> pred.shot_classes.shape, pred.vote_counts.shape, pred.majority.shape
        ((2, 5), (2, 3), (2,))
    """
    shots = _check_positive_int("shots", shots, "shots=15")
    batch_size = _check_positive_int("batch_size", batch_size, "batch_size=1024")
    images = _as_images(model, images)
    device = model.layers[0].weight.device
    gen = _generator_for(model, seed, device)
    n = images.shape[0]
    classes: list[torch.Tensor] = []
    hidden: list[list[torch.Tensor]] = [[] for _ in model.hidden_sizes] if return_hidden else []
    for start in range(0, n, batch_size):
        fp = model.sample(images[start : start + batch_size], shots=shots, seed=gen)
        classes.append(fp.logits.argmax(dim=-1).T.cpu())  # (b, S); argmax ties -> first index
        if return_hidden:
            for k, d in enumerate(fp.activations):
                hidden[k].append(d.transpose(0, 1).to(torch.int8).cpu())
    shot_classes = torch.cat(classes).numpy().astype(np.int64)
    majority, counts = majority_vote(shot_classes, model.n_outputs)
    hidden_arrays = [torch.cat(parts).numpy() for parts in hidden] if return_hidden else None
    return Prediction(shot_classes=shot_classes, vote_counts=counts, majority=majority, hidden=hidden_arrays)


def _split_data(data: Any) -> tuple[Any, Any]:
    """``(images, labels)`` from a Dataset-like object or a 2-sequence."""
    if hasattr(data, "images") and hasattr(data, "labels"):
        return data.images, data.labels
    try:
        images, labels = data
    except (TypeError, ValueError):
        raise InputError(
            f"data must be a Dataset or an (images, labels) pair, got {type(data).__name__}"
        ) from None
    return images, labels


def check_labels(labels: Any, n_images: int, n_classes: int) -> np.ndarray:
    """Return ``labels`` as an ``int64`` array ``(n_images,)`` with values in ``[0, n_classes)``.

    Raises:
        InputError: wrong shape or length, non-integer values, or a label out of range.
    """
    if isinstance(labels, torch.Tensor):
        labels = labels.detach().cpu().numpy()
    labels = np.asarray(labels)
    if labels.ndim != 1 or labels.shape[0] != n_images:
        raise InputError(
            f"labels must have shape ({n_images},) to match the images, got {labels.shape}"
        )
    if labels.size and not np.issubdtype(labels.dtype, np.integer):
        raise InputError(f"labels must be integers, got dtype {labels.dtype}")
    if labels.size and (labels.min() < 0 or labels.max() >= n_classes):
        bad = labels[(labels < 0) | (labels >= n_classes)][0]
        raise InputError(
            f"labels must lie in [0, {n_classes}) for a network with {n_classes} outputs, found {int(bad)}"
        )
    return labels.astype(np.int64, copy=False)


def evaluate(
    model: NaturalQNN,
    data: Any,
    *,
    shots: int = 15,
    seed: int | np.random.Generator | None = None,
    batch_size: int = 1024,
) -> Evaluation:
    """Single-shot and majority-vote error of ``model`` on labelled images.

    Args:
        model: the network.
        data: a :class:`~qiskit_natural_qnn.data.Dataset` or an ``(images, labels)`` pair.
        shots: passes per image ``S``.
        seed: the random stream, as in :func:`predict`.
        batch_size: images per batch, as in :func:`predict`.

    Returns:
        The :class:`Evaluation`.

    Raises:
        ConfigurationError: bad ``shots`` or ``batch_size``.
        InputError: empty data, mismatched labels, or labels outside ``[0, n_outputs)``.

    Example:
        >>> net = NaturalQNN(layer_sizes=[4, 8, 3], seed=0)  # a = 0: deterministic
        >>> ev = evaluate(net, (np.eye(4), np.array([0, 1, 2, 0])), shots=3, seed=0)
        >>> ev.single_shot_error == ev.vote_error, ev.shots, ev.n_images
        (True, 3, 4)
    """
    images, labels = _split_data(data)
    images = _as_images(model, images)
    labels = check_labels(labels, images.shape[0], model.n_outputs)
    pred = predict(model, images, shots=shots, seed=seed, batch_size=batch_size)
    single = float((pred.shot_classes != labels[:, None]).mean())
    vote = float((pred.majority != labels).mean())
    return Evaluation(single_shot_error=single, vote_error=vote, shots=int(shots), n_images=int(labels.shape[0]))
