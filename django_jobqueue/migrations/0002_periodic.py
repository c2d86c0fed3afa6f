from django.db import migrations, models


class Migration(migrations.Migration):
    """The admin's "Periodic jobs" (an unmanaged model: no table, no permissions of its own)."""

    dependencies = [("django_jobqueue", "0001_initial")]

    operations = [
        migrations.CreateModel(
            name="Periodic",
            fields=[("id", models.AutoField(auto_created=True, primary_key=True,
                                            serialize=False, verbose_name="ID"))],
            options={"verbose_name": "periodic job", "verbose_name_plural": "periodic jobs",
                     "managed": False, "default_permissions": ()},
        ),
    ]
