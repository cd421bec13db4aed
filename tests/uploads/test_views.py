import re

import pytest
from django.urls import reverse

from ordersync.uploads.models import Upload, UploadPart
from tests.uploads.conftest import csv_file

pytestmark = pytest.mark.django_db

STEPS = ["file", "source", "columns", "options", "preview", "confirm", "progress"]


@pytest.fixture
def ready(wizard):
    """An upload checked and waiting on the preview."""
    wizard.run_to_preview()
    assert wizard.upload.status == Upload.Status.READY
    return wizard


# --- access -------------------------------------------------------------------


def test_anonymous_visitors_are_sent_to_log_in(client, ready):
    client.logout()
    for step in STEPS:
        response = client.get(ready.url(step))
        assert response.status_code == 302
        assert response.url.startswith(reverse("login"))


def test_another_marketer_of_the_same_counter_gets_404(client, ready, teammate):
    client.force_login(teammate)
    for step in STEPS:
        assert client.get(ready.url(step)).status_code == 404


def test_a_marketer_without_the_counter_gets_404(client, ready, outsider):
    client.force_login(outsider)
    for step in [*STEPS, "abandon"]:
        assert client.get(ready.url(step)).status_code in (404, 405)
        assert client.post(ready.url(step)).status_code in (404, 405)
    ready.upload.refresh_from_db()
    assert ready.upload.status == Upload.Status.READY


def test_downloads_are_refused_to_others(client, ready, teammate):
    url = reverse("uploads:download", args=[ready.upload.public_id, "0"])
    assert client.get(url).status_code == 200
    client.force_login(teammate)
    assert client.get(url).status_code == 404


def test_admins_may_open_any_upload(client, ready, admin_user):
    client.force_login(admin_user)
    assert client.get(ready.url("preview")).status_code == 200


def test_posting_a_counter_not_granted_is_404_and_stores_nothing(
    client, marketer, counter, other_counter
):
    client.force_login(marketer)
    response = client.post(
        reverse("uploads:new"), {"counter": other_counter.pk, "file": csv_file()}
    )
    assert response.status_code == 404
    assert not Upload.objects.exists()


def test_the_new_upload_page_lists_only_granted_counters(
    client, marketer, counter, other_counter
):
    client.force_login(marketer)
    text = client.get(reverse("uploads:new")).text
    assert "Shop (44147844)" in text
    assert "Clinic" not in text


# --- step 1: counter and file -----------------------------------------------


def test_file_page_shows_the_size_limit(client, marketer, counter):
    client.force_login(marketer)
    assert "до 1,0\xa0МБ" in client.get(reverse("uploads:new")).text


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        (None, b"", "Выберите файл для загрузки."),
        ("orders.php", b"id\n1\n", "«orders.php» — не таблица."),
        ("orders.csv", b"", "Файл «orders.csv» пустой."),
    ],
)
def test_file_step_refuses_what_cannot_be_a_table(
    client, marketer, counter, name, content, message
):
    from django.core.files.uploadedfile import SimpleUploadedFile

    client.force_login(marketer)
    data = {"counter": counter.pk}
    if name:
        data["file"] = SimpleUploadedFile(name, content)
    response = client.post(reverse("uploads:new"), data)
    assert response.status_code == 400
    assert message in response.text
    assert not Upload.objects.exists()


def test_an_oversized_file_is_stopped_while_it_streams_in(
    client, marketer, counter, settings, tmp_path
):
    import tempfile
    from pathlib import Path

    settings.UPLOAD_MAX_BYTES = 64 * 1024
    settings.FILE_UPLOAD_TEMP_DIR = str(tmp_path / "spool")
    Path(settings.FILE_UPLOAD_TEMP_DIR).mkdir()
    big = "id,date,email\n" + "1,2024-01-01,a@b.ru\n" * 20_000
    client.force_login(marketer)
    response = client.post(
        reverse("uploads:new"), {"counter": counter.pk, "file": csv_file(big)}
    )
    assert response.status_code == 413
    assert "Файл больше 64,0\xa0КБ. Разделите его на файлы поменьше" in response.text
    assert not Upload.objects.exists()
    assert list(Path(settings.FILE_UPLOAD_TEMP_DIR).iterdir()) == []
    assert not list(Path(settings.MEDIA_ROOT).rglob("*source*"))
    assert tempfile.gettempdir()


def test_the_stored_file_has_a_generated_name(wizard):
    wizard.start(csv_file(name="../../etc/<img src=x>\u202eorders.csv"))
    upload = wizard.upload
    assert upload.original_name == "<img src=x>orders.csv"
    assert upload.original_file.name == f"orderfiles/{upload.public_id}/source"
    text = wizard.client.get(wizard.url("source")).text
    assert "&lt;img src=x&gt;orders.csv" in text
    assert "<img src=x>" not in text


# --- step 2: source -----------------------------------------------------------


def test_source_page_shows_the_first_rows_as_read(wizard):
    wizard.start()
    text = wizard.client.get(wizard.url("source")).text
    assert "ivan@example.com" in text
    assert "заголовок в строке 1" in text


def test_a_header_row_past_the_data_is_explained_on_the_source_page(wizard):
    wizard.start()
    wizard.post(wizard.url("source"), {"action": "reread", "header_row": "99"})
    assert wizard.upload.error_step == Upload.Step.SOURCE
    response = wizard.client.get(
        reverse("uploads:resume", args=[wizard.upload.public_id])
    )
    assert response.url == wizard.url("source")
    text = wizard.client.get(wizard.url("source")).text
    assert "Строка 99 не может быть заголовком" in text


def test_choosing_the_delimiter_reads_the_file_again(wizard):
    wizard.start()
    wizard.post(wizard.url("source"), {"action": "reread", "delimiter": ";"})
    assert wizard.upload.source_options == {"delimiter": ";"}
    assert wizard.upload.delimiter == ";"
    assert len(wizard.upload.columns) == 1


# --- step 3: columns ------------------------------------------------------------


def test_columns_cannot_be_skipped_before_the_source_is_accepted(wizard):
    wizard.start()
    response = wizard.client.get(wizard.url("columns"))
    assert response.url == wizard.url("source")


def test_the_order_date_is_required_before_going_on(wizard):
    wizard.start()
    wizard.post(wizard.url("source"), {"action": "next"})
    response = wizard.columns(**{"Дата": ""})
    assert response.status_code == 200
    assert "Выберите столбец для «create_date_time»: Метрика требует это поле." in (
        response.text
    )
    assert wizard.upload.step == Upload.Step.COLUMNS


def test_an_identifier_is_required_before_going_on(wizard):
    wizard.start()
    wizard.post(wizard.url("source"), {"action": "next"})
    response = wizard.columns(Email="", Телефон="")
    assert "Выберите хотя бы один столбец с ClientID, e-mail или телефонами" in (
        response.text
    )


def test_one_column_only_for_a_single_field(wizard):
    wizard.start()
    wizard.post(wizard.url("source"), {"action": "next"})
    response = wizard.columns(Сумма="id")
    assert (
        "В поле «Номер заказа (id)» можно отправить только один столбец, а выбраны "
        "«Номер заказа», «Сумма»." in response.text.replace("&laquo;", "«")
    )


def test_list_fields_combine_columns(wizard):
    wizard.start()
    wizard.post(wizard.url("source"), {"action": "next"})
    wizard.columns(Телефон="emails", constant_currency="rub")
    assert wizard.upload.mapping["fields"]["emails"] == ["Email", "Телефон"]
    assert wizard.upload.mapping["constants"] == {"currency": "RUB"}


def test_a_saved_mapping_is_offered_and_applied(wizard, counter):
    from ordersync.counters.models import SavedMapping

    wizard.start()
    wizard.post(wizard.url("source"), {"action": "next"})
    data = {"action": "save", "name": "amoCRM"}
    for index, column in enumerate(wizard.upload.columns):
        data[f"col_{index}"] = {"Дата": "create_date_time", "Email": "emails"}.get(
            column, ""
        )
    wizard.post(wizard.url("columns"), data)
    saved = SavedMapping.objects.get(counter=counter, name="amoCRM")
    assert saved.mapping["fields"] == {
        "create_date_time": ["Дата"],
        "emails": ["Email"],
    }
    wizard.post(wizard.url("columns"), {"action": "apply", "mapping": "suggested"})
    assert "id" in wizard.upload.mapping["fields"]
    text = wizard.client.get(wizard.url("columns")).text
    assert f'<option value="{saved.pk}">amoCRM</option>' in text
    wizard.post(wizard.url("columns"), {"action": "apply", "mapping": saved.pk})
    assert wizard.upload.mapping["fields"] == saved.mapping["fields"]
    assert wizard.upload.mapping_origin == "amoCRM"


def test_the_next_upload_starts_from_the_last_mapping_of_the_counter(wizard):
    first = wizard.run_to_preview()
    wizard.start()
    assert wizard.upload.pk != first.pk
    assert wizard.upload.mapping_origin == "last"
    assert wizard.upload.mapping["fields"] == first.mapping["fields"]
    text = wizard.client.get(wizard.url("source")).text
    assert "ivan@example.com" in text


# --- step 4: values and options -----------------------------------------------


def test_status_values_come_with_row_counts_and_synonyms(wizard):
    wizard.start()
    wizard.post(wizard.url("source"), {"action": "next"})
    wizard.columns()
    text = wizard.client.get(wizard.url("options")).text
    assert "Оплачен" in text and "Отменён" in text
    values = wizard.upload.status_counts["values"]
    assert {v["value"]: (v["rows"], v["status"]) for v in values} == {
        "Оплачен": (1, "PAID"),
        "В работе": (1, "IN_PROGRESS"),
        "Отменён": (1, "CANCELLED"),
    }


def test_remembered_statuses_fill_in_the_next_upload(wizard, counter):
    text = "id,date,email,status\n1,05.03.2024,a@b.ru,Ждёт звонка\n"
    wizard.start(csv_file(text))
    wizard.post(wizard.url("source"), {"action": "next"})
    wizard.columns(status="order_status")
    wizard.options(statuses={"Ждёт звонка": "IN_PROGRESS"})
    assert counter.status_dictionaries.get().statuses == {"Ждёт звонка": "IN_PROGRESS"}
    wizard.start(csv_file(text))
    wizard.post(wizard.url("source"), {"action": "next"})
    wizard.columns(status="order_status")
    assert wizard.upload.status_counts["values"][0]["status"] == "IN_PROGRESS"


def test_merge_mode_must_be_one_of_three(wizard):
    wizard.start()
    wizard.post(wizard.url("source"), {"action": "next"})
    wizard.columns()
    response = wizard.options(merge_mode="REPLACE")
    assert response.status_code == 200
    assert wizard.upload.status == Upload.Status.DRAFT
    for mode in ("SAVE", "UPDATE", "APPEND"):
        assert f'value="{mode}"' in response.text


# --- step 5: preview ----------------------------------------------------------


def test_preview_shows_totals_problems_and_the_rows_as_sent(ready):
    upload = ready.upload
    assert (upload.rows_total, upload.rows_valid, upload.rows_invalid) == (3, 2, 1)
    text = ready.client.get(ready.url("preview")).text
    assert "Значений больше, чем столбцов" in text
    assert "В строке 3 7 значений, больше, чем 6 столбцов в заголовке" in text
    assert "2feb444c58cd098daac78bc257680383" in text  # ivan@example.com, hashed


def test_problem_table_filters_by_code_and_pages(wizard, settings):
    rows = "".join(f"{i},05.03.2024,bad-mail-{i}\n" for i in range(120))
    wizard.run_to_preview(csv_file("id,date,email\n" + rows))
    assert wizard.upload.counts_by_code["email_invalid"] == 120
    page = wizard.client.get(wizard.url("preview", code="email_invalid", page=3)).text
    assert "Страница 3 из 3" in page
    assert "bad-mail-119" in page and "bad-mail-0<" not in page
    unknown = wizard.client.get(wizard.url("preview", code="no_such_code")).text
    assert "Страница 1 из 5" in unknown  # every problem, dates included


def test_problem_report_has_the_original_columns_and_an_error_column(ready):
    url = reverse("uploads:download", args=[ready.upload.public_id, "problems.csv"])
    response = ready.client.get(url)
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert "attachment" in response["Content-Disposition"]
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    header = text.splitlines()[0]
    assert header.startswith('"Строка","Номер заказа","Дата"')
    assert header.endswith('"Ошибки и предупреждения"')
    xlsx = reverse("uploads:download", args=[ready.upload.public_id, "problems.xlsx"])
    assert ready.client.get(xlsx).status_code == 200


def test_the_file_to_send_is_the_exact_part(ready):
    part = UploadPart.objects.get(upload=ready.upload)
    url = reverse("uploads:download", args=[ready.upload.public_id, "0"])
    body = b"".join(ready.client.get(url).streaming_content)
    assert body == part.file.open("rb").read()
    assert body.count(b"\n") == part.rows + 1 == 3


def test_fixing_the_file_keeps_the_mapping(ready):
    mapping = ready.upload.mapping
    fixed = "Номер заказа,Дата,Email,Телефон,Статус,Сумма\nB-1,05.03.2024,a@b.ru,,,1\n"
    ready.post(ready.url("file"), {"file": csv_file(fixed, name="fixed.csv")})
    upload = ready.upload
    assert upload.original_name == "fixed.csv"
    assert upload.mapping["fields"] == mapping["fields"]
    assert upload.step == Upload.Step.SOURCE
    assert not upload.parts.exists()


# --- resume and confirm ---------------------------------------------------------


def test_a_draft_resumes_where_it_was_left(wizard):
    wizard.start()
    wizard.post(wizard.url("source"), {"action": "next"})
    resume = reverse("uploads:resume", args=[wizard.upload.public_id])
    assert wizard.client.get(resume).url == wizard.url("columns")
    drafts = wizard.client.get(reverse("uploads:new")).text
    assert resume in drafts


def test_later_steps_redirect_to_the_current_one(wizard):
    wizard.start()
    for step in ("options", "preview", "confirm"):
        assert wizard.client.get(wizard.url(step)).url == wizard.url("source")


def _without_tokens(text: str) -> str:
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", text)


def test_back_and_reload_show_the_same_choices(ready):
    for step in ("source", "columns", "options", "preview"):
        first = ready.client.get(ready.url(step))
        assert first.status_code == 200
        again = ready.client.get(ready.url(step)).text
        assert _without_tokens(again) == _without_tokens(first.text)


def test_confirm_shows_the_summary_and_sends_once(ready, counter):
    ready.post(ready.url("preview"))
    text = ready.client.get(ready.url("confirm")).text
    assert "Shop" in text and "SAVE" in text and "отправляются как MD5-хеши" in text
    response = ready.post(ready.url("confirm"))
    assert response.url == reverse("submissions:detail", args=[ready.upload.public_id])
    again = ready.post(ready.url("confirm"))
    assert again.status_code == 302
    assert ready.upload.status == Upload.Status.CONFIRMED
    assert ready.upload.submissions.count() == 1


def test_an_upload_with_nothing_valid_cannot_be_confirmed(wizard):
    wizard.run_to_preview(csv_file("id,date,email\n1,05.03.2024,bad\n"))
    assert wizard.upload.rows_valid == 0
    text = wizard.client.get(wizard.url("preview")).text
    assert "Ни одну строку нельзя отправить" in text
    wizard.post(wizard.url("preview"))
    assert wizard.upload.step == Upload.Step.PREVIEW


def test_abandoning_a_draft_deletes_its_files(ready, settings):
    from pathlib import Path

    ready.post(reverse("uploads:abandon", args=[ready.upload.public_id]))
    assert ready.upload.status == Upload.Status.ABANDONED
    assert not [p for p in Path(settings.MEDIA_ROOT).rglob("*") if p.is_file()]


def test_english_on_request(ready):
    ready.client.post(reverse("set_language"), {"language": "en", "next": "/"})
    text = ready.client.get(ready.url("preview")).text
    assert "Rows in the file" in text
    assert "Row 3 has 7 values, more than the 6 columns in the header" in text
