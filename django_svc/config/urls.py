from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularJSONAPIView, SpectacularSwaggerView

from config.views import HealthApi, MetricsApi, ReadyApi

urlpatterns = [
    path("api/v1/", include("users.urls")),
    path("health", HealthApi.as_view(), name="health"),
    path("ready", ReadyApi.as_view(), name="ready"),
    path("metrics", MetricsApi.as_view(), name="metrics"),
    path("openapi.json", SpectacularJSONAPIView.as_view(), name="openapi"),
    path("docs", SpectacularSwaggerView.as_view(url_name="openapi"), name="docs"),
    path("admin/", admin.site.urls),
]

handler400 = "api.errors.bad_request"
handler403 = "api.errors.permission_denied"
handler404 = "api.errors.page_not_found"
handler500 = "api.errors.server_error"
