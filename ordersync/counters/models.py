from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import Group
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from ordersync.counters import crypto

UPLOAD_PERMISSIONS = ("own", "edit")
UPLOAD_SCOPES = ("metrika:offline_data", "metrika:write")
READ_SCOPES = ("metrika:read", "metrika:write")


class YandexAccount(models.Model):
    """A Yandex account whose OAuth token OrderSync uses; tokens are encrypted."""

    class Status(models.TextChoices):
        ACTIVE = "active", _("Active")
        NEEDS_REAUTH = "needs_reauth", _("Needs re-authorisation")
        DISCONNECTED = "disconnected", _("Disconnected")

    class Source(models.TextChoices):
        OAUTH = "oauth", _("Connected through Yandex")
        MANUAL = "manual", _("Pasted by hand")

    uid = models.CharField(_("Yandex uid"), max_length=64, unique=True)
    login = models.CharField(_("login"), max_length=255)
    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.ACTIVE
    )
    source = models.CharField(_("source"), max_length=8, choices=Source.choices)
    access_token_encrypted = models.TextField(blank=True, editable=False)
    refresh_token_encrypted = models.TextField(blank=True, editable=False)
    token_fingerprint = models.CharField(_("token fingerprint"), max_length=16)
    # None when Yandex did not say (pasted tokens).
    scopes = models.JSONField(_("scopes"), null=True, blank=True)
    expires_at = models.DateTimeField(_("token expires"), null=True, blank=True)
    token_obtained_at = models.DateTimeField(_("token obtained"), default=timezone.now)
    # A worker owns the refresh until this moment; see services.account_refresh_token.
    refresh_lease_until = models.DateTimeField(null=True, blank=True, editable=False)
    last_success_at = models.DateTimeField(_("last successful call"), null=True)
    last_checked_at = models.DateTimeField(_("last checked"), null=True, blank=True)
    last_error = models.CharField(_("last error"), max_length=500, blank=True)
    counters_reachable = models.PositiveIntegerField(
        _("counters reachable"), null=True, blank=True
    )
    connected_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("connected by"),
    )
    connected_at = models.DateTimeField(_("connected"), default=timezone.now)

    class Meta:
        verbose_name = _("Yandex account")
        verbose_name_plural = _("Yandex accounts")
        ordering = ["login"]

    def __str__(self) -> str:
        return self.login

    @property
    def masked_token(self) -> str:
        """Return a tag that tells tokens apart without revealing them."""
        return f"sha256:{self.token_fingerprint}" if self.token_fingerprint else "—"

    @property
    def has_refresh_token(self) -> bool:
        return bool(self.refresh_token_encrypted)

    @property
    def can_upload_scope(self) -> bool | None:
        """Return whether the token may upload; None when its scopes are unknown."""
        if self.scopes is None:
            return None
        return bool(set(self.scopes) & set(UPLOAD_SCOPES))

    def access_token(self) -> str:
        """Return the decrypted access token; raise TokenDecryptError."""
        return crypto.decrypt(self.access_token_encrypted)

    def refresh_token(self) -> str:
        """Return the decrypted refresh token ("" when none)."""
        if not self.refresh_token_encrypted:
            return ""
        return crypto.decrypt(self.refresh_token_encrypted)


class Counter(models.Model):
    """A Metrika counter OrderSync may upload to, with its upload defaults."""

    class MergeMode(models.TextChoices):
        SAVE = (
            "SAVE",
            _(
                "Save: each order in the file replaces what Metrika stores for it; "
                "fields left out become empty"
            ),
        )
        UPDATE = "UPDATE", _("Update: only the fields in the file change")
        APPEND = "APPEND", _("Append: list values are added to those Metrika stores")

    account = models.ForeignKey(
        YandexAccount,
        on_delete=models.PROTECT,
        related_name="counters",
        verbose_name=_("Yandex account"),
    )
    metrika_id = models.BigIntegerField(_("Metrika counter id"))
    name = models.CharField(_("name"), max_length=255)
    site = models.CharField(_("site"), max_length=255, blank=True)
    time_zone_name = models.CharField(_("time zone"), max_length=64)
    permission = models.CharField(_("permission"), max_length=16)
    # False when the account no longer sees the counter at the last sync.
    reachable = models.BooleanField(_("visible to the account"), default=True)
    # Removed counters stay for the upload history and can be added again.
    enabled = models.BooleanField(_("enabled"), default=True)
    default_merge_mode = models.CharField(
        _("default merge mode"),
        max_length=8,
        choices=MergeMode.choices,
        default=MergeMode.SAVE,
    )
    hash_personal_data = models.BooleanField(
        _("hash e-mails and phones before sending"), default=True
    )
    default_phone_region = models.CharField(
        _("default phone region"), max_length=2, default="RU"
    )
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("added by"),
    )
    added_at = models.DateTimeField(_("added"), default=timezone.now)
    synced_at = models.DateTimeField(_("synchronised"), default=timezone.now)

    class Meta:
        verbose_name = _("counter")
        verbose_name_plural = _("counters")
        ordering = ["name", "metrika_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["account", "metrika_id"], name="counter_unique_per_account"
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.metrika_id})"

    @property
    def permission_allows_upload(self) -> bool:
        return self.permission in UPLOAD_PERMISSIONS

    @property
    def can_upload(self) -> bool:
        """Return whether uploads may go to this counter right now."""
        return (
            self.enabled
            and self.reachable
            and self.permission_allows_upload
            and self.account.status == YandexAccount.Status.ACTIVE
            and self.account.can_upload_scope is not False
        )


class CounterGrant(models.Model):
    """Lets one user, or every member of one group, upload to a counter."""

    counter = models.ForeignKey(
        Counter, on_delete=models.CASCADE, related_name="grants"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="counter_grants",
        verbose_name=_("user"),
    )
    group = models.ForeignKey(
        Group,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="counter_grants",
        verbose_name=_("group"),
    )
    granted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("granted"), auto_now_add=True)

    class Meta:
        verbose_name = _("counter access")
        verbose_name_plural = _("counter access")
        constraints = [
            models.CheckConstraint(
                condition=Q(user__isnull=False, group__isnull=True)
                | Q(user__isnull=True, group__isnull=False),
                name="grant_user_xor_group",
            ),
            models.UniqueConstraint(
                fields=["counter", "user"],
                condition=Q(user__isnull=False),
                name="grant_unique_user",
            ),
            models.UniqueConstraint(
                fields=["counter", "group"],
                condition=Q(group__isnull=False),
                name="grant_unique_group",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.counter}: {self.grantee}"

    @property
    def grantee(self) -> str:
        if self.user_id:
            return self.user.get_username()
        return str(_("group %(name)s") % {"name": self.group.name})


class CounterNamedItem(models.Model):
    """Something a counter keeps under a name for the upload wizard to reuse."""

    counter = models.ForeignKey(Counter, on_delete=models.CASCADE)
    name = models.CharField(_("name"), max_length=100)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        abstract = True
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class SavedMapping(CounterNamedItem):
    """A named column mapping of a counter, saved by the upload wizard."""

    counter = models.ForeignKey(
        Counter, on_delete=models.CASCADE, related_name="saved_mappings"
    )
    mapping = models.JSONField(_("mapping"), default=dict)

    class Meta(CounterNamedItem.Meta):
        verbose_name = _("saved column mapping")
        verbose_name_plural = _("saved column mappings")
        constraints = [
            models.UniqueConstraint(
                fields=["counter", "name"], name="saved_mapping_unique_name"
            )
        ]


class StatusDictionary(CounterNamedItem):
    """A named translation of CRM statuses into Metrika's order statuses."""

    counter = models.ForeignKey(
        Counter, on_delete=models.CASCADE, related_name="status_dictionaries"
    )
    # {"Оплачен": "PAID", "Отменён": "CANCELLED", ...}
    statuses = models.JSONField(_("statuses"), default=dict)

    class Meta(CounterNamedItem.Meta):
        verbose_name = _("status dictionary")
        verbose_name_plural = _("status dictionaries")
        constraints = [
            models.UniqueConstraint(
                fields=["counter", "name"], name="status_dictionary_unique_name"
            )
        ]


class AccountCall(models.Model):
    """One HTTP call made to Yandex for an account (not for an upload).

    Checks, counter lists, token exchanges and refreshes; uploads keep their own
    attempt rows. Only what support needs: no tokens and no response bodies.
    """

    account = models.ForeignKey(
        YandexAccount,
        on_delete=models.CASCADE,
        related_name="calls",
        verbose_name=_("Yandex account"),
    )
    operation = models.CharField(_("operation"), max_length=32)
    method = models.CharField(_("method"), max_length=8)
    path = models.CharField(_("address"), max_length=300)
    started_at = models.DateTimeField(_("started"))
    duration = models.FloatField(_("duration, s"))
    status_code = models.PositiveSmallIntegerField(_("status"), null=True, blank=True)
    error_type = models.CharField(_("error"), max_length=64, blank=True)
    error_message = models.CharField(_("message"), max_length=500, blank=True)

    class Meta:
        verbose_name = _("call to Yandex")
        verbose_name_plural = _("calls to Yandex")
        ordering = ["-started_at", "-id"]
        indexes = [models.Index(fields=["account", "-started_at"])]

    def __str__(self) -> str:
        return f"{self.operation} {self.status_code or '—'}"

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and self.status_code < 300
