from django.urls import path

from inventory.api import ProductList, ReceiveGoods

urlpatterns = [
    path("products/", ProductList.as_view(), name="product-list"),
    path("products/<str:sku>/receive/", ReceiveGoods.as_view(), name="product-receive"),
]
