from django.urls import path

from ordersync.submissions import views

app_name = "submissions"
urlpatterns = [
    path("", views.history, name="history"),
    path("<uuid:public_id>/", views.detail, name="detail"),
    path("<uuid:public_id>/original/", views.download_original, name="original"),
    path("<uuid:public_id>/sent/<int:index>/", views.download_part, name="part"),
    path("<uuid:public_id>/<int:pk>/progress/", views.progress, name="progress"),
    path("<uuid:public_id>/<int:pk>/cancel/", views.cancel, name="cancel"),
    path("<uuid:public_id>/<int:pk>/retry/", views.retry, name="retry"),
    path("<uuid:public_id>/<int:pk>/force/", views.force, name="force"),
    path("<uuid:public_id>/<int:pk>/resend/", views.resend, name="resend"),
]
