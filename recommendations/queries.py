"""Raw SQL of the recommendations app.

The what-if analyses read two things from every active availability
recommendation's explanation: the service's observed availability, and the
dependencies it lists on an edge basis. Through the ORM each JSON value comes
back as text and is decoded in Python, row by row; here the database extracts
and types them, so 5,000 services cost one short scan each. One variant per
database (PostgreSQL's jsonb operators, SQLite's JSON1 functions), both
without parameters. They read every active availability recommendation, so
they use no index on purpose.
"""

from django.db import connection

_ACTIVE = "r.status = 'active' AND r.sli_type = 'availability'"

_OBSERVED = {
    "postgresql": f"""
        SELECT s.service_id,
               CASE WHEN jsonb_typeof(r.explanation -> 'observed_availability') = 'number'
                    THEN (r.explanation ->> 'observed_availability')::float8 END
        FROM recommendations_slorecommendation r JOIN graph_service s ON s.id = r.service_id
        WHERE {_ACTIVE}""",
    "sqlite": f"""
        SELECT s.service_id,
               CASE WHEN json_type(r.explanation, '$.observed_availability') IN ('real', 'integer')
                    THEN json_extract(r.explanation, '$.observed_availability') END
        FROM recommendations_slorecommendation r JOIN graph_service s ON s.id = r.service_id
        WHERE {_ACTIVE}""",
}

_EDGE_BASIS = {
    "postgresql": f"""
        SELECT s.service_id, d ->> 'service_id', (d ->> 'availability')::float8
        FROM recommendations_slorecommendation r JOIN graph_service s ON s.id = r.service_id
        CROSS JOIN LATERAL jsonb_array_elements(
            CASE WHEN jsonb_typeof(r.explanation #> '{{dependency_impact,dependencies}}') = 'array'
                 THEN r.explanation #> '{{dependency_impact,dependencies}}' ELSE '[]'::jsonb END) AS d
        WHERE {_ACTIVE} AND jsonb_typeof(d) = 'object' AND d ->> 'availability_basis' = 'edge'
          AND jsonb_typeof(d -> 'service_id') = 'string' AND jsonb_typeof(d -> 'availability') = 'number'""",
    "sqlite": f"""
        SELECT s.service_id, json_extract(d.value, '$.service_id'), json_extract(d.value, '$.availability')
        FROM recommendations_slorecommendation r JOIN graph_service s ON s.id = r.service_id,
             json_each(CASE WHEN json_type(r.explanation, '$.dependency_impact.dependencies') = 'array'
                            THEN json_extract(r.explanation, '$.dependency_impact.dependencies')
                            ELSE '[]' END) AS d
        WHERE {_ACTIVE} AND d.type = 'object' AND json_extract(d.value, '$.availability_basis') = 'edge'
          AND json_type(d.value, '$.service_id') = 'text'
          AND json_type(d.value, '$.availability') IN ('real', 'integer')""",
}


def availability_observed() -> list[tuple[str, float | None]]:
    """(service_id, observed_availability) of every active availability
    recommendation; None where the explanation has no number there."""
    with connection.cursor() as cursor:
        cursor.execute(_OBSERVED[connection.vendor])
        return cursor.fetchall()


def availability_edge_basis() -> list[tuple[str, str, float]]:
    """(caller, dependency, availability) for each dependency an active
    availability recommendation lists with `availability_basis: "edge"`
    (measured on the caller's own calls to it)."""
    with connection.cursor() as cursor:
        cursor.execute(_EDGE_BASIS[connection.vendor])
        return cursor.fetchall()
