"""The texts people read, by stable code, in Russian and English.

The package has no Django, so it cannot use gettext; instead every problem and error
carries a ``code`` and parameters, and these templates turn them into sentences. The
app may translate codes itself; the CLI and the report use these.
"""

from __future__ import annotations

from typing import Any

# code -> (English, Russian). Parameters: row, line, column, field, value, and
# code-specific ones named in the template.
MESSAGES: dict[str, tuple[str, str]] = {
    # --- files that cannot be read --------------------------------------------
    "file_empty": (
        "The file is empty.",
        "Файл пустой.",
    ),
    "file_not_table": (
        "This is not a table file ({detail}). Upload a CSV or an Excel workbook.",
        "Это не таблица ({detail}). Загрузите CSV или книгу Excel.",
    ),
    "file_zip_not_excel": (
        "The file is a ZIP archive, not an Excel workbook. Upload the .xlsx or .csv "
        "itself, not an archive.",
        "Файл — это ZIP-архив, а не книга Excel. Загрузите сам файл .xlsx или .csv, "
        "а не архив.",
    ),
    "file_xlsb": (
        "Excel binary workbooks (.xlsb) are not supported. In Excel choose "
        "File → Save As → Excel Workbook (.xlsx).",
        "Двоичные книги Excel (.xlsb) не поддерживаются. В Excel выберите "
        "Файл → Сохранить как → Книга Excel (.xlsx).",
    ),
    "file_macro_enabled": (
        "The workbook contains macros. Save it without macros as an Excel Workbook "
        "(.xlsx) and upload that file.",
        "Книга содержит макросы. Сохраните её без макросов как книгу Excel (.xlsx) и "
        "загрузите этот файл.",
    ),
    "file_encrypted": (
        "The workbook is protected with a password. Remove the password in Excel "
        "(File → Info → Protect Workbook) and upload it again.",
        "Книга защищена паролем. Снимите пароль в Excel (Файл → Сведения → Защита "
        "книги) и загрузите её снова.",
    ),
    "file_damaged": (
        "The file is damaged and cannot be read ({detail}). Export it from your CRM "
        "again.",
        "Файл повреждён и не читается ({detail}). Выгрузите его из CRM заново.",
    ),
    "file_too_big_unpacked": (
        "The workbook unpacks to more than {limit_mb} MB. Split it into smaller "
        "files or save it as CSV.",
        "В распакованном виде книга больше {limit_mb} МБ. Разделите её на файлы "
        "поменьше или сохраните как CSV.",
    ),
    "file_too_many_parts": (
        "The workbook has {count} internal parts, more than the {limit} allowed. "
        "Save it again as a plain Excel Workbook (.xlsx).",
        "В книге {count} внутренних частей, больше допустимых {limit}. Сохраните её "
        "заново как обычную книгу Excel (.xlsx).",
    ),
    "file_shared_strings_bomb": (
        "The workbook's text table is far larger than its cells can use. Open it in "
        "Excel and save it again, or save it as CSV.",
        "Таблица строк в книге намного больше, чем могут использовать её ячейки. "
        "Откройте книгу в Excel и сохраните заново или сохраните как CSV.",
    ),
    "sheet_not_found": (
        "There is no sheet named «{sheet}». Sheets in this workbook: {sheets}.",
        "Листа «{sheet}» нет. Листы в книге: {sheets}.",
    ),
    "no_sheets": (
        "The workbook has no worksheets with data.",
        "В книге нет листов с данными.",
    ),
    "too_many_columns": (
        "Row {row} has {count} columns, more than the {limit} allowed.",
        "В строке {row} {count} столбцов, больше допустимых {limit}.",
    ),
    "too_many_rows": (
        "The file has more than {limit} data rows. Split it into smaller files.",
        "В файле больше {limit} строк данных. Разделите его на файлы поменьше.",
    ),
    "no_header": (
        "No header row was found in the first {limit} rows. Put the column names in "
        "one row above the data.",
        "В первых {limit} строках не найдена строка заголовков. Поместите названия "
        "столбцов в одну строку над данными.",
    ),
    "header_row_out_of_range": (
        "Row {row} cannot be the header row: the sheet has data only in rows "
        "{first}–{last} of the first ones read.",
        "Строка {row} не может быть заголовком: в прочитанных первых строках данные "
        "есть только в строках {first}–{last}.",
    ),
    "csv_unterminated_quote": (
        "A quoted value that starts on line {line} is never closed. Check the quotes "
        "on that line and export the file again.",
        "Значение в кавычках, которое начинается в строке {line}, не закрыто. "
        "Проверьте кавычки в этой строке и выгрузите файл заново.",
    ),
    "csv_bad_quote": (
        "Line {line} has a quote in the wrong place ({detail}). Values that contain "
        "quotes must be enclosed in quotes, with inner quotes doubled.",
        "В строке {line} кавычка стоит не на месте ({detail}). Значения с кавычками "
        "должны быть заключены в кавычки, а кавычки внутри — удвоены.",
    ),
    "csv_line_too_long": (
        "Line {line} is longer than {limit_mb} MB; the file is probably not a table "
        "or has no line breaks.",
        "Строка {line} длиннее {limit_mb} МБ: вероятно, это не таблица или в файле "
        "нет переводов строк.",
    ),
    "encoding_mixed": (
        "Line {line} is in a different encoding ({found}) from the rest of the file "
        "({encoding}). Save the whole file in one encoding, preferably UTF-8.",
        "Строка {line} в другой кодировке ({found}), чем остальной файл "
        "({encoding}). Сохраните весь файл в одной кодировке, лучше в UTF-8.",
    ),
    "encoding_invalid": (
        "Line {line} cannot be read as {encoding}. Choose the file's encoding "
        "or save it as UTF-8.",
        "Строку {line} не удаётся прочитать в кодировке {encoding}. Выберите "
        "кодировку файла или сохраните его в UTF-8.",
    ),
    "encoding_unknown": (
        "Unknown encoding «{encoding}».",
        "Неизвестная кодировка «{encoding}».",
    ),
    "delimiter_invalid": (
        "The delimiter must be one character, such as «,» «;» «|» or a tab; got "
        "«{value}».",
        "Разделитель должен быть одним символом, например «,» «;» «|» или "
        "табуляцией; получено «{value}».",
    ),
    "mapping_invalid": (
        "The mapping cannot be used: {detail}.",
        "Это сопоставление столбцов нельзя использовать: {detail}.",
    ),
    "mapping_column_missing": (
        "The mapping uses the column «{column}», which is not in this file.",
        "В сопоставлении есть столбец «{column}», которого нет в этом файле.",
    ),
    "mapping_required_field": (
        "Choose a column for «{field}»: Metrika requires it.",
        "Выберите столбец для «{field}»: Метрика требует это поле.",
    ),
    "mapping_no_identifier": (
        "Choose at least one column with client ids, e-mails or phones: Metrika "
        "needs one of them to link orders to visitors.",
        "Выберите хотя бы один столбец с ClientID, e-mail или телефонами: без них "
        "Метрика не свяжет заказы с посетителями.",
    ),
    "timezone_unknown": (
        "Unknown time zone «{value}». Use a name such as Europe/Moscow.",
        "Неизвестный часовой пояс «{value}». Укажите название вроде Europe/Moscow.",
    ),
    "region_unknown": (
        "Unknown phone region «{value}». Use a two-letter country code such as RU.",
        "Неизвестный регион телефонов «{value}». Укажите двухбуквенный код страны, "
        "например RU.",
    ),
    # --- row errors ---------------------------------------------------------
    "date_missing": (
        "Row {row}: the order date is empty. Every order needs its creation date.",
        "Строка {row}: пустая дата заказа. У каждого заказа должна быть дата создания.",
    ),
    "date_invalid": (
        "Row {row}, column «{column}»: «{value}» is not a date Metrika accepts. Use "
        "dd.mm.yyyy or yyyy-mm-dd, optionally with hh:mm or hh:mm:ss.",
        "Строка {row}, столбец «{column}»: «{value}» — не дата в формате Метрики. "
        "Используйте дд.мм.гггг или гггг-мм-дд, можно с чч:мм или чч:мм:сс.",
    ),
    "date_unix_time": (
        "Row {row}, column «{column}»: «{value}» looks like Unix time, which Metrika "
        "does not accept. Export the date as dd.mm.yyyy hh:mm.",
        "Строка {row}, столбец «{column}»: «{value}» похоже на Unix-время, а его "
        "Метрика не принимает. Выгрузите дату как дд.мм.гггг чч:мм.",
    ),
    "date_impossible": (
        "Row {row}, column «{column}»: «{value}» is not a real calendar date or time.",
        "Строка {row}, столбец «{column}»: «{value}» — несуществующая дата или время.",
    ),
    "date_before_1970": (
        "Row {row}, column «{column}»: {value} is before 1970, which Metrika does not "
        "accept.",
        "Строка {row}, столбец «{column}»: {value} — раньше 1970 года, такие даты "
        "Метрика не принимает.",
    ),
    "date_in_future": (
        "Row {row}, column «{column}»: {value} is in the future in the counter's time "
        "zone ({timezone}). Check the date or the time zone.",
        "Строка {row}, столбец «{column}»: {value} — в будущем по часовому поясу "
        "счётчика ({timezone}). Проверьте дату или часовой пояс.",
    ),
    "email_invalid": (
        "Row {row}, column «{column}»: «{value}» is not a valid e-mail address.",
        "Строка {row}, столбец «{column}»: «{value}» — некорректный адрес e-mail.",
    ),
    "phone_invalid": (
        "Row {row}, column «{column}»: «{value}» is not a phone number with a country "
        "code (for example +7 912 345-67-89).",
        "Строка {row}, столбец «{column}»: «{value}» — не номер телефона с кодом "
        "страны (например, +7 912 345-67-89).",
    ),
    "phone_excel_exponent": (
        "Row {row}, column «{column}»: «{value}» is a phone Excel turned into a number "
        "and rounded. Format the column as text in Excel and export again.",
        "Строка {row}, столбец «{column}»: «{value}» — телефон, который Excel "
        "превратил в число и округлил. Задайте столбцу текстовый формат и выгрузите "
        "заново.",
    ),
    "client_id_invalid": (
        "Row {row}, column «{column}»: «{value}» is not a Metrika ClientID (a whole "
        "number from 1 to 18446744073709551615).",
        "Строка {row}, столбец «{column}»: «{value}» — не ClientID Метрики (целое "
        "число от 1 до 18446744073709551615).",
    ),
    "client_id_rounded": (
        "Row {row}, column «{column}»: «{value}» is a ClientID Excel stored as a "
        "number and rounded. Format the column as text in Excel and export again.",
        "Строка {row}, столбец «{column}»: «{value}» — ClientID, который Excel "
        "сохранил как число и округлил. Задайте столбцу текстовый формат и выгрузите "
        "заново.",
    ),
    "money_invalid": (
        "Row {row}, column «{column}»: «{value}» is not an amount (expected e.g. "
        "1234.50 or 1 234,50).",
        "Строка {row}, столбец «{column}»: «{value}» — не сумма (ожидается, например, "
        "1234.50 или 1 234,50).",
    ),
    "money_ambiguous": (
        "Row {row}, column «{column}»: «{value}» is ambiguous: it could be a thousands "
        "separator or decimals. Write 1234 or 1.234.",
        "Строка {row}, столбец «{column}»: «{value}» неоднозначно: запятая может "
        "отделять тысячи или дробную часть. Напишите 1234 или 1.234.",
    ),
    "money_negative": (
        "Row {row}, column «{column}»: {value} is negative; Metrika accepts only "
        "amounts of 0 or more.",
        "Строка {row}, столбец «{column}»: {value} — отрицательная сумма; Метрика "
        "принимает только суммы от 0.",
    ),
    "goal_invalid": (
        "Row {row}, column «{column}»: «{value}» is not a goal in the form "
        "goal_id or goal_id:price (for example oplata_cash:200).",
        "Строка {row}, столбец «{column}»: «{value}» — не цель вида "
        "идентификатор или идентификатор:цена (например, oplata_cash:200).",
    ),
    "currency_invalid": (
        "Row {row}, column «{column}»: «{value}» is not a three-letter currency code "
        "such as RUB, USD or EUR.",
        "Строка {row}, столбец «{column}»: «{value}» — не трёхбуквенный код валюты "
        "вроде RUB, USD или EUR.",
    ),
    "status_unmapped": (
        "Row {row}, column «{column}»: the status «{value}» ({count} rows) is not "
        "mapped. Choose PAID, IN_PROGRESS, CANCELLED or SPAM for it.",
        "Строка {row}, столбец «{column}»: статус «{value}» (строк: {count}) не "
        "сопоставлен. Выберите для него PAID, IN_PROGRESS, CANCELLED или SPAM.",
    ),
    "md5_invalid": (
        "Row {row}, column «{column}»: «{value}» is not an MD5 hash (32 hexadecimal "
        "characters).",
        "Строка {row}, столбец «{column}»: «{value}» — не MD5-хеш (32 "
        "шестнадцатеричных символа).",
    ),
    "value_too_long": (
        "Row {row}, column «{column}»: the value is {length} characters long, more "
        "than the {limit} allowed for {field}.",
        "Строка {row}, столбец «{column}»: значение длиной {length} символов, больше "
        "допустимых {limit} для {field}.",
    ),
    "value_control_chars": (
        "Row {row}, column «{column}»: «{value}» contains line breaks or control "
        "characters.",
        "Строка {row}, столбец «{column}»: «{value}» содержит переводы строк или "
        "управляющие символы.",
    ),
    "no_identifier": (
        "Row {row}: no ClientID, e-mail or phone. Metrika cannot link this order to "
        "a visitor.",
        "Строка {row}: нет ни ClientID, ни e-mail, ни телефона. Метрика не сможет "
        "связать заказ с посетителем.",
    ),
    "formula_without_value": (
        "Row {row}, column «{column}»: the cell holds a formula with no saved result. "
        "Open the file in Excel, let it recalculate, and save it again.",
        "Строка {row}, столбец «{column}»: в ячейке формула без сохранённого "
        "результата. Откройте файл в Excel, дайте ему пересчитать и сохраните снова.",
    ),
    "row_extra_values": (
        "Row {row} has {count} values, more than the {limit} columns in the header; "
        "the values may be shifted.",
        "В строке {row} {count} значений, больше, чем {limit} столбцов в заголовке; "
        "значения могли сдвинуться.",
    ),
    # --- row warnings ---------------------------------------------------------
    "id_missing": (
        "Row {row}: no order id. Metrika accepts it, but re-sending the file would "
        "count this order twice.",
        "Строка {row}: нет номера заказа. Метрика примет строку, но при повторной "
        "отправке заказ посчитается дважды.",
    ),
    "id_duplicate": (
        "Row {row}: order id «{value}» is also on row {other_row}. Metrika applies "
        "rows with one id in random order.",
        "Строка {row}: номер заказа «{value}» есть и в строке {other_row}. Строки с "
        "одним номером Метрика применяет в случайном порядке.",
    ),
    "cost_above_revenue": (
        "Row {row}: cost {cost} is higher than revenue {revenue}; the order's value "
        "for goals will be negative.",
        "Строка {row}: себестоимость {cost} больше выручки {revenue}; ценность "
        "заказа для целей будет отрицательной.",
    ),
    "date_older_than_90_days": (
        "Row {row}, column «{column}»: {value} is more than 90 days ago; Metrika no "
        "longer links such orders to visits.",
        "Строка {row}, столбец «{column}»: {value} — больше 90 дней назад; такие "
        "заказы Метрика уже не связывает с визитами.",
    ),
    "value_repaired": (
        "Row {row}, column «{column}»: «{value}» was repaired to «{repaired}» ({how}).",
        "Строка {row}, столбец «{column}»: «{value}» исправлено на «{repaired}» "
        "({how_ru}).",
    ),
}

WARNING_CODES = frozenset(
    {
        "id_missing",
        "id_duplicate",
        "cost_above_revenue",
        "date_older_than_90_days",
        "value_repaired",
    }
)


class _Default(dict):
    """Leave unknown placeholders visible instead of failing."""

    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def render(code: str, lang: str, params: dict[str, Any]) -> str:
    """Return the message for ``code`` in ``lang`` ("ru" or "en")."""
    en, ru = MESSAGES.get(code, (code, code))
    template = ru if lang == "ru" else en
    return template.format_map(_Default({k: _show(v) for k, v in params.items()}))


def _show(value: Any) -> str:
    # Very long values would flood a report line; the cell itself is in the file.
    text = "" if value is None else str(value)
    return text if len(text) <= 80 else text[:77] + "…"
