"""core.ingest.dates: dates become days after infusion and are dropped."""

from __future__ import annotations

from core import ingest


def test_dates_become_days_after_infusion_and_are_dropped():
    patients = (b"Patient ID,Infusion date,Progression date,age\n"
                b"A,01.03.2024,15.06.2024,60\nB,05.03.2024,,70\n")
    labs = (b"patient_id,Datum,analyte,value\nA,02.03.2024 06:00,fibrinogen,300\n"
            b"B,01.03.2024,fibrinogen,250\n")
    c = ingest.load_upload(ingest.Upload("p.csv", patients), ingest.Upload("l.csv", labs))
    # 1 March -> 15 June 2024 is 106 days; 06:00 on the next day is day 1.25
    assert c.patients["progression_date_days_after_infusion"].tolist()[0] == 106
    assert c.labs.sort_values("patient_id")["day"].tolist() == [1.25, -4.0]
    no_dates = " ".join(map(str, c.patients.columns)) + " ".join(map(str, c.labs.columns))
    assert "Infusion date" not in no_dates and "Datum" not in no_dates
    assert any("dropped" in n for n in c.reports["patients"].notes)


def test_dates_without_an_infusion_date_are_dropped_with_a_note():
    c = ingest.load_upload(ingest.Upload("p.csv", b"patient_id,Progression date\nA,2024-01-02\n"))
    assert list(c.patients.columns) == ["patient_id"]
    assert "no infusion date" in c.reports["patients"].notes[0]


def test_fractional_days_survive_a_decimal_comma_file():
    # a ';' file with decimal commas: 77 days and 6:36 h is day 77.275, not 77275 (the day
    # text "77.275" was once read with "." as a thousands separator and the row rejected)
    patients = "Pat-ID;Infusionsdatum;Alter\nA;01.03.2024;61,5\n".encode("cp1252")
    labs = ("Pat-ID;Abnahmedatum;Parameter;Ergebnis;Einheit\n"
            "A;17.05.2024 06:36;Fibrinogen;2,5;g/l\nA;01.03.2024 12:00;CRP;1,5;mg/dl\n"
            ).encode("cp1252")
    c = ingest.load_upload(ingest.Upload("p.csv", patients), ingest.Upload("l.csv", labs))
    assert c.reports["labs"].rejected.empty
    assert c.labs["day"].tolist() == [77.275, 0.5]
    assert c.labs["value"].tolist() == [250.0, 1.5]
