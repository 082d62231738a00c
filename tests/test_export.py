"""Tests of core.export: figures, safe tables, the report model and the meeting pack.

The pack is opened with the libraries a user's tools would use (python-pptx, pypdf, Pillow,
openpyxl, zipfile) and checked for what a person at the CAR-T board would look for.
"""

from __future__ import annotations

import io
import re
import xml.etree.ElementTree as ET
import zipfile
from datetime import date

import altair as alt
import numpy as np
import openpyxl
import pandas as pd
import pytest
from PIL import Image
from pptx import Presentation
from pptx.enum.shapes import MSO_SHAPE_TYPE
from pypdf import PdfReader

import core.export as export
from core.errors import ExportError
from core.export import (
    SYNTHETIC_LABEL, FigureSpec, RenderCache, Report, ReportItem, ReportMeta, build_pack,
    build_pdf, build_pptx, build_zip, filename, render, safe_csv, table_xlsx, with_caption,
)

CAPTION = ("CRS 1-2 \u00b7 tisa-cel, axi-cel \u00b7 tocilizumab \u2265 1 dose \u2013 M\u00fcller"
           " \u00b7 n = 27")
DAY = date(2026, 11, 24)


# ---------------------------------------------------------------------------------------------
# fixtures: small charts of every kind
# ---------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    rng = np.random.default_rng(7)
    n = 60
    return pd.DataFrame({
        "crs_grade": rng.choice(["0", "1", "2", "3-4"], n),
        "fibrinogen_nadir": rng.normal(250, 80, n).round(1),
        "tocilizumab_cum_mg": rng.uniform(0, 2400, n).round(0),
        "product": rng.choice(["tisa-cel", "axi-cel"], n),
    })


def _charts(df: pd.DataFrame) -> dict[str, alt.TopLevelMixin]:
    base = alt.Chart(df)
    box = base.mark_boxplot().encode(x="crs_grade:N", y="fibrinogen_nadir:Q")
    points = base.mark_circle().encode(x="crs_grade:N", y="fibrinogen_nadir:Q")
    scatter = base.mark_point().encode(x="tocilizumab_cum_mg:Q", y="fibrinogen_nadir:Q")
    return {
        "single": scatter,
        "layered": box + points,
        "hconcat": scatter | base.mark_bar().encode(x="crs_grade:N", y="count():Q"),
        "vconcat": alt.vconcat(scatter, box),
        "facet": scatter.properties(width=180, height=150).facet(column="product:N"),
        "facet_encoding": scatter.encode(column="product:N").properties(width=180),
        "configured": scatter.properties(width="container").configure_axis(grid=False),
        "interactive": scatter.interactive(),
        "titled": scatter.properties(title="Old title"),
    }


def _spec(chart: alt.TopLevelMixin, *, title: str = "Fibrinogen nadir by CRS grade",
          stat: str | None = "Kruskal-Wallis p = 0.004", synthetic: bool = False,
          name: str = "fibrinogen_by_crs") -> FigureSpec:
    return FigureSpec(chart=chart, title=title, caption=CAPTION, stat=stat, name=name,
                      synthetic=synthetic)


@pytest.fixture(scope="module")
def charts(data) -> dict[str, alt.TopLevelMixin]:
    return _charts(data)


@pytest.fixture(scope="module")
def report(charts) -> Report:
    rep = Report(title="CAR-T board 24 Nov")
    rep = rep.add(_spec(charts["layered"], title="Fibrinogen nadir by CRS grade",
                        stat="Kruskal-Wallis p = 0.004", name="fibrinogen-by-crs"))
    rep = rep.add(ReportItem(_spec(charts["single"], title="Tocilizumab dose vs fibrinogen",
                                   stat="Spearman r = \u22120.44, p = 0.01", name="toci-vs-fib"),
                             table=pd.DataFrame({"a": ["=cmd", "ok"], "b": [1.5, -3]})))
    rep = rep.add(_spec(charts["facet"], title="Fibrinogen by product", stat=None,
                        name="by-product"))
    return rep


@pytest.fixture(scope="module")
def meta() -> ReportMeta:
    return ReportMeta(cohort="Uploaded cohort (upload.xlsx)", filters=CAPTION, n=27, when=DAY,
                      synthetic=False)


@pytest.fixture(scope="module")
def patients(data) -> pd.DataFrame:
    return data.assign(patient_id=[f"P{i:03d}" for i in range(len(data))])


@pytest.fixture(scope="module")
def pack(report, meta, patients) -> tuple[dict[str, bytes], RenderCache]:
    with RenderCache() as cache:
        return build_pack(report, meta, patients, cache=cache), cache


# ---------------------------------------------------------------------------------------------
# render
# ---------------------------------------------------------------------------------------------

def test_png_is_slide_size_at_300_dpi(charts):
    png = render(_spec(charts["layered"]), "png")
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG"
    width, height = image.size
    assert width >= 3000
    assert height >= 5.6 * 300  # covers a 10 x 5.6 in box at 300 dpi
    dpi = image.info["dpi"]
    assert dpi[0] == pytest.approx(300, abs=0.5) and dpi[1] == pytest.approx(300, abs=0.5)
    assert width / dpi[0] >= 10.0 - 1e-3  # physical width: 10 inches or more


def test_png_ppi_is_configurable(charts):
    png = render(_spec(charts["single"]), "png", ppi=150)
    image = Image.open(io.BytesIO(png))
    assert image.info["dpi"][0] == pytest.approx(150, abs=0.5)
    assert 1500 <= image.size[0] <= 1510


def test_svg_parses_and_carries_caption_title_and_stat(charts):
    svg = render(_spec(charts["layered"]), "svg").decode("utf-8")
    root = ET.fromstring(svg)
    assert root.tag.endswith("svg")
    text = "".join(root.itertext())
    assert "Fibrinogen nadir by CRS grade" in text
    assert CAPTION in text
    assert "Kruskal-Wallis p = 0.004" in text


def test_pdf_render_is_a_vector_pdf_of_the_chart_size(charts):
    spec = _spec(charts["single"])
    pdf = render(spec, "pdf")
    assert pdf.startswith(b"%PDF")
    page = PdfReader(io.BytesIO(pdf)).pages[0]
    svg_width = float(ET.fromstring(render(spec, "svg")).attrib["width"])
    assert float(page.mediabox.width) == pytest.approx(svg_width, abs=1.5)  # 1 CSS px = 1 pt
    assert "Fibrinogen nadir by CRS grade" in page.extract_text()


@pytest.mark.parametrize("kind", ["single", "layered", "hconcat", "vconcat", "facet",
                                  "facet_encoding", "configured", "interactive", "titled"])
def test_with_caption_renders_every_chart_kind(charts, kind):
    spec = _spec(charts[kind], synthetic=True)
    wrapped = with_caption(spec)
    assert isinstance(wrapped, alt.VConcatChart)
    svg = render(spec, "svg").decode("utf-8")
    text = "".join(ET.fromstring(svg).itertext())
    assert "Fibrinogen nadir by CRS grade" in text and CAPTION in text
    assert SYNTHETIC_LABEL in text
    png = render(spec, "png")
    assert Image.open(io.BytesIO(png)).size[0] >= 3000


def test_with_caption_moves_config_and_keeps_original(charts):
    original = charts["configured"]
    wrapped = with_caption(_spec(original)).to_dict()
    assert wrapped["config"]["axis"]["grid"] is False
    assert "config" not in wrapped["vconcat"][0]
    assert original.config is not alt.Undefined  # the input chart is untouched


def test_with_caption_sizes_container_width_chart(charts):
    inner = with_caption(_spec(charts["configured"])).to_dict()["vconcat"][0]
    assert inner["width"] == export.DEFAULT_VIEW_SIZE[0]


def test_explicit_sizes_are_kept(charts):
    step = charts["layered"].properties(width=alt.Step(40), height=200)
    inner = with_caption(_spec(step)).to_dict()["vconcat"][0]
    assert inner["width"] == {"step": 40} and inner["height"] == 200


def test_same_title_is_not_printed_twice(charts):
    chart = charts["single"].properties(title="Fibrinogen nadir by CRS grade")
    inner = with_caption(_spec(chart)).to_dict()["vconcat"][0]
    assert "title" not in inner
    # a chart's own, different title gives way to the figure title: one title per image
    replaced = with_caption(_spec(charts["titled"])).to_dict()
    assert "title" not in replaced["vconcat"][0]
    assert replaced["title"]["text"] == _spec(charts["titled"]).title
    # a figure without a title keeps the chart's own
    untitled = export.FigureSpec(charts["titled"], title="")
    assert with_caption(untitled).to_dict()["vconcat"][0]["title"] == "Old title"


def test_synthetic_label_only_when_synthetic(charts):
    real = render(_spec(charts["single"], synthetic=False), "svg").decode("utf-8")
    demo = render(_spec(charts["single"], synthetic=True), "svg").decode("utf-8")
    assert "Synthetic demo cohort" not in real
    assert "Synthetic demo cohort" in demo


def test_no_stat_no_stat_line(charts):
    svg = render(_spec(charts["single"], stat=None), "svg").decode("utf-8")
    assert "Kruskal" not in svg and CAPTION in "".join(ET.fromstring(svg).itertext())


def test_long_caption_is_wrapped_on_separators():
    caption = " \u00b7 ".join(f"condition number {i}" for i in range(12))
    lines = export._wrap_line(caption, 60)
    assert len(lines) > 1 and all(len(line) <= 60 for line in lines)
    assert " \u00b7 ".join(lines) == caption


def test_line_opacity_is_rendered_as_stroke_opacity(data):
    import vl_convert as vlc

    lines = alt.Chart(data).mark_line(opacity=0.4).encode(
        x="tocilizumab_cum_mg:Q", y="fibrinogen_nadir:Q", detail="crs_grade:N")
    area = alt.Chart(data).mark_area(opacity=0.3).encode(x="tocilizumab_cum_mg:Q",
                                                          y="fibrinogen_nadir:Q")
    spec = _spec((lines + area).facet(column="product:N"))
    layers = RenderCache().spec_dict(spec)["vconcat"][0]["spec"]["layer"]
    assert layers[0]["mark"] == {"type": "line", "strokeOpacity": 0.4, "fillOpacity": 0.4}
    assert layers[1]["mark"] == {"type": "area", "strokeOpacity": 0.3, "fillOpacity": 0.3}

    # same pixels as the original spec (rendered small to keep the test quick)
    ppi = 40
    ours = np.asarray(Image.open(io.BytesIO(render(spec, "png", ppi=ppi))).convert("RGB"),
                      dtype=float)
    original = with_caption(spec).to_dict()
    size = export._svg_size(vlc.vegalite_to_svg(original))
    factor = export._png_pixel_factor(size, ppi, export.FIGURE_BOX_IN)
    theirs = np.asarray(Image.open(io.BytesIO(vlc.vegalite_to_png(
        original, scale=factor * 72 / ppi, ppi=ppi))).convert("RGB"), dtype=float)
    assert ours.shape == theirs.shape
    assert np.abs(ours - theirs).mean() < 0.5


def test_render_errors_are_export_errors():
    with pytest.raises(ExportError, match="expected an Altair chart"):
        render(FigureSpec(chart="not a chart", title="x"), "png")  # type: ignore[arg-type]
    with pytest.raises(ExportError, match="Unknown figure format"):
        render(FigureSpec(chart=alt.Chart(pd.DataFrame({"a": [1]})).mark_point(), title="x"),
               "gif")  # type: ignore[arg-type]


def test_render_is_offline():
    chart = alt.Chart(alt.UrlData("https://example.com/cohort.csv")).mark_point().encode(
        x="a:Q")
    with pytest.raises(ExportError, match="not allowed"):
        render(FigureSpec(chart=chart, title="remote"), "svg")


# ---------------------------------------------------------------------------------------------
# filename
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name, ext, expected", [
    ("Fibrinogen by CRS grade", "png", "fibrinogen-by-crs-grade_2026-11-24.png"),
    ("fibrinogen_by_crs", ".svg", "fibrinogen-by-crs_2026-11-24.svg"),
    ("D-Dimer/Fibrinogen (M\u00fcller, \u2265 Grad 3)", "csv",
     "d-dimer-fibrinogen-mueller-grad-3_2026-11-24.csv"),
    ("../../etc/passwd", "PDF", "etc-passwd_2026-11-24.pdf"),
    ("\u2265\u2264", "png", "figure_2026-11-24.png"),
])
def test_filename(name, ext, expected):
    assert filename(name, ext, DAY) == expected


def test_filename_defaults_to_today_and_is_safe():
    out = filename("x" * 200 + " \u00df", "png")
    assert out.endswith(f"_{date.today().isoformat()}.png")
    assert re.fullmatch(r"[a-z0-9._-]+", out) and len(out) <= 100
    with pytest.raises(ExportError):
        filename("x", "..")


# ---------------------------------------------------------------------------------------------
# safe CSV / XLSX
# ---------------------------------------------------------------------------------------------

@pytest.fixture
def nasty() -> pd.DataFrame:
    return pd.DataFrame({
        "text": ["=1+1", "+49 30 1234", "-cmd", "@SUM(A1)", "\tTAB", "\rCR", "M\u00fcller",
                 "tisa-cel", None],
        "number": [-3, 2, -0.5, 1e-12, 0, 7, 8, 9, 10],
        "mixed": ["=HYPERLINK(\"x\")", -3, 4.25, "plain", "", None, "a,b", 'q"uote', "x\ny"],
        "cat": pd.Categorical(["=x", "ok", "ok", "ok", "ok", "ok", "ok", "ok", "ok"]),
    })


def test_safe_csv_neutralises_formula_cells(nasty):
    raw = safe_csv(nasty)
    assert raw.startswith(b"\xef\xbb\xbf")  # UTF-8 BOM for Excel
    back = pd.read_csv(io.BytesIO(raw), encoding="utf-8-sig", keep_default_na=False)
    assert list(back.columns) == ["text", "number", "mixed", "cat"]
    assert list(back["text"][:6]) == ["'=1+1", "'+49 30 1234", "'-cmd", "'@SUM(A1)", "'\tTAB",
                                      "'\rCR"]
    assert back["text"][6] == "M\u00fcller" and back["text"][7] == "tisa-cel"
    assert back["mixed"][0] == "'=HYPERLINK(\"x\")"
    assert back["mixed"][1] == "-3"  # a number in a text column is not a formula
    assert list(back["mixed"][6:]) == ["a,b", 'q"uote', "x\ny"]
    assert back["cat"][0] == "'=x"


def test_safe_csv_keeps_numbers_numbers(nasty):
    back = pd.read_csv(io.BytesIO(safe_csv(nasty)))
    assert pd.api.types.is_numeric_dtype(back["number"])
    assert back["number"].tolist() == nasty["number"].tolist()  # full precision, -3 stays -3
    assert b"'-3" not in safe_csv(nasty)
    assert b"'-0.5" not in safe_csv(nasty)


def test_safe_csv_no_cell_starts_with_a_trigger(nasty):
    import csv as csvmod

    text = safe_csv(nasty.drop(columns=["number", "mixed"])).decode("utf-8-sig")
    for row in csvmod.reader(io.StringIO(text, newline="")):
        for cell in row:
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), cell


def test_safe_csv_neutralises_headers_and_supports_semicolons():
    df = pd.DataFrame({"=evil": ["a"], "Fibrinogen [mg/dl]": [1.5]})
    back = pd.read_csv(io.BytesIO(safe_csv(df, sep=";", decimal=",")), sep=";", decimal=",")
    assert list(back.columns) == ["'=evil", "Fibrinogen [mg/dl]"]
    assert back.iloc[0, 1] == 1.5


def test_xlsx_stores_formula_text_as_string(nasty):
    wb = openpyxl.load_workbook(io.BytesIO(table_xlsx(nasty, sheet="patients")))
    ws = wb["patients"]
    assert [c.value for c in ws[1]] == ["text", "number", "mixed", "cat"]
    a2 = ws["A2"]
    assert a2.value == "=1+1" and a2.data_type == "s" and a2.quotePrefix
    for row in ws.iter_rows(min_row=2):
        for cell in row:
            assert cell.data_type != "f", cell.coordinate
    assert ws["B2"].value == -3 and ws["B2"].data_type == "n"
    assert ws["C3"].value == -3 and ws["C3"].data_type == "n"
    assert ws["A8"].value == "M\u00fcller" and not ws["A8"].quotePrefix
    assert ws["A10"].value is None  # missing stays empty


def test_xlsx_sheet_name_is_made_valid():
    wb = openpyxl.load_workbook(io.BytesIO(table_xlsx(pd.DataFrame({"a": [1]}),
                                                      sheet="CRS [1/2]: a very long sheet name")))
    assert len(wb.sheetnames[0]) <= 31 and "/" not in wb.sheetnames[0]


# ---------------------------------------------------------------------------------------------
# report model
# ---------------------------------------------------------------------------------------------

def test_report_edits_return_new_reports(charts):
    a, b, c = (ReportItem(_spec(charts["single"], title=t)) for t in "ABC")
    empty = Report()
    rep = empty.add(a).add(b).add(c)
    assert len(empty) == 0 and [i.figure.title for i in rep] == ["A", "B", "C"]
    assert [i.figure.title for i in rep.move(c.id, 0)] == ["C", "A", "B"]
    assert [i.figure.title for i in rep.move(a.id, 99)] == ["B", "C", "A"]
    assert [i.figure.title for i in rep.move(a.id, -1)] == ["B", "C", "A"]
    assert [i.figure.title for i in rep.remove(b.id)] == ["A", "C"]
    renamed = rep.retitle(b.id, "B2")
    assert [i.figure.title for i in renamed] == ["A", "B2", "C"]
    assert renamed.items[1].id == b.id and rep.items[1].figure.title == "B"
    with pytest.raises(KeyError):
        rep.remove("nope")
    with pytest.raises(ValueError):
        rep.add(a)
    assert rep.with_title("Board").title == "Board"


# ---------------------------------------------------------------------------------------------
# PPTX
# ---------------------------------------------------------------------------------------------

def test_pptx_slides_titles_pictures_and_stats(pack, report):
    prs = Presentation(io.BytesIO(pack[0]["pptx"]))
    assert prs.slide_width == pytest.approx(13.333 * 914400, rel=1e-3)
    assert prs.slide_height == 7.5 * 914400
    slides = list(prs.slides)
    assert len(slides) == 1 + len(report)

    title_text = " ".join(s.text_frame.text for s in slides[0].shapes if s.has_text_frame)
    assert slides[0].shapes.title.text == "CAR-T board 24 Nov"
    for expected in ("Uploaded cohort", CAPTION, "n = 27", "2026-11-24"):
        assert expected in title_text
    assert "Synthetic" not in title_text

    for slide, item in zip(slides[1:], report):
        assert slide.shapes.title.text == item.figure.title
        pictures = [s for s in slide.shapes if s.shape_type == MSO_SHAPE_TYPE.PICTURE]
        assert len(pictures) == 1
        texts = " ".join(s.text_frame.text for s in slide.shapes if s.has_text_frame)
        if item.figure.stat:
            assert item.figure.stat in texts
        assert CAPTION in slide.notes_slide.notes_text_frame.text


def test_pptx_pictures_keep_aspect_and_fit_the_slide(pack, report):
    prs = Presentation(io.BytesIO(pack[0]["pptx"]))
    cache = pack[1]
    for slide, item in zip(list(prs.slides)[1:], report):
        pic = next(s for s in slide.shapes if s.shape_type == MSO_SHAPE_TYPE.PICTURE)
        px_w, px_h = Image.open(io.BytesIO(cache.get(item.figure, "png"))).size
        assert pic.width / pic.height == pytest.approx(px_w / px_h, rel=0.01)
        assert pic.left >= 0 and pic.left + pic.width <= prs.slide_width
        assert pic.top >= 0 and pic.top + pic.height <= prs.slide_height
        assert pic.crop_left == 0 and pic.crop_right == 0
        assert pic.image.content_type == "image/png"


def test_pptx_synthetic_cohort_is_labelled(charts):
    rep = Report().add(_spec(charts["single"], synthetic=True))
    demo = ReportMeta(cohort="Demo cohort", filters="all patients \u00b7 n = 41", n=41,
                      when=DAY, synthetic=True)
    prs = Presentation(io.BytesIO(build_pptx(rep, demo)))
    for slide in prs.slides:
        texts = " ".join(s.text_frame.text for s in slide.shapes if s.has_text_frame)
        assert SYNTHETIC_LABEL in texts


# ---------------------------------------------------------------------------------------------
# PDF
# ---------------------------------------------------------------------------------------------

def test_pdf_pages_text_and_images(pack, report):
    reader = PdfReader(io.BytesIO(pack[0]["pdf"]))
    assert len(reader.pages) == 1 + len(report)
    first = reader.pages[0]
    assert float(first.mediabox.width) > float(first.mediabox.height)  # landscape
    cover = first.extract_text()
    for expected in ("CAR-T board 24 Nov", "Uploaded cohort", "n = 27", "2026-11-24",
                     "M\u00fcller", "\u2265 1 dose"):
        assert expected in cover
    assert len(first.images) == 0
    for page, item in zip(reader.pages[1:], report):
        text = page.extract_text()
        assert item.figure.title in text
        if item.figure.stat:
            assert item.figure.stat in text
        assert len(page.images) == 1


def test_pdf_falls_back_to_core_fonts(charts, monkeypatch, tmp_path):
    monkeypatch.setattr(export, "DEJAVU_DIR", tmp_path / "no-fonts-here")
    rep = Report(title="Board \u2013 CRS \u2265 2").add(
        _spec(charts["single"], title="Fibrinogen \u2264 150 \u2014 M\u00fcller",
              stat="r = \u22120.44 \u00b7 p = 0.01 \u2208 \u03c7\u00b2"))
    meta = ReportMeta(cohort="K\u00f6ln \u00b7 demo", filters=CAPTION, when=DAY,
                      synthetic=True)
    reader = PdfReader(io.BytesIO(build_pdf(rep, meta)))
    assert len(reader.pages) == 2
    cover = reader.pages[0].extract_text()
    assert "Board - CRS >= 2" in cover and "K\u00f6ln \u00b7 demo" in cover
    assert "Synthetic demo cohort - not patient data" in cover
    page = reader.pages[1].extract_text()
    assert "Fibrinogen <= 150 - M\u00fcller" in page
    assert "r = -0.44 \u00b7 p = 0.01 ? chi2" in page


def test_pdf_synthetic_label_only_when_synthetic(charts, pack):
    assert "Synthetic" not in "".join(p.extract_text()
                                      for p in PdfReader(io.BytesIO(pack[0]["pdf"])).pages)
    rep = Report().add(_spec(charts["single"], synthetic=True))
    meta = ReportMeta(cohort="Demo", when=DAY, synthetic=True)
    pages = PdfReader(io.BytesIO(build_pdf(rep, meta))).pages
    assert all(SYNTHETIC_LABEL in p.extract_text() for p in pages)


# ---------------------------------------------------------------------------------------------
# ZIP and pack
# ---------------------------------------------------------------------------------------------

def test_zip_contents_and_readme(pack, report, patients):
    archive = zipfile.ZipFile(io.BytesIO(pack[0]["zip"]))
    names = archive.namelist()
    assert names == [
        "README.txt",
        "patients_2026-11-24.csv",
        "figures/01_fibrinogen-by-crs_2026-11-24.png",
        "figures/01_fibrinogen-by-crs_2026-11-24.svg",
        "figures/02_toci-vs-fib_2026-11-24.png",
        "figures/02_toci-vs-fib_2026-11-24.svg",
        "tables/02_toci-vs-fib_2026-11-24.csv",
        "figures/03_by-product_2026-11-24.png",
        "figures/03_by-product_2026-11-24.svg",
    ]
    readme = archive.read("README.txt").decode("utf-8")
    for expected in (CAPTION, "n = 27", "2026-11-24", "Uploaded cohort",
                     f"CAR-T cohort explorer {export.APP_VERSION}", "Fibrinogen by product",
                     "Kruskal-Wallis p = 0.004"):
        assert expected in readme
    for lib in ("pandas", "numpy", "scipy", "statsmodels", "lifelines", "altair",
                "vl-convert-python", "duckdb", "streamlit"):
        assert re.search(rf"^  {re.escape(lib)}: \S+", readme, re.M), lib
    assert "Synthetic" not in readme

    back = pd.read_csv(io.BytesIO(archive.read("patients_2026-11-24.csv")))
    assert len(back) == len(patients) and "patient_id" in back.columns
    table = pd.read_csv(io.BytesIO(archive.read("tables/02_toci-vs-fib_2026-11-24.csv")))
    assert table["a"].tolist() == ["'=cmd", "ok"] and table["b"].tolist() == [1.5, -3]
    png = Image.open(io.BytesIO(archive.read("figures/01_fibrinogen-by-crs_2026-11-24.png")))
    assert png.size[0] >= 3000
    ET.fromstring(archive.read("figures/01_fibrinogen-by-crs_2026-11-24.svg"))


def test_zip_readme_n_falls_back_to_table_and_labels_synthetic(charts, patients):
    rep = Report().add(_spec(charts["single"], synthetic=True))
    meta = ReportMeta(cohort="Demo cohort", when=DAY, synthetic=True)
    archive = zipfile.ZipFile(io.BytesIO(build_zip(rep, meta, patients)))
    readme = archive.read("README.txt").decode("utf-8")
    assert f"n = {len(patients)}" in readme and SYNTHETIC_LABEL in readme


def test_pack_renders_each_figure_once(pack, report):
    out, cache = pack
    assert set(out) == {"pptx", "pdf", "zip"}
    # one SVG (also measures the size) and one PNG per figure, shared by all three files
    assert cache.renders == 2 * len(report)


def test_prefetch_renders_in_background_and_reports_errors(charts):
    good = _spec(charts["single"])
    bad = FigureSpec(chart=alt.Chart(alt.UrlData("https://example.com/x.csv")).mark_point()
                     .encode(x="a:Q"), title="remote")
    with RenderCache() as cache:
        cache.prefetch([good, bad, good])
        png = cache.get(good, "png")
        assert png.startswith(b"\x89PNG")
        with pytest.raises(ExportError, match="remote"):
            cache.get(bad, "png")
        assert cache.get(good, "svg").startswith(b"<svg")
    assert cache.renders == 3  # vl-convert calls: good SVG + PNG once each, bad SVG (failed)


def test_empty_report_builds_cover_only(meta, patients):
    out = build_pack(Report(), meta, patients)
    assert len(Presentation(io.BytesIO(out["pptx"])).slides) == 1
    assert len(PdfReader(io.BytesIO(out["pdf"])).pages) == 1
    names = zipfile.ZipFile(io.BytesIO(out["zip"])).namelist()
    assert names == ["README.txt", "patients_2026-11-24.csv"]


def test_pptx_handles_empty_title_and_missing_stat(charts, meta):
    rep = Report().add(_spec(charts["single"], title="", stat=None))
    slide = list(Presentation(io.BytesIO(build_pptx(rep, meta))).slides)[1]
    assert slide.shapes.title.text == ""
    assert sum(s.shape_type == MSO_SHAPE_TYPE.PICTURE for s in slide.shapes) == 1


def test_xlsx_keeps_types_and_drops_time_zones():
    df = pd.DataFrame({"flag": [True], "n": [np.int64(3)], "x": [np.float64(-0.25)],
                       "t": [pd.Timestamp("2026-01-02 03:04", tz="Europe/Berlin")]})
    ws = openpyxl.load_workbook(io.BytesIO(table_xlsx(df))).active
    assert [c.value for c in ws[2]][:3] == [True, 3, -0.25]
    assert ws["D2"].value.hour == 3


def test_pack_rejects_unknown_format(report, meta, patients):
    with pytest.raises(ExportError, match="Unknown pack format"):
        build_pack(report, meta, patients, formats=("docx",))  # type: ignore[arg-type]


def test_meta_defaults_list_library_versions():
    meta = ReportMeta(cohort="x")
    assert meta.when == date.today()
    assert meta.versions["altair"] == alt.__version__
    assert "streamlit" in meta.versions and "python" in meta.versions


def test_core_export_does_not_import_streamlit():
    import subprocess
    import sys

    code = "import sys, core.export; print('streamlit' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"
