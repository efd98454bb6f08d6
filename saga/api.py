"""The sagas API, for staff: `GET /api/sagas/` lists the coordination state of every saga;
the operator's actions on one saga (acknowledge, retry, compensate, propose a correction,
approve or reject one) each take a Django permission of their own besides `is_staff`."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django_filters import rest_framework as filters
from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.exceptions import PermissionDenied
from rest_framework.permissions import BasePermission, IsAdminUser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from config.api_errors import Conflict, error_response, field_errors, refusal
from config.filtering import StrictFilterSet, WholeNumberFilter
from config.pagination import StrictCursorPagination
from saga import approvals, services
from saga.models import OrderSaga, ReconciliationAction
from saga.proposals import ProposalSerializer
from saga.serializers import (
    ActionSerializer,
    NoteSerializer,
    OptionalNoteSerializer,
    SagaSerializer,
)

TEN_YEARS = 10 * 365 * 86400


class SagaFilter(StrictFilterSet):
    """`?state=&min_gap=&older_than=`; a bad value is a 400 naming the field."""

    state = filters.ChoiceFilter(choices=OrderSaga.State.choices)
    min_gap = WholeNumberFilter(field_name="gap", lookup_expr="gte", min_value=0,
                                max_value=100, help_text="only sagas with gap >= this")
    older_than = WholeNumberFilter(method="started_before", min_value=0, max_value=TEN_YEARS,
                                   help_text="only sagas started more than this many "
                                   "seconds ago")

    class Meta:
        model = OrderSaga
        fields = ["state", "min_gap", "older_than"]

    def started_before(self, sagas: QuerySet[OrderSaga], name: str,
                       seconds: int) -> QuerySet[OrderSaga]:
        return sagas.filter(started_at__lt=timezone.now() - timedelta(seconds=seconds))


class SagaPagination(StrictCursorPagination):
    ordering = ("-started_at", "order_id")


@extend_schema(
    responses={
        200: SagaSerializer(many=True),
        400: field_errors("a filter value is invalid (the field says which)",
                          {"state": ["Select a valid choice. asleep is not one of the "
                                     "available choices."]}),
        **error_response(401),
        403: refusal("not staff", "permission_denied",
                     "You do not have permission to perform this action."),
        404: refusal("a cursor the API did not issue", "not_found", "Invalid cursor"),
    },
)
class SagaList(generics.ListAPIView):
    """Staff: every saga's coordination state, newest first, a cursor page at a time,
    filterable by state, gap, age."""

    serializer_class = SagaSerializer
    permission_classes = [IsAdminUser]
    pagination_class = SagaPagination
    filter_backends = [filters.DjangoFilterBackend]
    filterset_class = SagaFilter
    queryset = OrderSaga.objects.all()


class HasOperatorPermission(BasePermission):
    """The view's `permission` (by HTTP method), on top of `is_staff`."""

    message = "you are staff but lack the permission for this action"

    def has_permission(self, request: Request, view: Any) -> bool:
        needed = view.permission.get(request.method)
        return needed is None or request.user.has_perm(needed)


OPERATE, CANCEL, DECIDE = "saga.operate_saga", "saga.cancel_saga_order", "saga.decide_correction"
_ERRORS = {
    400: field_errors("invalid input (the field says which)",
                      {"note": ["This field is required."]}),
    **error_response(401),
    403: refusal("not staff, or without the action's permission", "permission_denied",
                 "you are staff but lack the permission for this action"),
    404: refusal("no saga (or correction) with this id", "not_found", "Not found."),
    409: refusal("the saga's state does not allow it; `code` says why: `converged`, "
                 "`past_the_pivot`, `does_not_apply`, `stale_proposal`, `not_proposed`",
                 "past_the_pivot", "the order is confirmed: past the pivot"),
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
