"""What a record is found by, and what a typed search term means (pure functions, no Flask).

A record's tokens are short normalised strings; the first character names the kind:

====  ==========================================  =====================================
kind  content                                     found by typing
====  ==========================================  =====================================
n     one folded word of a name or company        any word, any order, partial, accents
      (assets: of the year, make and model)       ("2019 freightliner cascadia")
w     two words of a name, "word other"           two words at once (see below)
p     the phone's digits, reversed                the number in any format, or its end
e     the e-mail address, lower-case             the address or its beginning
d     the e-mail's domain, and its parent         "@acme.com" or "acme.com": everyone
      domains ("mail.acme.com", "acme.com")       at that domain
i     the DMS id, lower-case                      the DMS id or its beginning
v     the VIN, upper-case                         the VIN or its beginning
r     the VIN reversed                            its end (last 6 or 8 characters)
u     unit number, upper-case, no blanks          the unit number or its beginning
l     licence plate, upper-case, no blanks        the plate or its beginning
====  ==========================================  =====================================

Reversing phone digits and VINs turns "ends with" into "starts with", which a B-tree
index answers with a range scan on both SQLite and PostgreSQL.

Word pairs (``w``, every ordered pair of the first :data:`PAIR_WORDS` words) make the most
common two-word search, "James Smith", one range scan ("wjames smith...") instead of
checking each of thousands of James for a Smith; the word-by-word search remains the
fallback for partial first words ("jam smi").
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import permutations

from webapp.domain.normalise import clean_text, email_key, fold, normalise_email, normalise_phone, normalise_vin

TOKEN_MAX = 64
WORD_MAX = 40
MAX_QUERY_WORDS = 6
PAIR_WORDS = 4  # word pairs of the first 4 words of a name: at most 12 pair tokens per record
QUERY_MAX = 200  # characters of a typed term that are looked at; the rest is ignored
_NON_DIGIT = re.compile(r"\D")
_PHONE_LIKE = re.compile(r"^\+?[\d\s().\-/]+$")
_COMPACT_JUNK = re.compile(r"[\s\-./]")
_ALNUM = re.compile(r"^[A-Z0-9]+$")
# A typed domain without "@": labels of letters, digits and dashes, ending in a letters-only one.
_DOMAIN_LIKE = re.compile(r"^[a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z]{2,}$")
DOMAIN_SUFFIXES = 3  # "mail.eu.acme.com" is found by the domain and its next 2 parents

CUSTOMER, ASSET, DMS_CUSTOMER, DMS_VEHICLE = "c", "a", "dc", "dv"


def _cap(token: str) -> str:
    return token[:TOKEN_MAX]


def compact(value: object) -> str:
    """Upper-case without blanks, dashes, dots or slashes ('ab 12-3' → 'AB123')."""
    return _COMPACT_JUNK.sub("", clean_text(value, 64)).upper()


def name_words(*parts: object) -> list[str]:
    """The distinct folded words of names ('Zoë O'Brien' → ['zoe', 'obrien'])."""
    words: list[str] = []
    for part in parts:
        for word in fold(part).split():
            word = word[:WORD_MAX]
            if word not in words:
                words.append(word)
    return words


def phone_digits(value: object) -> str | None:
    """The digits of a phone number as stored (E.164 when it parses)."""
    e164 = normalise_phone(value)
    digits = _NON_DIGIT.sub("", e164 or clean_text(value, 64))
    return digits or None


def _email_address(value: object) -> str | None:
    """The e-mail as stored: a plain ASCII address only needs lower-casing (the validator's
    normal form is the same, and pulls index millions of them); others go through it."""
    text = clean_text(value, 254)
    if text.isascii():
        return email_key(text)
    return normalise_email(text)


def email_domains(address: str) -> list[str]:
    """The domain of a lower-case address and its parent domains, up to :data:`DOMAIN_SUFFIXES`
    ('bob@mail.acme.com' → ['mail.acme.com', 'acme.com']); a bare top-level domain is never one."""
    domain = address.rpartition("@")[2].strip(".")
    labels = [label for label in domain.split(".") if label]
    if len(labels) < 2:
        return [domain] if domain else []
    return [".".join(labels[i:]) for i in range(len(labels) - 1)][:DOMAIN_SUFFIXES]


def customer_tokens(
    *,
    first_name: object = None,
    last_name: object = None,
    company_name: object = None,
    phones: Iterable[object] = (),
    emails: Iterable[object] = (),
    dms_id: object = None,
) -> set[str]:
    """Every token of a customer (portal or DMS)."""
    words = name_words(first_name, last_name, company_name)
    tokens = {"n" + w for w in words}
    tokens.update(f"w{a} {b}" for a, b in permutations(words[:PAIR_WORDS], 2))
    for phone in phones:
        digits = phone_digits(phone) if phone else None
        if digits:
            tokens.add("p" + digits[::-1])
    for email in emails:
        # Findable even when the address does not validate (kept as typed, lower-case).
        address = (_email_address(email) or clean_text(email, 254).lower()) if email else None
        if address and "@" in address:
            tokens.add("e" + address)
            tokens.update("d" + domain for domain in email_domains(address))
    if dms_id:
        tokens.add("i" + clean_text(dms_id, 64).lower())
    return {_cap(t) for t in tokens if len(t) > 1}


def asset_tokens(
    *,
    vin: object = None,
    unit_number: object = None,
    plate: object = None,
    dms_id: object = None,
    year: object = None,
    make: object = None,
    model: object = None,
) -> set[str]:
    """Every token of a vehicle/asset (portal or DMS).

    Its year, make and model are words (``n``) and word pairs (``w``), as a customer's
    name: "2019 Freightliner Cascadia", "cascadia 2019" or "freight" find it."""
    words = name_words(year, make, model)
    tokens = {"n" + w for w in words}
    tokens.update(f"w{a} {b}" for a, b in permutations(words[:PAIR_WORDS], 2))
    checked = normalise_vin(vin)
    if checked and checked.vin:
        tokens.add("v" + checked.vin)
        tokens.add("r" + checked.vin[::-1])
    if unit_number and compact(unit_number):
        tokens.add("u" + compact(unit_number))
    if plate and compact(plate):
        tokens.add("l" + compact(plate))
    if dms_id:
        tokens.add("i" + clean_text(dms_id, 64).lower())
    return {_cap(t) for t in tokens if len(t) > 1}


def sort_name(first_name: object, last_name: object, company_name: object, is_business: bool = False) -> str | None:
    """The key customers are listed A-Z by: "last first", or the company for businesses."""
    if is_business and fold(company_name):
        key = fold(company_name)
    else:
        key = " ".join(p for p in (fold(last_name), fold(first_name)) if p) or fold(company_name)
    return key[:255] or None


# --------------------------------------------------------------------------- queries
@dataclass(frozen=True)
class Plan:
    """How to search for a typed term.

    ``alternatives``: each is a tuple of token prefixes that must all match one record
    (the words of a name); a record matching any alternative is a result.
    ``owner_words``: for assets, words of the owner's name (matched on customers, then
    their assets).
    """

    alternatives: tuple[tuple[str, ...], ...] = ()
    owner_words: tuple[str, ...] = ()
    kind: str = "empty"  # what the term looked like: empty, name, phone, email, vin, vehicle, id

    @property
    def is_empty(self) -> bool:
        """True when nothing searchable was typed (blank, punctuation only...)."""
        return not self.alternatives and not self.owner_words


def _term(raw: object) -> str:
    return clean_text(raw, QUERY_MAX * 2)[:QUERY_MAX]


def _add(alternatives: list[tuple[str, ...]], *prefixes: str) -> None:
    capped = tuple(_cap(p) for p in prefixes if len(p) > 1)
    if capped and capped not in alternatives:
        alternatives.append(capped)


def _name_alternative(term: str) -> tuple[str, ...]:
    words = name_words(term)[:MAX_QUERY_WORDS]
    return tuple("n" + w for w in words)


def _phone_prefixes(term: str) -> list[str]:
    """Reversed-digit prefixes for a phone-looking term ('' when it does not look like one)."""
    if not _PHONE_LIKE.match(term):
        return []
    digits = _NON_DIGIT.sub("", term)
    if len(digits) < 4:
        return []
    prefixes = ["p" + digits[::-1]]
    e164 = normalise_phone(term)
    if e164:
        full = _NON_DIGIT.sub("", e164)[::-1]
        if not full.startswith(digits[::-1]):
            prefixes.append("p" + full)
    return prefixes


def customer_plan(raw: object) -> Plan:
    """Understand a customer search term: name/company words, phone, e-mail or DMS id."""
    term = _term(raw)
    alternatives: list[tuple[str, ...]] = []
    kind = "empty"
    phones = _phone_prefixes(term)
    if phones:
        kind = "phone"
        for prefix in phones:
            _add(alternatives, prefix)
    if "@" in term and " " not in term:
        kind = "email"
        if term.startswith("@"):  # "@acme.com" (or its beginning, "@acme"): everyone at that domain
            _add(alternatives, "d" + term[1:].lower())
        else:
            _add(alternatives, "e" + term.lower())
    elif _DOMAIN_LIKE.match(term.lower()):  # "acme.com": the domain, or a company or DMS id so written
        _add(alternatives, "d" + term.lower())
    if " " not in term and term:
        _add(alternatives, "i" + term.lower())
    # A phone number or e-mail is not also looked up as name words ("217 555 0100").
    name = _name_alternative(term) if kind == "empty" else ()
    if name:
        _add(alternatives, *name)
        if kind == "empty":
            kind = "name" if not term.replace(" ", "").isdigit() else "id"
    elif term and kind == "empty" and alternatives:
        kind = "id"
    return Plan(tuple(alternatives), (), kind)


def asset_plan(raw: object) -> Plan:
    """Understand an asset search term: VIN (whole, start or end), unit, plate, DMS id, owner, or
    year/make/model words (all of them on one vehicle, any order: "2019 freightliner cascadia")."""
    term = _term(raw)
    alternatives: list[tuple[str, ...]] = []
    kind = "empty"
    code = compact(term)
    if code and _ALNUM.match(code) and len(term.split()) <= 3:
        kind = "vin" if len(code) >= 6 and any(ch.isdigit() for ch in code) else "id"
        _add(alternatives, "v" + code)
        _add(alternatives, "r" + code[::-1])
        _add(alternatives, "u" + code)
        _add(alternatives, "l" + code)
    if term and " " not in term:
        _add(alternatives, "i" + term.lower())
    words = tuple(name_words(term)[:MAX_QUERY_WORDS])
    vehicle = tuple("n" + w for w in words)
    if vehicle:
        _add(alternatives, *vehicle)  # year, make and model
        if len(words) > 1 and kind == "vin":
            kind = "vehicle"  # several words with digits: "2019 freightliner cascadia"
    owner = words
    if owner and not any(ch.isdigit() for word in owner for ch in word):
        kind = "name" if kind in ("empty", "id") else kind  # letters only: the owner, or a make/model
    else:
        owner = ()  # names have no digits: a VIN, unit, plate or year was typed
    return Plan(tuple(alternatives), owner, kind)


def pair_shortcut(prefixes: tuple[str, ...]) -> tuple[str, ...] | None:
    """The word-pair form of a several-word name alternative, or ``None``.

    ``("njames", "nsmi")`` → ``("wjames smi",)``: the first typed word taken as complete,
    the last as a beginning, other words still checked one by one. It finds a subset of
    what the word-by-word alternative finds (nothing when the first word is partial), so
    it is only a fast path in front of it.
    """
    if len(prefixes) < 2 or not all(p.startswith("n") for p in prefixes):
        return None
    first, *middle, last = prefixes
    return (_cap(f"w{first[1:]} {last[1:]}"), *middle)


def prefix_range(prefix: str) -> tuple[str, str]:
    """``[prefix, upper)``: the key range of every token starting with ``prefix``."""
    return prefix, prefix + "\U0010ffff"
