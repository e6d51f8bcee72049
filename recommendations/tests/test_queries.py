"""Raw SQL of recommendations: the explanation fields the what-if reads, on
PostgreSQL and on SQLite (the quick start's database), including explanations
that lack them or hold something else there."""

import json
import sqlite3

import pytest

from graph.tests.factories import ServiceFactory
from recommendations.queries import _EDGE_BASIS, _OBSERVED, availability_edge_basis, availability_observed
from recommendations.tests.factories import SloRecommendationFactory

DEPENDENCIES = [
    {"service_id": "payment", "availability": 0.998, "availability_basis": "edge"},
    {"service_id": "cart", "availability": 0.9995, "availability_basis": "service"},
    {"service_id": "quote", "availability": None, "availability_basis": None},
    {"service_id": "odd", "availability": "0.9", "availability_basis": "edge"},
    "not an object",
]
EXPLANATIONS = {
    "checkout": {"observed_availability": 0.9991, "dependency_impact": {"dependencies": DEPENDENCIES}},
    "bare": {"summary": "no numbers"},
    "weird": {"observed_availability": "high", "dependency_impact": {"dependencies": {"not": "a list"}}},
}


@pytest.mark.django_db
def test_fields_of_active_availability_recommendations_on_postgresql():
    for name, explanation in EXPLANATIONS.items():
        SloRecommendationFactory(service=ServiceFactory(service_id=name), explanation=explanation)
    SloRecommendationFactory(service=ServiceFactory(service_id="old"), observed=0.5, status="expired",
                             dependencies=DEPENDENCIES[:1])
    assert sorted(availability_observed()) == [("bare", None), ("checkout", 0.9991), ("weird", None)]
    assert availability_edge_basis() == [("checkout", "payment", 0.998)]


def test_the_sqlite_variants():
    conn = sqlite3.connect(":memory:")
    conn.executescript("""
        CREATE TABLE graph_service (id char(32) PRIMARY KEY, service_id varchar(128));
        CREATE TABLE recommendations_slorecommendation (id integer PRIMARY KEY, service_id char(32),
            status varchar(16), sli_type varchar(16), explanation text);
    """)
    rows = [*((name, "active", explanation) for name, explanation in EXPLANATIONS.items()),
            ("old", "expired", {"observed_availability": 0.5})]
    for i, (name, status, explanation) in enumerate(rows):
        conn.execute("INSERT INTO graph_service VALUES (?, ?)", [str(i), name])
        conn.execute("INSERT INTO recommendations_slorecommendation VALUES (?, ?, ?, 'availability', ?)",
                     [i, str(i), status, json.dumps(explanation)])
    assert sorted(conn.execute(_OBSERVED["sqlite"]).fetchall()) == [
        ("bare", None), ("checkout", 0.9991), ("weird", None)]
    assert conn.execute(_EDGE_BASIS["sqlite"]).fetchall() == [("checkout", "payment", 0.998)]
