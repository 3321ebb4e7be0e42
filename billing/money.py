"""Money in integer cents: no floats anywhere between a price and a total."""

from decimal import ROUND_HALF_UP, Decimal

GST_RATE_PERCENT = 10


def cents(amount: Decimal) -> int:
    """A dollar amount (as stored on an appointment type) in whole cents, half up."""
    return int((amount * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def gst_on(amount_cents: int) -> int:
    """10% GST on an amount excluding GST, rounded half up to the cent, as Xero rounds a
    line's tax (LineAmountTypes "Exclusive")."""
    return (amount_cents * GST_RATE_PERCENT + 50) // 100


def dollars(amount_cents: int) -> Decimal:
    """Cents as an exact two-place decimal (what Xero's JSON carries)."""
    return (Decimal(amount_cents) / 100).quantize(Decimal("0.01"))


def money(amount_cents: int) -> str:
    """$1,234.50"""
    return f"${dollars(amount_cents):,.2f}"
