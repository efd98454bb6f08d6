"""The sagas API, for staff: `GET /api/sagas/` lists the coordination state of every saga;
the operator's actions on one saga (acknowledge, retry, compensate, propose a correction,
approve or reject one) each take a Django permission of their own besides `is_staff`."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.exceptions import APIException, PermissionDenied, ValidationError
from rest_framework.permissions import BasePermission, IsAdminUser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from saga import approvals, services
from saga.models import OrderSaga, ReconciliationAction
from saga.proposals import ProposalSerializer
from saga.serializers import (
    ActionSerializer,
    NoteSerializer,
    OptionalNoteSerializer,
    SagaFilterSerializer,
    SagaSerializer,
)


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


class Conflict(APIException):
    """The saga's state does not allow the action (converged, past the pivot, stale...)."""

    status_code = status.HTTP_409_CONFLICT
    default_detail = "the saga's state does not allow this"
    default_code = "conflict"


class HasOperatorPermission(BasePermission):
    """The view's `permission` (by HTTP method), on top of `is_staff`."""

    message = "you are staff but lack the permission for this action"

    def has_permission(self, request: Request, view: Any) -> bool:
        needed = view.permission.get(request.method)
        return needed is None or request.user.has_perm(needed)


OPERATE, CANCEL, DECIDE = "saga.operate_saga", "saga.cancel_saga_order", "saga.decide_correction"
_ERRORS = {
    400: OpenApiResponse(description="invalid input (the field says which)"),
    401: OpenApiResponse(description="no credentials"),
    403: OpenApiResponse(description="not staff, or without the action's permission"),
    404: OpenApiResponse(description="no saga (or correction) with this id"),
    409: OpenApiResponse(description="the saga's state does not allow it (converged, past the "
                         "pivot, the correction no longer applies); `detail` says why"),
}


CONFLICTS: dict[type[Exception], str] = {
    services.Converged: "converged", services.PastThePivot: "past_the_pivot",
    services.DoesNotApply: "does_not_apply", approvals.StaleProposal: "stale_proposal",
    approvals.NotProposed: "not_proposed",
}


class OperatorAction(APIView):
    permission_classes = [IsAdminUser, HasOperatorPermission]
    permission: dict[str, str] = {}

    def saga(self, order_id: str) -> OrderSaga:
        return get_object_or_404(OrderSaga, order_id=order_id)

    def note(self, request: Request, required: bool = False) -> str:
        form = (NoteSerializer if required else OptionalNoteSerializer)(data=request.data)
        form.is_valid(raise_exception=True)
        return form.validated_data["note"]

    def handle_exception(self, exc: Exception) -> Response:
        conflict = CONFLICTS.get(type(exc))
        if conflict:
            exc = Conflict(str(exc), code=conflict)
        elif isinstance(exc, approvals.SelfApproval):
            exc = PermissionDenied(str(exc), code="self_approval")
        return super().handle_exception(exc)


@extend_schema(request=NoteSerializer, responses={201: ActionSerializer, **_ERRORS})
class SagaAcknowledge(OperatorAction):
    """Staff with `saga.operate_saga`: acknowledge a saga that needs attention, with a note."""

    permission = {"POST": OPERATE}

    def post(self, request: Request, order_id: str) -> Response:
        self.saga(order_id)
        action = services.acknowledge(order_id, by=request.user.get_username(),
                                      note=self.note(request, required=True))
        return Response(ActionSerializer(action).data, status=status.HTTP_201_CREATED)


@extend_schema(request=OptionalNoteSerializer, responses={200: ActionSerializer(many=True),
                                                          **_ERRORS})
class SagaRetry(OperatorAction):
    """Staff with `saga.operate_saga`: retry the saga's current step now (its retries start
    again); answers what was done or proposed (a charge waits for another's approval)."""

    permission = {"POST": OPERATE}

    def post(self, request: Request, order_id: str) -> Response:
        self.saga(order_id)
        done = services.retry_step(order_id, by=request.user.get_username(),
                                   note=self.note(request))
        return Response(ActionSerializer([a for a in done if a.pk], many=True).data)


@extend_schema(request=OptionalNoteSerializer, responses={202: ActionSerializer, **_ERRORS})
class SagaCompensate(OperatorAction):
    """Staff with `saga.cancel_saga_order`: cancel the order with the normal compensations;
    only before the pivot (409 once it is confirmed)."""

    permission = {"POST": CANCEL}

    def post(self, request: Request, order_id: str) -> Response:
        self.saga(order_id)
        action = services.compensate(order_id, by=request.user.get_username(),
                                     note=self.note(request))
        return Response(ActionSerializer(action).data, status=status.HTTP_202_ACCEPTED)


class SagaCorrections(OperatorAction):
    """A saga's reconciliation actions (staff), and proposing a correction (staff with
    `saga.operate_saga`)."""

    permission = {"POST": OPERATE}

    @extend_schema(responses={200: ActionSerializer(many=True), **_ERRORS})
    def get(self, request: Request, order_id: str) -> Response:
        saga = self.saga(order_id)
        return Response(ActionSerializer(saga.actions.order_by("-id")[:200], many=True).data)

    @extend_schema(request=ProposalSerializer, responses={201: ActionSerializer, **_ERRORS})
    def post(self, request: Request, order_id: str) -> Response:
        self.saga(order_id)
        proposal = ProposalSerializer(data=request.data)
        proposal.is_valid(raise_exception=True)
        action = services.propose_correction(order_id, by=request.user.get_username(),
                                             **proposal.validated_data)
        return Response(ActionSerializer(action).data, status=status.HTTP_201_CREATED)


class CorrectionDecision(OperatorAction):
    permission = {"POST": DECIDE}
    decide = staticmethod(services.approve_correction)

    def post(self, request: Request, order_id: str, action_id: int) -> Response:
        action = get_object_or_404(ReconciliationAction, id=action_id, saga_id=order_id)
        decided = self.decide(action.id, by=request.user.get_username(), note=self.note(request))
        return Response(ActionSerializer(decided).data)


@extend_schema(request=OptionalNoteSerializer, responses={200: ActionSerializer, **_ERRORS})
class CorrectionApprove(CorrectionDecision):
    """Staff with `saga.decide_correction`: approve a proposed correction. Its proposer may
    not approve a money-moving one (403); the saga is observed again first, and a proposal
    it no longer needs as proposed is refused (409) and marked stale, nothing sent."""

    decide = staticmethod(services.approve_correction)


@extend_schema(request=OptionalNoteSerializer, responses={200: ActionSerializer, **_ERRORS})
class CorrectionReject(CorrectionDecision):
    """Staff with `saga.decide_correction`: reject a proposed correction (the saga then
    needs attention)."""

    decide = staticmethod(services.reject_correction)
