"""core.filters.CohortFilter: SQL, caption and URL round trip."""

from __future__ import annotations

import pytest

from core.errors import ColumnError
from core.filters import CohortFilter, quote_ident


def test_sql_is_parameterised_and_identifiers_quoted():
    f = (CohortFilter().where("product", ["axi-cel", "tisa-cel"]).where("crs_grade", [2, 1])
         .between("tocilizumab_doses", 1, 4))
    sql, params = f.to_sql()
    assert sql == ('"crs_grade" IN (?, ?) AND "product" IN (?, ?) AND '
                   '"tocilizumab_doses" BETWEEN ? AND ?')
    assert params == [1, 2, "axi-cel", "tisa-cel", 1.0, 4.0]


def test_values_never_reach_the_sql_text():
    evil = "x'); DROP TABLE patients; --"
    sql, params = CohortFilter().where("product", [evil]).to_sql()
    assert evil not in sql and params == [evil]
    assert quote_ident('a"b') == '"a""b"'


def test_unknown_column_refused():
    with pytest.raises(ColumnError, match="nope"):
        CohortFilter().where("nope", [1]).to_sql(["patient_id", "crs_grade"])


def test_empty_filter():
    assert CohortFilter().to_sql() == ("TRUE", [])
    assert CohortFilter().caption(41) == "All patients · n = 41"


def test_caption_like_design():
    f = (CohortFilter().where("crs_grade", [1, 2]).where("product", ["tisa-cel", "axi-cel"])
         .between("tocilizumab_doses", 1, 8))
    assert f.caption(27) == "CRS 1-2 · axi-cel, tisa-cel · tocilizumab doses 1–8 · n = 27"
    assert CohortFilter().where("crs_grade", [0, 3]).caption() == "CRS 0, 3"
    assert CohortFilter().where("corticosteroids", [1]).caption() == "steroids: yes"


def test_replacing_and_removing_a_condition():
    f = CohortFilter().where("crs_grade", [1]).where("crs_grade", [2, 3])
    assert f.get("crs_grade").values == (2, 3) and len(f.conditions) == 1
    assert f.without("crs_grade").is_empty


def test_query_params_round_trip():
    f = (CohortFilter().where("crs_grade", [1, 2]).where("product", ["axi-cel"])
         .between("age", 40, 70.5).where("ward", ["A 1"]))
    params = f.to_query_params()
    assert params == {"crs_grade": ["1", "2"], "product": ["axi-cel"], "age": ["40..70.5"],
                      "ward": ["A 1"]}
    kinds = {"crs_grade": "numeric", "product": "text", "age": "numeric", "ward": "text"}
    back, ignored = CohortFilter.from_query_params(params, kinds)
    assert back == f and ignored == []


def test_query_params_from_another_data_set_are_reported():
    back, ignored = CohortFilter.from_query_params({"foo": ["1"], "age": ["a..b"]},
                                                   {"age": "numeric"})
    assert back.is_empty and len(ignored) == 2
