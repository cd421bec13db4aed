from django.urls import path

from ordersync.core import views

app_name = "core"
urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("health/", views.health, name="health"),
    path("audit/", views.audit_log, name="audit_log"),
]
