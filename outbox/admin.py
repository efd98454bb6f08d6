"""What an operator inspects: the event store and the deliveries (with dead letters)."""

from __future__ import annotations

import json
from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from outbox import deadletters
from outbox.models import Delivery, Event


class DeliveryInline(admin.TabularInline):
    model = Delivery
    extra = 0
    can_delete = False
    fields = ("handler", "status", "attempts", "next_attempt_at", "done_at", "short_error")
    readonly_fields = fields

    @admin.display(description="last error")
    def short_error(self, obj: Delivery) -> str:
        lines = (obj.last_error or "").strip().splitlines()
        return lines[-1] if lines else ""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Event)
class EventAdmin(admin.ModelAdmin):
    list_display = ("id", "event_type", "stream_type", "stream_id", "version", "correlation_id",
                    "recorded_at")
    list_filter = ("stream_type", "event_type")
    search_fields = ("=correlation_id", "=stream_id")
    readonly_fields = ("id", "stream_type", "stream_id", "version", "event_type", "schema_version",
                       "pretty_payload", "pretty_metadata", "correlation_id", "recorded_at")
    exclude = ("payload", "metadata")
    inlines = [DeliveryInline]
    list_per_page = 50

    @admin.display(description="payload")
    def pretty_payload(self, obj: Event) -> str:
        return format_html("<pre>{}</pre>", json.dumps(obj.payload, indent=2))

    @admin.display(description="metadata")
    def pretty_metadata(self, obj: Event) -> str:
        return format_html("<pre>{}</pre>", json.dumps(obj.metadata, indent=2))

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # append-only

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    list_display = ("id", "handler", "event_type", "status", "attempts", "next_attempt_at",
                    "created_at", "done_at", "short_error")
    list_filter = ("status", "handler", "event__event_type", "queue")
    search_fields = ("=event__correlation_id", "=event__id")
    list_select_related = ("event",)
    readonly_fields = ("event_link", "handler", "queue", "status", "attempts", "next_attempt_at",
                       "created_at", "done_at", "error", "payload")
    exclude = ("event", "last_error")
    actions = ["replay_dead"]
    list_per_page = 50

    @admin.display(description="event type", ordering="event__event_type")
    def event_type(self, obj: Delivery) -> str:
        return obj.event.event_type

    @admin.display(description="event")
    def event_link(self, obj: Delivery) -> str:
        url = reverse("admin:outbox_event_change", args=[obj.event_id])
        return format_html('<a href="{}">{}</a>', url, obj.event)

    @admin.display(description="last error")
    def short_error(self, obj: Delivery) -> str:
        lines = (obj.last_error or "").strip().splitlines()
        return lines[-1][:120] if lines else ""

    @admin.display(description="last error (full)")
    def error(self, obj: Delivery) -> str:
        return format_html("<pre>{}</pre>", obj.last_error)

    @admin.display(description="event payload")
    def payload(self, obj: Delivery) -> str:
        return format_html("<pre>{}</pre>", json.dumps(obj.event.payload, indent=2))

    @admin.action(description="Replay selected dead deliveries", permissions=["replay"])
    def replay_dead(self, request: HttpRequest, queryset: QuerySet[Delivery]) -> None:
        dead = list(queryset.filter(status=Delivery.Status.DEAD))
        count = deadletters.replay(queryset)
        for row in dead:
            self.log_change(request, row, "replayed dead delivery")
        self.message_user(request, f"{count} dead deliveries sent again.", messages.SUCCESS)

    def has_replay_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("outbox.replay_delivery")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
