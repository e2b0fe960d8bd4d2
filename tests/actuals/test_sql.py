"""Every SQL file is engine-neutral: rendered as tagguard sends it, it transpiles for Athena/Trino, and
the transpiled text parses back in that dialect; the remote `charges` relation does too."""
import pytest

sqlglot = pytest.importorskip("sqlglot")

from tagguard.actuals import ai_spend, engines, sqlfiles  # noqa: E402

SHARED = {"services": ["Amazon CloudWatch"], "service_patterns": ["%registry%"], "resource_id_patterns": ["%feature%"],
          "tags": {"cost-allocation": "shared"}}


def rendered(name, relation="charges"):
    rules = ai_spend.load_rules({"service_names": ["O'Brien AI"]})  # a quote inside a literal
    slots = ai_spend.slots(rules, SHARED)
    slots["charges"] = relation
    slots["classes"] = "(" + sqlfiles.render("classes.sql", slots) + ") AS tg_classes"
    assert set(sqlfiles.slots_in(name)) <= set(slots), name
    return sqlfiles.render(name, slots)


def test_there_are_sql_files():
    assert {"classes.sql", "rollup.sql", "totals.sql"} <= set(sqlfiles.names())


@pytest.mark.parametrize("name", sqlfiles.names())
@pytest.mark.parametrize("dialect", ["trino", "athena", "presto"])
def test_sql_file_transpiles(name, dialect):
    sql = rendered(name)
    out = sqlglot.transpile(sql, read="duckdb", write=dialect, error_level=sqlglot.ErrorLevel.RAISE)
    assert len(out) == 1
    sqlglot.parse_one(out[0], read=dialect, error_level=sqlglot.ErrorLevel.RAISE)
    text = out[0].upper()
    if name in ("classes.sql", "rollup.sql"):
        assert "REGEXP_LIKE" in text  # DuckDB's regexp_matches became the engine's function
        assert "'O''BRIEN AI'" in text  # literals stay quoted


@pytest.mark.parametrize("name", sqlfiles.names())
def test_remote_relation_transpiles(name):
    sub = engines.charges_subquery("focus_db.focus_1_2_aws", tags_type="map")
    out = engines.transpile(rendered(name, sub), "athena")
    sqlglot.parse_one(out, read="trino", error_level=sqlglot.ErrorLevel.RAISE)
    assert '"focus_db"."focus_1_2_aws"' in out
    assert 'JSON_FORMAT(CAST("Tags" AS JSON))' in out  # Trino has no to_json for a map


def test_remote_table_name_must_be_plain():
    from tagguard.actuals import BillError

    with pytest.raises(BillError):
        engines.charges_subquery("t; DROP TABLE x")


def test_duckdb_runs_the_same_rendered_sql(tmp_path):
    """The text sent to DuckDB is the text that was transpiled (no engine-specific rewrite on the way)."""
    import duckdb

    con = duckdb.connect()
    con.execute("""CREATE VIEW charges AS SELECT '2026-01' AS month, CAST(5 AS DECIMAL(38,10)) AS cost, 'USD' AS currency,
        'a' AS sub_account, 'Amazon CloudWatch' AS service_name, '' AS service_category, '' AS service_subcategory,
        '' AS consumed_unit, '' AS sku_id, '' AS resource_type, '' AS charge_description, '' AS sku_meter,
        '' AS usage_type, 'AWS' AS provider, 'Usage' AS charge_category, 'r' AS resource_id, '{}' AS tags,
        NULL AS pricing_category, NULL AS commitment_id, false AS bad_cost, false AS bad_period, 'f' AS src_file""")  # noqa: E501
    rows = con.execute(rendered("rollup.sql")).fetchall()
    assert len(rows) == 1 and rows[0][5] == "shared"
