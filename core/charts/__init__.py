"""Altair chart builders: data in, alt.Chart out; they never render, save or import streamlit."""
