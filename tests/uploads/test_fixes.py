"""Resend only rows fixed since: a corrected export checked against the ids of the
rows that had errors in a sent upload."""

import json
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from ordersync.uploads import services
from ordersync.uploads.errors import UploadError
from ordersync.uploads.models import Upload
from tests.uploads.conftest import csv_file

pytestmark = pytest.mark.django_db

HEADER = "Номер заказа,Дата,Email,Телефон,Статус,Сумма\n"
ORIGINAL = HEADER + (
    "A-1,05.03.2024 10:15,ivan@example.com,+7 912 345-67-89,Оплачен,1500\n"
    "A-2,31.02.2024,olga@example.com,,Оплачен,200\n"
    " A-3 ,07.03.2024,bad-email,,Оплачен,990\n"
    ",08.03.2024,also-bad,,Оплачен,10\n"
    "A-5,09.03.2024,petr@example.com,,Оплачен,abc\n"
)
CORRECTED = HEADER + (
    "A-1,05.03.2024 10:15,ivan@example.com,+7 912 345-67-89,Оплачен,1500\n"
    "A-2,28.02.2024,olga@example.com,,Оплачен,200\n"
    "A-3,07.03.2024,still-bad,,Оплачен,990\n"
    ",08.03.2024,fixed@example.com,,Оплачен,10\n"
    "A-5,09.03.2024,petr@example.com,,Оплачен,990\n"
    "A-9,10.03.2024,new@example.com,,Оплачен,5\n"
)


@pytest.fixture(autouse=True)
def _no_sending(monkeypatch):
    """Confirming queues a submission; nothing is sent to Metrika here."""
    from ordersync.submissions import services as submission_services

    monkeypatch.setattr(submission_services, "_dispatch", lambda pk, delay=0.0: None)


@pytest.fixture
def sent(wizard):
    """An upload with four rows with errors (one without an id), confirmed."""
    wizard.run_to_preview(csv_file(ORIGINAL, name="crm-march.csv"))
    wizard.post(wizard.url("preview"))
    wizard.post(wizard.url("confirm"))
    assert wizard.upload.status == Upload.Status.CONFIRMED
    return wizard.upload


def fixes_url(upload):
    return reverse("uploads:fixes", args=[upload.public_id])


def send_fixes(wizard, original, text=CORRECTED, **data):
    response = wizard.post(
        fixes_url(original),
        {"file": csv_file(text, name="crm-march-fixed.csv"), "merge_mode": "SAVE"}
        | data,
    )
    fix = Upload.objects.filter(fixes_of=original).order_by("-id").first()
    return response, fix


def stored_ids(upload) -> list[str]:
    with upload.error_ids.open("rb") as fh:
        return [json.loads(line) for line in fh]


# --- what a check keeps --------------------------------------------------------


def test_a_check_keeps_the_ids_of_rows_with_errors_only(sent):
    assert (sent.rows_valid, sent.rows_invalid) == (1, 4)
    assert stored_ids(sent) == ["A-2", "A-3", "A-5"]
    assert sent.rows_invalid_without_id == 1


def test_a_check_without_errors_keeps_no_ids(wizard):
    wizard.run_to_preview(
        csv_file(
            ORIGINAL.splitlines(keepends=True)[0]
            + CORRECTED.splitlines(keepends=True)[1]
        )
    )
    assert wizard.upload.rows_valid == 1
    assert not wizard.upload.error_ids
    assert wizard.upload.rows_invalid_without_id == 0


def test_checking_again_replaces_the_ids(wizard, settings):
    from pathlib import Path

    wizard.run_to_preview(csv_file(ORIGINAL))
    first = Path(wizard.upload.error_ids.path)
    wizard.options()
    assert wizard.upload.status == Upload.Status.READY
    assert stored_ids(wizard.upload) == ["A-2", "A-3", "A-5"]
    assert Path(wizard.upload.error_ids.path).exists()
    assert first == Path(wizard.upload.error_ids.path)


def test_retention_deletes_the_ids_with_the_other_files(sent, settings):
    from pathlib import Path

    from ordersync.submissions.services import upload_files_purge

    path = Path(sent.error_ids.path)
    sent.submissions.update(status="accepted")
    Upload.objects.filter(pk=sent.pk).update(
        created_at=timezone.now() - timedelta(days=settings.UPLOAD_RETENTION_DAYS + 1)
    )
    assert upload_files_purge() == 1
    sent.refresh_from_db()
    assert not sent.error_ids
    assert not path.exists()


# --- the corrected export -----------------------------------------------------


def test_only_rows_with_errors_then_and_valid_now_are_kept(wizard, sent):
    response, fix = send_fixes(wizard, sent)
    assert response.url == reverse("uploads:preview", args=[fix.public_id])
    assert fix.status == Upload.Status.READY
    assert (fix.rows_total, fix.rows_valid, fix.rows_invalid) == (3, 2, 1)
    assert fix.rows_not_matched == 3
    assert fix.counts_by_code["email_invalid"] == 1
    assert fix.problems.get(severity="error").row == 4
    with fix.parts.get().file.open("rb") as fh:
        lines = fh.read().decode().splitlines()
    assert [line.split(",")[0] for line in lines] == ["id", "A-2", "A-5"]
    # Its own rows with errors can be fixed again in turn.
    assert stored_ids(fix) == ["A-3"]


def test_progress_counts_rows_read_so_a_long_export_keeps_beating(
    wizard, sent, monkeypatch
):
    beats = []
    monkeypatch.setattr(services, "PROGRESS_EVERY", 2)
    monkeypatch.setattr(
        services, "_progress", lambda upload: lambda rows, part: beats.append(rows)
    )
    _response, fix = send_fixes(wizard, sent)
    assert fix.rows_total == 3
    assert max(beats) == 6


def test_the_corrected_export_is_read_with_the_originals_choices(wizard, sent):
    Upload.objects.filter(pk=sent.pk).update(
        statuses={"Оплачен": "PAID"}, hash_pii=False, duplicates="keep_first"
    )
    sent.refresh_from_db()
    _response, fix = send_fixes(wizard, sent, merge_mode="UPDATE")
    assert fix.mapping["fields"] == sent.mapping["fields"]
    assert fix.source_options == sent.source_options
    assert (fix.statuses, fix.hash_pii, fix.duplicates) == (
        {"Оплачен": "PAID"},
        False,
        "keep_first",
    )
    assert fix.merge_mode == "UPDATE"
    assert (fix.counter, fix.fixes_of) == (sent.counter, sent)


def test_the_preview_says_what_is_fixed_skipped_and_cannot_be_matched(wizard, sent):
    _response, fix = send_fixes(wizard, sent)
    text = wizard.client.get(reverse("uploads:preview", args=[fix.public_id])).text
    assert f"Исправления для загрузки №{sent.pk}" in text
    assert 'data-testid="fixes-fixed">2</strong> строки исправлены' in text
    assert 'data-testid="fixes-invalid">1</strong> строка всё ещё с ошибками' in text
    assert 'data-testid="fixes-not-matched">3</strong> строки пропущены' in text
    assert "1 строка с ошибками в загрузке" in text
    assert "Строка 4, столбец «Email»: «still-bad» — некорректный адрес e-mail." in text


def test_confirming_sends_the_fixes_with_the_originals_merge_mode(wizard, sent):
    from ordersync.submissions.models import Submission

    sent.submissions.update(merge_mode="APPEND")
    page = wizard.client.get(fixes_url(sent)).text
    assert 'value="APPEND" selected' in page
    _response, fix = send_fixes(wizard, sent, merge_mode="APPEND")
    wizard.upload = fix
    wizard.post(wizard.url("preview"))
    text = wizard.client.get(wizard.url("confirm")).text
    assert f"загрузка №{sent.pk} «crm-march.csv»" in text
    response = wizard.post(wizard.url("confirm"))
    assert response.url == reverse("submissions:detail", args=[fix.public_id])
    submission = Submission.objects.get(upload=fix)
    assert (submission.merge_mode, submission.status) == ("APPEND", "queued")
    assert wizard.post(wizard.url("confirm")).status_code == 302
    assert Submission.objects.filter(upload=fix).count() == 1


def test_history_links_the_fixes_both_ways(wizard, sent):
    _response, fix = send_fixes(wizard, sent)
    wizard.upload = fix
    wizard.post(wizard.url("preview"))
    wizard.post(wizard.url("confirm"))
    fix_page = wizard.client.get(
        fix_url := reverse("submissions:detail", args=[fix.public_id])
    ).text
    assert f"Исправления для загрузки №{sent.pk}:" in fix_page
    assert reverse("submissions:detail", args=[sent.public_id]) in fix_page
    original_page = wizard.client.get(
        reverse("submissions:detail", args=[sent.public_id])
    ).text
    assert 'data-testid="fixes"' in original_page
    assert fix_url in original_page
    assert "2 исправленные строки" in original_page


def test_the_action_is_offered_only_while_rows_with_errors_are_kept(wizard, sent):
    detail = reverse("submissions:detail", args=[sent.public_id])
    assert fixes_url(sent) in wizard.client.get(detail).text
    Upload.objects.filter(pk=sent.pk).update(error_ids="")
    assert fixes_url(sent) not in wizard.client.get(detail).text
    page = wizard.client.get(fixes_url(sent))
    assert page.status_code == 200
    assert 'data-testid="nothing-to-fix"' in page.text
    response, fix = send_fixes(wizard, sent)
    assert response.url == detail
    assert fix is None


def test_a_mapping_that_no_longer_fits_is_shown_on_the_columns_step(wizard, sent):
    text = CORRECTED.replace("Сумма", "Итого")
    _response, fix = send_fixes(wizard, sent, text=text)
    assert (fix.status, fix.step, fix.error_step) == ("draft", "columns", "columns")
    assert "Итого" in fix.columns
    page = wizard.client.get(reverse("uploads:resume", args=[fix.public_id]))
    assert page.url == reverse("uploads:columns", args=[fix.public_id])


def test_ids_deleted_by_retention_meanwhile_are_told(wizard, sent):
    sent.error_ids.delete(save=False)
    _response, fix = send_fixes(wizard, sent)
    assert fix.status == Upload.Status.UNREADABLE
    assert f"Строки с ошибками загрузки №{sent.pk} больше не хранятся" in fix.error_ru


def test_an_empty_or_missing_file_is_refused(wizard, sent):
    response = wizard.post(fixes_url(sent), {"merge_mode": "SAVE"})
    assert response.status_code == 400
    assert "Выберите файл для загрузки." in response.text
    assert not Upload.objects.filter(fixes_of=sent).exists()


def test_the_service_refuses_an_upload_without_ids(sent, marketer):
    Upload.objects.filter(pk=sent.pk).update(error_ids="")
    sent.refresh_from_db()
    with pytest.raises(UploadError):
        services.upload_fixes_create(
            user=marketer,
            original=sent,
            file=csv_file(CORRECTED),
            merge_mode="SAVE",
            language="ru",
        )


# --- who may -----------------------------------------------------------------


def test_anonymous_visitors_are_sent_to_log_in(client, sent):
    client.logout()
    for method in ("get", "post"):
        response = getattr(client, method)(fixes_url(sent))
        assert response.status_code == 302
        assert response.url.startswith(reverse("login"))


def test_a_marketer_without_the_counter_gets_404_and_stores_nothing(
    client, sent, outsider
):
    client.force_login(outsider)
    assert client.get(fixes_url(sent)).status_code == 404
    response = client.post(
        fixes_url(sent), {"file": csv_file(CORRECTED), "merge_mode": "SAVE"}
    )
    assert response.status_code == 404
    assert not Upload.objects.filter(fixes_of=sent).exists()


def test_a_marketer_of_another_counter_gets_404(
    client, sent, django_user_model, other_counter
):
    from django.contrib.auth.models import Group

    from ordersync.counters.models import CounterGrant

    neighbour = django_user_model.objects.create_user(username="erin-neighbour")
    neighbour.groups.add(Group.objects.get_or_create(name="Marketers")[0])
    CounterGrant.objects.create(counter=other_counter, user=neighbour)
    client.force_login(neighbour)
    assert client.get(fixes_url(sent)).status_code == 404


@pytest.mark.parametrize("who", ["teammate", "admin_user"])
def test_a_teammate_and_an_admin_may_send_fixes_as_their_own_upload(
    client, sent, request, who, django_capture_on_commit_callbacks
):
    user = request.getfixturevalue(who)
    client.force_login(user)
    assert client.get(fixes_url(sent)).status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            fixes_url(sent), {"file": csv_file(CORRECTED), "merge_mode": "SAVE"}
        )
    fix = Upload.objects.get(fixes_of=sent)
    assert fix.created_by == user
    assert client.get(response.url).status_code == 200


def test_an_unfinished_draft_cannot_be_fixed(client, wizard):
    wizard.run_to_preview(csv_file(ORIGINAL))
    assert wizard.client.get(fixes_url(wizard.upload)).status_code == 404
