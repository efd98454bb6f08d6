"""What an operator sees of the sagas, and what they may do about one.

The list shows every saga's state, desired outcome, gap, step, age and last event. One saga's
page puts each participant's desired and observed state side by side (the events' word and the
participants' own), the order's timeline with causation, its deliveries and the reconciler's
actions. Acting (reconcile now, replay dead deliveries, approve or reject a proposed correction,
cancel before the pivot) takes a permission of its own and is logged with the operator's name.
Needs-attention is never a dead end: an operator acknowledges a saga (with a note), retries its
step, compensates, or proposes a correction for another operator to approve (saga.approvals).
The convergence page draws sagas by state and the total gap over time.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.safestring import SafeString
from django.views.decorators.http import require_POST

from saga import admin_columns as columns
from saga import approvals, services
from saga.admin_pages import convergence_context, saga_page_context
from saga.models import OrderSaga, ReconciliationAction
from saga.proposals import KINDS, ProposalSerializer

PERMISSION = {
    "reconcile": "saga.reconcile_saga",
    "replay": "saga.replay_saga_deliveries",
    "cancel": "saga.cancel_saga_order",
    "acknowledge": "saga.operate_saga",
    "retry": "saga.operate_saga",
    "propose": "saga.operate_saga",
    "approve": "saga.decide_correction",
    "reject": "saga.decide_correction",
}
# What an operator's act may meet; shown to them as the page's error message.
REFUSALS = (services.Converged, services.PastThePivot, services.DoesNotApply,
            approvals.NotProposed, approvals.SelfApproval, approvals.StaleProposal)


class GapFilter(admin.SimpleListFilter):
    title = "gap"
    parameter_name = "gap"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("open", "gap > 0"), ("closed", "gap = 0")]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if self.value() == "open":
            return queryset.filter(gap__gt=0)
        if self.value() == "closed":
            return queryset.filter(gap=0)
        return queryset


class AgeFilter(admin.SimpleListFilter):
    title = "age"
    parameter_name = "age"
    SPANS = {"1m": timedelta(minutes=1), "15m": timedelta(minutes=15), "1h": timedelta(hours=1),
             "1d": timedelta(days=1)}

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(key, f"older than {key}") for key in self.SPANS]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        span = self.SPANS.get(self.value() or "")
        return queryset.filter(started_at__lt=timezone.now() - span) if span else queryset


class NeedsAttentionFilter(admin.SimpleListFilter):
    title = "needs attention"
    parameter_name = "attention"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("yes", "needs attention"), ("proposed", "has a proposed correction")]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if self.value() == "yes":
            return queryset.filter(state=OrderSaga.State.NEEDS_ATTENTION)
        if self.value() == "proposed":
            return queryset.filter(actions__status=ReconciliationAction.Status.PROPOSED).distinct()
        return queryset


@admin.register(OrderSaga)
class OrderSagaAdmin(admin.ModelAdmin):
    list_display = ("order_id", "why", "status", "age", "desired_outcome", "gap",
                    "current_step", "last_event_type", "last_event_at", "links")
    list_display_links = ("order_id",)
    list_filter = ("state", GapFilter, AgeFilter, NeedsAttentionFilter, "desired_outcome")
    search_fields = ("=order_id", "=customer_id")
    ordering = ("-started_at",)
    list_per_page = 50
    show_full_result_count = False  # a count over every order ever placed is not cheap
    change_form_template = "admin/saga/ordersaga/change_form.html"
    actions = ["reconcile_selected"]
    # The page's panels (desired vs observed, why, timeline, actions) come first; these are
    # the links and, folded away, the saga's raw columns.
    fieldsets = [
        ("Links", {"fields": ("status", "links")}),
        ("Raw fields", {"classes": ("collapse",),
                        "fields": [f.name for f in OrderSaga._meta.fields]}),
    ]
    readonly_fields = ("status", "links", *(f.name for f in OrderSaga._meta.fields))

    def get_queryset(self, request: HttpRequest) -> QuerySet[OrderSaga]:
        return columns.with_age(super().get_queryset(request))

    @admin.display(description="why", ordering="attention_reason")
    def why(self, saga: OrderSaga) -> str:
        return saga.attention_reason[:120] or (saga.reason[:120] if saga.reason else "-")

    @admin.display(description="state", ordering="state")
    def status(self, saga: OrderSaga) -> SafeString:
        return columns.state_marker(saga)

    @admin.display(description="age", ordering="age_span")
    def age(self, saga: OrderSaga) -> str:
        return columns.age_text(saga)

    @admin.display(description="links")
    def links(self, saga: OrderSaga) -> SafeString:
        return columns.order_links(saga.order_id, saga.customer_id, this="saga")

    def get_search_results(self, request: HttpRequest, queryset: QuerySet,
                           search_term: str) -> tuple[QuerySet, bool]:
        """A customer is found by username or e-mail too, not only by id."""
        found, duplicates = super().get_search_results(request, queryset, search_term)
        term = search_term.strip()
        if term:
            users = get_user_model().objects.filter(username__iexact=term) | (
                get_user_model().objects.filter(email__iexact=term))
            ids = [str(pk) for pk in users.values_list("pk", flat=True)]
            if ids:
                found = found | queryset.filter(customer_id__in=ids)
        return found, duplicates

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # projected from events, never typed in

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "",
                    extra_context: dict[str, Any] | None = None) -> HttpResponse:
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        saga = get_object_or_404(OrderSaga, order_id=object_id)
        context = {**(extra_context or {}), **saga_page_context(saga),
                   "can": {name: request.user.has_perm(perm) for name, perm in PERMISSION.items()},
                   "correction_kinds": KINDS.values(),
                   "state_marker": columns.state_marker(saga),
                   "saga_links": columns.order_links(saga.order_id, saga.customer_id,
                                                     this="saga")}
        return super().change_view(request, object_id, form_url, extra_context=context)

    @admin.action(description="Reconcile the selected sagas now", permissions=["reconcile"])
    def reconcile_selected(self, request: HttpRequest, queryset: QuerySet[OrderSaga]) -> None:
        for saga in queryset:
            services.reconcile_now(saga.order_id, by=request.user.get_username())
            self.log_change(request, saga, "reconciled now")
        self.message_user(request, f"{queryset.count()} saga(s) reconciled.", messages.SUCCESS)

    def has_reconcile_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(PERMISSION["reconcile"])

    # --- the operator's actions on one saga ----------------------------------------------

    def get_urls(self) -> list:
        own = [
            path("convergence/", self.admin_site.admin_view(self.convergence_view),
                 name="saga_convergence"),
            path("<str:order_id>/act/<str:what>/", self.admin_site.admin_view(self.act_view),
                 name="saga_ordersaga_act"),
            path("<str:order_id>/correction/<int:action_id>/<str:what>/",
                 self.admin_site.admin_view(self.decide_view), name="saga_ordersaga_decide"),
        ]
        return own + super().get_urls()

    def convergence_view(self, request: HttpRequest) -> TemplateResponse:
        if not self.has_view_permission(request):
            return HttpResponse(status=403)
        context = {**self.admin_site.each_context(request), **convergence_context(),
                   "title": "Convergence", "opts": self.model._meta}
        return TemplateResponse(request, "admin/saga/convergence.html", context)

    def _back(self, order_id: str) -> HttpResponseRedirect:
        return HttpResponseRedirect(reverse("admin:saga_ordersaga_change", args=[order_id]))

    def act_view(self, request: HttpRequest, order_id: str, what: str) -> HttpResponse:
        return require_POST(self._act)(request, order_id, what)

    def _act(self, request: HttpRequest, order_id: str, what: str) -> HttpResponse:
        if what not in ("reconcile", "replay", "cancel", "acknowledge", "retry", "propose"):
            return HttpResponse(status=404)
        if not request.user.has_perm(PERMISSION[what]):
            return HttpResponse("you may not do this", status=403)
        saga = get_object_or_404(OrderSaga, order_id=order_id)
        try:
            note = self._carry_out(request, order_id, what)
        except REFUSALS as exc:
            self.message_user(request, str(exc), messages.ERROR)
            return self._back(order_id)
        if note is None:
            return self._back(order_id)  # the form's errors are shown already
        self.log_change(request, saga, note)
        self.message_user(request, f"{note}.", messages.SUCCESS)
        return self._back(order_id)

    def _carry_out(self, request: HttpRequest, order_id: str, what: str) -> str | None:
        by, text = request.user.get_username(), request.POST.get("note", "").strip()
        if what == "reconcile":
            outcome = services.reconcile_now(order_id, by=by)
            return f"reconciled now: {len(outcome.actions) if outcome else 0} action(s)"
        if what == "replay":
            return f"replayed {services.replay_dead_deliveries(order_id, by=by)} dead deliveries"
        if what == "cancel":
            services.compensate(order_id, by=by, note=request.POST.get("reason", "") or text)
            return "asked the orders context to cancel the order"
        if what == "acknowledge":
            if not text:
                self.message_user(request, "Acknowledging takes a note.", messages.ERROR)
                return None
            services.acknowledge(order_id, by=by, note=text[:1000])
            return f"acknowledged: {text[:1000]}"
        if what == "retry":
            done = services.retry_step(order_id, by=by, note=text[:1000])
            return f"retried the step: {len(done)} action(s)"
        proposal = ProposalSerializer(data={
            "kind": request.POST.get("kind", ""), "note": text,
            "params": {k: v for k in ("charge_id", "amount")
                       if (v := request.POST.get(k, "").strip())}})
        if not proposal.is_valid():
            self.message_user(request, f"Not proposed: {proposal.errors}", messages.ERROR)
            return None
        action = services.propose_correction(order_id, by=by, **proposal.validated_data)
        return f"proposed correction #{action.id} ({action.kind})"

    def decide_view(self, request: HttpRequest, order_id: str, action_id: int,
                    what: str) -> HttpResponse:
        return require_POST(self._decide)(request, order_id, action_id, what)

    def _decide(self, request: HttpRequest, order_id: str, action_id: int,
                what: str) -> HttpResponse:
        if what not in ("approve", "reject"):
            return HttpResponse(status=404)
        if not request.user.has_perm(PERMISSION[what]):
            return HttpResponse("you may not do this", status=403)
        action = get_object_or_404(ReconciliationAction, id=action_id, saga_id=order_id)
        decide = services.approve_correction if what == "approve" else services.reject_correction
        try:
            decide(action.id, by=request.user.get_username(),
                   note=request.POST.get("note", "").strip()[:1000])
        except approvals.StaleProposal as exc:
            # The approval was decided (the proposal is now stale), so it is logged like one.
            self.log_change(request, action.saga, f"approved correction #{action.id} "
                            f"({action.kind}): refused as stale, nothing sent")
            self.message_user(request, str(exc), messages.ERROR)
            return self._back(order_id)
        except REFUSALS as exc:
            self.message_user(request, str(exc), messages.ERROR)
            return self._back(order_id)
        done = {"approve": "approved", "reject": "rejected"}[what]
        self.log_change(request, action.saga, f"{done} correction #{action.id} ({action.kind})")
        self.message_user(request, f"Correction #{action.id} {done}.", messages.SUCCESS)
        return self._back(order_id)


@admin.register(ReconciliationAction)
class ReconciliationActionAdmin(admin.ModelAdmin):
    list_display = ("id", "saga", "kind", "status", "actor", "created_at", "decided_by",
                    "reason")
    list_filter = ("status", "kind", "actor")
    search_fields = ("=saga__order_id",)
    readonly_fields = [f.name for f in ReconciliationAction._meta.fields]
    list_select_related = ("saga",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
