from django.db import migrations, models


class Migration(migrations.Migration):
    """The admin's "Groups" and "Limits" (unmanaged models: no tables, no permissions of
    their own)."""

    dependencies = [("django_jobqueue", "0002_periodic")]

    operations = [
        migrations.CreateModel(
            name="Group",
            fields=[("id", models.AutoField(auto_created=True, primary_key=True,
                                            serialize=False, verbose_name="ID"))],
            options={"verbose_name": "group", "verbose_name_plural": "groups",
                     "managed": False, "default_permissions": ()},
        ),
        migrations.CreateModel(
            name="Limit",
            fields=[("id", models.AutoField(auto_created=True, primary_key=True,
                                            serialize=False, verbose_name="ID"))],
            options={"verbose_name": "limit", "verbose_name_plural": "limits",
                     "managed": False, "default_permissions": ()},
        ),
    ]
