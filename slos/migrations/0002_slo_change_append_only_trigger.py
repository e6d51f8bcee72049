"""PostgreSQL refuses to update or delete a row of the SLO audit trail.

The only exception is a transaction that set `slos.trail_delete` (deleting
the service the trail belongs to, see `slos/signals.py`). TRUNCATE (the test
suite's flush) fires no row trigger. SQLite relies on the application-level
guards in `slos.models`.
"""

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION slos_slochange_append_only() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' AND current_setting('slos.trail_delete', true) = 'on' THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION USING
        MESSAGE = 'slos_slochange is append-only: ' || TG_OP || ' refused',
        ERRCODE = 'restrict_violation';
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER slos_slochange_append_only
    BEFORE UPDATE OR DELETE ON slos_slochange
    FOR EACH ROW EXECUTE FUNCTION slos_slochange_append_only();
"""

DROP = """
DROP TRIGGER IF EXISTS slos_slochange_append_only ON slos_slochange;
DROP FUNCTION IF EXISTS slos_slochange_append_only();
"""


def create_trigger(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE)


def drop_trigger(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [("slos", "0001_initial")]

    operations = [migrations.RunPython(create_trigger, drop_trigger)]
