"""Scaling laws of a score P (chrF++, BLEU, QA F1) in the amount x of translation data per language.

The x-LLaMA paper fits such laws but its equation and fitted values are not available, so this
module offers the credible family and lets the data choose (AIC/BIC and leave-largest-out error):

* ``loglinear``  P = a·ln x + b                                  (2 parameters per language)
* ``power``      P = P∞ − A·(x + x0)^(−α), A ≥ 0, α > 0, x0 ≥ 0  (4 per language; saturating, concave)
* ``shared``     the power law with α and x0 shared by all languages, P∞_l and A_l per language
  (2 + 2L). With ``covariate`` {lang: s_l} (documented choice: a similarity of l to English, e.g. the
  share of Latin script, or representation similarity from notebook 09) the offsets become
  P∞_l = c0 + c1·s_l (parameters α, x0, c0, c1 and A_l), so the ceiling of a language follows from
  its covariate.

Fitting: ``scipy.optimize.least_squares`` (trust-region reflective, bounds) started from a
variable-projection grid: for fixed (α, x0) the power law is linear in (P∞, A), which are solved exactly
on a grid of (α, x0), and the best point starts the non-linear fit (the generic starting points are the
fallback), with exact derivatives (:func:`_power_terms`) and a budget of 2,000 evaluations (300 per
fallback start). A fit that does not converge is returned with ``converged=False`` and its message,
never as numbers. The typical non-converging case is a degenerate one: data that keep growing push x0
and A towards infinity, where the saturating law turns into a straight line and has no finite optimum
(with finite-difference derivatives such a fit used to stop by tolerance somewhere along that valley and
be reported as converged, with meaningless parameters). Fewer points than parameters, non-positive
sizes and NaN scores are errors.

Uncertainty: a **residual bootstrap** (the fitted curve plus resampled residuals scaled by
√(n/(n−k)), refitted from its own grid start with tolerances 1e-6 and at most 400 evaluations), because
case resampling of 5–10 points often leaves fewer distinct sizes than parameters; percentile CIs
of the parameters and of predictions. Replicates that do not converge are counted, not hidden.

Model choice: AIC = n·ln(RSS/n) + 2k and BIC = n·ln(RSS/n) + k·ln n (Gaussian errors), and the
leave-largest-out error: fit without each language's largest size, predict it, compare with the
mean observed score there.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .errors import ConfigError, DataError

LAWS = ("loglinear", "power", "shared")
COLUMNS = ("lang", "size", "seed", "metric", "value")


@dataclass
class Fit:
    law: str
    langs: tuple[str, ...]
    params: dict[str, float]
    converged: bool
    message: str
    n: int
    k: int
    rss: float
    covariate: dict | None = None
    boot: pd.DataFrame | None = field(default=None, repr=False)

    @property
    def aic(self) -> float:
        return self.n * np.log(max(self.rss, 1e-300) / self.n) + 2 * self.k

    @property
    def bic(self) -> float:
        return self.n * np.log(max(self.rss, 1e-300) / self.n) + self.k * np.log(self.n)

    def predict(self, lang: str, x) -> np.ndarray:
        if not self.converged:
            raise ConfigError(f"{self.law} fit did not converge ({self.message}): no predictions")
        return _curve(self.law, self.params, lang, np.asarray(x, float), self.covariate)


# ----------------------------------------------------------------------------------------------
# data


def check_table(df: pd.DataFrame, source: str = "scaling table") -> pd.DataFrame:
    """Validate a tidy (lang, size, seed, metric, value) table: columns present, sizes > 0, values finite."""
    missing = [c for c in COLUMNS if c not in df.columns]
    if missing:
        raise DataError(source, f"missing column(s) {missing}; expected {list(COLUMNS)}")
    for i, r in enumerate(df.itertuples(index=False)):
        line = i + 2                                         # header is line 1 of a CSV
        try:
            size, value = float(r.size), float(r.value)
        except (TypeError, ValueError):
            raise DataError(source, f"size and value must be numbers, got {r.size!r}, {r.value!r}", line=line) \
                from None
        if not size > 0:
            raise DataError(source, f"size must be > 0, got {r.size!r}", line=line)
        if not np.isfinite(value):
            raise DataError(source, f"value is not a finite number ({r.value!r})", line=line)
    return df.astype({"size": float, "value": float})


def read_table(path) -> pd.DataFrame:
    """A user's CSV of results (e.g. from a GPU cluster), validated by :func:`check_table`."""
    from pathlib import Path
    path = Path(path)
    if not path.exists():
        raise DataError(path, "scaling table not found")
    return check_table(pd.read_csv(path), str(path))


# ----------------------------------------------------------------------------------------------
# laws


def n_params(law: str, n_langs: int, covariate: bool = False) -> int:
    if law == "loglinear":
        return 2 * n_langs
    if law == "power":
        return 4 * n_langs
    if law == "shared":
        return 2 + n_langs + (2 if covariate else n_langs)
    raise ConfigError(f"unknown law {law!r}; expected one of {LAWS}")


def _curve(law: str, p: dict, lang: str, x: np.ndarray, covariate: dict | None = None) -> np.ndarray:
    if law == "loglinear":
        return p[f"a[{lang}]"] * np.log(x) + p[f"b[{lang}]"]
    if law == "power":
        return p[f"Pinf[{lang}]"] - p[f"A[{lang}]"] * (x + p[f"x0[{lang}]"]) ** (-p[f"alpha[{lang}]"])
    if covariate is not None:
        if lang not in covariate:
            raise ConfigError(f"no covariate value for language {lang!r}")
        pinf = p["c0"] + p["c1"] * covariate[lang]
    else:
        pinf = p[f"Pinf[{lang}]"]
    return pinf - p[f"A[{lang}]"] * (x + p["x0"]) ** (-p["alpha"])


def _names(law: str, langs, covariate: bool) -> list[str]:
    if law == "loglinear":
        return [f"{n}[{lang}]" for lang in langs for n in ("a", "b")]
    if law == "power":
        return [f"{n}[{lang}]" for lang in langs for n in ("Pinf", "A", "alpha", "x0")]
    head = ["alpha", "x0"] + (["c0", "c1"] if covariate else [f"Pinf[{lang}]" for lang in langs])
    return head + [f"A[{lang}]" for lang in langs]


def _bounds(name: str, y: np.ndarray) -> tuple[float, float]:
    span = float(np.ptp(y)) + 1.0
    if name.startswith("alpha"):
        return 1e-3, 5.0
    if name.startswith("x0"):
        return 0.0, 1e7
    if name.startswith("A"):
        return 0.0, np.inf
    if name.startswith("Pinf"):
        return -np.inf, float(np.max(y)) + 100 * span
    return -np.inf, np.inf


def _starts(names: list[str], x: np.ndarray, y: np.ndarray) -> list[np.ndarray]:
    starts = []
    for alpha in (0.2, 0.5, 1.0):
        for x0 in (0.0, float(np.min(x))):
            v = []
            for n in names:
                if n.startswith("alpha"):
                    v.append(alpha)
                elif n.startswith("x0"):
                    v.append(x0)
                elif n.startswith("Pinf") or n == "c0":
                    v.append(float(np.max(y)) + 0.1 * (float(np.ptp(y)) + 1.0))
                elif n.startswith("A"):
                    v.append(max(1e-3, (float(np.ptp(y)) + 1.0) * (float(np.min(x)) + x0) ** alpha))
                elif n.startswith("a["):
                    v.append(0.0)
                else:
                    v.append(float(np.mean(y)) if n.startswith("b[") else 0.0)
            starts.append(np.array(v))
    return starts


ALPHA_GRID = np.geomspace(1e-3, 5.0, 60)
MAX_NFEV = 2000      # from the grid start; converging fits of the cpu run took at most ~1,100
FALLBACK_NFEV = 300  # from each generic start (none of which converged where the grid start did not, there)


def _grid_start(law: str, names: list[str], langs, lang_idx: np.ndarray, x: np.ndarray, y: np.ndarray,
                covariate: dict | None) -> np.ndarray:
    """Starting values by variable projection: for fixed (α, x0) the power law is linear in (P∞, A), so
    those are solved exactly (least squares, A ≥ 0) on a grid of α (60 values in [0.001, 5]) × x0 (0 and
    30 values spanning the sizes), and the best grid point starts the bounded non-linear fit. Per
    language for ``power``; summed over languages (shared α, x0) for ``shared``; with a covariate the
    ceilings c0 + c1·s_l and every A_l are solved jointly at each grid point."""
    x0_grid = np.concatenate([[0.0], np.geomspace(max(float(x.min()), 1e-3) * 1e-2, float(x.max()) * 10, 30)])
    ag, xg = np.meshgrid(ALPHA_GRID, x0_grid, indexing="ij")
    ag, xg = ag.ravel(), xg.ravel()
    z = (x[None, :] + xg[:, None]) ** (-ag[:, None])                 # grid × points

    def two_param(m):   # per grid point: y ≈ P∞ − A z on the points m; returns rss, P∞, A
        zz, yy = z[:, m], y[m]
        zbar, ybar = zz.mean(1), yy.mean()
        zc = zz - zbar[:, None]
        var = (zc ** 2).sum(1)
        b = np.where(var > 0, zc @ (yy - ybar) / np.where(var > 0, var, 1.0), 0.0)
        a = np.maximum(-b, 0.0)                                       # A = −slope, constrained ≥ 0
        pinf = ybar + a * zbar
        rss = ((yy[None, :] - pinf[:, None] + a[:, None] * zz) ** 2).sum(1)
        return rss, pinf, a

    vals = {}
    if law == "power":
        for lang in langs:
            rss, pinf, a = two_param(lang_idx == lang)
            g = int(np.argmin(rss))
            vals.update({f"Pinf[{lang}]": pinf[g], f"A[{lang}]": a[g], f"alpha[{lang}]": ag[g], f"x0[{lang}]": xg[g]})
    elif covariate is None:
        parts = [two_param(lang_idx == lang) for lang in langs]
        g = int(np.argmin(sum(p[0] for p in parts)))
        vals.update({"alpha": ag[g], "x0": xg[g]})
        for lang, (_, pinf, a) in zip(langs, parts):
            vals.update({f"Pinf[{lang}]": pinf[g], f"A[{lang}]": a[g]})
    else:
        s = np.array([covariate[lang] for lang in lang_idx], float)
        design = np.concatenate([np.ones((len(ag), len(x), 1)), np.broadcast_to(s, (len(ag), len(x)))[..., None]]
                                + [(-z * (lang_idx == lang))[..., None] for lang in langs], axis=2)
        gram = np.einsum("gni,gnj->gij", design, design) + 1e-9 * np.eye(design.shape[2])
        coef = np.linalg.solve(gram, np.einsum("gni,n->gi", design, y)[..., None])[..., 0]
        rss = ((np.einsum("gni,gi->gn", design, coef) - y) ** 2).sum(1)
        g = int(np.argmin(rss))
        vals.update({"alpha": ag[g], "x0": xg[g], "c0": coef[g, 0], "c1": coef[g, 1]})
        vals.update({f"A[{lang}]": max(coef[g, 2 + i], 0.0) for i, lang in enumerate(langs)})
    return np.array([float(vals[n]) for n in names])


def _power_terms(law: str, names: list[str], lang_idx: np.ndarray, covariate: dict | None):
    """Residual and analytic Jacobian functions of the power laws (``power``, ``shared``) for points of
    languages ``lang_idx``: P = P∞ − A·u^(−α), u = x + x0, so ∂P/∂P∞ = 1 (or ∂/∂c0 = 1, ∂/∂c1 = s_l),
    ∂P/∂A = −u^(−α), ∂P/∂α = A·u^(−α)·ln u and ∂P/∂x0 = α·A·u^(−α−1). Exact derivatives instead of
    scipy's finite differences (k + 1 residual evaluations per Jacobian) make the fits and their
    bootstraps several times faster; a test checks them against finite differences."""
    pos = {n: i for i, n in enumerate(names)}
    rows = np.arange(len(lang_idx))

    def per(fmt):
        return np.array([pos[fmt.format(lang)] for lang in lang_idx], dtype=int)

    shared = law == "shared"
    i_alpha = np.full(len(rows), pos["alpha"]) if shared else per("alpha[{}]")
    i_x0 = np.full(len(rows), pos["x0"]) if shared else per("x0[{}]")
    i_a = per("A[{}]")
    if covariate is not None:
        s = np.array([covariate[lang] for lang in lang_idx], float)
    else:
        i_pinf = per("Pinf[{}]")

    def parts(theta, x):
        u = x + theta[i_x0]
        z = u ** (-theta[i_alpha])
        pinf = theta[pos["c0"]] + theta[pos["c1"]] * s if covariate is not None else theta[i_pinf]
        return u, z, pinf

    def residuals(theta, x, yy):
        _, z, pinf = parts(theta, x)
        return pinf - theta[i_a] * z - yy

    def jacobian(theta, x, yy=None):
        u, z, _ = parts(theta, x)
        a, alpha = theta[i_a], theta[i_alpha]
        jac = np.zeros((len(rows), len(names)))
        if covariate is not None:
            jac[:, pos["c0"]], jac[:, pos["c1"]] = 1.0, s
        else:
            jac[rows, i_pinf] = 1.0
        jac[rows, i_a] = -z
        jac[rows, i_alpha] = a * z * np.log(u)
        jac[rows, i_x0] = alpha * a * z / u
        return jac

    return residuals, jacobian


def fit(df: pd.DataFrame, law: str, *, covariate: dict | None = None, n_boot: int = 0, seed: int = 0,
        level: float = 0.95) -> Fit:
    """Fit ``law`` to a tidy table of one metric (columns lang, size, value; seeds are repeated points)."""
    from scipy.optimize import least_squares

    df = check_table(df)
    if df["metric"].nunique() != 1:
        raise ConfigError(f"fit one metric at a time; the table holds {sorted(df.metric.unique())}")
    if law not in LAWS:
        raise ConfigError(f"unknown law {law!r}; expected one of {LAWS}")
    if covariate is not None and law != "shared":
        raise ConfigError("a language covariate applies to the shared law only")
    langs = tuple(sorted(df.lang.unique()))
    names = _names(law, langs, covariate is not None)
    k = len(names)
    if len(df) < k:
        raise DataError("scaling table", f"{law} law has {k} parameters but only {len(df)} points: need more "
                                         f"sizes or seeds")
    for lang in langs:
        sizes = df[df.lang == lang]["size"].nunique()
        per_lang = {"loglinear": 2, "power": 4, "shared": 1}[law]
        if sizes < per_lang:
            raise DataError("scaling table", f"{lang}: {sizes} distinct size(s), fewer than the {per_lang} "
                                             f"the {law} law needs per language")
    x, y = df["size"].to_numpy(float), df["value"].to_numpy(float)
    lang_idx = df["lang"].to_numpy()

    if law == "loglinear":
        def residuals(theta, yy):
            p = dict(zip(names, theta))
            pred = np.empty_like(yy)
            for lang in langs:
                m = lang_idx == lang
                pred[m] = _curve(law, p, lang, x[m], covariate)
            return pred - yy
    else:
        power_residuals, jacobian = _power_terms(law, names, lang_idx, covariate)

        def residuals(theta, yy):
            return power_residuals(np.asarray(theta, float), x, yy)

        def jac(theta, yy):
            return jacobian(np.asarray(theta, float), x)

    def solve(yy, starts=None, max_nfev=MAX_NFEV, tol=None):
        tol = tol or {}
        if law == "loglinear":      # linear least squares: exact
            p = {}
            for lang in langs:
                m = lang_idx == lang
                a, b = np.polyfit(np.log(x[m]), yy[m], 1)
                p[f"a[{lang}]"], p[f"b[{lang}]"] = float(a), float(b)
            return p, True, "linear least squares"
        lo, hi = zip(*(_bounds(n, yy) for n in names))
        best = None
        if starts is None:      # the variable-projection grid start first; the generic starts as a fallback
            starts = [_grid_start(law, names, langs, lang_idx, x, yy, covariate)] + _starts(names, x, yy)
        for i, start in enumerate(starts):
            if best is not None and i >= 1:
                break

            start = np.clip(start, np.array(lo) + 1e-12, np.array(hi) - 1e-12)
            try:   # a fallback start gets fewer evaluations: where the grid start ran out of its
                # budget the law is usually degenerating (x0 and A growing without end), and the generic
                # starts then drift along the same valley
                r = least_squares(residuals, start, jac=jac, bounds=(lo, hi), args=(yy,), method="trf",
                                  max_nfev=max_nfev if i == 0 else min(max_nfev, FALLBACK_NFEV), x_scale="jac",
                                  **tol)
            except (ValueError, FloatingPointError) as e:
                r = None
                msg = str(e)
            if r is not None and r.success and np.all(np.isfinite(r.x)) and (best is None or r.cost < best.cost):
                best = r
            elif r is not None:
                msg = r.message
        if best is None:
            return {}, False, f"no start converged ({msg})"
        return dict(zip(names, map(float, best.x))), True, best.message

    params, ok, message = solve(y)
    if not ok:
        return Fit(law, langs, {}, False, message, len(y), k, float("nan"), covariate)
    fitted = y + residuals(np.array([params[n] for n in names]), y)
    rss = float(np.sum((y - fitted) ** 2))
    result = Fit(law, langs, params, True, message, len(y), k, rss, covariate)
    if n_boot:
        rng = np.random.default_rng(seed)
        resid = (y - fitted) * np.sqrt(len(y) / max(len(y) - k, 1))   # residuals inflated for the fitted dof
        rows = []
        for b in range(n_boot):
            yy = fitted + rng.choice(resid, size=len(resid), replace=True)
            p, ok_b, _ = solve(yy, [_grid_start(law, names, langs, lang_idx, x, yy, covariate)], max_nfev=400,
                               tol={"ftol": 1e-6, "xtol": 1e-6, "gtol": 1e-6}) \
                if law != "loglinear" else solve(yy)
            rows.append({"replicate": b, "converged": ok_b, **(p if ok_b else {})})
        result.boot = pd.DataFrame(rows)
    return result


#: The derived parameter :func:`param_table` adds to a log-linear fit: the mean over languages of a·ln 2, the
#: score gained per doubling of the data (the scaling claim's effect).
MEAN_SLOPE = "mean slope per doubling"


def param_table(f: Fit, level: float = 0.95) -> pd.DataFrame:
    """One row per parameter: estimate, bootstrap percentile CI and the rest of
    :func:`clika_utils.decide.summarize` (``tost_lo``, ``tost_hi``, ``se``; NaN without a bootstrap). A
    log-linear fit also gets :data:`MEAN_SLOPE`."""
    from .decide import summarize
    if not f.converged:
        return pd.DataFrame([{"law": f.law, "param": None, "estimate": np.nan, "lo": np.nan, "hi": np.nan,
                              "converged": False, "message": f.message}])
    ok = f.boot[f.boot.converged] if f.boot is not None else None
    values = dict(f.params)
    reps = {name: ok[name].to_numpy(float) for name in values if ok is not None and name in ok}
    slopes = [name for name in values if name.startswith("a[")]
    if f.law == "loglinear" and slopes:
        values[MEAN_SLOPE] = float(np.mean([values[n] for n in slopes])) * np.log(2)
        if all(n in reps for n in slopes):
            reps[MEAN_SLOPE] = np.mean([reps[n] for n in slopes], axis=0) * np.log(2)
    rows = []
    for name, est in values.items():
        sm = summarize(reps[name], level) if name in reps else summarize([np.nan])
        rows.append({"law": f.law, "param": name, "estimate": est, "lo": sm["lo"], "hi": sm["hi"],
                     "tost_lo": sm["tost_lo"], "tost_hi": sm["tost_hi"], "se": sm["se"],
                     "converged": True, "message": f.message})
    return pd.DataFrame(rows)


def prediction_band(f: Fit, lang: str, x, level: float = 0.95) -> pd.DataFrame:
    """Curve and its bootstrap percentile band at sizes ``x``."""
    from .metrics import percentile_ci
    x = np.asarray(x, float)
    pred = f.predict(lang, x)
    lo = hi = np.full_like(x, np.nan)
    if f.boot is not None:
        ok = f.boot[f.boot.converged]
        if len(ok):
            records = ok.drop(columns=["replicate", "converged"]).to_dict("records")
            reps = np.array([_curve(f.law, rec, lang, x, f.covariate) for rec in records])
            lo, hi = percentile_ci(reps.T, level)
    return pd.DataFrame({"law": f.law, "lang": lang, "size": x, "pred": pred, "lo": lo, "hi": hi})


def leave_largest_out(df: pd.DataFrame, law: str, covariate: dict | None = None) -> pd.DataFrame:
    """Per language: fit without its largest size (other languages kept), predict that size."""
    df = check_table(df)
    rows = []
    for lang in sorted(df.lang.unique()):
        largest = df[df.lang == lang]["size"].max()
        train = df[~((df.lang == lang) & (df["size"] == largest))]
        observed = float(df[(df.lang == lang) & (df["size"] == largest)].value.mean())
        try:
            f = fit(train, law, covariate=covariate)
        except DataError as e:
            rows.append({"law": law, "lang": lang, "size": largest, "observed": observed, "predicted": np.nan,
                         "abs_error": np.nan, "note": str(e)})
            continue
        pred = float(f.predict(lang, [largest])[0]) if f.converged else np.nan
        rows.append({"law": law, "lang": lang, "size": largest, "observed": observed, "predicted": pred,
                     "abs_error": abs(pred - observed) if f.converged else np.nan,
                     "note": "" if f.converged else f"did not converge: {f.message}"})
    return pd.DataFrame(rows)


def no_growth_baseline(df: pd.DataFrame) -> pd.DataFrame:
    """The no-law baseline of :func:`leave_largest_out`: per language, the largest size predicted by the mean
    score at the next-largest size (no growth with more data)."""
    df = check_table(df)
    rows = []
    for lang in sorted(df.lang.unique()):
        sub = df[df.lang == lang]
        sizes = sorted(sub["size"].unique())
        observed = float(sub[sub["size"] == sizes[-1]].value.mean())
        pred = float(sub[sub["size"] == sizes[-2]].value.mean()) if len(sizes) > 1 else np.nan
        rows.append({"law": "no growth", "lang": lang, "size": sizes[-1], "observed": observed, "predicted": pred,
                     "abs_error": abs(pred - observed), "note": "" if len(sizes) > 1 else "one size only"})
    return pd.DataFrame(rows)


def compare_laws(df: pd.DataFrame, laws=LAWS, covariate: dict | None = None) -> pd.DataFrame:
    """AIC, BIC and leave-largest-out error per law; the preferred law has the lowest BIC."""
    rows = []
    for law in laws:
        try:
            f = fit(df, law, covariate=covariate if law == "shared" else None)
        except DataError as e:
            rows.append({"law": law, "converged": False, "k": np.nan, "rss": np.nan, "aic": np.nan, "bic": np.nan,
                         "lolo_mae": np.nan, "note": str(e)})
            continue
        lolo = leave_largest_out(df, law, covariate if law == "shared" else None)
        rows.append({"law": law, "converged": f.converged, "k": f.k, "rss": f.rss,
                     "aic": f.aic if f.converged else np.nan, "bic": f.bic if f.converged else np.nan,
                     "lolo_mae": float(lolo.abs_error.mean()), "note": "" if f.converged else f.message})
    out = pd.DataFrame(rows)
    ok = out[out.converged & out.bic.notna()]
    out["preferred"] = out.law == (ok.loc[ok.bic.idxmin(), "law"] if len(ok) else None)
    return out


def preferred(laws: pd.DataFrame, metric: str) -> str:
    """The law with the lowest BIC among converged fits of ``metric`` (from :func:`analyse`)."""
    rows = laws[(laws.metric == metric) & laws.preferred.astype(bool)]
    if rows.empty:
        raise ConfigError(f"no converged law for {metric!r}: nothing to allocate with")
    return str(rows.law.iloc[0])
