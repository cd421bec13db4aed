from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

urlpatterns = [
    path("", include("ordersync.core.urls")),
    path("counters/", include("ordersync.counters.urls")),
    path("history/", include("ordersync.submissions.urls")),
    path("uploads/", include("ordersync.uploads.urls")),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
]

handler403 = "ordersync.core.views.permission_denied"
handler404 = "ordersync.core.views.page_not_found"
handler500 = "ordersync.core.views.server_error"
