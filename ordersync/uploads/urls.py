from django.urls import path

from ordersync.uploads import views

app_name = "uploads"
urlpatterns = [
    path("", views.upload_list, name="list"),
    path("new/", views.upload_new, name="new"),
    path("<uuid:public_id>/", views.upload_resume, name="resume"),
    path("<uuid:public_id>/file/", views.upload_file, name="file"),
    path("<uuid:public_id>/source/", views.upload_source, name="source"),
    path("<uuid:public_id>/columns/", views.upload_columns, name="columns"),
    path("<uuid:public_id>/options/", views.upload_options, name="options"),
    path("<uuid:public_id>/preview/", views.upload_preview, name="preview"),
    path("<uuid:public_id>/confirm/", views.upload_confirm, name="confirm"),
    path("<uuid:public_id>/progress/", views.upload_progress, name="progress"),
    path("<uuid:public_id>/abandon/", views.upload_abandon, name="abandon"),
    path("<uuid:public_id>/fixes/", views.upload_fixes, name="fixes"),
    path(
        "<uuid:public_id>/download/<str:what>",
        views.upload_download,
        name="download",
    ),
]
