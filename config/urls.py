from django.contrib import admin
from django.contrib.staticfiles.urls import staticfiles_urlpatterns
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from accounts.throttles import throttled_admin_login
from config.health import healthz, livez
from saga.metrics import metrics_view

# With DEBUG off, an exception outside any view is answered in JSON too.
handler500 = "config.server_errors.handler500"
handler404 = "config.api_errors.handler404"

urlpatterns = [
    # Before the admin's own URLs: its login form with the POSTs throttled per address.
    path("admin/login/", throttled_admin_login, name="admin-login"),
    path("admin/", admin.site.urls),
    path("healthz", healthz, name="healthz"),
    path("livez", livez, name="livez"),
    path("metrics", metrics_view, name="metrics"),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/schema/ui/", SpectacularSwaggerView.as_view(url_name="schema"), name="schema-ui"),
    path("api/", include("config.api_urls")),
]
# The admin's CSS and JS under gunicorn in development (scripts/run); empty unless DEBUG.
urlpatterns += staticfiles_urlpatterns()
