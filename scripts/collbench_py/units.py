"""Size and number formatting shared by the tools. Sizes are binary (K/M/G = 1024^k)."""

import re

from . import InputError

_UNITS = (("T", 1024**4), ("G", 1024**3), ("M", 1024**2), ("K", 1024))
_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kKmMgGtT]?)(?:i?[bB])?\s*$")


def format_size(nbytes):
    """8 -> '8', 1024 -> '1K', 1536 -> '1.5K', 2**30 -> '1G'."""
    n = int(nbytes)
    for suffix, unit in _UNITS:
        if n >= unit:
            if n % unit == 0:
                return f"{n // unit}{suffix}"
            value = n / unit
            text = f"{value:.1f}" if value < 100 else f"{value:.0f}"
            return f"{text}{suffix}"
    return str(n)


def parse_size(text):
    """'64K' -> 65536, '1M' -> 1048576, '1GiB' -> 2**30, '8' -> 8."""
    match = _SIZE_RE.match(str(text))
    if not match:
        raise InputError(f"bad size '{text}': expected a number with an optional binary "
                         "suffix K, M, G or T (e.g. 64K, 1M)")
    value = float(match.group(1))
    suffix = match.group(2).upper()
    unit = dict(_UNITS).get(suffix, 1)
    result = value * unit
    if result != int(result):
        raise InputError(f"bad size '{text}': not a whole number of bytes")
    return int(result)


def parse_size_list(text):
    return [parse_size(part) for part in str(text).split(",") if part.strip()]


def format_ratio(ratio):
    return f"×{ratio:.3f}" if ratio < 10 else f"×{ratio:.1f}"


def format_us(value):
    if value is None:
        return "–"
    if value >= 1e5:
        return f"{value:.4g}" if value < 1e6 else f"{value:.0f}"
    if value >= 100:
        return f"{value:.1f}"
    return f"{value:.3g}"


def format_gbps(value):
    if value is None:
        return "–"
    if value >= 100:
        return f"{value:.1f}"
    return f"{value:.3g}"
