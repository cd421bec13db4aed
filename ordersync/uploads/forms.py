from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from ordersync import orderfile
from ordersync.orderfile.mapping import CONSTANT_FIELDS, LIST_FIELDS
from ordersync.orderfile.statuses import STATUSES
from ordersync.uploads.models import Upload

FIELD_LABELS = {
    "id": _("Order number"),
    "create_date_time": _("Order date and time"),
    "client_uniq_id": _("Customer id in the CRM"),
    "client_ids": _("Metrika ClientID"),
    "emails": _("E-mail"),
    "phones": _("Phone"),
    "emails_md5": _("E-mail, MD5 hash"),
    "phones_md5": _("Phone, MD5 hash"),
    "order_status": _("Order status"),
    "revenue": _("Revenue"),
    "cost": _("Cost"),
    "goals": _("Goals"),
    "currency": _("Currency"),
}
STATUS_LABELS = {
    "PAID": _("Paid (PAID)"),
    "IN_PROGRESS": _("In progress (IN_PROGRESS)"),
    "CANCELLED": _("Cancelled (CANCELLED)"),
    "SPAM": _("Spam (SPAM)"),
}
ENCODINGS = (
    "utf-8",
    "cp1251",
    "utf-16",
    "koi8-r",
    "cp866",
    "iso8859-5",
    "mac-cyrillic",
)
DELIMITERS = {",": _("Comma ,"), ";": _("Semicolon ;"), "\t": _("Tab"), "|": _("Bar |")}


def field_label(name: str) -> str:
    return f"{FIELD_LABELS.get(name, name)} ({name})"


def engine_lang() -> str:
    return "en" if (get_language() or "ru").startswith("en") else "ru"


class FileForm(forms.Form):
    counter = forms.ModelChoiceField(
        queryset=None,
        label=_("Counter"),
        empty_label=_("Choose a counter"),
        error_messages={"invalid_choice": _("Choose one of your counters.")},
    )
    file = forms.FileField(
        label=_("File"),
        required=False,
        allow_empty_file=True,
        widget=forms.ClearableFileInput(
            attrs={"accept": ".csv,.txt,.tsv,.xlsx,.xlsm,.xls,.ods"}
        ),
    )

    def __init__(self, *args: Any, counters: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["counter"].queryset = counters


class ReplaceFileForm(forms.Form):
    file = forms.FileField(
        label=_("Corrected file"), required=False, allow_empty_file=True
    )


class FixesForm(ReplaceFileForm):
    merge_mode = forms.ChoiceField(
        label=_("Merge mode"), choices=Upload.MergeMode.choices
    )


class SourceForm(forms.Form):
    sheet = forms.ChoiceField(label=_("Sheet"), required=False)
    encoding = forms.ChoiceField(label=_("Encoding"), required=False)
    delimiter = forms.ChoiceField(label=_("Delimiter"), required=False)
    header_row = forms.IntegerField(
        label=_("Header row"), required=False, min_value=1, max_value=1000
    )

    def __init__(self, *args: Any, upload: Upload, **kwargs: Any) -> None:
        chosen = upload.source_options
        kwargs.setdefault(
            "initial",
            {
                "sheet": chosen.get("sheet", ""),
                "encoding": chosen.get("encoding", ""),
                "delimiter": chosen.get("delimiter", ""),
                "header_row": chosen.get("header_row"),
            },
        )
        super().__init__(*args, **kwargs)
        self.upload = upload
        detected = _("Detect automatically")
        if upload.sheets:
            self.fields["sheet"].choices = [("", detected)] + [
                (s, s) for s in upload.sheets
            ]
        else:
            del self.fields["sheet"]
        if upload.kind == "csv" or not upload.kind:
            encodings = list(ENCODINGS)
            if upload.encoding and upload.encoding not in encodings:
                encodings.insert(0, upload.encoding)
            self.fields["encoding"].choices = [("", detected)] + [
                (e, e) for e in encodings
            ]
            self.fields["delimiter"].choices = [("", detected), *DELIMITERS.items()]
        else:
            del self.fields["encoding"]
            del self.fields["delimiter"]
        self.fields["header_row"].widget.attrs["placeholder"] = str(
            upload.header_row or ""
        )

    def options(self) -> dict[str, Any]:
        return {k: v for k, v in self.cleaned_data.items() if v not in ("", None)}


class ColumnsForm(forms.Form):
    """One choice per source column, plus constants."""

    constant_currency = forms.CharField(
        label=_("Currency for every row"),
        required=False,
        max_length=3,
        help_text=_("For example RUB. Leave empty when a column holds the currency."),
    )
    constant_order_status = forms.ChoiceField(
        label=_("Status for every row"), required=False
    )
    constant_goals = forms.CharField(
        label=_("Goals for every row"), required=False, max_length=200
    )

    def __init__(self, *args: Any, upload: Upload, mapping: dict, **kwargs: Any):
        fields_of = {
            c: f for f, cols in mapping.get("fields", {}).items() for c in cols
        }
        constants = mapping.get("constants", {})
        initial = {
            f"col_{i}": fields_of.get(c, "") for i, c in enumerate(upload.columns)
        }
        initial.update({f"constant_{k}": v for k, v in constants.items()})
        kwargs.setdefault("initial", initial)
        super().__init__(*args, **kwargs)
        self.upload = upload
        choices = [("", _("— do not send —"))] + [
            (f, field_label(f)) for f in orderfile.FIELDS
        ]
        for index, column in enumerate(upload.columns):
            self.fields[f"col_{index}"] = forms.ChoiceField(
                label=column, choices=choices, required=False
            )
        self.fields["constant_order_status"].choices = [("", "—")] + [
            (s, STATUS_LABELS[s]) for s in STATUSES
        ]

    def column_fields(self) -> list[tuple[int, str, forms.BoundField]]:
        return [(i, c, self[f"col_{i}"]) for i, c in enumerate(self.upload.columns)]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        fields: dict[str, list[str]] = {}
        for index, column in enumerate(self.upload.columns):
            name = data.get(f"col_{index}")
            if name:
                fields.setdefault(name, []).append(column)
        for name, columns in fields.items():
            if name not in LIST_FIELDS and len(columns) > 1:
                raise forms.ValidationError(
                    _(
                        "«%(field)s» takes one column, but %(columns)s are chosen "
                        "for it. Keep one of them."
                    )
                    % {
                        "field": field_label(name),
                        "columns": ", ".join(f"«{c}»" for c in columns),
                    }
                )
        constants = {}
        for name in sorted(CONSTANT_FIELDS):
            value = (data.get(f"constant_{name}") or "").strip()
            if not value:
                continue
            if name in fields:
                raise forms.ValidationError(
                    _(
                        "«%(field)s» has both a column and a value for every row. "
                        "Keep one of them."
                    )
                    % {"field": field_label(name)}
                )
            constants[name] = value.upper() if name == "currency" else value
        confidence = {
            f: v
            for f, v in self.upload.mapping.get("confidence", {}).items()
            if fields.get(f) == self.upload.mapping.get("fields", {}).get(f)
        }
        try:
            mapping = orderfile.Mapping(
                fields={f: fields[f] for f in orderfile.FIELDS if f in fields},
                constants=constants,
                ignored=[
                    c
                    for c in self.upload.columns
                    if not any(c in v for v in fields.values())
                ],
                confidence=confidence,
            )
            mapping.check_against(self.upload.columns)
        except orderfile.MappingError as exc:
            raise forms.ValidationError(exc.message(engine_lang())) from exc
        data["mapping"] = mapping
        return data


class SaveMappingForm(forms.Form):
    name = forms.CharField(label=_("Name of the mapping"), max_length=100)


class OptionsForm(forms.Form):
    merge_mode = forms.ChoiceField(
        label=_("Orders already in Metrika"),
        choices=Upload.MergeMode.choices,
        widget=forms.RadioSelect,
    )
    hash_pii = forms.BooleanField(
        label=_("Hash e-mails and phones before sending"), required=False
    )
    duplicates = forms.ChoiceField(
        label=_("Rows with the same order number"),
        choices=Upload.Duplicates.choices,
        widget=forms.RadioSelect,
    )
    remember_statuses = forms.BooleanField(
        label=_("Remember these statuses for this counter"),
        required=False,
        initial=True,
    )

    def __init__(self, *args: Any, upload: Upload, known: dict, **kwargs: Any):
        values = upload.status_counts.get("values", []) if upload.status_counts else []
        dictionary = orderfile.StatusDictionary(
            {k: v for k, v in known.items() if v in STATUSES}
        )
        initial = {
            "merge_mode": upload.merge_mode,
            "hash_pii": upload.hash_pii,
            "duplicates": upload.duplicates,
            "remember_statuses": True,
        }
        for index, item in enumerate(values):
            initial[f"status_{index}"] = (
                upload.statuses.get(item["value"])
                or dictionary.lookup(item["value"])
                or ""
            )
        kwargs.setdefault("initial", initial)
        super().__init__(*args, **kwargs)
        self.values = values
        choices = [("", _("— not mapped: these rows are not sent —"))] + [
            (s, STATUS_LABELS[s]) for s in STATUSES
        ]
        for index, item in enumerate(values):
            self.fields[f"status_{index}"] = forms.ChoiceField(
                label=item["value"], choices=choices, required=False
            )

    def status_fields(self) -> list[tuple[dict, forms.BoundField]]:
        return [(item, self[f"status_{i}"]) for i, item in enumerate(self.values)]

    def statuses(self) -> dict[str, str]:
        return {
            item["value"]: self.cleaned_data[f"status_{i}"]
            for i, item in enumerate(self.values)
            if self.cleaned_data.get(f"status_{i}")
        }


def max_upload_mb() -> int:
    return settings.UPLOAD_MAX_BYTES // (1024 * 1024)
