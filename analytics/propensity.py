"""PTC model: per-product L2-regularised logistic regressions, fitted jointly by Newton steps.

They say how likely a customer is to buy a product within the horizon, and why.

Training is a time split: features describe each customer at ``cutoff = as_of - horizon``
(attributes, products owned, products bought recently, recency/frequency/monetary; see
``analytics.features``), the label is 'bought the product in [cutoff, as_of)'. Scoring uses
the same features as of ``as_of``, so a score is the chance of buying within the next
horizon. Each product's model is fitted only on customers who did not own it at the cutoff,
so it predicts a new purchase (cross-sell), not a repeat. Weights are logits per unit of
feature; a factor's contribution is ``weight * (value - mean over the fitted rows)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import sparse, special

from analytics.arrays import FloatArray, IntArray
from analytics.errors import require
from analytics.features import (
    DAY,
    RECENT_DAYS,
    Categorical,
    FeatureSpace,
    build_history,
    feature_space,
)

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
        dtype = design.dtype  # float32 designs are scored in float32, returned as float64
        logit = design @ self.weights.astype(dtype) + self.intercept.astype(dtype)
        out: FloatArray = special.expit(logit).astype(np.float64)
        return out

    def coefficients(self, product: str) -> list[tuple[str, float]]:
        """(feature, weight) pairs of one product's model, strongest first."""
        w = self.weights[:, self.products.index(product)]
        order = np.argsort(-np.abs(w), kind="stable")
        return [(self.space.names[i], float(w[i])) for i in order]


def fit_propensity(attributes: Sequence[Categorical], products: Sequence[str],
                   customer: IntArray, product: IntArray, amount: FloatArray, time: IntArray,
                   n_customers: int, *, as_of: int, horizon_days: float, l2: float = 1e-3,
                   fit_rows: int = 100_000, max_iter: int = 50, seed: int = 0,
                   recent_days: float = RECENT_DAYS) -> PropensityModel:
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
    space = feature_space(attributes, products, history, rows, recent_days)
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
    # Rows sorted by how many nonzeros they have (the row order does not change the fit),
    # so rows of equal length are contiguous blocks for the pair design.
    order = np.argsort(np.count_nonzero(x, axis=1), kind="stable")
    x, y, eligible = x[order], y[order], eligible[order]
    weight = eligible * np.where(count > 0, 1.0 / np.maximum(count, 1.0), 0.0)
    target = y.astype(np.float64)
    design = sparse.csr_array(np.hstack([x, np.ones((m, 1))]))
    pairs = _pair_design(design, size)
    reg = np.full(size, l2)
    reg[-1] = INTERCEPT_PRIOR
    centre = np.zeros((size, n_products))
    centre[-1] = b0
    diagonal = np.arange(size)

    def objective(theta: FloatArray, cols: IntArray | slice
                  ) -> tuple[FloatArray, FloatArray, FloatArray]:
        """Per-product objective of the products ``cols``, with their logits and exp(-|z|)."""
        z = np.asarray(design @ theta, dtype=np.float64)
        e = np.exp(-np.abs(z))
        loss = (weight[:, cols] * (np.maximum(z, 0.0) + np.log1p(e) - target[:, cols] * z)
                ).sum(axis=0)
        return loss + 0.5 * (reg[:, None] * (theta - centre[:, cols]) ** 2).sum(axis=0), z, e

    everything = slice(None)
    theta = centre.copy()
    value, z, e = objective(theta, everything)
    for iteration in range(1, max_iter + 1):
        p = np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))
        grad = np.asarray(design.T @ (weight * (p - target)), dtype=np.float64)
        grad += reg[:, None] * (theta - centre)
        upper = np.asarray(pairs.T @ (weight * p * (1.0 - p)), dtype=np.float64)
        hessian = upper.reshape(size, size, n_products).transpose(2, 0, 1)
        hessian = hessian + np.triu(hessian, 1).transpose(0, 2, 1)
        hessian[:, diagonal, diagonal] += reg
        step = -_solve_positive(hessian, grad.T).T
        decrement = -(grad * step).sum(axis=0)
        if float(decrement.max()) < NEWTON_TOL:
            return theta[:d].copy(), theta[d].copy(), iteration - 1, True
        # Backtracking per product: only the products whose step failed are re-evaluated.
        scale = np.ones(n_products)
        value_new, z, e = objective(theta + step, everything)
        slack = 1e-12 * (1.0 + np.abs(value))  # rounding noise is not a failed step
        worse = np.flatnonzero(value_new > value - 1e-4 * decrement + slack)
        for _ in range(40):
            if not len(worse):
                break
            scale[worse] *= 0.5
            retry, z[:, worse], e[:, worse] = objective(
                theta[:, worse] + scale[worse] * step[:, worse], worse)
            value_new[worse] = retry
            worse = worse[retry > value[worse] - 1e-4 * scale[worse] * decrement[worse]
                          + slack[worse]]
        theta = theta + scale * step
        value = value_new
    return theta[:d].copy(), theta[d].copy(), max_iter, False


def _solve_positive(a: FloatArray, b: FloatArray) -> FloatArray:
    """``x[i]`` solving ``a[i] @ x[i] = b[i]`` for a batch of symmetric positive definite
    matrices: Cholesky column by column, vectorised over the batch. For a hundred-odd
    features this takes milliseconds without threaded LAPACK, which can stall for a second
    per call on a busy machine."""
    batch, n = b.shape
    low = np.zeros_like(a)
    for j in range(n):
        row = low[:, j, :j]
        pivot = np.sqrt(np.maximum(a[:, j, j] - (row * row).sum(axis=1), 1e-300))
        low[:, j, j] = pivot
        low[:, j + 1:, j] = (a[:, j + 1:, j] - (low[:, j + 1:, :j] * row[:, None, :]).sum(
            axis=2)) / pivot[:, None]
    y = np.zeros((batch, n))
    for j in range(n):
        y[:, j] = (b[:, j] - (low[:, j, :j] * y[:, :j]).sum(axis=1)) / low[:, j, j]
    x = np.zeros((batch, n))
    for j in range(n - 1, -1, -1):
        x[:, j] = (y[:, j] - (low[:, j + 1:, j] * x[:, j + 1:]).sum(axis=1)) / low[:, j, j]
    return x


def _pair_design(design: Any, size: int) -> Any:
    """rows x size*size: column ``j * size + k`` holds ``x_j * x_k`` (j <= k) of each row, so
    ``pairs.T @ s`` is every Hessian's upper triangle at once, whatever the number of columns
    of ``s``. Rows must come sorted by their number of nonzeros: each run of equal length is
    one block, paired without a Python loop over rows."""
    indptr = design.indptr.astype(np.int64)
    length = np.diff(indptr)
    data_parts: list[FloatArray] = []
    index_parts: list[npt.NDArray[np.int32]] = []
    bounds = np.flatnonzero(np.r_[True, length[1:] != length[:-1], True])
    for lo, hi in zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True):
        span = int(length[lo])
        if span == 0:
            continue
        cells = slice(int(indptr[lo]), int(indptr[hi]))
        idx = design.indices[cells].astype(np.int32).reshape(hi - lo, span)
        val = design.data[cells].reshape(hi - lo, span)
        first, second = np.triu_indices(span)
        index_parts.append((idx[:, first] * np.int32(size) + idx[:, second]).ravel())
        data_parts.append((val[:, first] * val[:, second]).ravel())
    per_row = length * (length + 1) // 2
    return sparse.csr_array(
        (np.concatenate(data_parts) if data_parts else np.zeros(0),
         np.concatenate(index_parts) if index_parts else np.zeros(0, np.int32),
         np.concatenate([[0], np.cumsum(per_row)])), shape=(len(length), size * size))
