"""The admin's queue pages mounted on their own: ``path("jobs/", include("django_jobqueue.urls"))``.

They use the default admin site's login, look and permissions."""

from django.contrib import admin

from .admin.routes import page_patterns, periodic_patterns, workers_pattern

app_name = "django_jobqueue"
urlpatterns = [workers_pattern(admin.site, "-/workers/"),
               *periodic_patterns(admin.site, "-/periodic/"), *page_patterns(admin.site)]
