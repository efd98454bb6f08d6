from django.urls import path

from saga.api import (
    CorrectionApprove,
    CorrectionReject,
    SagaAcknowledge,
    SagaCompensate,
    SagaCorrections,
    SagaList,
    SagaRetry,
)

urlpatterns = [
    path("sagas/", SagaList.as_view(), name="saga-list"),
    path("sagas/<str:order_id>/acknowledge/", SagaAcknowledge.as_view(), name="saga-acknowledge"),
    path("sagas/<str:order_id>/retry/", SagaRetry.as_view(), name="saga-retry"),
    path("sagas/<str:order_id>/compensate/", SagaCompensate.as_view(), name="saga-compensate"),
    path("sagas/<str:order_id>/corrections/", SagaCorrections.as_view(),
         name="saga-corrections"),
    path("sagas/<str:order_id>/corrections/<int:action_id>/approve/",
         CorrectionApprove.as_view(), name="saga-correction-approve"),
    path("sagas/<str:order_id>/corrections/<int:action_id>/reject/",
         CorrectionReject.as_view(), name="saga-correction-reject"),
]
