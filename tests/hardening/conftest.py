"""A victim with data, outsiders around it, and the emulator standing in for Yandex.

The victim is a marketer granted one counter; everything below belongs to them:
a checked upload waiting in the wizard, a sent upload with its submission, saved
mappings, status values, audit rows. The outsiders are a marketer granted another
counter of the same Yandex account and a marketer granted nothing.
"""

import io

import pytest
from django.core.files.base import ContentFile

CANARY = "y0_HARDENING_CANARY_TOKEN_b7d1e4f09a3c"
CANARY_REFRESH = "1:HARDENING_CANARY_REFRESH_5e2a8c"
CLIENT_ID = "ordersync-hardening"
CLIENT_SECRET = "CLIENT_SECRET_HARDENING_c41f"
VICTIM_COUNTER_ID = 411
OTHER_COUNTER_ID = 412
# Strings that only the victim's data contains: a body showing one of them to an
# outsider is a leak.
VICTIM_FILE = "victim-orders-Qx7.csv"
VICTIM_COUNTER = "VictimShopZr9"
VICTIM_EMAIL = "victim.customer.k3@example.com"
VICTIM_MAPPING = "VictimMappingWp2"
VICTIM_CSV = (
    "id,create_date_time,emails,phones,order_status,revenue\n"
    f"v-1,2024-01-05 10:00:00,{VICTIM_EMAIL},+79001234567,PAID,100\n"
    "v-2,2024-01-06 11:00:00,not-an-email,+79001234568,PAID,200\n"
)
SENT_CSV = (
    "id,create_date_time,client_ids,order_status,revenue\n"
    "v-1,2024-01-05 10:00:00,1001,PAID,100\n"
)

SEED = {
    "settings": {"parallel_limit": 3, "rps_per_ip": None},
    "oauth_clients": [
        {
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "name": "OrderSync hardening",
            "redirect_uris": [],
            "scopes": ["metrika:read", "metrika:offline_data"],
            "token_ttl": 31536000,
        }
    ],
    "accounts": [{"login": "victim-agency", "uid": "8101"}],
    "tokens": [
        {
            "access_token": CANARY,
            "login": "victim-agency",
            "client_id": CLIENT_ID,
            "scopes": ["metrika:read", "metrika:offline_data"],
            "refresh_token": CANARY_REFRESH,
        }
    ],
    "counters": [
        {
            "id": VICTIM_COUNTER_ID,
            "name": VICTIM_COUNTER,
            "site": "victim.example",
            "time_zone_name": "Europe/Moscow",
            "owner_login": "victim-agency",
        },
        {
            "id": OTHER_COUNTER_ID,
            "name": "Neighbour",
            "site": "neighbour.example",
            "time_zone_name": "Europe/Moscow",
            "owner_login": "victim-agency",
        },
    ],
}


@pytest.fixture
def emulator_seed():
    return SEED


@pytest.fixture(autouse=True)
def _isolated_files(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.FILE_UPLOAD_TEMP_DIR = str(tmp_path / "upload-tmp")
    (tmp_path / "upload-tmp").mkdir()
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.METRIKA_CONNECT_TIMEOUT = 2
    settings.METRIKA_READ_TIMEOUT = 5


def _marketer(django_user_model, username: str):
    from django.contrib.auth.models import Group

    user = django_user_model.objects.create_user(
        username=username, password=f"pw-{username}-123456"
    )
    user.groups.add(Group.objects.get_or_create(name="Marketers")[0])
    return user


def make_account(token: str = CANARY, refresh: str = CANARY_REFRESH):
    from django.utils import timezone

    from ordersync.counters import crypto
    from ordersync.counters.models import YandexAccount
    from ordersync.metrika.types import token_fingerprint

    return YandexAccount.objects.create(
        uid="8101",
        login="victim-agency",
        source=YandexAccount.Source.OAUTH,
        access_token_encrypted=crypto.encrypt(token),
        refresh_token_encrypted=crypto.encrypt(refresh),
        token_fingerprint=token_fingerprint(token),
        scopes=["metrika:read", "metrika:offline_data"],
        expires_at=timezone.now() + timezone.timedelta(days=300),
    )


class World:
    """Named objects of the scene, for building URLs and checking bodies."""

    def __init__(self, **objects):
        self.__dict__.update(objects)


@pytest.fixture
def world(db, django_user_model, admin_user, emulator):
    from django.contrib.auth.models import Group
    from django.utils import timezone

    from ordersync.core.models import AuditEvent, HealthPing
    from ordersync.counters.models import (
        Counter,
        CounterGrant,
        SavedMapping,
        StatusDictionary,
    )
    from ordersync.submissions.models import (
        Submission,
        SubmissionEvent,
        SubmissionPart,
    )
    from ordersync.uploads.models import Upload, UploadPart, UploadProblem

    victim = _marketer(django_user_model, "victim-marketer")
    neighbour = _marketer(django_user_model, "neighbour-marketer")
    ungranted = _marketer(django_user_model, "ungranted-marketer")
    account = make_account()
    counter = Counter.objects.create(
        account=account,
        metrika_id=VICTIM_COUNTER_ID,
        name=VICTIM_COUNTER,
        site="victim.example",
        time_zone_name="Europe/Moscow",
        permission="own",
    )
    neighbour_counter = Counter.objects.create(
        account=account,
        metrika_id=OTHER_COUNTER_ID,
        name="Neighbour",
        site="neighbour.example",
        time_zone_name="Europe/Moscow",
        permission="own",
    )
    grant = CounterGrant.objects.create(counter=counter, user=victim)
    CounterGrant.objects.create(counter=neighbour_counter, user=neighbour)
    mapping = {
        "fields": {
            "id": ["id"],
            "create_date_time": ["create_date_time"],
            "emails": ["emails"],
            "phones": ["phones"],
            "order_status": ["order_status"],
            "revenue": ["revenue"],
        },
        "constants": {},
        "confidence": {},
    }
    saved = SavedMapping.objects.create(
        counter=counter, name=VICTIM_MAPPING, mapping=mapping, created_by=victim
    )
    dictionary = StatusDictionary.objects.create(
        counter=counter, name="Victim statuses", statuses={"Оплачен": "PAID"}
    )

    draft = Upload(
        counter=counter,
        created_by=victim,
        original_name=VICTIM_FILE,
        status=Upload.Status.READY,
        step=Upload.Step.PREVIEW,
        kind="csv",
        encoding="utf-8",
        delimiter=",",
        header_row=1,
        columns=list(mapping["fields"]),
        source_preview=[[2, VICTIM_CSV.splitlines()[1].split(",")]],
        mapping=mapping,
        rows_total=2,
        rows_valid=1,
        rows_invalid=1,
        counts_by_code={"email_invalid": 1},
        problems_kept=1,
        output_columns=["id", "create_date_time", "emails_md5"],
        output_preview=[{"row": 2, "values": ["v-1", "x", VICTIM_EMAIL]}],
    )
    draft.original_file.save("source", ContentFile(VICTIM_CSV.encode()), save=False)
    draft.problems_csv.save(
        "problems.csv", ContentFile(VICTIM_CSV.encode()), save=False
    )
    draft.problems_xlsx.save(
        "problems.xlsx", ContentFile(_xlsx([["email", VICTIM_EMAIL]])), save=False
    )
    draft.save()
    part = UploadPart(upload=draft, index=0, size_bytes=len(SENT_CSV), rows=1)
    part.file.save("part.csv", ContentFile(SENT_CSV.encode()), save=False)
    part.save()
    UploadProblem.objects.create(
        upload=draft,
        row=3,
        column="emails",
        field="emails",
        value=VICTIM_EMAIL,
        code="email_invalid",
        severity="error",
    )

    sent = Upload(
        counter=counter,
        created_by=victim,
        original_name=VICTIM_FILE,
        status=Upload.Status.CONFIRMED,
        step=Upload.Step.CONFIRM,
        mapping=mapping,
        rows_total=1,
        rows_valid=1,
        confirmed_at=timezone.now(),
        confirmed_by=victim,
    )
    sent.original_file.save("source", ContentFile(VICTIM_CSV.encode()), save=False)
    sent.save()
    sent_part = UploadPart(upload=sent, index=0, size_bytes=len(SENT_CSV), rows=1)
    sent_part.file.save("part.csv", ContentFile(SENT_CSV.encode()), save=False)
    sent_part.save()
    submission = Submission.objects.create(
        upload=sent,
        counter=counter,
        created_by=victim,
        original_name=VICTIM_FILE,
        merge_mode="SAVE",
        status=Submission.Status.FAILED,
        parts_total=1,
        bytes_total=len(SENT_CSV),
        error_type="server_error",
        error_message="Metrika answered 500",
        finished_at=timezone.now(),
    )
    SubmissionPart.objects.create(
        submission=submission, upload_part=sent_part, index=0, rows=1
    )
    SubmissionEvent.objects.create(
        submission=submission, code="created", params={"merge_mode": "SAVE"}
    )
    audit = AuditEvent.objects.create(
        actor=admin_user,
        actor_name=admin_user.username,
        action="counter.settings",
        target_type="counter",
        target_id=str(counter.pk),
        target_repr=VICTIM_COUNTER,
    )
    ping = HealthPing.objects.create(worker="w1")
    from axes.models import AccessAttempt, AccessFailureLog, AccessLog

    axes_fields = {"user_agent": "test", "ip_address": "10.0.0.9",
                   "username": victim.username, "http_accept": "*/*",
                   "path_info": "/login/"}  # fmt: skip
    access_attempt = AccessAttempt.objects.create(failures_since_start=1, **axes_fields)
    access_log = AccessLog.objects.create(**axes_fields)
    access_failure = AccessFailureLog.objects.create(**axes_fields)
    return World(
        victim=victim,
        neighbour=neighbour,
        ungranted=ungranted,
        admin=admin_user,
        account=account,
        counter=counter,
        neighbour_counter=neighbour_counter,
        grant=grant,
        saved_mapping=saved,
        status_dictionary=dictionary,
        draft=draft,
        sent=sent,
        submission=submission,
        audit=audit,
        ping=ping,
        access_attempt=access_attempt,
        access_log=access_log,
        access_failure=access_failure,
        admins_group=Group.objects.get(name="Admins"),
    )


def _xlsx(rows: list[list]) -> bytes:
    from openpyxl import Workbook

    book = Workbook()
    for row in rows:
        book.active.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
