"""What the wizard's templates show, computed from the Upload without queries."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from ordersync.orderfile import Problem
from ordersync.orderfile.messages import WARNING_CODES
from ordersync.uploads.forms import engine_lang, field_label
from ordersync.uploads.models import Upload, UploadProblem

Step = Upload.Step
Job = Upload.Job
STEPS = list(Step.values)
JOB_PAGE = {
    Job.INSPECT: Step.SOURCE,
    Job.STATUSES: Step.OPTIONS,
    Job.VALIDATE: Step.PREVIEW,
    Job.FIXES: Step.PREVIEW,
}

PROBLEM_LABELS = {
    "date_missing": _("Order date is empty"),
    "date_invalid": _("Date not recognised"),
    "date_unix_time": _("Date in Unix time"),
    "date_impossible": _("Date does not exist"),
    "date_before_1970": _("Date before 1970"),
    "date_in_future": _("Date in the future"),
    "email_invalid": _("Invalid e-mail"),
    "phone_invalid": _("Invalid phone"),
    "phone_excel_exponent": _("Phone rounded by Excel"),
    "client_id_invalid": _("Invalid ClientID"),
    "client_id_rounded": _("ClientID rounded by Excel"),
    "money_invalid": _("Not an amount"),
    "money_ambiguous": _("Ambiguous amount"),
    "money_negative": _("Negative amount"),
    "goal_invalid": _("Invalid goal"),
    "currency_invalid": _("Invalid currency"),
    "status_unmapped": _("Status not mapped"),
    "md5_invalid": _("Not an MD5 hash"),
    "value_too_long": _("Value too long"),
    "value_control_chars": _("Line breaks or control characters"),
    "no_identifier": _("No ClientID, e-mail or phone"),
    "formula_without_value": _("Formula without a value"),
    "row_extra_values": _("More values than columns"),
    "id_missing": _("No order number"),
    "id_duplicate": _("Repeated order number"),
    "cost_above_revenue": _("Cost above revenue"),
    "date_older_than_90_days": _("Older than 90 days"),
    "value_repaired": _("Value repaired"),
}


def step_nav(upload: Upload | None, current: str) -> list[dict[str, Any]]:
    """Return the six steps with their state and, where reachable, their link."""
    reached = STEPS.index(upload.step) if upload else 0
    if upload and upload.status == Upload.Status.ANALYSING:
        reached = max(reached, STEPS.index(JOB_PAGE[upload.job]))
    closed = upload is not None and upload.status in (
        Upload.Status.CONFIRMED,
        Upload.Status.ABANDONED,
    )
    items = []
    for index, (value, label) in enumerate(Step.choices):
        link = ""
        if upload is not None and index <= reached and not closed:
            link = reverse(f"uploads:{value}", args=[upload.public_id])
        items.append(
            {
                "number": index + 1,
                "label": label,
                "current": value == current,
                "done": index < STEPS.index(current),
                "url": link if value != current else "",
            }
        )
    return items


def progress_context(row: dict[str, Any]) -> dict[str, Any]:
    """Return what the progress bar shows: rows read, percent and time left."""
    fraction = float(row.get("progress_fraction") or 0.0)
    started = row.get("job_started_at")
    left = None
    if started and 0.02 <= fraction < 1.0:
        elapsed = (timezone.now() - started).total_seconds()
        left = max(1, round(elapsed * (1 - fraction) / fraction))
    return {
        "job": row.get("job"),
        "job_label": Job(row["job"]).label if row.get("job") else "",
        "rows": row.get("progress_rows") or 0,
        "percent": min(100, round(fraction * 100)),
        "seconds_left": left,
    }


def column_rows(upload: Upload, form: Any) -> list[dict[str, Any]]:
    """Return one row per source column: samples, the chosen field, confidence."""
    confidence = upload.mapping.get("confidence", {})
    fields_of = {
        c: f for f, cols in upload.mapping.get("fields", {}).items() for c in cols
    }
    rows = []
    for index, column, bound in form.column_fields():
        samples: list[str] = []
        for _n, values in upload.source_preview:
            value = values[index] if index < len(values) else ""
            if value and value not in samples:
                samples.append(value)
            if len(samples) == 3:
                break
        field = fields_of.get(column, "")
        score = confidence.get(field) if field else None
        rows.append(
            {
                "column": column,
                "field": bound,
                "samples": samples,
                "confidence": round(score * 100) if score is not None else None,
            }
        )
    return rows


def mapping_rows(mapping: dict[str, Any]) -> list[dict[str, Any]]:
    """Return the mapping as rows of a Metrika field and the columns that fill it,
    or the value it gets on every row."""
    rows: list[dict[str, Any]] = [
        {"field": field_label(field), "columns": columns}
        for field, columns in (mapping.get("fields") or {}).items()
        if columns
    ]
    rows += [
        {"field": field_label(field), "constant": value}
        for field, value in (mapping.get("constants") or {}).items()
        if value not in ("", None, [])
    ]
    return rows


def problem_types(upload: Upload) -> list[dict[str, Any]]:
    """Return the problem codes found, errors first, the most frequent first."""
    types = [
        {
            "code": code,
            "count": count,
            "label": PROBLEM_LABELS.get(code, code),
            "warning": code in WARNING_CODES,
        }
        for code, count in upload.counts_by_code.items()
    ]
    types.sort(key=lambda t: (t["warning"], -t["count"], t["code"]))
    return types


def problem_rows(problems: Iterable[UploadProblem]) -> list[dict[str, Any]]:
    lang = engine_lang()
    return [
        {
            "row": p.row,
            "column": p.column,
            "field": field_label(p.field) if p.field else "",
            "value": p.value,
            "code": p.code,
            "label": PROBLEM_LABELS.get(p.code, p.code),
            "warning": p.severity == "warning",
            "message": Problem(
                p.code, p.row, p.column, p.field, p.value, dict(p.params)
            ).message(lang),
        }
        for p in problems
    ]


def output_rows(upload: Upload) -> list[dict[str, Any]]:
    """Return the preview of sent rows with each cell's repair, if any."""
    columns = upload.output_columns
    rows = []
    for item in upload.output_preview:
        repaired = item.get("repaired", {})
        rows.append(
            {
                "row": item["row"],
                "cells": [
                    {"value": v, "original": repaired.get(c)}
                    for c, v in zip(columns, item["values"], strict=False)
                ],
            }
        )
    return rows
