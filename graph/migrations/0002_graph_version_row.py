from django.db import migrations


def create_row(apps, schema_editor):
    apps.get_model("graph", "GraphVersion").objects.get_or_create(pk=1, defaults={"version": 0})


class Migration(migrations.Migration):
    dependencies = [("graph", "0001_initial")]
    operations = [migrations.RunPython(create_row, migrations.RunPython.noop)]
