from django.urls import path

from saga.api import SagaList

urlpatterns = [
    path("sagas/", SagaList.as_view(), name="saga-list"),
]
