"""The catalogue REST surface: everyone signed in reads it; staff add products and receive goods."""

from __future__ import annotations

from typing import Any

from django.db.models import F, QuerySet
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from common.db_conflicts import retry_on_conflict
from config.api_errors import Conflict, RequestRefusedSerializer, field_errors, refusal
from inventory import domain, services
from inventory.models import Product, Stock
from inventory.serializers import (
    CatalogueItemSerializer,
    NewProductSerializer,
    ReceiveGoodsSerializer,
    StockSerializer,
)

UNAUTHENTICATED = refusal("No or bad credentials.", "not_authenticated",
                          "Authentication credentials were not provided.")
FORBIDDEN = refusal("Signed in, but without the permission to write.", "permission_denied",
                    "You do not have permission to perform this action.")
INVALID = field_errors("Malformed JSON (`parse_error`) or invalid fields (`invalid`).",
                       {"price": ["Ensure that there are no more than 2 decimal places."]})


class CatalogueWrite(BasePermission):
    """Reading needs a signed-in user; writing needs staff with the view's `write_permission`
    (the "catalogue and stock" group has both): plain staff may not change the catalogue."""

    def has_permission(self, request: Request, view: APIView) -> bool:
        user = request.user
        if not (user and user.is_authenticated):
            return False
        if request.method in SAFE_METHODS:
            return True
        return bool(user.is_staff and user.has_perm(getattr(view, "write_permission", "")))


def _actor(request: Request) -> str:
    return f"staff:{request.user.get_username()}"


class ProductList(generics.ListCreateAPIView):
    permission_classes = [CatalogueWrite]
    write_permission = "inventory.add_product"

    def get_queryset(self) -> QuerySet[Product]:
        return Product.objects.annotate(
            available=F("stock__on_hand") - F("stock__held")
        ).order_by("sku")

    def get_serializer_class(self) -> type:
        if self.request.method == "POST":
            return NewProductSerializer
        return CatalogueItemSerializer

    @extend_schema(
        summary="The catalogue",
        description="Every product with what is available now; sold-out products stay listed "
        "with `available: 0`.",
        responses={200: CatalogueItemSerializer(many=True), 401: UNAUTHENTICATED},
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(
        summary="Add a product (staff)",
        request=NewProductSerializer,
        responses={
            201: CatalogueItemSerializer,
            400: INVALID,
            401: UNAUTHENTICATED,
            403: FORBIDDEN,
            409: OpenApiResponse(RequestRefusedSerializer, description="The sku exists already.",
                                 examples=[OpenApiExample("sku taken", value={
                                     "code": "product_exists", "detail": "SKU-1 exists already",
                                     "sku": ["SKU-1 exists already"]})]),
        },
    )
    @retry_on_conflict()
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        incoming = NewProductSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        data = incoming.validated_data
        try:
            product = services.add_product(data["sku"], data["name"], data["price"],
                                           actor=_actor(request))
        except domain.ProductAlreadyExists as exc:
            raise Conflict({"sku": [str(exc)]}, code="product_exists") from None
        except domain.InvalidProduct as exc:
            raise ValidationError({"non_field_errors": [str(exc)]}) from None
        product.available = 0
        return Response(CatalogueItemSerializer(product).data, status=status.HTTP_201_CREATED)


class ReceiveGoods(APIView):
    permission_classes = [CatalogueWrite]
    write_permission = "inventory.receive_goods"
    serializer_class = ReceiveGoodsSerializer

    @extend_schema(
        summary="Goods received (staff)",
        description="Adds `quantity` units to the product's stock on hand.",
        request=ReceiveGoodsSerializer,
        responses={
            200: StockSerializer,
            400: INVALID,
            401: UNAUTHENTICATED,
            403: FORBIDDEN,
            404: refusal("No product has this sku.", "not_found", "unknown product: SKU-404"),
        },
    )
    @retry_on_conflict()
    def post(self, request: Request, sku: str) -> Response:
        if not Product.objects.filter(sku=sku).exists():
            raise _unknown(sku)
        incoming = ReceiveGoodsSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        try:
            services.receive_goods(sku, incoming.validated_data["quantity"], actor=_actor(request))
        except domain.UnknownProduct:
            raise _unknown(sku) from None
        return Response(StockSerializer(Stock.objects.get(sku=sku)).data)


def _unknown(sku: str) -> NotFound:
    return NotFound(f"unknown product: {sku}")
