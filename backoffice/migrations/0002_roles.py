"""Create the role groups. Permissions of models added later are applied by the post_migrate hook."""

from django.db import migrations


def create_roles(apps, schema_editor):
    from backoffice.roles import ensure_roles

    ensure_roles(apps=apps, using=schema_editor.connection.alias)


class Migration(migrations.Migration):
    dependencies = [
        ("backoffice", "0001_reverbaccount"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_roles, migrations.RunPython.noop)]
