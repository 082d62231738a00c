"""Correlations page: scatter of two numeric columns with the OLS line and 95% band, Pearson
and Spearman with CIs (the paper's Figure 1C), and a correlation matrix with n per pair."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from core.analyses import columns, correlations
from core.charts.groups import correlation_matrix, scatter
from core.codegen import PATIENTS, Call, Recipe
from ui import session
from ui.figures import compute, show_chart, show_table
from ui.format import fmt_p, p_text
from ui.guard import guard

NONE = "— none —"
MIN_N = 4
METHODS = {"spearman": "Spearman", "pearson": "Pearson"}
MATRIX_DEFAULT = ("fibrinogen_nadir", "d_dimer_max", "platelets_min", "inr_max", "ptt_max",
                  "ggt_max", "albumin_min", "crp_max", "tocilizumab_cum_mg")


def r_text(res) -> str:  # noqa: ANN001 - CorrelationResult
    name = METHODS[res.method]
    return (f"{name} r = {res.r:.2f} (95% CI {res.ci_low:.2f} to {res.ci_high:.2f}), "
            f"{p_text(res.pvalue)}")


name_of = columns.label

view = session.page("Correlations", min_n=MIN_N, needs="a correlation")
df = view.patients
numeric = columns.value_columns(df)
if len(numeric) < 2:
    st.warning("The patient table needs at least two numeric columns.")
    st.stop()

# ------------------------------------------------------------------ scatter


@st.fragment
def scatter_section() -> None:
    """Scatter with its own x, y and colour (a fragment: they rerun this panel only)."""
    st.subheader("Scatter")
    c1, c2, c3 = st.columns(3)
    x = c1.selectbox("x", numeric, key="co_x", format_func=name_of,
                     index=numeric.index("fibrinogen_nadir") if "fibrinogen_nadir" in numeric
                     else 0)
    y_default = "d_dimer_max" if "d_dimer_max" in numeric and x != "d_dimer_max" else \
        next(c for c in numeric if c != x)
    y = c2.selectbox("y", numeric, key="co_y", format_func=name_of,
                     index=numeric.index(y_default))
    colors = [NONE] + columns.group_columns(df)
    picked = c3.selectbox("Colour by", colors, key="co_color", format_func=lambda c: c if c == NONE
                         else name_of(c),
                         index=colors.index("crs_grade") if "crs_grade" in colors else 0)
    color: str | None = None if picked == NONE else picked

    left, right = st.columns([3, 2])
    scatter_code = Recipe.of(result=Call(correlations.correlation_panel,
                                         Call(columns.only, PATIENTS, ("patient_id", x, y, color)),
                                         x, y, color=color))
    with left, guard("Scatter", scope="panel") as outcome:
        cp = compute(scatter_code, view)
    if not outcome.failed:
        title = f"{name_of(y)} vs {name_of(x)}"
        stat = f"{r_text(cp.spearman)} · {r_text(cp.pearson)} · n = {cp.n}"
        if cp.sampled:
            stat += f" · {len(cp.points)} of {cp.n} points drawn (line fitted to them)"
        with left:
            show_chart(scatter(cp.points, x, y, color=color, x_label=name_of(x),
                               y_label=name_of(y), title=title, height=360),
                       name=f"{y}-vs-{x}", title=title, stat=stat, code=scatter_code)
        with right:
            rows = [cp.spearman, cp.pearson]
            show_table(pd.DataFrame({
                "Method": [METHODS[r.method] for r in rows], "r": [f"{r.r:.3f}" for r in rows],
                "95% CI": [f"{r.ci_low:.2f} to {r.ci_high:.2f}" for r in rows],
                "p": [fmt_p(r.pvalue) for r in rows], "n": [r.n for r in rows],
                "CI method": [r.ci_method for r in rows]}),
                name=f"correlation-{y}-vs-{x}", title=f"Correlation: {title}", code=scatter_code)
            st.caption("Line: ordinary least squares with its 95% confidence band. Spearman p by "
                       "the t approximation (R cor.test exact = FALSE). CIs by Fisher's z with SE "
                       "1/√(n−3): R's interval for Pearson, an approximation for Spearman (R gives "
                       "none; Bonett-Wright's SE would be slightly wider). "
                       "Use Spearman for skewed values, counts and grades; Pearson for roughly "
                       "normal, linear data.")
            if cp.spearman.n_dropped:
                st.caption(f"{cp.spearman.n_dropped} patient(s) without both values were left "
                           "out.")


# ------------------------------------------------------------------ matrix


@st.fragment
def matrix_section() -> None:
    """Correlation matrix with its own columns and method (a fragment)."""
    st.subheader("Correlation matrix")
    m1, m2 = st.columns([4, 1])
    if "co_matrix" not in st.session_state:
        st.session_state["co_matrix"] = [c for c in MATRIX_DEFAULT if c in numeric] or numeric[:4]
    st.session_state["co_matrix"] = [c for c in st.session_state["co_matrix"] if c in numeric]
    chosen = m1.multiselect("Columns", numeric, key="co_matrix", format_func=name_of)
    method = m2.radio("Method", list(METHODS), key="co_method", format_func=METHODS.get)
    if len(chosen) < 2:
        st.info("Choose at least two columns for the matrix.")
        return
    matrix_code = Recipe.of(result=Call(correlations.correlation_matrix,
                                        Call(columns.only, PATIENTS, chosen), tuple(chosen),
                                        method))
    with guard("Correlation matrix"):
        mat = compute(matrix_code, view)
    labels = {c: name_of(c).split(" (")[0] for c in chosen}
    n_min, n_max = int(mat["n"].min()), int(mat["n"].max())
    show_chart(correlation_matrix(mat, labels=labels, title=f"{METHODS[method]} correlations"),
               name=f"correlation-matrix-{method}", title=f"{METHODS[method]} correlation matrix",
               stat=f"{METHODS[method]} r with pairwise complete n (n = {n_min}"
                    + (f"–{n_max}" if n_max != n_min else "") + ") · blank r: fewer than 4 pairs "
                    "or a constant column", code=matrix_code)
    with st.expander("All pairs with p-values"):
        upper = [chosen.index(a) < chosen.index(b) for a, b in zip(mat["x"], mat["y"])]
        pairs = mat[upper]
        show_table(pd.DataFrame({
            "x": pairs["x"].map(labels), "y": pairs["y"].map(labels),
            "r": pairs["r"].map(lambda v: "–" if pd.isna(v) else f"{v:.3f}"),
            "p": pairs["pvalue"].map(fmt_p), "n": pairs["n"]}),
            name=f"correlation-pairs-{method}", title=f"{METHODS[method]} correlations, all pairs")
        st.caption("p-values are not adjusted for the number of pairs.")


scatter_section()
matrix_section()
