r"""Borderline images: wrong for the classical network, right for the quantum one at a moderate ``a``.

The hardware follow-up (arXiv:2507.21222) picked a test image that the classical binarized
network misclassifies and showed that the naturally quantized network classifies it correctly most
of the time at a moderate stretch ``a``, then measured how device noise moves that success rate.

Definitions used here:

* **classical wrong**: the deterministic ``a = 0`` network misclassifies the image. Which network is
  "classical" is the caller's choice (``classical=`` of :func:`find_borderline`): by default the
  *same weights* evaluated at ``a = 0`` (sign neurons, projective measurement); or a separately
  trained network, also evaluated at ``a = 0``.
* **quantum right at some a**: at some ``a`` of the grid, the success probability (the fraction of
  ``shots`` single passes that pick the label) exceeds ``1/2`` (``criterion="probability"``), or
  the majority vote over the ``shots`` passes is right (``criterion="vote"``; a vote can be right
  with a success probability below ``1/2`` when the other classes split the remaining passes).
  With ``strict=True`` the probability criterion needs the lower end of the confidence interval
  above ``1/2``, so that sampling noise alone does not make an image borderline.

Success rates carry binomial confidence intervals (:func:`binomial_interval`: Wilson score or
Clopper-Pearson), so every point of a plot has an honest error bar for its ``N`` passes.

Example:
    >>> rate = success_rate(successes=31, trials=40)
    >>> round(rate.rate, 3), round(rate.low, 3), round(rate.high, 3)
    (0.775, 0.625, 0.877)
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
import numpy.typing as npt

from qiskit_natural_qnn.decode import classes_from_bits
from qiskit_natural_qnn.exceptions import ConfigurationError, InputError
from qiskit_natural_qnn.network import NaturalQNN
from qiskit_natural_qnn.randomness import check_image_ids, check_seed
from qiskit_natural_qnn.view import ArrayLike, NetworkLike

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure, SubFigure

__all__ = [
    "CRITERIA",
    "INTERVAL_METHODS",
    "BorderlineImage",
    "SuccessPoint",
    "SuccessRate",
    "binomial_interval",
    "find_borderline",
    "pass_classes",
    "plot_success_vs_a",
    "plot_success_vs_pairs",
    "success_rate",
    "success_vs_a",
    "with_stretch",
]

_LOG = logging.getLogger(__name__)

#: Binomial confidence intervals: ``"wilson"`` (Wilson score) and ``"clopper-pearson"`` (exact).
INTERVAL_METHODS: tuple[str, ...] = ("wilson", "clopper-pearson")

#: When the quantum network is "right" on an image at some ``a``.
CRITERIA: tuple[str, ...] = ("probability", "vote")


def binomial_interval(
    successes: npt.ArrayLike, trials: npt.ArrayLike, *, confidence: float = 0.95, method: str = "wilson"
) -> tuple[np.ndarray, np.ndarray]:
    r"""Two-sided confidence interval of a binomial proportion, elementwise.

    Wilson score: :math:`\frac{\hat p + \frac{z^2}{2n} \pm z\sqrt{\frac{\hat p(1-\hat p)}{n} +
    \frac{z^2}{4n^2}}}{1 + z^2/n}`. Clopper-Pearson (exact, conservative): quantiles of
    :math:`\mathrm{Beta}(k, n - k + 1)` and :math:`\mathrm{Beta}(k + 1, n - k)`.

    Args:
        successes: counts ``k`` (ints ``>= 0``).
        trials: counts ``n >= 1``, broadcastable with ``successes``, ``n >= k``.
        confidence: the coverage, in ``(0, 1)``.
        method: ``"wilson"`` or ``"clopper-pearson"``.

    Returns:
        ``(low, high)`` as float arrays.

    Raises:
        ConfigurationError: an unknown method or a confidence outside ``(0, 1)``.
        InputError: negative counts, ``n < 1`` or ``k > n``.

    Example:
        >>> low, high = binomial_interval(0, 10, method="clopper-pearson")
        >>> float(low), round(float(high), 4)
        (0.0, 0.3085)
    """
    from scipy import stats

    if method not in INTERVAL_METHODS:
        raise ConfigurationError(f"unknown interval method {method!r}; expected one of {', '.join(INTERVAL_METHODS)}")
    if not 0 < confidence < 1:
        raise ConfigurationError(f"confidence must lie in (0, 1), got {confidence!r}; pass e.g. confidence=0.95")
    k = np.asarray(successes, dtype=float)
    n = np.asarray(trials, dtype=float)
    if np.any(n < 1) or np.any(k < 0) or np.any(k > n):
        raise InputError(
            f"binomial counts need trials >= 1 and 0 <= successes <= trials, got successes={successes!r}, "
            f"trials={trials!r}"
        )
    alpha = 1 - confidence
    if method == "wilson":
        z = stats.norm.ppf(1 - alpha / 2)
        p = k / n
        denom = 1 + z * z / n
        centre = (p + z * z / (2 * n)) / denom
        half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
        return np.clip(centre - half, 0.0, 1.0), np.clip(centre + half, 0.0, 1.0)
    with np.errstate(invalid="ignore"):
        low = np.where(k > 0, stats.beta.ppf(alpha / 2, k, n - k + 1), 0.0)
        high = np.where(k < n, stats.beta.ppf(1 - alpha / 2, k + 1, n - k), 1.0)
    return np.asarray(low, dtype=float), np.asarray(high, dtype=float)


class SuccessRate(NamedTuple):
    """A success rate over independent passes, with its binomial confidence interval.

    Attributes:
        successes: passes that picked the label.
        trials: passes ``N``.
        rate: ``successes / trials``.
        low: lower end of the confidence interval.
        high: upper end of the confidence interval.
        vote_correct: whether the majority vote over the passes is right (ties -> smallest class).
    """

    successes: int
    trials: int
    rate: float
    low: float
    high: float
    vote_correct: bool | None = None


def success_rate(
    *,
    successes: int,
    trials: int,
    confidence: float = 0.95,
    method: str = "wilson",
    vote_correct: bool | None = None,
) -> SuccessRate:
    """A :class:`SuccessRate` with its interval (see :func:`binomial_interval`)."""
    low, high = binomial_interval(successes, trials, confidence=confidence, method=method)
    return SuccessRate(int(successes), int(trials), successes / trials, float(low), float(high), vote_correct)


class SuccessPoint(NamedTuple):
    """The success rate of one image at one setting (stretch ``a``, identity pairs, device).

    Attributes:
        image: the image's index in the caller's dataset.
        label: its true class.
        a: the stretch.
        pairs: identity pairs inserted per qubit or neighbouring pair (0 without noise injection).
        gate: the pair gate (``"sx"``/``"cz"``), or ``""`` when no pairs were inserted.
        backend: what drew the passes (``"fast path"``, ``"fake_perth (noisy)"``...).
        rate: the :class:`SuccessRate` over the passes.
    """

    image: int
    label: int
    a: float
    pairs: int
    gate: str
    backend: str
    rate: SuccessRate


class BorderlineImage(NamedTuple):
    """An image the classical network gets wrong and the quantum network gets right at some ``a``.

    Attributes:
        image: its index in the caller's dataset.
        label: its true class.
        classical_class: what the classical (``a = 0``) network predicts.
        points: one :class:`SuccessPoint` per ``a`` of the grid (fast path).
        best_a: the ``a`` of the highest success rate.
        best_rate: that rate.
    """

    image: int
    label: int
    classical_class: int
    points: tuple[SuccessPoint, ...]
    best_a: float
    best_rate: float


def with_stretch(model: NaturalQNN, a: float) -> NaturalQNN:
    """A copy of ``model`` with stretch ``a`` (same weights, stretch function and ``g``).

    Example:
        >>> from qiskit_natural_qnn import NaturalQNN
        >>> with_stretch(NaturalQNN(layer_sizes=[2, 2, 2], a=0.5, seed=0), 0.0).a
        0.0
    """
    out = copy.deepcopy(model)
    out.spec = model.spec.replace(a=float(a))
    return out


def pass_classes(model: NetworkLike, last_bits: ArrayLike) -> np.ndarray:
    """The class (argmax of the logits, ties -> smallest index) of each pass from its last hidden layer's bits.

    :func:`qiskit_natural_qnn.decode.classes_from_bits`, under the name the experiments use.

    Args:
        model: the network (its output weights and bias) or its view.
        last_bits: bits of the last hidden layer, ``(..., width)`` (bit 0 = activation +1), e.g.
            ``run_layerwise(...).bits[-1]`` of shape ``(n_images, shots, width)``.

    Returns:
        ``int64`` classes of shape ``(...)``.
    """
    return classes_from_bits(model, last_bits)


def _ids(image_ids: ArrayLike | None, n: int) -> np.ndarray:
    """One id per image: ``0..n-1``, or ``image_ids`` checked by the one rule (ints in ``[0, 2**64)``)."""
    return np.arange(n, dtype=np.uint64) if image_ids is None else check_image_ids(image_ids, n)


def success_points(
    classes: np.ndarray,
    labels: np.ndarray,
    ids: np.ndarray,
    *,
    n_classes: int,
    a: float,
    pairs: int,
    gate: str,
    backend: str,
    confidence: float = 0.95,
    method: str = "wilson",
) -> list[SuccessPoint]:
    """One :class:`SuccessPoint` per image from the classes of its passes ``(n_images, shots)``."""
    from qiskit_natural_qnn.inference import majority_vote

    majority, _ = majority_vote(classes, n_classes)
    out = []
    for i in range(classes.shape[0]):
        k = int((classes[i] == labels[i]).sum())
        rate = success_rate(
            successes=k,
            trials=classes.shape[1],
            confidence=confidence,
            method=method,
            vote_correct=bool(majority[i] == labels[i]),
        )
        out.append(SuccessPoint(int(ids[i]), int(labels[i]), float(a), int(pairs), gate, backend, rate))
    return out


def success_vs_a(
    model: NaturalQNN,
    images: ArrayLike,
    labels: ArrayLike,
    *,
    a_values: Sequence[float],
    shots: int = 1000,
    seed: int | np.random.Generator | None = 0,
    image_ids: ArrayLike | None = None,
    confidence: float = 0.95,
    method: str = "wilson",
    progress: bool = False,
) -> list[SuccessPoint]:
    """Success rate of each image versus ``a`` from ``shots`` fast-path passes (exact model statistics).

    Args:
        model: the network (its weights; its stretch ``a`` is replaced by each value of ``a_values``).
        images: ``(n, n_inputs)``, or one image ``(n_inputs,)``.
        labels: ``(n,)`` true classes (or one int).
        a_values: the stretches.
        shots: passes per image and ``a``.
        seed: counter-based seed (:func:`~qiskit_natural_qnn.inference.predict`): every ``a`` reuses
            the same random numbers (common random numbers), which makes the curve smooth in ``a``.
        image_ids: ids for the counter-based draws and for the points (default ``0..n-1``).
        confidence: coverage of the intervals.
        method: ``"wilson"`` or ``"clopper-pearson"``.
        progress: show a bar over ``a_values`` on standard error.

    Returns:
        One :class:`SuccessPoint` per image and ``a`` (``a``-major).
    """
    from tqdm import tqdm

    from qiskit_natural_qnn.inference import check_images_labels, predict

    x, y, _ = check_images_labels(model, images, labels)
    ids = _ids(image_ids, x.shape[0])
    seed = check_seed(seed, none=True, numpy_generator=True)
    if isinstance(seed, np.random.Generator):
        seed = int(seed.integers(0, 2**63 - 1))
    out: list[SuccessPoint] = []
    a_values = list(a_values)
    _LOG.info("success versus a: %d image(s) x %d pass(es) at %d value(s) of a", x.shape[0], shots, len(a_values))
    for a in tqdm(a_values, desc="values of a", unit="a", disable=not progress):
        _LOG.debug("success versus a: a = %g", a)
        net = with_stretch(model, a)
        pred = predict(net, x, shots=shots, seed=seed, image_ids=ids)
        out.extend(
            success_points(
                pred.shot_classes,
                y,
                ids,
                n_classes=model.n_outputs,
                a=a,
                pairs=0,
                gate="",
                backend="fast path",
                confidence=confidence,
                method=method,
            )
        )
    return out


def find_borderline(
    model: NaturalQNN,
    images: ArrayLike,
    labels: ArrayLike,
    *,
    a_values: Sequence[float] = (0.1, 0.2, 0.316, 0.5, 0.75, 1.0),
    classical: NaturalQNN | None = None,
    criterion: str = "probability",
    strict: bool = False,
    shots: int = 200,
    seed: int | np.random.Generator | None = 0,
    image_ids: ArrayLike | None = None,
    limit: int | None = None,
    confidence: float = 0.95,
    progress: bool = False,
) -> list[BorderlineImage]:
    """Images that the classical network misclassifies and the quantum network gets right at some ``a``.

    Args:
        model: the quantum network (its weights are evaluated at every ``a`` of ``a_values``).
        images: ``(n, n_inputs)``.
        labels: ``(n,)``.
        a_values: the stretches to try (``a > 0``).
        classical: None for the same weights at ``a = 0``, or a separately trained network
            (evaluated at ``a = 0``, whatever its own ``a``).
        criterion: ``"probability"`` (success rate above 1/2) or ``"vote"`` (majority vote right).
        strict: with ``"probability"``, require the interval's lower end above 1/2.
        shots: fast-path passes per image and ``a``.
        seed: counter-based seed of the passes.
        image_ids: ids of the images (default ``0..n-1``), reported in the results.
        limit: stop after this many borderline images (None: all).
        confidence: coverage of the intervals.
        progress: show a bar over ``a_values`` on standard error (:func:`success_vs_a`).

    Returns:
        The borderline images, best success rate first.

    Raises:
        ConfigurationError: an unknown criterion, or a network of another shape as ``classical``.
    """
    from qiskit_natural_qnn.inference import predict

    if criterion not in CRITERIA:
        raise ConfigurationError(f"unknown criterion {criterion!r}; expected one of {', '.join(CRITERIA)}")
    from qiskit_natural_qnn.inference import check_images_labels

    x, y, _ = check_images_labels(model, images, labels)
    ids = _ids(image_ids, x.shape[0])
    reference = model if classical is None else classical
    if tuple(reference.layer_sizes) != tuple(model.layer_sizes):
        raise ConfigurationError(
            f"the classical network has layer sizes {list(reference.layer_sizes)}, the quantum one "
            f"{list(model.layer_sizes)}; pass networks of the same shape (or classical=None for the same weights)"
        )
    classical_pred = predict(with_stretch(reference, 0.0), x, shots=1, seed=0).majority
    wrong = np.flatnonzero(classical_pred != y)
    _LOG.info("borderline search: the classical network misclassifies %d of %d image(s)", wrong.size, x.shape[0])
    if wrong.size == 0:
        return []
    points = success_vs_a(
        model,
        x[wrong],
        y[wrong],
        a_values=a_values,
        shots=shots,
        seed=seed,
        image_ids=ids[wrong],
        confidence=confidence,
        progress=progress,
    )
    by_image: dict[int, list[SuccessPoint]] = {}
    for p in points:
        by_image.setdefault(p.image, []).append(p)
    found = []
    for idx in wrong:
        pts = by_image[int(ids[idx])]
        if criterion == "vote":
            ok = any(p.rate.vote_correct for p in pts)
        else:
            ok = any((p.rate.low if strict else p.rate.rate) > 0.5 for p in pts)
        if ok:
            best = max(pts, key=lambda p: p.rate.rate)
            found.append(
                BorderlineImage(
                    int(ids[idx]), int(y[idx]), int(classical_pred[idx]), tuple(pts), best.a, best.rate.rate
                )
            )
    found.sort(key=lambda b: -b.best_rate)
    return found if limit is None else found[: int(limit)]


# ---------------------------------------------------------------------------------------- plots
def _axes(ax: Axes | None) -> tuple[Figure | SubFigure, Axes]:
    if ax is not None:
        return ax.figure, ax
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.4, 4.2), layout="constrained")
    return fig, fig.add_subplot()


def _errorbar(ax: Axes, x: np.ndarray, pts: list[SuccessPoint], label: str, **style: Any) -> None:
    order = np.argsort(x)
    rate = np.array([p.rate.rate for p in pts])[order]
    low = np.array([p.rate.low for p in pts])[order]
    high = np.array([p.rate.high for p in pts])[order]
    yerr = np.clip([rate - low, high - rate], 0.0, None)  # round-off can make an end cross the rate
    ax.errorbar(x[order], rate, yerr=yerr, capsize=3, marker="o", ms=4, label=label, **style)


def plot_success_vs_a(
    points: Sequence[SuccessPoint], *, title: str | None = None, ax: Axes | None = None
) -> Figure | SubFigure:
    """Success probability versus ``a``, one curve per image and backend, with binomial error bars.

    The dashed line at 1/2 separates "right most of the time" from "wrong most of the time"; the
    dotted line at 1/10 is a random guess among ten classes.

    Raises:
        InputError: no points.
    """
    pts = list(points)
    if not pts:
        raise InputError("no success points to plot; compute them with success_vs_a or noise_sweep")
    fig, ax = _axes(ax)
    groups: dict[tuple[int, str, int, str], list[SuccessPoint]] = {}
    for p in pts:
        groups.setdefault((p.image, p.backend, p.pairs, p.gate), []).append(p)
    for (image, backend, pairs, gate), group in groups.items():
        extra = f", {pairs} {gate} pairs" if pairs else ""
        _errorbar(
            ax, np.array([p.a for p in group]), group, f"image {image} (label {group[0].label}), {backend}{extra}"
        )
    ax.axhline(0.5, color="0.3", ls="--", lw=1)
    ax.axhline(0.1, color="0.5", ls=":", lw=1)
    ax.set_xlabel("stretch a")
    ax.set_ylabel("success probability")
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    n = sorted({p.rate.trials for p in pts})
    ax.set_title(
        title
        if title is not None
        else f"success versus a ({'/'.join(map(str, n))} passes per point, 95% binomial intervals)",
        fontsize=9,
    )
    return fig


def plot_success_vs_pairs(
    points: Sequence[SuccessPoint], *, title: str | None = None, ax: Axes | None = None
) -> Figure | SubFigure:
    """Success probability versus the number of identity pairs, one curve per image, ``a`` and backend.

    Raises:
        InputError: no points.
    """
    pts = list(points)
    if not pts:
        raise InputError("no success points to plot; compute them with noise_sweep")
    fig, ax = _axes(ax)
    groups: dict[tuple[int, float, str, str], list[SuccessPoint]] = {}
    for p in pts:
        groups.setdefault((p.image, p.a, p.backend, p.gate), []).append(p)
    for (image, a, backend, _gate), group in groups.items():
        _errorbar(
            ax,
            np.array([p.pairs for p in group], dtype=float),
            group,
            f"image {image} (label {group[0].label}), a = {a:g}, {backend}",
        )
    ax.axhline(0.5, color="0.3", ls="--", lw=1)
    ax.axhline(0.1, color="0.5", ls=":", lw=1)
    gates = sorted({p.gate for p in pts if p.gate})
    ax.set_xlabel(
        f"identity pairs ({', '.join(gates) or 'none'}) per {'pair of neurons' if gates == ['cz'] else 'neuron'}"
    )
    ax.set_ylabel("success probability")
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    ax.set_title(title if title is not None else "success versus injected noise (95% binomial intervals)", fontsize=9)
    return fig
