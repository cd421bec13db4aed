"""The upload wizard, walked in headless Chromium from file to "Send to Metrika"."""

import csv
import datetime as dt
import io
from pathlib import Path

import pytest

from tests.browser.conftest import log_in
from tests.uploads.conftest import account, counter  # noqa: F401 - fixtures

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots" / "wizard"


def day(days_ago: int, time: str = "") -> str:
    value = (dt.date.today() - dt.timedelta(days=days_ago)).strftime("%d.%m.%Y")
    return f"{value} {time}".strip()


def clean_csv() -> bytes:
    return (
        "id,create_date_time,emails,phones,order_status,revenue\n"
        f"A-1,{day(3, '10:15')},ivan@example.com,+79123456789,PAID,1500\n"
        f"A-2,{day(2, '11:00')},olga@example.com,+79123456780,IN_PROGRESS,2300.50\n"
        f"A-3,{day(1, '09:30')},petr@example.com,+79123456781,CANCELLED,990\n"
    ).encode()


def messy_cp1251() -> bytes:
    rows = [
        "№ заказа;Дата заказа;Телефон клиента;E-mail;Статус сделки;Сумма, руб.",
        f"1001;{day(5, '14:30')};8 (912) 345-67-89;mailto:Ivan@Example.COM;"
        "Успешно реализовано;1 500,00",
        f"1002;{day(4)};+7 912 000 11 22;not-an-email;В работе;2300",
        "1003;31.02.2024;89120001133;olga@example.com;Ждёт звонка;=1+2",
        f"1004;{day(3, '09:00')};;;Отказ;100",
        f"1001;{day(2)};+79120001144;;Оплачен;2 000,00",
    ]
    return "\r\n".join(rows).encode("cp1251")


def workbook_with_title() -> bytes:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.title = "Заказы"
    sheet.append(["Выгрузка заказов из CRM за неделю"])
    sheet.append(["ID заказа", "Дата создания", "Email", "Выручка"])
    today = dt.datetime.combine(dt.date.today(), dt.time(12, 0))
    sheet.append(["W-1", today - dt.timedelta(days=2), "anna@example.com", 1200])
    sheet.append(["W-2", today - dt.timedelta(days=1), "boris@example.com", 800.5])
    sheet.append(["W-3", today - dt.timedelta(days=1), "not mail", 100])
    book.create_sheet("Справочник").append(["Код", "Название"])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


@pytest.fixture
def wizard_env(request, settings, tmp_path, monkeypatch):
    from ordersync.celery import app
    from ordersync.submissions import tasks

    request.getfixturevalue("counter")
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.CELERY_TASK_ALWAYS_EAGER = True
    app.conf.task_always_eager = True
    queued = []
    # Sending is the submissions app's job; here it is only queued.
    monkeypatch.setattr(
        tasks.submission_process_task, "apply_async", lambda *a, **k: queued.append(a)
    )
    SHOTS.mkdir(parents=True, exist_ok=True)
    yield queued
    app.conf.task_always_eager = False


def shot(page, name: str) -> None:
    page.screenshot(path=SHOTS / f"{name}.png", full_page=True)


def start(page, live_server, tmp_path, name: str, content: bytes, prefix: str):
    log_in(page, live_server, "bob-marketer", "pw-marketer-123456")
    page.wait_for_url(f"{live_server.url}/")
    page.get_by_role("link", name="Новая загрузка").click()
    page.get_by_label("Счётчик").select_option(label="Shop (44147844)")
    path = tmp_path / name
    path.write_bytes(content)
    page.set_input_files("#id_file", str(path))
    assert page.get_by_text(name).first.is_visible()
    shot(page, f"{prefix}-1-file")
    page.get_by_role("button", name="Загрузить и прочитать файл").click()
    page.wait_for_url("**/source/")


def to_preview(page, prefix: str) -> None:
    shot(page, f"{prefix}-3-columns")
    page.get_by_role("button", name="Дальше: значения и настройки").click()
    page.wait_for_url("**/options/")
    shot(page, f"{prefix}-4-options")
    page.get_by_role("button", name="Проверить все строки").click()
    page.wait_for_url("**/preview/")
    page.get_by_test_id("totals").wait_for()
    shot(page, f"{prefix}-5-preview")


def totals(page) -> tuple[str, str, str, str]:
    return tuple(
        page.get_by_test_id(t).inner_text()
        for t in ("rows-total", "rows-valid", "rows-invalid", "warnings")
    )


def confirm(page, prefix: str, rows: int, queued: list) -> None:
    page.get_by_test_id("send-valid").click()
    page.wait_for_url("**/confirm/")
    assert page.get_by_test_id("confirm-rows").inner_text() == str(rows)
    shot(page, f"{prefix}-6-confirm")
    page.get_by_test_id("send").click()
    page.wait_for_url("**/history/**")
    shot(page, f"{prefix}-7-queued")
    assert page.get_by_text("В очереди").first.is_visible()
    assert len(queued) == 1


def download_report(page, tmp_path) -> list[list[str]]:
    with page.expect_download() as info:
        page.get_by_test_id("report-csv").click()
    target = tmp_path / "report.csv"
    info.value.save_as(target)
    text = target.read_bytes().decode("utf-8-sig")
    return list(csv.reader(io.StringIO(text)))


def test_clean_csv_goes_through_with_nothing_to_fix(
    page, live_server, tmp_path, wizard_env
):
    start(page, live_server, tmp_path, "clean.csv", clean_csv(), "clean")
    assert "CSV" in page.get_by_test_id("detected").inner_text()
    shot(page, "clean-2-source")
    page.get_by_role("button", name="Дальше: столбцы").click()
    page.wait_for_url("**/columns/")
    to_preview(page, "clean")
    assert totals(page) == ("3", "3", "0", "0")
    assert page.get_by_test_id("no-problems").is_visible()
    assert page.get_by_test_id("sent-rows").locator("tbody tr").count() == 3
    confirm(page, "clean", 3, wizard_env)
    assert page.console_errors == []


def test_messy_cp1251_export_shows_each_problem_and_sends_the_rest(
    page, live_server, tmp_path, wizard_env
):
    start(page, live_server, tmp_path, "crm-export.csv", messy_cp1251(), "messy")
    detected = page.get_by_test_id("detected").inner_text()
    assert "cp1251" in detected and "«;»" in detected
    assert page.get_by_test_id("source-preview").get_by_text("Успешно реализовано")
    shot(page, "messy-2-source")
    page.get_by_role("button", name="Дальше: столбцы").click()
    page.wait_for_url("**/columns/")
    page.get_by_label("Статус сделки").select_option("order_status")
    page.get_by_label("Сумма, руб.").select_option("revenue")
    to_preview(page, "messy")
    assert totals(page) == ("5", "2", "3", "2")
    types = page.get_by_test_id("problem-types").inner_text()
    for label in ("Неверный e-mail", "Дата не существует", "Не сумма", "Статус"):
        assert label in types
    table = page.get_by_test_id("problem-table")
    assert table.get_by_text(
        "Строка 3, столбец «E-mail»: «not-an-email» — некорректный адрес e-mail."
    ).is_visible()
    page.locator("[data-code=email_invalid]").click()
    page.wait_for_url("**code=email_invalid")
    assert page.get_by_test_id("problem-table").locator("tbody tr").count() == 1
    assert page.get_by_test_id("repaired").count() >= 1
    shot(page, "messy-5-preview-filtered")
    report = download_report(page, tmp_path)
    assert report[0][0] == "Строка" and report[0][-1] == "Ошибки и предупреждения"
    assert [r[0] for r in report[1:] if r[0] in ("4", "5", "6")] == ["4", "5", "6"]
    assert "'=1+2" in [cell for row in report for cell in row]
    confirm(page, "messy", 2, wizard_env)
    assert page.console_errors == []


def test_workbook_with_a_title_row_reads_the_header_below_it(
    page, live_server, tmp_path, wizard_env
):
    start(page, live_server, tmp_path, "orders.xlsx", workbook_with_title(), "xlsx")
    detected = page.get_by_test_id("detected").inner_text()
    assert "XLSX" in detected and "«Заказы»" in detected and detected.endswith("2")
    assert page.get_by_label("Лист").is_visible()
    shot(page, "xlsx-2-source")
    page.get_by_role("button", name="Дальше: столбцы").click()
    page.wait_for_url("**/columns/")
    to_preview(page, "xlsx")
    assert totals(page) == ("3", "2", "1", "0")
    assert page.get_by_test_id("without-id").count() == 0
    confirm(page, "xlsx", 2, wizard_env)
    assert page.console_errors == []
