import pytest
from django.core.files.base import ContentFile

TOKEN = "y0_SUBMISSIONS_TOKEN_CANARY_41ac"
REFRESH = "1:SUBMISSIONS_REFRESH_CANARY_7d02"
CLIENT_ID = "ordersync-test"
CLIENT_SECRET = "CLIENT_SECRET_CANARY_9e7b"
COUNTER_ID = 301
HEADER = "id,create_date_time,client_ids,order_status,revenue\n"

SEED = {
    "settings": {"parallel_limit": 3, "rps_per_ip": None},
    "oauth_clients": [
        {
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "name": "OrderSync tests",
            "redirect_uris": [],
            "scopes": ["metrika:read", "metrika:offline_data", "metrika:write"],
            "token_ttl": 31536000,
        }
    ],
    "accounts": [{"login": "agency", "uid": "7001"}],
    "tokens": [
        {
            "access_token": TOKEN,
            "login": "agency",
            "client_id": CLIENT_ID,
            "scopes": ["metrika:read", "metrika:offline_data"],
            "refresh_token": REFRESH,
        }
    ],
    "counters": [
        {
            "id": COUNTER_ID,
            "name": "Shop",
            "site": "shop.example",
            "time_zone_name": "Europe/Moscow",
            "owner_login": "agency",
        }
    ],
}

# Small numbers: a test never waits for a backoff or a heartbeat.
FAST = {
    "SUBMISSION_RETRY_BASE_SECONDS": 0.2,
    "SUBMISSION_RETRY_MAX_SECONDS": 1.0,
    "SUBMISSION_MAX_FAILURES": 4,
    "SUBMISSION_RATE_LIMIT_SECONDS": 0.2,
    "SUBMISSION_PARALLEL_WAIT_SECONDS": 0.3,
    "SUBMISSION_RECONCILE_GRACE_SECONDS": 0,
    "SUBMISSION_CONFIRM_INTERVAL_SECONDS": 0.5,
    "SUBMISSION_STALE_SECONDS": 4,
    "SUBMISSION_HEARTBEAT_SECONDS": 1,
    "SUBMISSION_LOST_AFTER_SECONDS": 5,
}


@pytest.fixture
def emulator_seed():
    return SEED


@pytest.fixture
def submission_settings(settings, emulator, tmp_path):
    settings.METRIKA_CONNECT_TIMEOUT = 2
    settings.METRIKA_READ_TIMEOUT = 5
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    for key, value in FAST.items():
        setattr(settings, key, value)
    # No heartbeat thread runs inside the in-process tests' transaction.
    settings.SUBMISSION_HEARTBEAT_SECONDS = 60
    settings.SUBMISSION_STALE_SECONDS = 300
    return settings


@pytest.fixture
def account(db, submission_settings):
    from django.utils import timezone

    from ordersync.counters import crypto
    from ordersync.counters.models import YandexAccount
    from ordersync.metrika.types import token_fingerprint

    return YandexAccount.objects.create(
        uid="7001",
        login="agency",
        source=YandexAccount.Source.OAUTH,
        access_token_encrypted=crypto.encrypt(TOKEN),
        refresh_token_encrypted=crypto.encrypt(REFRESH),
        token_fingerprint=token_fingerprint(TOKEN),
        scopes=["metrika:read", "metrika:offline_data"],
        expires_at=timezone.now() + timezone.timedelta(days=300),
    )


@pytest.fixture
def counter(account, marketer):
    from ordersync.counters.models import Counter, CounterGrant

    counter = Counter.objects.create(
        account=account,
        metrika_id=COUNTER_ID,
        name="Shop",
        site="shop.example",
        time_zone_name="Europe/Moscow",
        permission="own",
    )
    CounterGrant.objects.create(counter=counter, user=marketer)
    return counter


def csv_rows(count: int, *, start: int = 0, with_id: bool = True) -> str:
    lines = [
        f"{'o' + str(i) if with_id else ''},2024-01-{i % 28 + 1:02d} 11:56:00,"
        f"{1000 + i},PAID,{i}.50\n"
        for i in range(start, start + count)
    ]
    return HEADER + "".join(lines)


@pytest.fixture
def make_upload(counter, marketer):
    """Return a function creating a confirmed Upload with prepared parts."""
    from ordersync.uploads.models import Upload, UploadPart

    def make(
        *,
        rows: int = 3,
        parts: int = 1,
        without_id: int = 0,
        user=None,
        name: str = "orders.csv",
        start: int = 0,
    ):
        upload = Upload(
            counter=counter,
            created_by=user or marketer,
            original_name=name,
            status=Upload.Status.CONFIRMED,
            rows_total=rows * parts + 1,
            rows_valid=rows * parts,
            rows_invalid=1,
            rows_without_id=without_id,
            counts_by_code={"email_invalid": 1},
        )
        upload.original_file.save("source", ContentFile(b"raw,file\n1,2\n"), save=False)
        upload.save()
        for index in range(parts):
            text = csv_rows(rows, start=start + index * rows, with_id=not without_id)
            part = UploadPart(
                upload=upload,
                index=index,
                size_bytes=len(text.encode()),
                rows=rows,
            )
            part.file.save("part.csv", ContentFile(text.encode()), save=False)
            part.save()
        return upload

    return make
