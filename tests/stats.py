"""Statistical checks shared by the tests: every check states its tolerance where it is called."""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Iterable, Mapping

import numpy as np
from scipy import stats


def chi2_pvalue(counts: Mapping[Hashable, int], probs: Mapping[Hashable, float], *, min_expected: float = 5.0) -> float:
    """Pearson chi-square p-value of observed ``counts`` against exact ``probs``.

    Cells with expected count below ``min_expected`` are pooled into one cell (the usual rule for
    the chi-square approximation). An observed outcome of probability zero gives p = 0.
    """
    n = sum(counts.values())
    if n == 0:
        raise ValueError("no samples")
    for key, c in counts.items():
        if c > 0 and probs.get(key, 0.0) <= 0.0:
            return 0.0
    obs, exp, pool_obs, pool_exp = [], [], 0.0, 0.0
    for key, p in probs.items():
        e = n * p
        if e < min_expected:
            pool_obs += counts.get(key, 0)
            pool_exp += e
        else:
            obs.append(counts.get(key, 0))
            exp.append(e)
    if pool_exp > 0:
        obs.append(pool_obs)
        exp.append(pool_exp)
    if len(obs) < 2:
        return 1.0
    obs_a, exp_a = np.asarray(obs, float), np.asarray(exp, float)
    exp_a *= obs_a.sum() / exp_a.sum()
    return float(stats.chisquare(obs_a, exp_a).pvalue)


def counts_of(samples: Iterable[Hashable]) -> Counter:
    """Count hashable samples."""
    return Counter(samples)


def binomial_tolerance(p: np.ndarray | float, n: int, *, sigmas: float = 5.0) -> np.ndarray:
    """``sigmas`` standard errors of a frequency of ``n`` Bernoulli(p) draws, plus one count."""
    p = np.asarray(p, dtype=float)
    return sigmas * np.sqrt(p * (1 - p) / n) + 1.0 / n


def total_variation(counts: Mapping[Hashable, int], probs: Mapping[Hashable, float]) -> float:
    """Total-variation distance between empirical frequencies and exact probabilities."""
    n = sum(counts.values())
    keys = set(counts) | set(probs)
    return 0.5 * sum(abs(counts.get(k, 0) / n - probs.get(k, 0.0)) for k in keys)
