"""Analyses: one module per page, computing the data and statistic behind each panel.

A page (``views/X.py``) gathers its inputs, calls ``core.analyses.X`` and draws the result
object; a notebook calls the same functions and gets the same numbers. Nothing here imports
streamlit or touches session state.

==================  ============================================================================
module              page and what it computes
==================  ============================================================================
``cohort``          Cohort: Table 1 (stratified, with tests), grade counts, incidence by group
``lab_values``      Lab values: Tukey box statistics in SQL, capped points, group comparison
``correlations``    Correlations: scatter data with Pearson and Spearman, correlation matrix
``tocilizumab``     Tocilizumab: dose-response panels (Figures 3, S3), 3A boxes, CRS 1-2, 3D
``time_course``     Time course: per-patient curves, median/IQR band, doses (Figure S2)
``paper_figures``   Paper figures: the paper's findings as data, reproduced on a cohort
``risk_factors``    Risk factors: univariable screen and multivariable logistic model
``survival``        Survival: Kaplan-Meier, numbers at risk, log-rank, Cox
``endpoints``       Endpoints: summary of the derived endpoints
==================  ============================================================================

Shared by several pages: ``columns`` (column choices, labels, analyte lookup, reference
lines), ``indicators`` (0/1 outcome and predictor definitions) and ``common`` (seed, point
cap, scalar conversion).

Submodules are imported by name (``from core.analyses import lab_values``); this package
imports none of them, so a page loads only what it uses.
"""
