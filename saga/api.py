"""`GET /api/sagas/`: the coordination state of every saga, for staff."""

from __future__ import annotations

from datetime import timedelta

from django.db.models import QuerySet
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import IsAdminUser

from saga.models import OrderSaga
from saga.serializers import SagaFilterSerializer, SagaSerializer


@extend_schema(
    parameters=[
        OpenApiParameter("state", OpenApiTypes.STR, enum=OrderSaga.State.values),
        OpenApiParameter("min_gap", OpenApiTypes.INT, description="only sagas with gap >= this"),
        OpenApiParameter("older_than", OpenApiTypes.INT,
                         description="only sagas started more than this many seconds ago"),
    ],
    responses={
        200: SagaSerializer(many=True),
        400: OpenApiResponse(description="a filter value is invalid (the field says which)"),
        401: OpenApiResponse(description="no credentials"),
        403: OpenApiResponse(description="not staff"),
    },
)
class SagaList(generics.ListAPIView):
    """Staff: every saga's coordination state, newest first, filterable by state, gap, age."""

    serializer_class = SagaSerializer
    permission_classes = [IsAdminUser]

    def get_queryset(self) -> QuerySet[OrderSaga]:
        # A plain dict, not the QueryDict: DRF reads an empty optional form value as absent, so
        # `?min_gap=` would filter nothing instead of being refused.
        query = SagaFilterSerializer(data=self.request.query_params.dict())
        if not query.is_valid():
            raise ValidationError(query.errors)
        filters = query.validated_data
        sagas = OrderSaga.objects.order_by("-started_at", "order_id")
        if "state" in filters:
            sagas = sagas.filter(state=filters["state"])
        if "min_gap" in filters:
            sagas = sagas.filter(gap__gte=filters["min_gap"])
        if "older_than" in filters:
            sagas = sagas.filter(
                started_at__lt=timezone.now() - timedelta(seconds=filters["older_than"]))
        return sagas
