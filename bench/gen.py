"""Generate messy CRM order exports for the bench (never committed: bench/data/).

Dates, phones and amounts come in the formats real exports use; about 2% of rows
carry exactly one defect each. Deterministic for a given seed.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import random
from collections.abc import Iterator
from pathlib import Path

HEADER = [
    "Номер заказа",
    "Дата создания",
    "ID клиента",
    "ClientID",
    "E-mail",
    "Телефон",
    "Телефон 2",
    "Статус",
    "Сумма",
    "Себестоимость",
    "Цели",
    "Валюта",
    "Комментарий",
]
STATUSES = ["Оплачен", "оплачен", "В работе", "Отменён", "спам", "PAID", "new", ""]
DEFECTS = [
    lambda r: r.__setitem__(1, "31.02.2024 10:00"),
    lambda r: r.__setitem__(1, "вчера"),
    lambda r: r.__setitem__(1, ""),
    lambda r: r.__setitem__(4, "ivan@@example"),
    lambda r: r.__setitem__(5, "12345"),
    lambda r: r.__setitem__(8, "abc"),
    lambda r: r.__setitem__(8, "-500"),
    lambda r: r.__setitem__(7, "Доставлен"),
    lambda r: r.__setitem__(11, "USDT"),
    lambda r: r.__setitem__(10, "goal_a:abc"),
    lambda r: r.__setitem__(3, "12ab34"),
    lambda r: (r.__setitem__(3, ""), r.__setitem__(4, ""), r.__setitem__(5, "")),
]


def _date(rng: random.Random, base: dt.datetime) -> str:
    moment = base - dt.timedelta(seconds=rng.randrange(0, 200 * 86400))
    kind = rng.random()
    if kind < 0.45:
        return moment.strftime("%Y-%m-%d %H:%M:%S")
    if kind < 0.85:
        return moment.strftime("%d.%m.%Y %H:%M")
    if kind < 0.97:
        return moment.strftime("%d.%m.%Y")
    return moment.strftime("%Y-%m-%dT%H:%M:%S+03:00")


def _phone(rng: random.Random) -> str:
    digits = f"9{rng.randrange(10**9):09d}"
    kind = rng.random()
    if kind < 0.3:
        return f"+7 ({digits[:3]}) {digits[3:6]}-{digits[6:8]}-{digits[8:]}"
    if kind < 0.55:
        return "8" + digits
    if kind < 0.75:
        return "7" + digits
    if kind < 0.9:
        return f"8-{digits[:3]}-{digits[3:6]}-{digits[6:8]}-{digits[8:]}"
    return "+7" + digits


def _money(rng: random.Random) -> tuple[str, float]:
    value = rng.randrange(100, 500_000) / 100
    kind = rng.random()
    if kind < 0.8:
        return f"{value:.2f}", value
    if kind < 0.95:
        whole, frac = f"{value:.2f}".split(".")
        grouped = f"{int(whole):,}".replace(",", " ")
        return f"{grouped},{frac}", value
    if kind < 0.98:
        return f"{int(value):,}".replace(",", "\u00a0") + ",00", float(int(value))
    return str(int(value)), float(int(value))


def rows(n: int, seed: int = 42) -> Iterator[list[str]]:
    """Yield ``n`` messy order rows (without the header)."""
    rng = random.Random(seed)
    base = dt.datetime(2026, 11, 1, 12, 0)
    for i in range(n):
        client = ""
        if rng.random() < 0.7:
            ids = [str(rng.randrange(10**18, 18 * 10**18)) for _ in range(1)]
            if rng.random() < 0.1:
                ids.append(str(rng.randrange(10**18, 18 * 10**18)))
            client = ",".join(ids)
        email = ""
        if rng.random() < 0.85:
            email = f"user{rng.randrange(10**7)}@example.ru"
            if rng.random() < 0.1:
                email = email.upper()
            elif rng.random() < 0.05:
                email = f"  {email} "
            if rng.random() < 0.08:
                email += f", other{i}@mail.ru"
        phone = _phone(rng) if rng.random() < 0.8 else ""
        phone2 = _phone(rng) if rng.random() < 0.04 else ""
        revenue, value = _money(rng)
        cost = ""
        if rng.random() < 0.5:
            cost = f"{value * rng.uniform(0.3, 1.1):.2f}"
        goals = "goal_a:200,goal_b" if rng.random() < 0.35 else ""
        currency = rng.choice(["RUB"] * 16 + ["EUR"] + [""] * 3)
        row = [
            f"ord-{i}" if rng.random() > 0.001 else f"ord-{i - 1}",
            _date(rng, base),
            f"u{rng.randrange(10**6)}" if rng.random() < 0.5 else "",
            client,
            email,
            phone,
            phone2,
            rng.choice(STATUSES),
            revenue,
            cost,
            goals,
            currency,
            "позвонить после 18:00" if rng.random() < 0.1 else "",
        ]
        if rng.random() < 0.02:
            rng.choice(DEFECTS)(row)
        yield row


def write_csv(path: Path, n: int, seed: int = 42) -> Path:
    """Write a messy n-row CSV (UTF-8, comma) with a title line above the header."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["Выгрузка заказов из CRM"])
        writer.writerow(HEADER)
        for row in rows(n, seed):
            writer.writerow(row)
    return path


def write_xlsx(path: Path, n: int, seed: int = 42) -> Path:
    """Write a messy n-row XLSX; plain amounts and phones as numbers, like Excel."""
    from openpyxl import Workbook

    path.parent.mkdir(parents=True, exist_ok=True)
    book = Workbook(write_only=True)
    sheet = book.create_sheet("Заказы")
    sheet.append(HEADER)
    for row in rows(n, seed):
        cells: list[object] = list(row)
        if row[8].replace(".", "", 1).isdigit():
            cells[8] = float(row[8])
        if row[5].isdigit() and len(row[5]) == 11:
            cells[5] = int(row[5])
        sheet.append(cells)
    book.save(path)
    return path


def to_shared_strings(source: Path, path: Path) -> Path:
    """Copy an XLSX written by :func:`write_xlsx` (openpyxl keeps text in the
    cells) as Excel saves it: text in a shared-strings table, in the order first
    used, and no empty cells."""
    import re
    import zipfile

    sheet_name = "xl/worksheets/sheet1.xml"
    cell = re.compile(
        rb'<c r="([A-Z]+\d+)"( s="\d+")? t="inlineStr"'
        rb"(?: />|><is>(<t[^>]*>.*?</t>)</is></c>)"
    )
    strings: dict[bytes, int] = {}

    def shared(match: re.Match[bytes]) -> bytes:
        if match.group(3) is None:
            return b""
        index = strings.setdefault(match.group(3), len(strings))
        return b'<c r="%s"%s t="s"><v>%d</v></c>' % (
            match.group(1),
            match.group(2) or b"",
            index,
        )

    with (
        zipfile.ZipFile(source) as src,
        zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as out,
    ):
        for info in src.infolist():
            data = src.read(info)
            if info.filename == sheet_name:
                data = cell.sub(shared, data)
            elif info.filename == "[Content_Types].xml":
                data = data.replace(
                    b"</Types>",
                    b'<Override PartName="/xl/sharedStrings.xml" ContentType="'
                    b"application/vnd.openxmlformats-officedocument.spreadsheetml"
                    b'.sharedStrings+xml" /></Types>',
                )
            elif info.filename == "xl/_rels/workbook.xml.rels":
                data = data.replace(
                    b"</Relationships>",
                    b'<Relationship Type="http://schemas.openxmlformats.org/'
                    b'officeDocument/2006/relationships/sharedStrings" '
                    b'Target="sharedStrings.xml" Id="rIdShared" /></Relationships>',
                )
            out.writestr(info.filename, data)
        table = b"".join(b"<si>%s</si>" % text for text in strings)
        out.writestr(
            "xl/sharedStrings.xml",
            b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            b'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
            b' uniqueCount="%d">%s</sst>' % (len(strings), table),
        )
    return path


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("path", type=Path)
    parser.add_argument("rows", type=int)
    parser.add_argument("--xlsx", action="store_true")
    args = parser.parse_args()
    (write_xlsx if args.xlsx else write_csv)(args.path, args.rows)
