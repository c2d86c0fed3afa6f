from django.db import migrations, models


class Migration(migrations.Migration):
    """Unmanaged models (no tables): the admin's "Queues" and "Workers" and their permissions."""

    initial = True
    dependencies = []

    operations = [
        migrations.CreateModel(
            name="Queue",
            fields=[("id", models.AutoField(auto_created=True, primary_key=True,
                                            serialize=False, verbose_name="ID"))],
            options={"verbose_name": "queue", "verbose_name_plural": "queues",
                     "managed": False, "default_permissions": ("view", "change")},
        ),
        migrations.CreateModel(
            name="Worker",
            fields=[("id", models.AutoField(auto_created=True, primary_key=True,
                                            serialize=False, verbose_name="ID"))],
            options={"verbose_name": "worker", "verbose_name_plural": "workers",
                     "managed": False, "default_permissions": ()},
        ),
    ]
