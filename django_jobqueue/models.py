"""No tables: unmanaged models give the admin its index entries ("Queues", "Workers",
"Periodic jobs", "Groups", "Limits") and Django's permissions: ``view_queue`` to see the pages,
``change_queue`` to act."""

from django.db import models


class Queue(models.Model):
    class Meta:
        managed = False
        verbose_name = "queue"
        verbose_name_plural = "queues"
        default_permissions = ("view", "change")


class Worker(models.Model):
    class Meta:
        managed = False
        verbose_name = "worker"
        verbose_name_plural = "workers"
        default_permissions = ()  # the workers page is governed by the Queue permissions


class Periodic(models.Model):
    class Meta:
        managed = False
        verbose_name = "periodic job"
        verbose_name_plural = "periodic jobs"
        default_permissions = ()  # governed by the Queue permissions, as the workers page


class Group(models.Model):
    class Meta:
        managed = False
        verbose_name = "group"
        verbose_name_plural = "groups"
        default_permissions = ()  # governed by the Queue permissions, as the workers page


class Limit(models.Model):
    class Meta:
        managed = False
        verbose_name = "limit"
        verbose_name_plural = "limits"
        default_permissions = ()  # governed by the Queue permissions, as the workers page
