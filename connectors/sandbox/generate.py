"""Deterministic demo data for the sandbox DMS.

Every data type of an account is generated from ``(seed, account code, data type)`` alone,
so types can be generated lazily, in any order, and always come out the same. Ids are
derived from positions (customer ``C0000042`` owns vehicle ``V0000042``), which lets each
type refer to others without reading them.

Deliberate mess, as found in real DMS data: duplicate customers (same person, phone in
another format), phones in mixed formats, business customers without a company name,
customers without address or e-mail, trucks with non-17-character legacy VINs, and two
advisors sharing one DMS id.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from .search_text import search_text

# Generated history sits well before any live edit, so live edits always sort last.
HISTORY_START = datetime(2023, 1, 2, 8, 0, tzinfo=UTC)
HISTORY_SPAN = timedelta(days=600)

FIRST_NAMES = (
    "James Mary Robert Patricia John Jennifer Michael Linda David Elizabeth William Barbara Richard "
    "Susan Joseph Jessica Thomas Sarah Charles Karen Christopher Lisa Daniel Nancy Matthew Betty "
    "Anthony Sandra Mark Margaret Donald Ashley Steven Kimberly Andrew Emily Paul Donna Joshua "
    "Michelle Kenneth Carol Kevin Amanda Brian Melissa George Deborah Timothy Stephanie Ronald "
    "Rebecca Jason Sharon Edward Laura Jeffrey Cynthia Ryan Dorothy Jacob Amy Gary Kathleen Nicholas "
    "Angela Eric Shirley Jonathan Brenda Stephen Emma Larry Anna Justin Pamela Scott Nicole Brandon "
    "Samantha Benjamin Katherine Samuel Christine Gregory Helen Alexander Debra Patrick Rachel Frank "
    "Carolyn Raymond Janet Jack Maria Dennis Olivia Jerry Heather Tyler Diane Aaron Julie Jose Joyce "
    "Adam Victoria Nathan Ruth Henry Virginia Zachary Lauren Douglas Kelly Peter Christina Kyle Joan "
    "Noah Evelyn Ethan Judith Jeremy Andrea Walter Hannah Christian Megan Keith Cheryl Roger Jacqueline "
    "Terry Martha Austin Madison Sean Teresa Gerald Gloria Carl Sara Harold Janice Dylan Ann Arthur "
    "Kathryn Lawrence Abigail Jordan Sophia Jesse Frances Bryan Jean Billy Alice Bruce Judy Gabriel "
    "Isabella Joe Julia Logan Grace Alan Amber Juan Denise Albert Danielle Willie Marilyn Elijah Beverly"
).split()
LAST_NAMES = (
    "Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Hernandez Lopez Gonzalez "
    "Wilson Anderson Thomas Taylor Moore Jackson Martin Lee Perez Thompson White Harris Sanchez Clark "
    "Ramirez Lewis Robinson Walker Young Allen King Wright Scott Torres Nguyen Hill Flores Green Adams "
    "Nelson Baker Hall Rivera Campbell Mitchell Carter Roberts Gomez Phillips Evans Turner Diaz Parker "
    "Cruz Edwards Collins Reyes Stewart Morris Morales Murphy Cook Rogers Gutierrez Ortiz Morgan Cooper "
    "Peterson Bailey Reed Kelly Howard Ramos Kim Cox Ward Richardson Watson Brooks Chavez Wood James "
    "Bennett Gray Mendoza Ruiz Hughes Price Alvarez Castillo Sanders Patel Myers Long Ross Foster "
    "Jimenez Powell Jenkins Perry Russell Sullivan Bell Coleman Butler Henderson Barnes Gonzales Fisher "
    "Vasquez Simmons Romero Jordan Patterson Alexander Hamilton Graham Reynolds Griffin Wallace Moreno "
    "West Cole Hayes Bryant Herrera Gibson Ellis Tran Medina Aguilar Stevens Murray Ford Castro Marshall "
    "Owens Harrison Fernandez McDonald Woods Washington Kennedy Wells Vargas Henry Chen Freeman Webb "
    "Tucker Guzman Burns Crawford Olson Simpson Porter Hunter Gordon Mendez Silva Shaw Snyder Mason"
).split()
COMPANY_WORDS = (
    "Summit Blue Ridge Lakeside Prairie Iron Horse Eagle Valley Northern Coastal Redline "
    "Pioneer Keystone Liberty Granite Silver Creek Great Plains Canyon Harbor Timberline"
).split()
COMPANY_KINDS = (
    "Trucking LLC",
    "Logistics Inc",
    "Plumbing Co",
    "Landscaping",
    "Construction LLC",
    "Fleet Services",
    "Electric Inc",
    "Rentals",
    "Delivery Co",
    "Farms",
)
STREETS = (
    "Main St",
    "Oak Ave",
    "Maple Dr",
    "Cedar Ln",
    "Pine St",
    "Elm St",
    "Washington Blvd",
    "Lake Rd",
    "Hill St",
    "Park Ave",
    "Sunset Blvd",
    "River Rd",
    "Church St",
    "Highland Ave",
    "Mill Rd",
    "Forest Dr",
    "Jefferson St",
    "Lincoln Way",
    "Airport Rd",
    "Industrial Pkwy",
)
CITIES = (
    ("Springfield", "IL", "627"),
    ("Columbus", "OH", "432"),
    ("Austin", "TX", "787"),
    ("Denver", "CO", "802"),
    ("Madison", "WI", "537"),
    ("Boise", "ID", "837"),
    ("Raleigh", "NC", "276"),
    ("Tulsa", "OK", "741"),
    ("Omaha", "NE", "681"),
    ("Fresno", "CA", "937"),
    ("Knoxville", "TN", "379"),
    ("Spokane", "WA", "992"),
    ("Des Moines", "IA", "503"),
    ("Albany", "NY", "122"),
    ("Reno", "NV", "895"),
)
EMAIL_DOMAINS = ("gmail.com", "yahoo.com", "outlook.com", "icloud.com", "aol.com", "comcast.net")
AREA_CODES = ("217", "614", "512", "303", "608", "208", "919", "918", "402", "559", "865", "509")

# (make, models, WMI prefix, engines)
CARS = (
    ("Ford", ("F-150", "Escape", "Explorer", "Mustang", "Ranger"), "1FT", ("3.5L V6", "2.7L V6 EcoBoost", "5.0L V8")),
    ("Chevrolet", ("Silverado 1500", "Equinox", "Malibu", "Tahoe", "Colorado"), "1GC", ("5.3L V8", "2.7L I4 Turbo")),
    ("Toyota", ("Camry", "RAV4", "Tacoma", "Highlander", "Corolla"), "4T1", ("2.5L I4", "3.5L V6")),
    ("Honda", ("Civic", "Accord", "CR-V", "Pilot", "Odyssey"), "1HG", ("1.5L I4 Turbo", "2.0L I4", "3.5L V6")),
    ("Ram", ("1500", "2500", "ProMaster"), "3C6", ("5.7L V8 HEMI", "6.7L I6 Diesel")),
    ("Nissan", ("Altima", "Rogue", "Frontier", "Sentra"), "1N4", ("2.5L I4", "3.8L V6")),
    ("Jeep", ("Wrangler", "Grand Cherokee", "Cherokee"), "1C4", ("3.6L V6", "2.0L I4 Turbo")),
)
TRUCKS = (
    ("Freightliner", ("Cascadia", "M2 106", "Coronado"), "1FU", ("Detroit DD15", "Cummins X15")),
    ("Kenworth", ("T680", "W900", "T880"), "1XK", ("PACCAR MX-13", "Cummins X15")),
    ("Peterbilt", ("579", "389", "567"), "1XP", ("PACCAR MX-13", "Cummins ISX")),
    ("Volvo", ("VNL 860", "VNR 640"), "4V4", ("Volvo D13",)),
    ("International", ("LT625", "HX520", "MV607"), "3HS", ("Navistar A26", "Cummins X15")),
    ("Mack", ("Anthem", "Granite", "Pinnacle"), "1M1", ("Mack MP8",)),
)

OPCODES = (
    ("LOF", "Lube, oil and filter", "0.5"),
    ("ROT", "Tire rotation", "0.4"),
    ("BRKF", "Front brake pads and rotors", "1.8"),
    ("BRKR", "Rear brake pads", "1.5"),
    ("ALIGN", "Four-wheel alignment", "1.0"),
    ("BATT", "Battery test and replace", "0.5"),
    ("DIAG", "Diagnose check-engine light", "1.0"),
    ("AC", "A/C performance check", "0.8"),
    ("TRANS", "Transmission fluid service", "1.2"),
    ("COOL", "Coolant flush", "1.0"),
    ("WIPER", "Replace wiper blades", "0.2"),
    ("MPI", "Multi-point inspection", "0.3"),
    ("SPARK", "Replace spark plugs", "1.5"),
    ("STRUT", "Replace front struts", "2.5"),
    ("RECALL", "Manufacturer recall campaign", "1.0"),
    ("WARR", "Warranty repair", "2.0"),
    ("PDI", "Pre-delivery inspection", "1.5"),
    ("DOT", "DOT annual inspection", "2.0"),
    ("PM-A", "Preventive maintenance A", "2.5"),
    ("PM-B", "Preventive maintenance B", "4.0"),
    ("DPF", "DPF clean and regen", "3.0"),
    ("AIRBRK", "Air brake adjustment", "1.2"),
    ("5THW", "Fifth wheel service", "1.0"),
    ("TIRE", "Mount and balance tires", "1.0"),
)
#: An opcode that exists but is inactive: booking it is an "incorrect opcode".
INACTIVE_OPCODE = "OLDLOF"

#: Advisors of every sandbox account: (DMS id, name). ADV09 is deliberately shared by two
#: advisors, so booking with it provokes the "incorrect/duplicate advisor DMS ID" error.
ADVISORS = (
    ("ADV01", "Dana Whitfield"),
    ("ADV02", "Marco Ruiz"),
    ("ADV03", "Priya Shah"),
    ("ADV04", "Tom Becker"),
    ("ADV05", "Keisha Grant"),
    ("ADV06", "Luis Ortega"),
    ("ADV07", "Hannah Cole"),
    ("ADV08", "Omar Haddad"),
    ("ADV09", "Sam Keller"),
    ("ADV09", "Sam Kelly"),
)
#: CDK dispatch codes the sandbox accepts.
DISPATCH_CODES = ("WAIT", "DROP", "LOANER", "SHUTTLE", "EXPRESS")

VIN_CHARS = "ABCDEFGHJKLMNPRSTUVWXYZ0123456789"
_VIN_VALUES = {
    **{str(d): d for d in range(10)},
    **dict(zip("ABCDEFGH", range(1, 9))),
    **dict(zip("JKLMN", range(1, 6))),
    "P": 7,
    "R": 9,
    **dict(zip("STUVWXYZ", range(2, 10))),
}
_VIN_WEIGHTS = (8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2)
_YEAR_CODES = "123456789ABCDEFGHJKLMNPRST"  # 2001..2026


def vin_check_digit(vin: str) -> str:
    """The ISO 3779 / FMVSS 115 check digit (position 9) of a 17-character VIN."""
    total = sum(_VIN_VALUES[ch] * weight for ch, weight in zip(vin.upper(), _VIN_WEIGHTS))
    remainder = total % 11
    return "X" if remainder == 10 else str(remainder)


def make_vin(rng: random.Random, wmi: str, year: int) -> str:
    """A 17-character VIN with a valid check digit and the right model-year code."""
    vds = "".join(rng.choice(VIN_CHARS) for _ in range(5))
    year_code = _YEAR_CODES[(year - 2001) % len(_YEAR_CODES)]
    tail = rng.choice(VIN_CHARS) + f"{rng.randrange(1000000):06d}"
    draft = f"{wmi}{vds}0{year_code}{tail}"
    return draft[:8] + vin_check_digit(draft) + draft[9:]


def _phone(rng: random.Random, digits: str, style: int) -> str:
    """Format 10 digits in one of the styles found in real DMS data."""
    a, b, c = digits[:3], digits[3:6], digits[6:]
    return (f"({a}) {b}-{c}", f"{a}-{b}-{c}", f"{a}{b}{c}", f"+1 {a} {b} {c}", f"{a}.{b}.{c}", f"1-{a}-{b}-{c}")[
        style % 6
    ]


def _history_time(index: int, count: int) -> datetime:
    """Modified time of the ``index``-th generated record: increasing with the index."""
    return HISTORY_START + HISTORY_SPAN * (index / max(count, 1))


def type_counts(customers: int) -> dict[str, int]:
    """How many records of each type an account with ``customers`` customers gets."""

    def scaled(ratio: float, floor: int) -> int:
        """``ratio`` x customers, at least ``floor`` (none without customers)."""
        return 0 if customers <= 0 else max(int(customers * ratio), floor)

    return {
        "customers": customers,
        "vehicles": scaled(1.2, 1),
        "appointments": scaled(0.3, 5),
        "repair_orders": scaled(0.8, 5),
        "parts_invoices": scaled(0.2, 3),
        "special_orders": scaled(0.05, 3),
        "opcodes": len(OPCODES) + 1,
    }


GENERATED_TYPES = (
    "customers",
    "vehicles",
    "appointments",
    "repair_orders",
    "parts_invoices",
    "special_orders",
    "opcodes",
)


def customer_id(n: int) -> str:
    """DMS id of the n-th customer (1-based)."""
    return f"C{n:07d}"


def vehicle_id(n: int) -> str:
    """DMS id of the n-th vehicle (1-based); vehicle n belongs to customer ((n-1) % customers) + 1."""
    return f"V{n:07d}"


def ro_number(n: int) -> str:
    """RO number of the n-th generated repair order."""
    return str(100000 + n)


Generated = tuple[str, str | None, str, dict[str, Any], datetime]  # (dms_id, ref, search, body, modified_at)


def generate(seed: int, account: str, vendor: str, data_type: str, customers: int) -> Iterator[Generated]:
    """Yield ``(dms_id, ref, search_text, fields, modified_at)`` for every record of a data type.

    ``ref`` links records for lookups (a Karmak alternate RO's original RO number).
    """
    rng = random.Random(f"{seed}:{account}:{data_type}")
    count = type_counts(customers)[data_type]
    maker = {
        "customers": _customers,
        "vehicles": _vehicles,
        "appointments": _appointments,
        "repair_orders": _repair_orders,
        "parts_invoices": _parts_invoices,
        "special_orders": _special_orders,
        "opcodes": _opcodes,
    }[data_type]
    yield from maker(rng, count, customers, vendor)


def _customers(rng: random.Random, count: int, customers: int, vendor: str) -> Iterator[Generated]:
    """Customers with realistic names and addresses, plus the deliberate mess."""
    previous: dict[str, Any] | None = None
    choice, randrange = rng.choice, rng.randrange
    for n in range(1, count + 1):
        dms_id = customer_id(n)
        if previous is not None and n % 40 == 0:
            # Duplicate customer: same person entered twice, phone typed differently.
            body = dict(previous)
            body["phones"] = [_phone(rng, previous["_digits"], randrange(6))]
        else:
            first, last = choice(FIRST_NAMES), choice(LAST_NAMES)
            city, state, zip3 = choice(CITIES)
            digits = choice(AREA_CODES) + f"{randrange(200, 1000)}{randrange(10000):04d}"
            business = n % 50 == 7 or randrange(100) < 12
            body = {
                "kind": "business" if business else "person",
                "first_name": "" if business else first,
                "last_name": last,
                "company_name": "",
                "phones": [_phone(rng, digits, randrange(6))],
                "emails": [],
                "address_line1": f"{randrange(1, 9999)} {choice(STREETS)}",
                "address_line2": "" if randrange(10) else f"Apt {randrange(1, 400)}",
                "city": city,
                "state": state,
                "postal_code": f"{zip3}{randrange(100):02d}",
                "country": "US",
                "_digits": digits,
            }
            if business and n % 50 != 7 and randrange(6):
                body["company_name"] = f"{choice(COMPANY_WORDS)} {choice(COMPANY_KINDS)}"
            if randrange(3):
                body["phones"].append(_phone(rng, choice(AREA_CODES) + f"555{randrange(10000):04d}", randrange(6)))
            if n % 50 != 13 and randrange(5):
                body["emails"] = [f"{first.lower()}.{last.lower()}{randrange(100)}@{choice(EMAIL_DOMAINS)}"]
            if n % 50 == 13:
                # No address and no e-mail: provokes CDK's "address/e-mail required".
                body.update(address_line1="", address_line2="", city="", state="", postal_code="")
        previous = body
        fields = {k: v for k, v in body.items() if k != "_digits"}
        yield dms_id, None, search_text("customers", dms_id, fields), fields, _history_time(n, count)


def _vehicles(rng: random.Random, count: int, customers: int, vendor: str) -> Iterator[Generated]:
    """Cars (trucks for Karmak), with valid VIN check digits and some legacy truck VINs."""
    truck_share = 90 if vendor == "karmak" else 6
    for n in range(1, count + 1):
        truck = n % 50 == 11 or rng.randrange(100) < truck_share
        make, models, wmi, engines = rng.choice(TRUCKS if truck else CARS)
        legacy = truck and (n % 50 == 11 or rng.randrange(25) == 0)
        year = rng.randrange(1972, 1981) if legacy else rng.randrange(2006, 2026)
        if legacy:
            # Pre-1981 serial numbers were not 17 characters.
            vin = "".join(rng.choice(VIN_CHARS) for _ in range(rng.choice((11, 12, 13))))
        else:
            vin = make_vin(rng, wmi, year)
        state = rng.choice(CITIES)[1]
        fields = {
            "vin": vin,
            "unit_number": f"U{rng.randrange(100, 9999)}" if truck else "",
            "year": year,
            "make": make,
            "model": rng.choice(models),
            "engine": rng.choice(engines),
            "plate": f"{rng.choice(VIN_CHARS[:24])}{rng.choice(VIN_CHARS[:24])}{rng.randrange(1000, 99999)}",
            "plate_state": state,
            "mileage": rng.randrange(1000, 900000 if truck else 180000),
            "owner_dms_id": customer_id(((n - 1) % customers) + 1),
        }
        dms_id = vehicle_id(n)
        yield dms_id, None, search_text("vehicles", dms_id, fields), fields, _history_time(n, count)


def _appointments(rng: random.Random, count: int, customers: int, vendor: str) -> Iterator[Generated]:
    """Appointments spread over the coming weeks with valid opcodes and advisors."""
    for n in range(1, count + 1):
        owner = (n * 37 % customers) + 1
        scheduled = datetime(2026, 1, 5, 8, tzinfo=UTC) + timedelta(
            days=rng.randrange(0, 120), minutes=15 * rng.randrange(0, 36)
        )
        opcodes = [rng.choice(OPCODES)[0] for _ in range(rng.randrange(0, 3))]
        fields = {
            "customer_dms_id": customer_id(owner),
            "vehicle_dms_id": vehicle_id(owner),
            "advisor_dms_id": ADVISORS[rng.randrange(8)][0],
            "scheduled_at": scheduled.isoformat(),
            "opcodes": opcodes,
            "notes": "" if opcodes else "Customer reports noise when braking",
            "status": rng.choice(("scheduled", "scheduled", "scheduled", "arrived", "completed")),
            "dispatch_code": rng.choice(DISPATCH_CODES) if vendor == "cdk" else "",
            "locked": False,
        }
        yield f"A{n:07d}", None, "", fields, _history_time(n, count)


def _repair_orders(rng: random.Random, count: int, customers: int, vendor: str) -> Iterator[Generated]:
    """ROs with 1-4 lines over all pay types; Karmak splits some into alternate ROs."""
    for n in range(1, count + 1):
        owner = (n * 13 % customers) + 1
        opened = HISTORY_START + timedelta(days=rng.randrange(0, 600), hours=rng.randrange(0, 9))
        status = rng.choice(("closed", "closed", "invoiced", "open"))
        lines = []
        for line_number in range(1, rng.randrange(2, 6)):
            code, description, hours = rng.choice(OPCODES)
            pay_type = rng.choice(("customer", "customer", "customer", "warranty", "internal"))
            labor = float(hours) * 145
            lines.append(
                {
                    "line_number": line_number,
                    "opcode": code,
                    "description": description,
                    "pay_type": pay_type,
                    "labor_hours": hours,
                    "labor_amount": f"{labor:.2f}",
                    "parts_amount": f"{rng.randrange(0, 60000) / 100:.2f}",
                }
            )
        alternate_of = ro_number(n - 1) if vendor == "karmak" and n > 1 and n % 5 == 0 else None
        if alternate_of:
            # Alternate billing: warranty lines split off onto their own RO, often still open.
            for line in lines:
                line["pay_type"] = "warranty"
            status = "open"
        number = ro_number(n)
        fields = {
            "ro_number": number,
            "status": status,
            "opened_at": opened.isoformat(),
            "closed_at": None if status == "open" else (opened + timedelta(days=rng.randrange(0, 4))).isoformat(),
            "advisor_dms_id": ADVISORS[rng.randrange(8)][0],
            "customer_dms_id": customer_id(owner),
            "vehicle_dms_id": vehicle_id(owner),
            "mileage_in": rng.randrange(1000, 200000),
            "lines": lines,
            "alternate_of": alternate_of,
        }
        yield number, alternate_of, number, fields, _history_time(n, count)


def _parts_invoices(rng: random.Random, count: int, customers: int, vendor: str) -> Iterator[Generated]:
    """Counter and RO parts invoices."""
    for n in range(1, count + 1):
        lines, total = [], 0.0
        for _ in range(rng.randrange(1, 4)):
            price, qty = rng.randrange(500, 40000) / 100, rng.randrange(1, 5)
            total += price * qty
            lines.append(
                {
                    "part_number": f"{rng.randrange(10000, 99999)}-{rng.choice(VIN_CHARS[:24])}",
                    "description": rng.choice(
                        (
                            "Oil filter",
                            "Brake pad set",
                            "Air filter",
                            "Wiper blade",
                            "Serpentine belt",
                            "Headlamp bulb",
                            "Battery",
                        )
                    ),
                    "quantity": qty,
                    "unit_price": f"{price:.2f}",
                }
            )
        fields = {
            "invoice_number": f"P{200000 + n}",
            "customer_dms_id": customer_id((n * 7 % customers) + 1),
            "ro_number": ro_number(n) if rng.randrange(2) else None,
            "invoiced_at": (HISTORY_START + timedelta(days=rng.randrange(600))).isoformat(),
            "lines": lines,
            "total": f"{total:.2f}",
        }
        yield f"PI{n:07d}", None, "", fields, _history_time(n, count)


def _special_orders(rng: random.Random, count: int, customers: int, vendor: str) -> Iterator[Generated]:
    """Parts special-ordered for customers."""
    for n in range(1, count + 1):
        ordered = HISTORY_START + timedelta(days=rng.randrange(600))
        fields = {
            "part_number": f"{rng.randrange(10000, 99999)}-SO",
            "description": "Special order part",
            "quantity": rng.randrange(1, 3),
            "status": rng.choice(("ordered", "received", "notified", "picked_up")),
            "customer_dms_id": customer_id((n * 11 % customers) + 1),
            "ro_number": ro_number(n),
            "ordered_at": ordered.isoformat(),
            "expected_at": (ordered + timedelta(days=5)).isoformat(),
        }
        yield f"SO{n:06d}", None, "", fields, _history_time(n, count)


def _opcodes(rng: random.Random, count: int, customers: int, vendor: str) -> Iterator[Generated]:
    """The opcode list (one inactive, so it counts as an incorrect opcode when booked)."""
    rows = [(code, description, hours, True) for code, description, hours in OPCODES]
    rows.append((INACTIVE_OPCODE, "Oil change (retired code)", "0.5", False))
    for n, (code, description, hours, active) in enumerate(rows, 1):
        fields = {
            "description": description,
            "labor_hours": hours,
            "default_pay_type": "warranty" if code in ("WARR", "RECALL") else "customer",
            "active": active,
        }
        yield code, None, code.lower(), fields, _history_time(n, len(rows))
