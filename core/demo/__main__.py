"""``python -m core.demo [--n N] [--seed S] [--out DIR]``: write the demo cohort CSVs."""

from core.demo.cohort import main

main()
