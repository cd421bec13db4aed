import pytest
from django.urls import reverse

from ordersync.submissions import services
from ordersync.submissions.models import Submission

pytestmark = pytest.mark.django_db
S = Submission.Status


@pytest.fixture
def outsider(django_user_model):
    from django.contrib.auth.models import Group

    user = django_user_model.objects.create_user(
        username="eve-outsider", password="pw-outsider-123456"
    )
    user.groups.add(Group.objects.get_or_create(name="Marketers")[0])
    return user


@pytest.fixture
def sent(make_upload, marketer, monkeypatch):
    monkeypatch.setattr(services, "_dispatch", lambda pk, delay=0.0: None)
    upload = make_upload(name="crm-export.csv")
    submission = services.submission_create(
        upload=upload, user=marketer, merge_mode="SAVE"
    )
    services.submission_process(submission_id=submission.pk)
    submission.refresh_from_db()
    assert submission.status == S.ACCEPTED
    return submission


def urls(submission):
    public_id = submission.upload.public_id
    pk = submission.pk
    return {
        "detail": ("get", reverse("submissions:detail", args=[public_id])),
        "original": ("get", reverse("submissions:original", args=[public_id])),
        "part": ("get", reverse("submissions:part", args=[public_id, 0])),
        "progress": ("get", reverse("submissions:progress", args=[public_id, pk])),
        "cancel": ("post", reverse("submissions:cancel", args=[public_id, pk])),
        "retry": ("post", reverse("submissions:retry", args=[public_id, pk])),
        "force": ("post", reverse("submissions:force", args=[public_id, pk])),
        "resend": ("post", reverse("submissions:resend", args=[public_id, pk])),
    }


def test_every_history_url_is_404_for_a_marketer_without_the_counter(
    client, sent, outsider
):
    client.force_login(outsider)
    for name, (method, url) in urls(sent).items():
        response = getattr(client, method)(url)
        assert response.status_code == 404, name
    response = client.get(reverse("submissions:history"))
    assert "crm-export.csv" not in response.text


def test_anonymous_is_sent_to_the_login_page(client, sent):
    for name, (method, url) in [
        ("history", ("get", reverse("submissions:history"))),
        *urls(sent).items(),
    ]:
        response = getattr(client, method)(url)
        assert response.status_code == 302, name
        assert response.url.startswith(reverse("login")), name


@pytest.mark.parametrize("who", ["owner", "admin"])
def test_owner_and_admin_see_the_history_detail_and_files(
    client, sent, marketer, admin_user, who
):
    client.force_login(marketer if who == "owner" else admin_user)
    history = client.get(reverse("submissions:history"))
    assert history.status_code == 200
    assert "crm-export.csv" in history.text
    assert "Принята" in history.text
    detail = client.get(urls(sent)["detail"][1])
    assert detail.status_code == 200
    assert "upload_simple_orders" in detail.text
    assert "Metrika приняла" in detail.text or "Метрика" in detail.text
    original = client.get(urls(sent)["original"][1])
    assert original.status_code == 200
    assert b"".join(original.streaming_content) == b"raw,file\n1,2\n"
    part = client.get(urls(sent)["part"][1])
    assert b"id,create_date_time" in b"".join(part.streaming_content)
    progress = client.get(urls(sent)["progress"][1])
    assert progress.status_code == 286


def test_a_teammate_sees_the_history_but_not_the_files(client, sent, outsider, counter):
    from ordersync.counters.models import CounterGrant

    CounterGrant.objects.create(counter=counter, user=outsider)
    client.force_login(outsider)
    assert client.get(urls(sent)["detail"][1]).status_code == 200
    assert client.get(urls(sent)["original"][1]).status_code == 404


def test_history_filters_and_search(client, sent, marketer, make_upload):
    client.force_login(marketer)
    url = reverse("submissions:history")
    assert "crm-export.csv" in client.get(url, {"q": "export"}).text
    assert "crm-export.csv" not in client.get(url, {"q": "nothing"}).text
    assert "crm-export.csv" in client.get(url, {"status": "accepted"}).text
    assert "crm-export.csv" not in client.get(url, {"status": "failed"}).text
    assert "crm-export.csv" in client.get(url, {"user": marketer.pk}).text


def test_history_pages_by_keyset(client, marketer, make_upload, monkeypatch):
    from ordersync.submissions import selectors

    monkeypatch.setattr(services, "_dispatch", lambda pk, delay=0.0: None)
    for n in range(5):
        services.submission_create(
            upload=make_upload(name=f"f{n}.csv"), user=marketer, merge_mode="SAVE"
        )
    filters = selectors.HistoryFilters()
    first = selectors.history_page(marketer, filters, page_size=2)
    assert [s.original_name for s in first.rows] == ["f4.csv", "f3.csv"]
    second = selectors.history_page(
        marketer, filters, before=first.next_cursor, page_size=2
    )
    assert [s.original_name for s in second.rows] == ["f2.csv", "f1.csv"]
    back = selectors.history_page(
        marketer, filters, after=second.prev_cursor, page_size=2
    )
    assert [s.original_name for s in back.rows] == ["f4.csv", "f3.csv"]


def test_cancel_and_resend_from_the_detail_page(client, sent, marketer):
    client.force_login(marketer)
    response = client.post(urls(sent)["cancel"][1], follow=True)
    assert "Отменить можно только" in response.text
    response = client.post(urls(sent)["resend"][1], {"merge_mode": "UPDATE"})
    assert response.status_code == 302
    newest = Submission.objects.get(is_latest=True)
    assert (newest.merge_mode, newest.status) == ("UPDATE", S.QUEUED)
    response = client.post(
        reverse("submissions:cancel", args=[sent.upload.public_id, newest.pk])
    )
    newest.refresh_from_db()
    assert newest.status == S.CANCELLED


def test_personal_data_is_masked_for_non_admins():
    from ordersync.submissions.selectors import mask_personal_data

    text = "bad value ivan.petrov@mail.ru and +7 (999) 555-11-22"
    assert mask_personal_data(text) == "bad value i***@mail.ru and +7***22"


def test_dashboard_shows_the_chart_and_attention(client, sent, marketer, make_upload):
    failed = services.submission_create(
        upload=make_upload(name="broken.csv"), user=marketer, merge_mode="SAVE"
    )
    Submission.objects.filter(pk=failed.pk).update(status=S.FAILED)
    client.force_login(marketer)
    response = client.get(reverse("core:dashboard"))
    assert response.status_code == 200
    assert "<svg" in response.text and "<rect" in response.text
    assert "broken.csv" in response.text
    assert "Неверный e-mail" in response.text
    assert "email_invalid" not in response.text


def test_retention_deletes_files_and_keeps_the_history(
    sent, settings, make_upload, client, marketer
):
    from datetime import timedelta

    from django.utils import timezone

    upload = sent.upload
    assert services.upload_files_purge() == 0
    purged = services.upload_files_purge(now=timezone.now() + timedelta(days=31))
    assert purged == 1
    upload.refresh_from_db()
    assert not upload.original_file
    assert not upload.parts.get().file
    client.force_login(marketer)
    detail = client.get(reverse("submissions:detail", args=[upload.public_id]))
    assert detail.status_code == 200
    assert "crm-export.csv" in detail.text
    assert client.get(urls(sent)["original"][1]).status_code == 404


def _with_report(upload):
    from django.core.files.base import ContentFile

    upload.problems_csv.save("problems.csv", ContentFile(b"row,error\n"), save=False)
    upload.problems_xlsx.save("problems.xlsx", ContentFile(b"xlsx"), save=False)
    upload.save()
    return upload


def test_detail_names_each_problem_type_and_links_the_reports_for_the_uploader(
    client, sent, marketer
):
    upload = _with_report(sent.upload)
    client.force_login(marketer)
    detail = client.get(urls(sent)["detail"][1])
    assert "Неверный e-mail: 1" in detail.text
    assert "email_invalid:" not in detail.text
    csv_url = reverse("uploads:download", args=[upload.public_id, "problems.csv"])
    xlsx_url = reverse("uploads:download", args=[upload.public_id, "problems.xlsx"])
    assert f'href="{csv_url}"' in detail.text
    assert f'href="{xlsx_url}"' in detail.text
    assert client.get(csv_url).status_code == 200
    client.cookies.load({"django_language": "en"})
    assert "Invalid e-mail: 1" in client.get(urls(sent)["detail"][1]).text


def test_a_teammate_sees_problem_titles_but_no_report_link_it_could_not_open(
    client, sent, outsider, counter
):
    from ordersync.counters.models import CounterGrant

    upload = _with_report(sent.upload)
    CounterGrant.objects.create(counter=counter, user=outsider)
    client.force_login(outsider)
    detail = client.get(urls(sent)["detail"][1])
    assert "Неверный e-mail: 1" in detail.text
    csv_url = reverse("uploads:download", args=[upload.public_id, "problems.csv"])
    assert csv_url not in detail.text
    assert client.get(csv_url).status_code == 404


def test_history_links_the_users_unfinished_uploads(client, sent, marketer, counter):
    from ordersync.uploads.models import Upload

    client.force_login(marketer)
    history = client.get(reverse("submissions:history"))
    assert 'data-testid="drafts-link"' not in history.text
    for status in (Upload.Status.DRAFT, Upload.Status.READY, Upload.Status.ABANDONED):
        Upload.objects.create(
            counter=counter, created_by=marketer, original_name="d.csv", status=status
        )
    history = client.get(reverse("submissions:history"))
    assert (
        f'<a class="small" href="{reverse("uploads:list")}" '
        'data-testid="drafts-link">Незавершённые загрузки (2)</a>'
    ) in history.text


@pytest.mark.parametrize("who", ["marketer", "admin_user"])
def test_history_page_queries_do_not_grow_with_the_rows(
    request, client, marketer, make_upload, monkeypatch, who
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    monkeypatch.setattr(services, "_dispatch", lambda pk, delay=0.0: None)
    client.force_login(request.getfixturevalue(who))

    def history_queries(uploads: int) -> int:
        for n in range(uploads):
            services.submission_create(
                upload=make_upload(name=f"f{n}.csv"), user=marketer, merge_mode="SAVE"
            )
        with CaptureQueriesContext(connection) as queries:
            response = client.get(reverse("submissions:history"))
        assert response.status_code == 200
        return len(queries), response.text

    one, _ = history_queries(1)
    many, text = history_queries(59)
    assert many == one <= 10
    assert text.count('data-testid="history-row"') == 50
    assert "f58.csv" in text and "bob-marketer" in text
    assert '<td class="text-end">3</td>' in text


def test_detail_shows_the_mapping_as_columns_and_fields(client, sent, marketer):
    upload = sent.upload
    upload.mapping = {
        "fields": {"id": ["Номер заказа"], "phones": ["Телефон", "Телефон 2"]},
        "constants": {"currency": "RUB", "order_status": ""},
        "confidence": {"id": 0.9},
    }
    upload.save(update_fields=["mapping"])
    client.force_login(marketer)
    text = client.get(urls(sent)["detail"][1]).text
    assert "«Номер заказа»</th><td>→ Номер заказа (id)" in text
    assert "«Телефон», «Телефон 2»</th><td>→ Телефон (phones)" in text
    assert "«RUB» <span" in text and "(одно значение для всех строк)" in text
    assert "order_status" not in text
    assert "{&#x27;fields&#x27;" not in text
