from django.db import migrations, models


class Migration(migrations.Migration):
    """Every delivery that finishes changes its status; an index on (status, handler) then
    takes a new entry with one of a handful of keys each time, which is costly on the hot
    path. Only dead letters are looked up by handler: index just those."""

    dependencies = [
        ("outbox", "0001_initial"),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name="delivery",
            name="delivery_status_handler_idx",
        ),
        migrations.AddIndex(
            model_name="delivery",
            index=models.Index(
                condition=models.Q(("status", "dead")),
                fields=["handler"],
                name="delivery_dead_handler_idx",
            ),
        ),
    ]
