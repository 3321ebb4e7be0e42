from django import template

from billing.money import money

register = template.Library()


@register.filter(is_safe=False)
def cents(amount_cents: int | None) -> str:
    """`{{ invoice.total_cents|cents }}` → $1,234.50"""
    return "" if amount_cents is None else money(amount_cents)


@register.filter(is_safe=False)
def xero_invoice_url(xero_invoice_id: str | None) -> str:
    """Xero's own page for an invoice it holds (the organisation is the signed-in one)."""
    if not xero_invoice_id:
        return ""
    return f"https://go.xero.com/AccountsReceivable/View.aspx?InvoiceID={xero_invoice_id}"
