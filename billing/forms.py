from django import forms

ACTIONS = {
    "raise": "billing.add_invoice",
    "approve": "billing.change_invoice",
    "void": "billing.void_invoice",
}


class InvoiceActionForm(forms.Form):
    """What the appointment panel's invoice buttons post."""

    do = forms.ChoiceField(choices=[(a, a) for a in ACTIONS])
    invoice = forms.IntegerField(required=False, min_value=1, max_value=2**31 - 1)
    reason = forms.CharField(required=False, max_length=250, strip=True)

    def clean(self) -> dict:
        data = super().clean() or {}
        if data.get("do") in ("approve", "void") and not data.get("invoice"):
            self.add_error("invoice", "Say which invoice.")
        return data
