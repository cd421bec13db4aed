import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

TOKEN = "y0_UPLOADS_TEST_TOKEN_CANARY"
CLEAN_CSV = (
    "Номер заказа,Дата,Email,Телефон,Статус,Сумма\n"
    "A-1,05.03.2024 10:15,ivan@example.com,+7 912 345-67-89,Оплачен,1500\n"
    "A-2,06.03.2024 11:00,olga@example.com,89123456780,В работе,2 300,50\n"
    "A-3,07.03.2024,petr@example.com,,Отменён,990\n"
)


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.UPLOAD_MAX_BYTES = 1024 * 1024


@pytest.fixture
def account(db):
    from django.utils import timezone

    from ordersync.counters import crypto
    from ordersync.counters.models import YandexAccount
    from ordersync.metrika.types import token_fingerprint

    return YandexAccount.objects.create(
        uid="9001",
        login="shop-owner",
        source=YandexAccount.Source.OAUTH,
        access_token_encrypted=crypto.encrypt(TOKEN),
        token_fingerprint=token_fingerprint(TOKEN),
        scopes=["metrika:read", "metrika:offline_data"],
        expires_at=timezone.now() + timezone.timedelta(days=300),
    )


@pytest.fixture
def counter(account, marketer):
    from ordersync.counters.models import Counter, CounterGrant

    counter = Counter.objects.create(
        account=account,
        metrika_id=44147844,
        name="Shop",
        site="shop.example",
        time_zone_name="Europe/Moscow",
        permission="own",
    )
    CounterGrant.objects.create(counter=counter, user=marketer)
    return counter


@pytest.fixture
def other_counter(account):
    from ordersync.counters.models import Counter

    return Counter.objects.create(
        account=account,
        metrika_id=55555,
        name="Clinic",
        time_zone_name="Asia/Yekaterinburg",
        permission="edit",
    )


@pytest.fixture
def teammate(django_user_model, counter):
    """Another marketer with access to the same counter."""
    from django.contrib.auth.models import Group

    from ordersync.counters.models import CounterGrant

    user = django_user_model.objects.create_user(username="carol-marketer")
    user.groups.add(Group.objects.get_or_create(name="Marketers")[0])
    CounterGrant.objects.create(counter=counter, user=user)
    return user


@pytest.fixture
def outsider(django_user_model):
    from django.contrib.auth.models import Group

    user = django_user_model.objects.create_user(username="dave-outsider")
    user.groups.add(Group.objects.get_or_create(name="Marketers")[0])
    return user


def csv_file(text: str = CLEAN_CSV, name: str = "orders.csv", encoding="utf-8"):
    return SimpleUploadedFile(name, text.encode(encoding), content_type="text/csv")


def xlsx_bytes(rows: list[list], *, title: str | None = None, sheets=None) -> bytes:
    """Return a workbook with ``rows`` on its first sheet (after a title row)."""
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.title = "Заказы"
    if title:
        sheet.append([title])
    for row in rows:
        sheet.append(row)
    for name in sheets or []:
        book.create_sheet(name).append(["x"])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


@pytest.fixture
def wizard(client, marketer, counter, eager, django_capture_on_commit_callbacks):
    """Drive the wizard through the test client, running queued jobs at once."""
    from ordersync.uploads.models import Upload

    class Wizard:
        def __init__(self):
            self.client = client
            self.upload = None
            client.force_login(marketer)

        def post(self, url, data=None, **kwargs):
            with django_capture_on_commit_callbacks(execute=True):
                response = client.post(url, data or {}, **kwargs)
            if self.upload is not None:
                self.upload.refresh_from_db()
            return response

        def url(self, step, **query):
            from django.urls import reverse

            url = reverse(f"uploads:{step}", args=[self.upload.public_id])
            if query:
                url += "?" + "&".join(f"{k}={v}" for k, v in query.items())
            return url

        def start(self, file=None):
            from django.urls import reverse

            response = self.post(
                reverse("uploads:new"),
                {"counter": counter.pk, "file": file or csv_file()},
            )
            self.upload = Upload.objects.order_by("-id").first()
            return response

        def columns(self, **choices):
            """Post the columns step with the current mapping changed by choices."""
            data = {"action": "next"}
            fields_of = {
                c: f for f, cols in self.upload.mapping["fields"].items() for c in cols
            }
            for index, column in enumerate(self.upload.columns):
                data[f"col_{index}"] = choices.get(column, fields_of.get(column, ""))
            for key, value in choices.items():
                if key.startswith("constant_"):
                    data[key] = value
            return self.post(self.url("columns"), data)

        def options(self, statuses=None, **fields):
            data = {
                "merge_mode": "SAVE",
                "hash_pii": "on",
                "duplicates": "keep_all",
                "remember_statuses": "on",
            }
            data.update(fields)
            values = (self.upload.status_counts or {}).get("values", [])
            for index, item in enumerate(values):
                status = (statuses or {}).get(item["value"], item["status"] or "")
                data[f"status_{index}"] = status
            return self.post(self.url("options"), data)

        def run_to_preview(self, file=None):
            self.start(file)
            self.post(self.url("source"), {"action": "next"})
            self.columns()
            self.options()
            return self.upload

    return Wizard()
