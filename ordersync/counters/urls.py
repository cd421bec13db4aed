from django.urls import path

from ordersync.counters import views

app_name = "counters"
urlpatterns = [
    path("", views.counter_list, name="counter_list"),
    path("<int:pk>/", views.counter_detail, name="counter_detail"),
    path("<int:pk>/settings/", views.counter_settings, name="counter_settings"),
    path("<int:pk>/remove/", views.counter_remove, name="counter_remove"),
    path("<int:pk>/access/", views.grant_create, name="grant_create"),
    path(
        "<int:pk>/access/<int:grant_pk>/remove/",
        views.grant_delete,
        name="grant_delete",
    ),
    path("accounts/", views.account_list, name="account_list"),
    path("accounts/connect/", views.account_connect, name="account_connect"),
    path("accounts/callback/", views.oauth_callback, name="oauth_callback"),
    path("accounts/paste/", views.account_paste, name="account_paste"),
    path("accounts/<int:pk>/", views.account_detail, name="account_detail"),
    path("accounts/<int:pk>/check/", views.account_check, name="account_check"),
    path("accounts/<int:pk>/import/", views.account_import, name="account_import"),
    path("accounts/<int:pk>/sync/", views.account_sync, name="account_sync"),
    path(
        "accounts/<int:pk>/disconnect/",
        views.account_disconnect,
        name="account_disconnect",
    ),
]
