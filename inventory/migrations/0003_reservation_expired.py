from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("inventory", "0002_product_receive_goods_permission"),
    ]

    operations = [
        migrations.AlterField(
            model_name="reservation",
            name="status",
            field=models.CharField(
                choices=[
                    ("held", "Held"),
                    ("failed", "Failed"),
                    ("released", "Released"),
                    ("expired", "Expired"),
                    ("committed", "Committed"),
                    ("cancelled", "Cancelled"),
                ],
                max_length=10,
            ),
        ),
    ]
