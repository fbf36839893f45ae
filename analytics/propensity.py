"""PTC model: per-product L2-regularised logistic regressions, fitted together by Newton's
method, that say how likely a customer is to buy a product within the horizon, and why.

Training is a time split: features describe each customer at ``cutoff = as_of - horizon``
(attributes, products owned, recency/frequency/monetary), the label is 'bought the product in
[cutoff, as_of)'. Each product's model is fitted only on customers who did not own it at the
cutoff, so it predicts a new purchase (cross-sell), not a repeat. Weights are logits per unit
of feature; a factor's contribution is ``weight * (value - mean over the fitted rows)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import sparse, special

from analytics.errors import require
from analytics.features import (
    DAY,
    Categorical,
    FeatureSpace,
    build_history,
    feature_space,
)

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
INTERCEPT_PRIOR = 1e-4  # keeps the intercept finite for products nobody bought
NEWTON_TOL = 1e-12  # stop when every product's Newton decrement is below this


@dataclass(frozen=True, eq=False)
class PropensityModel:
    """Fitted weights (features x products) and intercepts; ``feature_mean`` is the reference
    customer contributions are measured from."""

    space: FeatureSpace
    products: tuple[str, ...]
    weights: FloatArray
    intercept: FloatArray
    feature_mean: FloatArray
    cutoff: int
    horizon_days: float
    fitted_rows: int
    eligible: IntArray  # per product: fitted rows that did not own it at the cutoff
    positives: IntArray  # per product: of those, how many bought it in the horizon
    iterations: int
    converged: bool

    def probability(self, design: FloatArray) -> FloatArray:
        """rows x products: modelled probability of buying each product within the horizon."""
        out: FloatArray = special.expit(design @ self.weights + self.intercept)
        return out

    def coefficients(self, product: str) -> list[tuple[str, float]]:
        """(feature, weight) pairs of one product's model, strongest first."""
        w = self.weights[:, self.products.index(product)]
        order = np.argsort(-np.abs(w), kind="stable")
        return [(self.space.names[i], float(w[i])) for i in order]


def fit_propensity(attributes: Sequence[Categorical], products: Sequence[str],
                   customer: IntArray, product: IntArray, amount: FloatArray, time: IntArray,
                   n_customers: int, *, as_of: int, horizon_days: float, l2: float = 1e-3,
                   fit_rows: int = 100_000, max_iter: int = 50, seed: int = 0
                   ) -> PropensityModel:
    """Fit every product's model on (a seeded sample of at most ``fit_rows``) customers."""
    require(horizon_days > 0, "horizon_days", "positive", horizon_days)
    require(l2 > 0, "l2", "positive", l2)
    require(fit_rows > 0, "fit_rows", "positive", fit_rows)
    n_products = len(products)
    cutoff = as_of - round(horizon_days * DAY)
    history = build_history(customer, product, amount, time, n_customers, n_products, cutoff)
    rows = np.arange(n_customers, dtype=np.int64)
    if n_customers > fit_rows:
        rows = np.sort(np.random.default_rng(seed).choice(n_customers, fit_rows, replace=False))
    space = feature_space(attributes, products, history, rows)
    x = space.design(history, rows)
    eligible = ~history.owned(rows)
    in_horizon = (time >= cutoff) & (time < as_of)
    y = _labels(customer[in_horizon], product[in_horizon], rows, n_customers, n_products)
    y &= eligible
    weights, intercept, iterations, converged = _solve(x, y, eligible, l2, max_iter)
    return PropensityModel(
        space=space, products=tuple(products), weights=weights, intercept=intercept,
        feature_mean=x.mean(axis=0) if len(rows) else np.zeros(space.size), cutoff=cutoff,
        horizon_days=float(horizon_days), fitted_rows=len(rows),
        eligible=eligible.sum(axis=0).astype(np.int64),
        positives=y.sum(axis=0).astype(np.int64), iterations=iterations, converged=converged)


def _labels(customer: IntArray, product: IntArray, rows: IntArray, n_customers: int,
            n_products: int) -> npt.NDArray[np.bool_]:
    """rows x products: bought in the horizon."""
    position = np.full(n_customers, -1, dtype=np.int64)
    position[rows] = np.arange(len(rows))
    where = position[customer]
    hit = where >= 0
    out = np.zeros((len(rows), n_products), dtype=np.bool_)
    out[where[hit], product[hit]] = True
    return out


def _solve(x: FloatArray, y: npt.NDArray[np.bool_], eligible: npt.NDArray[np.bool_], l2: float,
           max_iter: int) -> tuple[FloatArray, FloatArray, int, bool]:
    """Minimise, for every product p (the objective separates by product):
    mean log-loss over its eligible rows + l2/2 |w_p|^2 + a weak pull of b_p towards the
    smoothed base rate's logit - by damped Newton steps (Armijo backtracking per product).
    All products' Hessians come from one sparse product: the design's row-wise pairs
    ``x_j * x_k`` (j <= k) times the per-row curvature."""
    m, d = x.shape
    n_products = y.shape[1]
    size = d + 1  # features + intercept
    count = eligible.sum(axis=0).astype(np.float64)
    positives = y.sum(axis=0).astype(np.float64)
    base = np.where(count > 0, (positives + 0.5) / (count + 1.0), 0.0)
    b0 = special.logit(np.clip(base, 1e-6, 1 - 1e-6))
    if m == 0:
        return np.zeros((d, n_products)), b0, 0, True
    weight = eligible * np.where(count > 0, 1.0 / np.maximum(count, 1.0), 0.0)
    target = y.astype(np.float64)
    design = sparse.csr_array(np.hstack([x, np.ones((m, 1))]))
    pairs = _pair_design(design, size)
    reg = np.full(size, l2)
    reg[-1] = INTERCEPT_PRIOR
    centre = np.zeros((size, n_products))
    centre[-1] = b0
    diagonal = np.arange(size)

    def objective(theta: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
        z = np.asarray(design @ theta, dtype=np.float64)
        e = np.exp(-np.abs(z))
        loss = (weight * (np.maximum(z, 0.0) + np.log1p(e) - target * z)).sum(axis=0)
        return loss + 0.5 * (reg[:, None] * (theta - centre) ** 2).sum(axis=0), z, e

    theta = centre.copy()
    value, z, e = objective(theta)
    for iteration in range(1, max_iter + 1):
        p = np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))
        grad = np.asarray(design.T @ (weight * (p - target)), dtype=np.float64)
        grad += reg[:, None] * (theta - centre)
        upper = np.asarray(pairs.T @ (weight * p * (1.0 - p)), dtype=np.float64)
        hessian = upper.reshape(size, size, n_products).transpose(2, 0, 1)
        hessian = hessian + np.triu(hessian, 1).transpose(0, 2, 1)
        hessian[:, diagonal, diagonal] += reg
        step = -np.linalg.solve(hessian, grad.T[:, :, None])[:, :, 0].T
        decrement = -(grad * step).sum(axis=0)
        if float(decrement.max()) < NEWTON_TOL:
            return theta[:d].copy(), theta[d].copy(), iteration - 1, True
        scale = np.ones(n_products)
        for _ in range(40):
            trial, z_new, e_new = objective(theta + scale * step)
            worse = trial > value - 1e-4 * scale * decrement
            if not worse.any():
                break
            scale[worse] *= 0.5
        theta = theta + scale * step
        value, z, e = trial, z_new, e_new
    return theta[:d].copy(), theta[d].copy(), max_iter, False


def _pair_design(design: Any, size: int) -> Any:
    """rows x size*size: column ``j * size + k`` holds ``x_j * x_k`` (j <= k) of each row, so
    ``pairs.T @ s`` is every Hessian's upper triangle at once, whatever the number of columns
    of ``s``. Built row by row without a Python loop; stays as sparse as the design."""
    indptr = design.indptr.astype(np.int64)
    per_row = np.diff(indptr)
    row_of = np.repeat(np.arange(len(per_row)), per_row)
    reps = per_row[row_of]
    first = np.repeat(np.arange(len(row_of)), reps)
    start = np.repeat(np.cumsum(reps) - reps, reps)
    second = np.repeat(indptr[row_of], reps) + np.arange(len(first)) - start
    j, k = design.indices[first], design.indices[second]
    keep = j <= k
    counts = np.bincount(row_of[first][keep], minlength=len(per_row))
    return sparse.csr_array(
        ((design.data[first] * design.data[second])[keep], (j * size + k)[keep],
         np.concatenate([[0], np.cumsum(counts)])), shape=(len(per_row), size * size))
