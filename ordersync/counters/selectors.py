"""Reads for pages and for the uploads app, always limited to what the user may see."""

from __future__ import annotations

from datetime import datetime

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import Count, Q, QuerySet
from django.shortcuts import get_object_or_404
from django.utils import timezone

from ordersync.core.permissions import user_is_admin
from ordersync.counters.models import (
    UPLOAD_PERMISSIONS,
    Counter,
    CounterGrant,
    SavedMapping,
    StatusDictionary,
    YandexAccount,
)

User = AbstractBaseUser | AnonymousUser


def counter_list_for_user(user: User) -> QuerySet[Counter]:
    """Return the counters the user may see: all for admins, granted ones else."""
    counters = Counter.objects.select_related("account")
    if user_is_admin(user):
        return counters
    if not user.is_authenticated or not user.is_active:
        return counters.none()
    granted = Q(grants__user=user) | Q(grants__group__in=user.groups.all())
    return counters.filter(granted, enabled=True).distinct()


def counter_list_for_upload(user: User) -> QuerySet[Counter]:
    """Return the counters the user may upload to right now.

    A counter qualifies when it is granted to the user (or is any counter, for
    admins), enabled, still visible to its account with ``own`` or ``edit``
    permission, and its account's token works.
    """
    return counter_list_for_user(user).filter(
        enabled=True,
        reachable=True,
        permission__in=UPLOAD_PERMISSIONS,
        account__status=YandexAccount.Status.ACTIVE,
    )


def counter_get_for_user(user: User, pk: int) -> Counter:
    """Return one counter the user may see; raise Http404 for anyone else."""
    return get_object_or_404(counter_list_for_user(user), pk=pk)


def counter_get_for_upload(user: User, pk: int) -> Counter:
    """Return a counter the user may upload to now; raise Http404 otherwise."""
    return get_object_or_404(counter_list_for_upload(user), pk=pk)


def user_can_manage_counters(user: User) -> bool:
    """Return whether the user manages accounts, counters and access."""
    return user_is_admin(user)


def grant_list_for_counter(user: User, counter: Counter) -> QuerySet[CounterGrant]:
    """Return a counter's grants; only admins see them."""
    if not user_is_admin(user):
        return CounterGrant.objects.none()
    return counter.grants.select_related("user", "group").order_by(
        "group__name", "user__username"
    )


def grant_get_for_user(user: User, counter: Counter, pk: int) -> CounterGrant:
    """Return one grant of ``counter`` for an admin; raise Http404 otherwise."""
    return get_object_or_404(grant_list_for_counter(user, counter), pk=pk)


def saved_mapping_list(user: User, counter: Counter) -> QuerySet[SavedMapping]:
    """Return the saved column mappings of a counter the user may see."""
    if not counter_list_for_user(user).filter(pk=counter.pk).exists():
        return SavedMapping.objects.none()
    return counter.saved_mappings.all()


def status_dictionary_list(user: User, counter: Counter) -> QuerySet[StatusDictionary]:
    """Return the status dictionaries of a counter the user may see."""
    if not counter_list_for_user(user).filter(pk=counter.pk).exists():
        return StatusDictionary.objects.none()
    return counter.status_dictionaries.all()


def account_list_for_user(user: User) -> QuerySet[YandexAccount]:
    """Return the Yandex accounts the user may see: all for admins, none else."""
    if not user_is_admin(user):
        return YandexAccount.objects.none()
    return YandexAccount.objects.annotate(
        counter_count=Count("counters", filter=Q(counters__enabled=True))
    )


def account_get_for_user(user: User, pk: int) -> YandexAccount:
    """Return one account for an admin; raise Http404 for anyone else."""
    return get_object_or_404(account_list_for_user(user), pk=pk)


def account_needs_attention_count(user: User) -> int:
    """Return how many accounts an admin must re-authorise (0 for others)."""
    if not user_is_admin(user):
        return 0
    return YandexAccount.objects.filter(
        status=YandexAccount.Status.NEEDS_REAUTH
    ).count()


def account_ids_due_for_refresh(now: datetime | None = None) -> list[int]:
    """Return ids of working accounts whose token should be refreshed now."""
    from ordersync.counters.services import token_refresh_due

    now = now or timezone.now()
    accounts = YandexAccount.objects.filter(
        status=YandexAccount.Status.ACTIVE, expires_at__isnull=False
    ).exclude(refresh_token_encrypted="")
    return [a.pk for a in accounts if token_refresh_due(a, now)]
