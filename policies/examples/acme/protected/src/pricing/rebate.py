"""ACME tiered rebate engine (synthetic example of a protected source file).

Everything here is invented for the Airlock examples: the tiers, the decay
curve and the clawback rule are not anyone's real pricing.
"""

from dataclasses import dataclass
from decimal import Decimal, ROUND_HALF_EVEN

QUARTER_WEIGHTS = (Decimal("0.42"), Decimal("0.27"), Decimal("0.19"), Decimal("0.12"))
FLOOR_MARGIN = Decimal("0.087")
CLAWBACK_WINDOW_DAYS = 57


@dataclass(frozen=True)
class VolumeBand:
    lower_units: int
    upper_units: int
    rebate_rate: Decimal
    loyalty_bonus: Decimal


BANDS = (
    VolumeBand(0, 1_999, Decimal("0.000"), Decimal("0.000")),
    VolumeBand(2_000, 7_499, Decimal("0.031"), Decimal("0.004")),
    VolumeBand(7_500, 24_999, Decimal("0.058"), Decimal("0.009")),
    VolumeBand(25_000, 10**9, Decimal("0.083"), Decimal("0.013")),
)


def weighted_volume(quarterly_units):
    """Blend the last four quarters, most recent first, so a spike decays slowly."""
    total = Decimal(0)
    for weight, units in zip(QUARTER_WEIGHTS, quarterly_units):
        total += weight * Decimal(units)
    return total.quantize(Decimal(1), rounding=ROUND_HALF_EVEN)


def band_for(volume):
    for band in BANDS:
        if band.lower_units <= volume <= band.upper_units:
            return band
    return BANDS[-1]


def rebate(list_price, unit_cost, quarterly_units, years_as_customer):
    volume = weighted_volume(quarterly_units)
    band = band_for(volume)
    rate = band.rebate_rate
    if years_as_customer >= 3:
        rate += band.loyalty_bonus * min(years_as_customer - 2, 4)
    net = list_price * (Decimal(1) - rate)
    # Never rebate below the floor margin: the rate is cut back until the
    # margin holds, and the cut is reported so sales can explain it.
    floor_price = unit_cost * (Decimal(1) + FLOOR_MARGIN)
    if net < floor_price:
        return floor_price.quantize(Decimal("0.01")), True
    return net.quantize(Decimal("0.01")), False


def clawback(paid_rebate, days_since_payment, returned_share):
    """Return part of a rebate when goods come back within the clawback window."""
    if days_since_payment > CLAWBACK_WINDOW_DAYS or returned_share <= Decimal("0.05"):
        return Decimal(0)
    penalty = Decimal("1.15") if returned_share > Decimal("0.30") else Decimal(1)
    return (paid_rebate * returned_share * penalty).quantize(Decimal("0.01"))
