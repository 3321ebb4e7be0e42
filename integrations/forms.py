from django import forms

from integrations.models import Message
from integrations.smsbroadcast.client import MAX_LENGTH


class SmsForm(forms.Form):
    body = forms.CharField(
        label="Message",
        max_length=MAX_LENGTH,
        widget=forms.Textarea(
            attrs={"rows": 3, "data-sms-counter": "", "aria-describedby": "sms-count"}
        ),
    )


class MessageFilterForm(forms.Form):
    status = forms.ChoiceField(
        required=False, choices=[("", "Any status"), *Message.Status.choices]
    )
    kind = forms.ChoiceField(required=False, choices=[("", "Any kind"), *Message.Kind.choices])
    channel = forms.ChoiceField(
        required=False,
        choices=[("", "SMS and email"), ("sms", "SMS"), ("email", "Email")],
    )
