"""The four groups of the operators' jobs, with their permissions (accounts/groups.py says the
same; tests/test_accounts_groups.py keeps the two equal). Permissions are created here when
missing: on a fresh database Django creates them only after every migration has run."""

from django.db import migrations

# group -> (app_label, model, codename, name)
GROUPS = {
    "catalogue and stock": [
        ("inventory", "product", "add_product", "Can add product"),
        ("inventory", "product", "receive_goods", "Can receive goods into stock"),
        ("inventory", "product", "view_product", "Can view product"),
        ("inventory", "stock", "view_stock", "Can view stock"),
    ],
    "customer data": [
        ("orders", "orderview", "view_all_orders",
         "Can view every customer's orders and addresses"),
        ("orders", "orderview", "view_orderview", "Can view order"),
    ],
    "saga operations": [
        ("saga", "ordersaga", "view_ordersaga", "Can view order saga"),
        ("saga", "ordersaga", "reconcile_saga", "Can reconcile a saga now"),
        ("saga", "ordersaga", "replay_saga_deliveries", "Can replay a saga's dead deliveries"),
        ("saga", "ordersaga", "cancel_saga_order", "Can cancel an order before the pivot"),
        # The operators' actions: acknowledge, retry its step, propose a correction.
        ("saga", "ordersaga", "operate_saga",
         "Can acknowledge a saga, retry its step or propose a correction"),
    ],
    "money approvals": [
        ("saga", "reconciliationaction", "view_reconciliationaction",
         "Can view reconciliation action"),
        ("saga", "reconciliationaction", "decide_correction",
         "Can approve or reject a proposed correction"),
    ],
}


def create_groups(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    ContentType = apps.get_model("contenttypes", "ContentType")
    for group_name, permissions in GROUPS.items():
        group, _ = Group.objects.get_or_create(name=group_name)
        for app_label, model, codename, name in permissions:
            content_type, _ = ContentType.objects.get_or_create(app_label=app_label, model=model)
            permission, _ = Permission.objects.get_or_create(
                content_type=content_type, codename=codename, defaults={"name": name})
            group.permissions.add(permission)


def delete_groups(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=GROUPS).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("inventory", "0002_product_receive_goods_permission"),
        ("orders", "0005_view_all_orders_permission"),
        ("saga", "0003_operator_actions"),
    ]

    operations = [migrations.RunPython(create_groups, delete_groups)]
