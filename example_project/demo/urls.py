from django.urls import path

from . import views

urlpatterns = [
    path("", views.index, name="index"),
    path("jobs/", views.start_job, name="start_job"),
    path("jobs/<str:job_id>/status.json", views.job_status, name="job_status"),
    path("tasks/<str:result_id>/status.json", views.task_status, name="task_status"),
]
