"""The catalogue REST surface: everyone signed in reads it; staff add products and receive goods."""

from __future__ import annotations

from typing import Any

from django.db.models import F, QuerySet
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from common.db_conflicts import retry_on_conflict
from inventory import domain, services
from inventory.models import Product, Stock
from inventory.serializers import (
    CatalogueErrorSerializer,
    CatalogueItemSerializer,
    NewProductSerializer,
    ReceiveGoodsSerializer,
    StockSerializer,
)

UNAUTHENTICATED = OpenApiResponse(CatalogueErrorSerializer, description="No or bad credentials.")
FORBIDDEN = OpenApiResponse(CatalogueErrorSerializer, description="Signed in, but not staff.")
INVALID = OpenApiResponse(
    description="Malformed JSON (`detail`) or invalid fields: `{field: [messages]}`."
)


class IsStaffToWrite(BasePermission):
    """Reading needs a signed-in user; writing needs staff."""

    def has_permission(self, request: Request, view: APIView) -> bool:
        user = request.user
        if not (user and user.is_authenticated):
            return False
        return request.method in SAFE_METHODS or user.is_staff


def _actor(request: Request) -> str:
    return f"staff:{request.user.get_username()}"


class ProductList(generics.ListCreateAPIView):
    permission_classes = [IsStaffToWrite]

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
            409: OpenApiResponse(description='The sku exists already: `{"sku": [message]}`.'),
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
            return Response({"sku": [str(exc)]}, status=status.HTTP_409_CONFLICT)
        except domain.InvalidProduct as exc:
            return Response({"non_field_errors": [str(exc)]}, status=status.HTTP_400_BAD_REQUEST)
        product.available = 0
        return Response(CatalogueItemSerializer(product).data, status=status.HTTP_201_CREATED)


class ReceiveGoods(APIView):
    permission_classes = [IsStaffToWrite]
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
            404: OpenApiResponse(CatalogueErrorSerializer, description="No product has this sku."),
        },
    )
    @retry_on_conflict()
    def post(self, request: Request, sku: str) -> Response:
        if not Product.objects.filter(sku=sku).exists():
            return _unknown(sku)
        incoming = ReceiveGoodsSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        try:
            services.receive_goods(sku, incoming.validated_data["quantity"], actor=_actor(request))
        except domain.UnknownProduct:
            return _unknown(sku)
        return Response(StockSerializer(Stock.objects.get(sku=sku)).data)


def _unknown(sku: str) -> Response:
    return Response({"detail": f"unknown product: {sku}"}, status=status.HTTP_404_NOT_FOUND)
