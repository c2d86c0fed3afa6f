"""URLs of the Django test project: the admin, and the same pages mounted on their own."""

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("jobqueue/", include("django_jobqueue.urls")),
]
