"""List filters of the REST API (django-filter), strict about their values.

django-filter reads a filter given empty (`?status=`) as absent and lists everything; here it
is refused like any other bad value, so a client never gets an unfiltered list by mistake. A
bad value is a 400 `invalid` naming the field (DjangoFilterBackend raises DRF's
ValidationError with the form's messages); an unknown parameter is ignored, as DRF does.
"""

from __future__ import annotations

from django import forms
from django_filters import rest_framework as filters

EMPTY_VALUE = "Give a value, or leave this filter out."


class StrictFilterSet(filters.FilterSet):
    def is_valid(self) -> bool:
        valid = super().is_valid()
        for name in self.filters:
            if self.data.get(name) == "" and name not in self.form.errors:
                self.form.add_error(name, EMPTY_VALUE)
                valid = False
        return valid


class WholeNumberFilter(filters.NumberFilter):
    """A number filter for whole numbers: `1.5` is refused, not rounded."""

    field_class = forms.IntegerField
