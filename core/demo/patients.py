"""Patient-level draws of the demo cohort: demographics and products (exact Table 1 lists for
41 patients), and PFS/OS unrelated to hypofibrinogenemia."""

from __future__ import annotations

import numpy as np
import pandas as pd

from core.demo.archetypes import DEFAULT_N

# Table 1 lists: (disease, subtype, product) consistent; sex; bulky.
_DISEASE = ([("High-grade B-NHL", "primary")] * 21 + [("High-grade B-NHL", "transformed")] * 9
            + [("Multiple myeloma", None)] * 5 + [("Follicular lymphoma", None)] * 3
            + [("Mantle cell lymphoma", None)] * 2 + [("Acute lymphoblastic leukemia", None)])
_PRODUCTS = {  # product -> target, costimulation
    "tisa-cel": ("CD19", "4-1BB"), "axi-cel": ("CD19", "CD28"), "ide-cel": ("BCMA", "4-1BB"),
    "brexu-cel": ("CD19", "CD28"), "CD19/CD20 (experimental)": ("CD19/CD20", "4-1BB"),
}


def demographics(n: int, rng: np.random.Generator) -> pd.DataFrame:
    """Age, sex, disease, bulky, CCI, product, target, costimulation, lymphodepletion."""
    if n == DEFAULT_N:
        lower = rng.integers(39, 69, 19)
        upper = rng.integers(70, 83, 19)
        age = rng.permutation(np.concatenate([[38, 69, 83], lower, upper]))
        sex = rng.permutation(["F"] * 22 + ["M"] * 19)
        bulky = rng.permutation([1] * 13 + [0] * 28)
        dis = [_DISEASE[i] for i in rng.permutation(len(_DISEASE))]
    else:
        age = np.clip(np.round(rng.normal(67, 10, n)), 38, 83).astype(int)
        sex = rng.choice(["F", "M"], n, p=[22 / 41, 19 / 41])
        bulky = (rng.random(n) < 13 / 41).astype(int)
        dis = [_DISEASE[i] for i in rng.integers(0, len(_DISEASE), n)]
    disease = np.array([d for d, _ in dis], dtype=object)
    subtype = np.array([s for _, s in dis], dtype=object)
    # products consistent with disease: myeloma -> ide-cel; MCL/ALL -> brexu-cel; else CD19
    product = np.empty(n, dtype=object)
    product[disease == "Multiple myeloma"] = "ide-cel"
    product[np.isin(disease, ["Mantle cell lymphoma", "Acute lymphoblastic leukemia"])] = \
        "brexu-cel"
    cd19 = np.flatnonzero(product == None)  # noqa: E711
    m = len(cd19)
    if n == DEFAULT_N:
        pool = ["tisa-cel"] * 18 + ["axi-cel"] * 14 + ["CD19/CD20 (experimental)"]
        # the experimental CAR goes to a high-grade B-NHL patient
        hg = [i for i in cd19 if disease[i] == "High-grade B-NHL"]
        exp_i = hg[int(rng.integers(0, len(hg)))]
        rest = [i for i in cd19 if i != exp_i]
        product[exp_i] = "CD19/CD20 (experimental)"
        product[rest] = rng.permutation(pool[:-1])
    else:
        product[cd19] = rng.choice(["tisa-cel", "axi-cel", "CD19/CD20 (experimental)"], m,
                                   p=[18 / 33, 14 / 33, 1 / 33])
        fl = disease == "Follicular lymphoma"
        product[fl & (product == "CD19/CD20 (experimental)")] = "tisa-cel"
    target = np.array([_PRODUCTS[p][0] for p in product], dtype=object)
    costim = np.array([_PRODUCTS[p][1] for p in product], dtype=object)
    ld = np.full(n, "Flu/Cy", dtype=object)
    tisa = np.flatnonzero(product == "tisa-cel")
    benda: np.ndarray | list[int] = (
        rng.choice(tisa, max(1, round(len(tisa) * 4 / 18)), replace=False) if len(tisa) else [])
    ld[benda] = "Benda"
    cci = rng.choice([0, 1, 2, 3, 4, 5, 6], n, p=[.2, .2, .2, .15, .12, .08, .05])
    return pd.DataFrame({"age": age.astype(int), "sex": sex, "disease": disease,
                         "disease_subtype": subtype, "bulky": np.asarray(bulky, int),
                         "cci": cci.astype(int), "product": product, "target": target,
                         "costimulation": costim, "lymphodepletion": ld})


def _logrank_p(time: np.ndarray, event: np.ndarray, group: np.ndarray) -> float:
    """Two-group log-rank p-value (chi-square, 1 df)."""
    from scipy.stats import chi2
    times = np.unique(time[event == 1])
    o_minus_e, var = 0.0, 0.0
    for t in times:
        at = time >= t
        n_all, n1 = at.sum(), (at & group).sum()
        d_all = ((time == t) & (event == 1)).sum()
        d1 = ((time == t) & (event == 1) & group).sum()
        o_minus_e += d1 - d_all * n1 / n_all
        if n_all > 1:
            var += d_all * (n1 / n_all) * (1 - n1 / n_all) * (n_all - d_all) / (n_all - 1)
    return float(chi2.sf(o_minus_e ** 2 / var, 1)) if var > 0 else 1.0


def survival(a: pd.DataFrame, tl: pd.DataFrame, seed: int, check: bool) -> pd.DataFrame:
    """PFS/OS unrelated to hypofibrinogenemia; labs end at or before death."""
    n = len(a)
    lf = tl["lf"].to_numpy()
    death = a["death"].to_numpy() == 1
    hyp = a["grade"].to_numpy() >= 1
    for attempt in range(200):
        r = np.random.default_rng([seed, 7, attempt])
        cure = r.random(n) < 0.4
        prog = np.where(cure, np.inf, r.exponential(200, n) + 20)
        cens = np.maximum(r.uniform(250, 1100, n), lf)
        pfs = np.minimum(prog, cens)
        pfs_ev = (prog <= cens).astype(int)
        die = pfs + r.exponential(250, n)
        os_ = np.where(pfs_ev == 1, np.minimum(np.maximum(die, lf), cens), cens)
        os_ev = ((pfs_ev == 1) & (die < cens)).astype(int)
        # early deaths of the archetypes: labs end with death
        pfs = np.where(death, np.minimum(pfs, lf), pfs)
        pfs_ev = np.where(death, 1, pfs_ev)
        os_ = np.where(death, lf, os_)
        os_ev = np.where(death, 1, os_ev)
        out = pd.DataFrame({"pfs_days": np.round(pfs).astype(int), "pfs_event": pfs_ev,
                            "os_days": np.round(os_).astype(int), "os_event": os_ev})
        if not check or _logrank_p(out["pfs_days"].to_numpy(float), pfs_ev, hyp) > 0.3:
            return out
    raise RuntimeError("could not draw PFS without a hypofibrinogenemia effect")  # pragma: no cover
