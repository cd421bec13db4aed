from django import forms
from django.utils.translation import gettext_lazy as _

from ordersync.metrika import MergeMode
from ordersync.submissions import selectors
from ordersync.submissions.models import Submission

MERGE_MODES = [
    (MergeMode.SAVE.value, _("SAVE: replace what Metrika holds for these orders")),
    (MergeMode.UPDATE.value, _("UPDATE: change only the columns sent")),
    (MergeMode.APPEND.value, _("APPEND: add list values to the stored ones")),
]


class HistoryFilterForm(forms.Form):
    q = forms.CharField(label=_("File name"), required=False, max_length=100)
    counter = forms.ModelChoiceField(
        label=_("Counter"), queryset=None, required=False, empty_label=_("All counters")
    )
    user = forms.ModelChoiceField(
        label=_("Sent by"), queryset=None, required=False, empty_label=_("Everyone")
    )
    status = forms.ChoiceField(label=_("Status"), required=False)
    date_from = forms.DateField(
        label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = forms.DateField(
        label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["counter"].queryset = selectors.history_counters(user)
        self.fields["user"].queryset = selectors.history_users(user)
        self.fields["status"].choices = [
            ("", _("Any status")),
            *Submission.Status.choices,
        ]
        for name, field in self.fields.items():
            css = (
                "form-select form-select-sm"
                if name in ("counter", "user", "status")
                else "form-control form-control-sm"
            )
            field.widget.attrs["class"] = css

    def filters(self) -> selectors.HistoryFilters:
        if not self.is_valid():
            return selectors.HistoryFilters()
        data = self.cleaned_data
        return selectors.HistoryFilters(
            counter=data["counter"].pk if data["counter"] else None,
            user=data["user"].pk if data["user"] else None,
            status=data["status"],
            date_from=data["date_from"],
            date_to=data["date_to"],
            q=data["q"].strip(),
        )


class ResendForm(forms.Form):
    merge_mode = forms.ChoiceField(label=_("Merge mode"), choices=MERGE_MODES)
