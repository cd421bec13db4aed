import phonenumbers
from crispy_forms.helper import FormHelper
from crispy_forms.layout import Submit
from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.utils.translation import gettext_lazy as _

from ordersync.counters.models import Counter


class PasteTokenForm(forms.Form):
    access_token = forms.CharField(
        label=_("OAuth token"),
        max_length=512,
        strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        help_text=_(
            "A token with the metrika:read and metrika:offline_data rights. It is "
            "checked with Yandex, stored encrypted and never shown again."
        ),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = FormHelper()
        self.helper.add_input(Submit("submit", _("Check and save")))


class CounterSettingsForm(forms.ModelForm):
    class Meta:
        model = Counter
        fields = ["default_merge_mode", "hash_personal_data", "default_phone_region"]
        help_texts = {
            "hash_personal_data": _(
                "E-mails and phones are sent as MD5 hashes; Metrika matches them "
                "just as well."
            ),
            "default_phone_region": _(
                "Two-letter country code used for phone numbers written without "
                "one, e.g. RU or KZ."
            ),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = FormHelper()
        self.helper.add_input(Submit("submit", _("Save settings")))

    def clean_default_phone_region(self) -> str:
        region = self.cleaned_data["default_phone_region"].strip().upper()
        if region not in phonenumbers.SUPPORTED_REGIONS:
            raise forms.ValidationError(_("Unknown country code."))
        return region


class GrantForm(forms.Form):
    user = forms.ModelChoiceField(
        label=_("User"), queryset=get_user_model().objects.none(), required=False
    )
    group = forms.ModelChoiceField(
        label=_("or group"), queryset=Group.objects.none(), required=False
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["user"].queryset = (
            get_user_model().objects.filter(is_active=True).order_by("username")
        )
        self.fields["group"].queryset = Group.objects.order_by("name")
        self.helper = FormHelper()
        self.helper.form_class = "grant-form"
        self.helper.add_input(Submit("submit", _("Grant access")))

    def clean(self):
        data = super().clean()
        if bool(data.get("user")) == bool(data.get("group")):
            raise forms.ValidationError(_("Choose either a user or a group."))
        return data


class ImportCountersForm(forms.Form):
    metrika_ids = forms.TypedMultipleChoiceField(
        coerce=int, choices=(), error_messages={"required": _("Choose a counter.")}
    )

    def __init__(self, *args, choices: list[int], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["metrika_ids"].choices = [(c, str(c)) for c in choices]
