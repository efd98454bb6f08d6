from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("probe", "0001_initial"),
    ]

    operations = [
        migrations.CreateModel(
            name="CounterSnapshot",
            fields=[
                ("stream_id", models.CharField(max_length=64, primary_key=True, serialize=False)),
                ("version", models.PositiveIntegerField()),
                ("state", models.JSONField()),
                ("updated_at", models.DateTimeField(auto_now=True)),
            ],
            options={
                "abstract": False,
            },
        ),
    ]
