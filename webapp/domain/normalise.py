"""Normalising what people and DMSs type, so equal values compare equal.

Well-kept libraries do the hard parts: ``phonenumbers`` (Google's libphonenumber) for
phone numbers, ``email-validator`` for e-mail syntax, ``vininfo`` for VIN check digits.
Everything here is pure and safe on hostile input: it never raises on bad data, it
reports it (``None`` or a flag).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from vininfo import Vin

DEFAULT_REGION = "US"
_SPACES = re.compile(r"\s+")
_APOSTROPHES = re.compile(r"['’`´]")
_NOT_WORD = re.compile(r"[^\w\s]|_", re.UNICODE)
_VIN_JUNK = re.compile(r"[\s\-.]")
_DIGITS = re.compile(r"\D")


def clean_text(value: object, max_length: int = 1000) -> str:
    """Strip, drop control characters, collapse blanks and cap the length."""
    if value is None:
        return ""
    text = str(value)
    if not text.isprintable():  # the per-character filter only when there is something to drop
        text = "".join(ch for ch in text if unicodedata.category(ch)[0] != "C" or ch in "\t\n")
    return _SPACES.sub(" ", text).strip()[:max_length]


def fold(value: object) -> str:
    """Lower-case, accent-free text for matching: 'Zoë O'Brien-Smith' → 'zoe obrien smith'.

    Apostrophes vanish (O'Brien is typed Obrien too); other punctuation separates words."""
    text = clean_text(value)
    if not text.isascii():  # accents and compatibility forms only exist outside ASCII
        text = unicodedata.normalize("NFKD", text)
        text = "".join(ch for ch in text if not unicodedata.combining(ch))
    text = _NOT_WORD.sub(" ", _APOSTROPHES.sub("", text.casefold()))
    return _SPACES.sub(" ", text).strip()


_NANP_PLAIN = re.compile(r"^\+?[\d\s().\-]+$")


def normalise_phone(value: object, region: str = DEFAULT_REGION) -> str | None:
    """E.164 form of a phone number ('(217) 555-0100' → '+12175550100'), None if not a number."""
    if isinstance(value, str) and len(value) <= 64:
        return _cached_phone(value, region)
    return _phone(value, region)


def _phone(value: object, region: str) -> str | None:
    text = clean_text(value, 64)
    digits = _DIGITS.sub("", text)
    if not text or len(digits) < 7:
        return None
    if region in ("US", "CA") and _NANP_PLAIN.match(text):
        # Fast path for the common North American shape (pulls normalise millions of these):
        # 10 digits, or 11 starting with the country code 1, with a valid area code and exchange.
        if (
            len(digits) == 11
            and digits[0] == "1"
            and not text.startswith("+")
            or (len(digits) == 11 and text.startswith("+1"))
        ):
            digits = digits[1:]
        if (
            len(digits) == 10
            and digits[0] in "23456789"
            and digits[3] in "23456789"
            and not text.startswith(("+2", "+3", "+4", "+5", "+6", "+7", "+8", "+9"))
        ):
            return "+1" + digits
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


# A pull normalises each DMS phone twice (its mirror row, its search tokens) and the same
# numbers recur; short texts only, so a hostile value cannot fill the cache.
_cached_phone = lru_cache(maxsize=4096)(_phone)


def format_phone(e164: str | None, region: str = DEFAULT_REGION) -> str:
    """How staff read a stored number: national format at home, international abroad."""
    if not e164:
        return ""
    try:
        number = phonenumbers.parse(e164, region)
    except phonenumbers.NumberParseException:
        return e164
    fmt = (
        phonenumbers.PhoneNumberFormat.NATIONAL
        if phonenumbers.region_code_for_number(number) == region
        else phonenumbers.PhoneNumberFormat.INTERNATIONAL
    )
    return phonenumbers.format_number(number, fmt)


def normalise_email(value: object) -> str | None:
    """A valid e-mail address, lower-cased; None when it is not one."""
    text = clean_text(value, 254)
    if not text or "@" not in text:
        return None
    try:
        result = validate_email(text, check_deliverability=False)
    except EmailNotValidError:
        return None
    return result.normalized.lower()


_EMAIL_SHAPE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")


def email_key(value: object) -> str | None:
    """A lower-cased e-mail for search and matching (shape check only; fast for pulls)."""
    text = clean_text(value, 254).lower()
    return text if _EMAIL_SHAPE.match(text) else None


def email_problem(value: object) -> str | None:
    """Why ``value`` is not a valid e-mail address (for form messages), or None."""
    text = clean_text(value, 254)
    try:
        validate_email(text, check_deliverability=False)
    except EmailNotValidError as exc:
        return str(exc)
    return None


@dataclass(frozen=True)
class VinCheck:
    """A cleaned VIN and what we know of it."""

    vin: str
    standard: bool  # 17 characters, the post-1981 standard
    check_digit_ok: bool | None  # None: the standard's check digit does not apply


def normalise_vin(value: object) -> VinCheck | None:
    """Upper-case a VIN without blanks or dashes and check its check digit.

    Legacy truck VINs (not 17 characters) are kept and flagged, never rejected.
    North-American VINs carry a check digit in position 9; others may not.
    """
    text = _VIN_JUNK.sub("", clean_text(value, 64)).upper()
    if not text:
        return None
    return _check_vin(text)


@lru_cache(maxsize=4096)
def _check_vin(text: str) -> VinCheck:
    """The check of a cleaned VIN. Cached: a pull checks each VIN for its mirror row and
    again for its search tokens, and vininfo's check costs tens of microseconds."""
    if len(text) != 17 or not text.isalnum():
        return VinCheck(text, standard=False, check_digit_ok=None)
    if text[0] not in "12345":  # the check digit is mandatory only for North America
        return VinCheck(text, standard=True, check_digit_ok=None)
    try:
        ok = Vin(text).verify_checksum(check_year=False)
    except Exception:
        ok = False
    return VinCheck(text, standard=True, check_digit_ok=ok)


def customer_name_key(first: object, last: object, company: object) -> str:
    """One folded string of a customer's names, for search and duplicate checks."""
    return " ".join(p for p in (fold(first), fold(last), fold(company)) if p)
