"""A messy hospital export, seeded: what a centre's laboratory (LIS) and pharmacy systems send,
not built to match the paper.

The demo cohort (:mod:`core.demo.cohort`) is drawn daily, all analytes together, in one unit.
This one is not:

* LIS long format with German analyte names and units as a German LIS writes them
  (``"Fibrinogen (Clauss)"`` g/l, ``"D-Dimere"`` µg/ml FEU, ``"Thrombozyten"`` /nl, ``"Quick"`` %,
  ``"CRP"`` mg/dl, ``"Kreatinin"`` µmol/l, ``"Hämoglobin"`` g/dl or mmol/l, ...), one laboratory
  sending D-dimer in ng/ml FEU and another in mg/l DDU;
* calendar dates and times (the patient table has the infusion date), not days;
* irregular sampling (daily early, then every few days, then weekly), analytes on different
  days, second draws in the afternoon, exact duplicate rows;
* treatments by trade name: RoActemra, Fortecortin (premedication before day 0 and for CRS),
  Haemocomplettan, cryoprecipitate, FFP, with their own dose units;
* patients with two hypofibrinogenaemia episodes;
* the noise a real export has: ``"n.a."``, ``"<0,19"``, a text result, a row for a patient who
  is not in the patient table, a patient without an infusion date, one patient's fibrinogen in
  mg/dl but labelled g/l;
* CSV bytes with ``;`` and decimal commas in cp1252, and an .xlsx variant (three sheets).

Patient ``MX01`` is written by hand (:data:`ANCHOR_LABS`) so that tests can check values after
loading against numbers worked out by hand; the others are drawn from ``seed``.

``python -m core.demo.messy DIR`` writes the files.
"""

from __future__ import annotations

import datetime as dt
import io
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

#: The hand-written patient: infusion on 04.03.2024 (day 0).
ANCHOR_INFUSION = dt.datetime(2024, 3, 4)
#: (timestamp, LIS name, result as written, unit as written) of patient MX01.
ANCHOR_LABS: tuple[tuple[str, str, str, str], ...] = (
    ("01.03.2024 07:30", "Fibrinogen (Clauss)", "3,10", "g/l"),
    ("01.03.2024 07:30", "Thrombozyten", "182", "/nl"),
    ("01.03.2024 07:30", "Quick", "92", "%"),
    ("01.03.2024 07:30", "INR", "1,05", ""),
    ("05.03.2024 06:00", "CRP", "12,4", "mg/dl"),
    ("05.03.2024 06:00", "D-Dimere", "2,8", "µg/ml FEU"),
    ("07.03.2024 18:00", "Fibrinogen (Clauss)", "5,60", "g/l"),
    ("10.03.2024 06:00", "Fibrinogen (Clauss)", "1,45", "g/l"),
    ("10.03.2024 06:00", "Fibrinogen (Clauss)", "1,45", "g/l"),     # exact duplicate draw
    ("10.03.2024 06:00", "Ferritin", "2.350", "µg/l"),              # thousands dot
    ("11.03.2024 06:00", "Kreatinin", "97", "µmol/l"),
    ("11.03.2024 06:00", "Hämoglobin", "5,4", "mmol/l"),
    ("12.03.2024 06:00", "D-Dimere", "<0,19", "µg/ml FEU"),
    ("14.03.2024 06:00", "Fibrinogen (Clauss)", "0,95", "g/l"),
    ("14.03.2024 06:00", "Thrombozyten", "41000", "/µl"),
    ("24.03.2024 06:00", "Fibrinogen (Clauss)", "2,20", "g/l"),
    ("27.03.2024 06:00", "Fibrinogen (Clauss)", "2,45", "g/l"),
    ("05.04.2024 06:00", "Fibrinogen (Clauss)", "1,60", "g/l"),     # second episode
    ("12.04.2024 06:00", "Fibrinogen (Clauss)", "n.a.", "g/l"),     # no result
    ("19.04.2024 06:00", "Fibrinogen (Clauss)", "2,30", "g/l"),
    ("19.04.2024 06:00", "Blutgruppe", "A Rh pos", ""),             # text result
)
#: (date, drug as written, dose as written, unit) of patient MX01.
ANCHOR_TREATMENTS: tuple[tuple[str, str, str, str], ...] = (
    ("03.03.2024 08:00", "Fortecortin", "8", "mg"),                # premedication
    ("06.03.2024 10:00", "RoActemra", "640", "mg"),
    ("07.03.2024 09:00", "RoActemra", "0,64", "g"),
    ("07.03.2024 12:00", "Fortecortin", "10", "mg"),
    ("14.03.2024 13:00", "Haemocomplettan", "2", "g"),
    ("15.03.2024 09:00", "Kryopräzipitat", "10", "E"),
)

PATIENT_HEADERS = ("Pat-ID", "Geschlecht", "Alter", "Diagnose", "Produkt", "Infusionsdatum",
                   "CRS Grad", "ICANS Grad", "Tocilizumab", "D-Dimer max [ng/ml FEU]",
                   "Fibrinogen min [g/l]", "Bemerkung")
LAB_HEADERS = ("Pat-ID", "Abnahmedatum", "Parameter", "Ergebnis", "Einheit")
TREATMENT_HEADERS = ("Pat-ID", "Gabedatum", "Medikament", "Dosis", "Einheit")


@dataclass(frozen=True)
class MessyExport:
    """The export as written (text cells, German) and as bytes.

    Attributes
    ----------
    patients, labs, treatments : DataFrames of text cells, exactly what the files hold.
    """

    patients: pd.DataFrame
    labs: pd.DataFrame
    treatments: pd.DataFrame

    def csv(self, table: str) -> bytes:
        """One table as a German Excel CSV: ``;``-separated, decimal commas, cp1252."""
        df: pd.DataFrame = getattr(self, table)
        return df.to_csv(sep=";", index=False, lineterminator="\r\n").encode("cp1252")

    def xlsx(self) -> bytes:
        """All three tables in one workbook (sheets Patienten, Labor, Medikation) with dates
        as dates and numbers as numbers, as Excel stores them."""
        buf = io.BytesIO()
        with pd.ExcelWriter(buf, engine="openpyxl") as w:
            for name, df in (("Patienten", self.patients), ("Labor", self.labs),
                             ("Medikation", self.treatments)):
                _typed(df).to_excel(w, sheet_name=name, index=False)
        return buf.getvalue()


def _typed(df: pd.DataFrame) -> pd.DataFrame:
    """Cells as Excel would hold them: numbers with a decimal comma -> float, dates -> date."""
    out = df.copy()
    for col in out.columns:
        def cell(v: str) -> object:
            if v == "":
                return None
            for fmt in ("%d.%m.%Y %H:%M", "%d.%m.%Y"):
                try:
                    return dt.datetime.strptime(v, fmt)
                except ValueError:
                    pass
            t = v.replace(".", "") if v.count(".") == 1 and len(v.split(".")[1]) == 3 \
                and "," not in v else v
            try:
                return float(t.replace(",", "."))
            except ValueError:
                return v
        out[col] = out[col].map(cell).astype(object)
    return out


def _num(x: float, digits: int) -> str:
    """A number as a German export writes it: decimal comma."""
    return f"{x:.{digits}f}".replace(".", ",")


def make_messy_export(n_patients: int = 12, seed: int = 11) -> MessyExport:
    """The messy export: patient MX01 by hand, MX02... drawn from ``seed``.

    Parameters
    ----------
    n_patients : patients in the patient table (at least 3).
    seed : the random seed; the same seed gives the same bytes.
    """
    if n_patients < 3:
        raise ValueError(f"n_patients must be at least 3; got {n_patients}")
    rng = np.random.default_rng(seed)
    patients = [_anchor_patient()]
    labs = [("MX01", *r) for r in ANCHOR_LABS]
    treatments = [("MX01", *r) for r in ANCHOR_TREATMENTS]
    for i in range(2, n_patients + 1):
        pid = f"MX{i:02d}"
        infusion = dt.datetime(2023, 1, 9) + dt.timedelta(days=int(rng.integers(0, 600)))
        toci = bool(rng.random() < 0.7)
        episodes = 2 if toci and i % 4 == 0 else (1 if toci else 0)
        crs = int(rng.choice([1, 2, 2, 3])) if toci else int(rng.choice([0, 1]))
        fib_unit_wrong = i == 5          # mg/dl values labelled g/l
        lab = "ddu" if i % 3 == 0 else ("ng" if i % 3 == 1 else "ug")
        rows, fib_min, dd_max = _patient_labs(rng, infusion, episodes, lab, fib_unit_wrong)
        labs += [(pid, *r) for r in rows]
        treatments += [(pid, *r) for r in _patient_treatments(rng, infusion, toci, crs)]
        no_date = i == 7                 # the infusion date is missing
        patients.append((pid, str(rng.choice(["w", "m"])), str(int(rng.integers(35, 82))),
                         str(rng.choice(["DLBCL", "PMBCL", "tFL", "MCL", "Multiples Myelom"])),
                         str(rng.choice(["Kymriah", "Yescarta", "Breyanzi", "Abecma"])),
                         "" if no_date else infusion.strftime("%d.%m.%Y"),
                         str(rng.choice([f"{crs}", f"Grad {crs}", ["0", "I", "II", "III"][crs]])),
                         str(int(rng.choice([0, 0, 1, 2]))), "ja" if toci else "nein",
                         str(int(round(dd_max * 1000))), _num(fib_min / 100, 2),
                         "" if i % 5 else "Überweisung aus Köln"))
    labs.append(("MX99", "02.02.2024 06:00", "CRP", "3,1", "mg/dl"))   # not in the patients
    return MessyExport(pd.DataFrame(patients, columns=list(PATIENT_HEADERS), dtype=str),
                       pd.DataFrame(labs, columns=list(LAB_HEADERS), dtype=str),
                       pd.DataFrame(treatments, columns=list(TREATMENT_HEADERS), dtype=str))


def _anchor_patient() -> tuple[str, ...]:
    return ("MX01", "w", "67", "DLBCL", "Yescarta", ANCHOR_INFUSION.strftime("%d.%m.%Y"),
            "Grad 2", "1", "ja", "4500", "0,95", "")


def _when(infusion: dt.datetime, day: int, rng: np.random.Generator,
          afternoon: bool = False) -> str:
    minutes = int(rng.integers(14 * 60, 20 * 60)) if afternoon else \
        int(rng.integers(5 * 60 + 30, 9 * 60))
    return (infusion + dt.timedelta(days=day, minutes=minutes)).strftime("%d.%m.%Y %H:%M")


def _sampling_days(rng: np.random.Generator) -> list[int]:
    """Daily (mostly) to day 14, every 2-4 days to day 30, then weekly to about day 90."""
    days = [int(rng.integers(-7, -2)), -1]
    days += [d for d in range(0, 15) if rng.random() < 0.8]
    d = 15
    while d <= 30:
        days.append(d)
        d += int(rng.integers(2, 5))
    while d <= 90:
        days.append(d)
        d += int(rng.integers(6, 9))
    return days


def _fibrinogen(day: int, base: float, episodes: int, rng: np.random.Generator) -> float:
    """mg/dL: acute-phase rise with CRS, a fall after tocilizumab, recovery; a second fall
    around day 40 for two episodes."""
    if day <= 0:
        v = base
    elif day <= 5:
        v = base * (1 + 0.25 * day)
    elif episodes == 0:
        v = base * 1.3
    elif day <= 12:
        v = 90 + 15 * (12 - day) * (day < 9)
    elif day <= 35:
        v = 90 + (base - 90) * min(1.0, (day - 12) / 14)
    elif episodes == 2 and day <= 48:
        v = 140
    else:
        v = base
    return max(40.0, v * float(rng.normal(1, 0.06)))


def _patient_labs(rng: np.random.Generator, infusion: dt.datetime, episodes: int, lab: str,
                  fib_wrong: bool) -> tuple[list[tuple[str, str, str, str]], float, float]:
    base = float(rng.uniform(250, 450))
    rows: list[tuple[str, str, str, str]] = []
    fib_min, dd_max = np.inf, 0.0
    for day in _sampling_days(rng):
        t = _when(infusion, day, rng)
        if rng.random() < 0.85:
            fib = _fibrinogen(day, base, episodes, rng)
            if day > 0:
                fib_min = min(fib_min, fib)
            rows.append((t, "Fibrinogen (Clauss)",
                         _num(fib, 0) if fib_wrong else _num(fib / 100, 2), "g/l"))
        if rng.random() < 0.5:
            dd = float(np.exp(rng.normal(1.0 + (0 < day < 15), 0.7)))   # mg/L FEU
            dd_max = max(dd_max, dd) if day > 0 else dd_max
            written = {"ng": (_num(dd * 1000, 0), "ng/ml FEU"),
                       "ddu": (_num(dd / 2, 2), "mg/l DDU"),
                       "ug": (_num(dd, 2), "µg/ml FEU")}[lab]
            rows.append((t, "D-Dimere", *written))
        if rng.random() < 0.8:
            rows.append((t, "Thrombozyten", _num(float(rng.uniform(20, 250)), 0), "/nl"))
        if rng.random() < 0.6:
            rows.append((t, "Quick", _num(float(rng.uniform(55, 110)), 0), "%"))
            rows.append((t, "INR", _num(float(rng.uniform(0.95, 1.5)), 2), ""))
        if rng.random() < 0.7:
            rows.append((t, "CRP", _num(float(rng.uniform(0.3, 25)), 1), "mg/dl"))
        if day % 3 == 0:                     # ferritin on other days than the rest
            rows.append((_when(infusion, day, rng, afternoon=True), "Ferritin",
                         _num(float(rng.uniform(200, 9000)), 0), "µg/l"))
        if rng.random() < 0.4:
            rows.append((t, "GPT (ALT)", _num(float(rng.uniform(10, 180)), 0), "U/l"))
            rows.append((t, "Kreatinin", _num(float(rng.uniform(50, 160)), 0), "µmol/l"))
            rows.append((t, "Hämoglobin", _num(float(rng.uniform(7.5, 13)), 1), "g/dl"))
        if rng.random() < 0.05:              # the same draw exported twice
            rows.append(rows[-1])
    if fib_min == np.inf:
        fib_min = base
    return rows, float(fib_min), dd_max


def _patient_treatments(rng: np.random.Generator, infusion: dt.datetime, toci: bool,
                        crs: int) -> list[tuple[str, str, str, str]]:
    out = []
    if rng.random() < 0.3:                   # premedication
        out.append((_when(infusion, -1, rng), "Fortecortin", "8", "mg"))
    if toci:
        for k in range(int(rng.integers(1, 5))):
            out.append((_when(infusion, 2 + k, rng), "RoActemra",
                        str(int(rng.choice([560, 640, 720, 800]))), "mg"))
    if crs >= 2:
        out.append((_when(infusion, 4, rng), "Fortecortin", "10", "mg"))
    if toci and rng.random() < 0.4:
        out.append((_when(infusion, 9, rng), "Haemocomplettan", "2", "g"))
    if toci and rng.random() < 0.2:
        out.append((_when(infusion, 10, rng), "Kryopräzipitat", "10", "E"))
    if toci and rng.random() < 0.2:
        out.append((_when(infusion, 10, rng), "FFP", "1200", "ml"))
    return out


def write(directory: Path, n_patients: int = 12, seed: int = 11) -> list[Path]:
    """Write ``messy_patients.csv``, ``messy_labs.csv``, ``messy_treatments.csv`` and
    ``messy_export.xlsx`` into ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    export = make_messy_export(n_patients, seed)
    paths = []
    for table in ("patients", "labs", "treatments"):
        path = directory / f"messy_{table}.csv"
        path.write_bytes(export.csv(table))
        paths.append(path)
    path = directory / "messy_export.xlsx"
    path.write_bytes(export.xlsx())
    return [*paths, path]


if __name__ == "__main__":  # pragma: no cover
    for p in write(Path(sys.argv[1] if len(sys.argv) > 1 else ".")):
        print(p)
