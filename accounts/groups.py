"""The permission groups of the operators' jobs (created by migration 0001): give a person the
groups of their job, and `is_staff` only for the admin. Plain staff change nothing."""

from __future__ import annotations

# group name -> the permissions ("app_label.codename") it grants
GROUPS: dict[str, tuple[str, ...]] = {
    "catalogue and stock": (
        "inventory.add_product", "inventory.receive_goods", "inventory.view_product",
        "inventory.view_stock",
    ),
    "customer data": (
        "orders.view_all_orders", "orders.view_orderview",
    ),
    "saga operations": (
        "saga.view_ordersaga", "saga.reconcile_saga", "saga.replay_saga_deliveries",
        "saga.cancel_saga_order", "saga.operate_saga",
    ),
    "money approvals": (
        "saga.view_reconciliationaction", "saga.decide_correction",
    ),
}
