"""The simulated service staff of tests/bench/load.py (Locust users; not a benchmark on its own).

``tests/bench/load.py`` runs ``locust -f`` on this file with ``BENCH_LOAD_CONFIG`` naming a JSON file:
the accounts to sign in as (one per user), each location's sample of customers and assets (what staff
look up), and where to write one line per request (category, name, milliseconds, ok, status, error).

What a browser would send: full page loads (with the static files they name, cached as the answers'
headers allow), navigation and form posts boosted by htmx (``HX-Request`` + ``HX-Boosted``, the CSRF
token in ``X-CSRFToken``), and targeted htmx requests (``HX-Request`` + ``HX-Target``) for live
searches, wizard steps and polling. A live search sends a request per keystroke unless the next key
comes within the input's ``delay`` (300 ms; 250 ms on the booking form), as htmx does.

Categories: ``search`` (live-search fragments), ``page`` (full pages, boosted or not), ``wizard``
(everything in a sync wizard: start, its page, steps, write-back status), ``other`` (sign-in, form
posts outside the wizard, polling, static files).
"""

from __future__ import annotations

import itertools
import json
import os
import random
import re
import time
from datetime import date, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import lxml.html
from locust import FastHttpUser, between, events, task

CONFIG = json.loads(Path(os.environ["BENCH_LOAD_CONFIG"]).read_text())
_LOG = open(CONFIG["request_log"], "a", buffering=1)
_ACCOUNTS = itertools.count()

SEARCH_DELAY = 0.3  # hx-trigger "input changed delay:300ms" of the Customers / Assets search
BOOKING_DELAY = 0.25  # the booking form's customer search
KEY_GAP = (0.15, 0.65)  # seconds between keystrokes
CONFLICT = "was changed by someone else since you started the sync"  # the wizard's stale-choices answer
READ = (1.0, 4.0)  # reading a page before the next click
CSRF_META = re.compile(r'"X-CSRFToken": "([^"]+)"')
CSRF_FIELD = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
STATIC = re.compile(r'(?:href|src)="(/static/[^"]+)"')


@events.request.add_listener
def _record(
    request_type,
    name,
    response_time,
    response_length,
    response=None,
    context=None,
    exception=None,
    start_time=None,
    **_kw,
):
    """One line per request for load.py's figures."""
    status = getattr(response, "status_code", 0) if response is not None else 0
    _LOG.write(
        json.dumps(
            [
                (context or {}).get("cat", "other"),
                f"{request_type} {name}",
                round(response_time, 2),
                exception is None,
                status,
                str(exception or "")[:300],
                start_time or time.time(),
            ]
        )
        + "\n"
    )


class FlowBroken(Exception):
    """A request failed (already recorded): the rest of this task is skipped."""


def flow(func):
    """A task that stops quietly at the first failed request."""

    def run(self):
        try:
            func(self)
        except FlowBroken:
            pass

    run.__name__ = func.__name__
    return run


def snippet(text: str) -> str:
    """The reason an answer gives, in one line: a form's errors and findings, else its heading."""
    text = text or ""
    reasons = re.findall(r'data-code="([^"]+)"', text)
    reasons += re.findall(r'class="(?:error|alert alert-error[^"]*|flash flash-error)"[^>]*>(.*?)</', text, re.S)
    if not reasons:
        heading = re.search(r"<h1[^>]*>(.*?)</h1>", text, re.S)
        reasons = [heading.group(1) if heading else text[:200]]
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", "; ".join(reasons))).strip()[:300]


class Staff(FastHttpUser):
    """A service advisor or manager going about their morning."""

    wait_time = between(4, 12)
    network_timeout = 120.0
    connection_timeout = 30.0

    # ------------------------------------------------------------------ plumbing
    def on_start(self) -> None:
        number = next(_ACCOUNTS)
        self.account = CONFIG["users"][number % len(CONFIG["users"])]
        self.rng = random.Random(f"{CONFIG['seed']}:{number}")
        self.location = CONFIG["locations"][self.account["location"]]
        self.csrf = ""
        self.url = "/"
        self.cache: dict[str, tuple[float, str | None, str | None, bool]] = {}
        self.appointments: list[int] = []
        page = self.get("/login", "other", "/login", full=True)
        token = CSRF_FIELD.search(page.text)
        form = {
            "csrf_token": token.group(1) if token else "",
            "email": self.account["email"],
            "password": self.account["password"],
        }
        answer = self.send("POST", "/login", "other", "/login", form, expect=(302, 303), boosted=False)
        self.get(answer.headers.get("Location") or "/", "page", "/ (home)", full=True)

    def request(
        self, method: str, path: str, cat: str, name: str, *, headers=None, data=None, expect=(200,), check=None
    ):
        """One request; a status outside ``expect`` or an answer without ``check`` is a failure."""
        body = None
        headers = dict(headers or {})
        if data is not None:
            body = urlencode(data, doseq=True)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        with self.client.request(
            method,
            path,
            name=name,
            data=body,
            headers=headers,
            catch_response=True,
            allow_redirects=False,
            context={"cat": cat},
        ) as response:
            if response.status_code not in expect:
                error = getattr(response, "error", None) if not response.status_code else None
                reason = f"{type(error).__name__}: {error}" if error is not None else snippet(response.text)
                response.failure(f"{response.status_code}: {reason}")
                raise FlowBroken()
            if check is not None and check not in (response.text or ""):
                response.failure(f"answer without {check!r}: {snippet(response.text)}")
                raise FlowBroken()
            response.success()
            return response

    def get(self, path: str, cat: str, name: str, *, full: bool = False, check=None, expect=(200,)):
        """A page: a full load (with its static files) or, by default, an htmx-boosted navigation."""
        headers = {} if full else {"HX-Request": "true", "HX-Boosted": "true", "HX-Current-URL": self.host + self.url}
        response = self.request("GET", path, cat, name, headers=headers, check=check, expect=expect)
        self.url = path
        token = CSRF_META.search(response.text or "")
        if token:
            self.csrf = token.group(1)
        if full:
            self.static_files(response.text or "")
        return response

    def fragment(self, path: str, cat: str, name: str, target: str | None, *, check=None, expect=(200,)):
        """A targeted htmx GET (live search, polling): the server answers with a block of the page."""
        headers = {"HX-Request": "true", "HX-Current-URL": self.host + self.url}
        if target:
            headers["HX-Target"] = target
        return self.request("GET", path, cat, name, headers=headers, check=check, expect=expect)

    def send(
        self,
        method: str,
        path: str,
        cat: str,
        name: str,
        data: dict | list,
        *,
        expect=(303,),
        target=None,
        boosted=True,
        check=None,
    ):
        """A form post: boosted by htmx (a whole-page answer or a redirect) or targeted (``target``)."""
        headers = {"X-CSRFToken": self.csrf, "HX-Current-URL": self.host + self.url} if boosted or target else {}
        if boosted or target:
            headers["HX-Request"] = "true"
        if target:
            headers["HX-Target"] = target
        elif boosted:
            headers["HX-Boosted"] = "true"
        return self.request(method, path, cat, name, headers=headers, data=data, expect=expect, check=check)

    def follow(self, response, cat: str, name: str, *, full: bool = False, check=None):
        """The page a redirect (303 or htmx's HX-Redirect) leads to."""
        location = response.headers.get("HX-Redirect") or response.headers.get("Location")
        if not location:
            response.failure("no redirect")
            raise FlowBroken()
        path = urlsplit(location)._replace(scheme="", netloc="").geturl()
        return self.get(path, cat, name, full=full or bool(response.headers.get("HX-Redirect")), check=check)

    def static_files(self, html: str) -> None:
        """What a browser fetches for a full page load: each static file not fresh in its cache,
        revalidated (If-None-Match / If-Modified-Since) when it has a copy."""
        now = time.time()
        for path in dict.fromkeys(STATIC.findall(html)):
            fresh_until, etag, modified, _ = self.cache.get(path, (0.0, None, None, False))
            if now < fresh_until:
                continue
            headers = {}
            if etag:
                headers["If-None-Match"] = etag
            if modified:
                headers["If-Modified-Since"] = modified
            response = self.request("GET", path, "other", "/static/*", headers=headers, expect=(200, 304))
            etag = response.headers.get("ETag") or etag
            modified = response.headers.get("Last-Modified") or modified
            control = response.headers.get("Cache-Control") or ""
            max_age = re.search(r"max-age=(\d+)", control)
            if "no-cache" in control or "no-store" in control:
                lifetime = 0.0
            elif max_age:
                lifetime = float(max_age.group(1))
            elif modified:  # heuristic freshness: a tenth of the file's age (RFC 9111 4.2.2)
                try:
                    lifetime = max(0.0, (now - parsedate_to_datetime(modified).timestamp()) / 10)
                except (TypeError, ValueError):
                    lifetime = 0.0
            else:
                lifetime = 0.0
            self.cache[path] = (now + lifetime, etag, modified, True)

    def pause(self, low: float, high: float) -> None:
        time.sleep(self.rng.uniform(low, high))

    def read(self) -> None:
        self.pause(*READ)

    def type_ahead(self, path: str, params: dict, field: str, text: str, target: str, name: str, delay: float) -> str:
        """Type ``text`` into a live-search input: the requests htmx sends (``delay`` after a keystroke
        not followed by another within it). Returns the last answer's HTML."""
        last = ""
        typed = 0
        while typed < len(text):
            typed += 1
            gap = self.rng.uniform(*KEY_GAP)
            if typed < len(text) and gap < delay:
                time.sleep(gap)  # the next key comes first: htmx restarts its delay
                continue
            time.sleep(delay)
            started = time.monotonic()
            response = self.fragment(f"{path}?{urlencode({**params, field: text[:typed]})}", "search", name, target)
            last = response.text or ""
            time.sleep(max(0.0, gap - delay - (time.monotonic() - started)))
        return last

    # ------------------------------------------------------------------ what staff look up
    def customer_term(self, record: list) -> str:
        _id, first, last, company, is_business, phone, email, dms_id = record
        roll = self.rng.random()
        if roll < 0.6 or not (phone or email):
            if is_business and company:
                return company
            if first and last and self.rng.random() < 0.4:
                return f"{last} {first[: self.rng.randint(1, len(first))]}"
            return (last or company or dms_id or "a")[: self.rng.randint(3, 8)]
        if roll < 0.8 and phone:
            digits = re.sub(r"\D", "", phone)[-10:]
            return digits[-4:] if self.rng.random() < 0.5 else digits
        if roll < 0.9 and email:
            return email.split("@")[0][: self.rng.randint(4, 12)]
        return dms_id or (last or "a")[:4]

    def asset_term(self, record: list) -> str:
        _id, vin, plate, unit, year, make, model = record
        roll = self.rng.random()
        if roll < 0.35 and vin:
            return vin[-6:] if self.rng.random() < 0.7 else vin[-8:]
        if roll < 0.55 and plate:
            return plate
        if roll < 0.65 and unit:
            return unit
        if year and make:
            words = [str(year), (model or make).lower()[: self.rng.randint(3, 6)]]
            self.rng.shuffle(words)
            return " ".join(words)
        return (vin or plate or "1")[-6:]

    # ------------------------------------------------------------------ tasks
    @task(30)
    @flow
    def look_up_customer(self) -> None:
        """Find a customer by typing, open them, maybe one of their vehicles."""
        record = self.rng.choice(self.location["customers"])
        self.get("/customers", "page", "/customers")
        html = self.type_ahead(
            "/customers", {}, "q", self.customer_term(record), "results", "/customers?q= (live)", SEARCH_DELAY
        )
        found = re.findall(r'href="/customers/(\d+)"', html)
        customer_id = str(record[0]) if str(record[0]) in found or not found else self.rng.choice(found)
        self.read()
        page = self.get(f"/customers/{customer_id}", "page", "/customers/<id>", full=self.rng.random() < 0.2)
        self.read()
        assets = re.findall(r'href="/assets/(\d+)"', page.text or "")
        if assets and self.rng.random() < 0.3:
            self.get(f"/assets/{self.rng.choice(assets)}", "page", "/assets/<id>")
            self.read()

    @task(20)
    @flow
    def look_up_asset(self) -> None:
        """Find a vehicle by VIN end, plate, unit or year/make/model, open it."""
        record = self.rng.choice(self.location["assets"])
        self.get("/assets", "page", "/assets")
        html = self.type_ahead(
            "/assets", {}, "q", self.asset_term(record), "results", "/assets?q= (live)", SEARCH_DELAY
        )
        found = re.findall(r'href="/assets/(\d+)"', html)
        asset_id = str(record[0]) if str(record[0]) in found or not found else self.rng.choice(found)
        self.read()
        self.get(f"/assets/{asset_id}", "page", "/assets/<id>", full=self.rng.random() < 0.2)
        self.read()

    @task(5)
    @flow
    def search_the_dms(self) -> None:
        """The DMS tab: what the DMS has (the mirror; the DMS itself when the mirror has nothing)."""
        kind = "customers" if self.rng.random() < 0.7 else "assets"
        self.get(f"/{kind}?tab=dms", "page", f"/{kind}?tab=dms")
        if kind == "customers":
            pool = self.location["dms_only"]
            if pool and self.rng.random() < 0.5:
                term = (self.rng.choice(pool)[1] or "a").split(" ")[0]
            else:
                term = self.customer_term(self.rng.choice(self.location["customers"]))
        else:
            term = self.asset_term(self.rng.choice(self.location["assets"]))
        self.type_ahead(f"/{kind}", {"tab": "dms"}, "q", term, "results", f"/{kind}?tab=dms&q= (live)", SEARCH_DELAY)
        self.read()

    @task(8)
    @flow
    def sync_customer(self) -> None:
        """Sync with DMS on a customer, mostly one the pulls found different from the DMS."""
        drifted = self.location["drifted_customers"]
        customer_id = (
            self.rng.choice(drifted)
            if drifted and self.rng.random() < 0.75
            else self.rng.choice(self.location["customers"])[0]
        )
        self.get(f"/customers/{customer_id}", "page", "/customers/<id>")
        self.read()
        self.sync_wizard("customer", customer_id)

    @task(5)
    @flow
    def sync_asset(self) -> None:
        """Sync with DMS on a vehicle, mostly one the pulls found different from the DMS."""
        drifted = self.location["drifted_assets"]
        asset_id = (
            self.rng.choice(drifted)
            if drifted and self.rng.random() < 0.75
            else self.rng.choice(self.location["assets"])[0]
        )
        self.get(f"/assets/{asset_id}", "page", "/assets/<id>")
        self.read()
        self.sync_wizard("asset", asset_id)

    def sync_wizard(self, kind: str, record_id: int) -> None:
        """Sync with DMS to the end: start (the DMS record is read live), owner, fields, confirm, apply."""
        base = f"/{kind}s/{record_id}/sync"
        name = f"/{kind}s/<id>/sync"
        started = self.send(
            "POST", base, "wizard", f"{name} (start)", {"csrf_token": self.csrf, "next": f"/{kind}s/{record_id}"}
        )
        wizard = parse_qs(urlsplit(started.headers.get("Location", "")).query).get("wizard", [""])[0]
        html = self.follow(started, "wizard", f"{name}?wizard= (page)").text or ""
        if "Could not start the sync" in html:
            raise self.broken(started, "the wizard could not start")
        for _ in range(6):
            if "sync-summary" in html or "sync-cancelled" in html:
                break  # the summary (applied, or the records match)
            self.pause(1.0, 3.0)
            tree = lxml.html.fromstring(html)
            data: list[tuple[str, str]] = [("csrf_token", self.csrf), ("wizard", wizard)]
            if tree.xpath('//input[@name="owner"]'):
                options = [
                    i.get("value")
                    for i in tree.xpath('//input[@name="owner"]')
                    if i.get("disabled") is None and i.get("value") != "other"
                ]
                data += [("action", "next"), ("owner", self.rng.choice(options) if options else "portal")]
            elif tree.xpath("//tr[@data-field]"):
                for row in tree.xpath("//tr[@data-field]"):
                    radios = row.xpath('.//input[@type="radio"]')
                    checked = [r.get("value") for r in radios if r.get("checked") is not None]
                    data.append(
                        (
                            radios[0].get("name"),
                            checked[0] if checked else self.rng.choice([r.get("value") for r in radios]),
                        )
                    )
                data.append(("action", "next"))
            elif tree.xpath('//button[@value="apply"]'):
                data.append(("action", "apply"))
            else:
                data.append(("action", "next"))  # "All fields match": on to the confirmation
            step = dict(data)["action"]
            answer = self.send(
                "POST", f"{base}/step", "wizard", f"{name}/step ({step})", data, expect=(200, 422), target="sync-wizard"
            )
            html = answer.text or ""
            if answer.status_code == 422:
                # A pull brought a DMS change to this record while the person was choosing: the
                # console refuses the now stale choices, as it should, and the person starts again
                # later. Any other 422 is a failure.
                if CONFLICT not in html:
                    raise self.broken(answer, f"the {kind} wizard refused a step: {snippet(html)}")
                return
        if "sync-summary" not in html:
            raise self.broken(None, f"the {kind} wizard did not reach its summary")
        for _ in range(5):  # the write-back to the DMS, polled every 2 s while it is on its way
            if 'hx-get="' + base + "/status" not in html:
                break
            time.sleep(2.0)
            html = self.fragment(f"{base}/status?wizard={wizard}", "wizard", f"{name}/status", None).text or ""
        self.read()

    def broken(self, response, why: str) -> FlowBroken:
        """Record ``why`` as a failure of a request that itself succeeded (a wrong answer), and stop."""
        events.request.fire(
            request_type="CHECK",
            name=why,
            response_time=0,
            response_length=0,
            response=response,
            context={"cat": "other"},
            exception=Exception(why),
        )
        return FlowBroken()

    @task(8)
    @flow
    def book_appointment(self) -> None:
        """Appointments → Book: find the customer, fill the form, save; watch the push status."""
        self.get("/appointments/", "page", "/appointments/")
        self.read()
        self.get("/appointments/new", "page", "/appointments/new")
        record = self.rng.choice(self.location["customers"])
        term = self.customer_term(record)
        html = self.type_ahead(
            "/appointments/customers",
            {},
            "q",
            term,
            "customer-results",
            "/appointments/customers?q= (live)",
            BOOKING_DELAY,
        )
        found = re.findall(r'href="/appointments/new\?customer_id=(\d+)"', html)
        customer_id = str(record[0]) if str(record[0]) in found or not found else found[0]
        self.pause(1.0, 2.0)
        page = self.get(f"/appointments/new?customer_id={customer_id}", "page", "/appointments/new?customer_id=")
        self.pause(5.0, 15.0)  # filling in the form
        data = self.appointment_form(page.text or "")
        saved = self.send(
            "POST",
            f"/appointments/new?customer_id={customer_id}",
            "other",
            "/appointments/new (book)",
            data,
            expect=(200,),
            target="appointment-form-block",
        )
        if not saved.headers.get("HX-Redirect"):
            raise self.broken(
                saved, "booking refused: " + "; ".join(re.findall(r'data-code="([^"]+)"', saved.text or ""))
            )
        detail = self.follow(saved, "page", "/appointments/<id>")
        found_id = re.search(r"/appointments/(\d+)", saved.headers["HX-Redirect"])
        if found_id:
            self.appointments.append(int(found_id.group(1)))
        self.watch_push(found_id.group(1) if found_id else "", detail.text or "")

    def watch_push(self, appointment_id: str, html: str) -> None:
        """The push-status panel polls every second while the push is pending; a person looks for a few seconds."""
        for _ in range(self.rng.randint(2, 5)):
            if "/push-status" not in html:
                break
            time.sleep(1.0)
            html = (
                self.fragment(
                    f"/appointments/{appointment_id}/push-status",
                    "other",
                    "/appointments/<id>/push-status",
                    "push-status",
                ).text
                or ""
            )
        self.read()

    def appointment_form(self, html: str) -> list[tuple[str, str]]:
        """The booking / rescheduling form filled in as an advisor would."""
        tree = lxml.html.fromstring(html)
        form = tree.xpath('//form[@id="appointment-form"]')[0]
        data: list[tuple[str, str]] = []
        for hidden in form.xpath('.//input[@type="hidden"]'):
            data.append((hidden.get("name"), hidden.get("value") or ""))
        day = date.today() + timedelta(days=self.rng.randint(1, 30))
        data.append(
            ("scheduled_at", f"{day:%Y-%m-%d}T{self.rng.randint(7, 16):02d}:{self.rng.choice((0, 15, 30, 45)):02d}")
        )
        advisors = [
            (o.get("value"), o.get("selected") is not None)
            for o in form.xpath('.//select[@name="advisor_id"]/option')
            if o.get("value") != "0" and "· DMS ID" in (o.text or "") and "(shared)" not in (o.text or "")
        ]
        chosen = [v for v, selected in advisors if selected] or [v for v, _ in advisors] or ["0"]
        data.append(("advisor_id", chosen[0]))
        vehicles = [o.get("value") for o in form.xpath('.//select[@name="asset_id"]/option') if o.get("value") != "0"]
        selected = form.xpath('.//select[@name="asset_id"]/option[@selected]')
        data.append(
            ("asset_id", selected[0].get("value") if selected else (self.rng.choice(vehicles) if vehicles else "0"))
        )
        brands = form.xpath('.//select[@name="brand"]/option')
        if brands:
            data.append(("brand", self.rng.choice([o.get("value") or "" for o in brands])))
        opcodes = [i.get("value") for i in form.xpath('.//input[@name="opcodes"]')]
        if opcodes:
            for code in self.rng.sample(opcodes, k=min(len(opcodes), self.rng.randint(1, 2))):
                data.append(("opcodes", code))
        elif form.xpath('.//input[@name="opcode_text"]'):
            data.append(("opcode_text", ""))
        data.append(
            (
                "notes",
                self.rng.choice(
                    (
                        "Customer hears a noise when braking",
                        "Oil change and rotation",
                        "Check engine light on",
                        "Recall check",
                    )
                ),
            )
        )
        if form.xpath('.//input[@name="dispatch_code"]'):
            data.append(("dispatch_code", ""))
        return data

    @task(5)
    @flow
    def change_appointment(self) -> None:
        """Reschedule one of the appointments this person booked (or cancel it)."""
        if not self.appointments:
            return self.book_appointment()
        appointment_id = self.rng.choice(self.appointments)
        self.get(f"/appointments/{appointment_id}", "page", "/appointments/<id>")
        self.read()
        if self.rng.random() < 0.25:
            done = self.send(
                "POST",
                f"/appointments/{appointment_id}/cancel",
                "other",
                "/appointments/<id>/cancel",
                {"csrf_token": self.csrf},
            )
            self.follow(done, "page", "/appointments/<id>")
            self.appointments.remove(appointment_id)
            return None
        page = self.get(f"/appointments/{appointment_id}/edit", "page", "/appointments/<id>/edit")
        self.pause(3.0, 8.0)
        data = self.appointment_form(page.text or "")
        saved = self.send(
            "POST",
            f"/appointments/{appointment_id}/edit",
            "other",
            "/appointments/<id>/edit (save)",
            data,
            expect=(200,),
            target="appointment-form-block",
        )
        if not saved.headers.get("HX-Redirect"):
            raise self.broken(
                saved, "change refused: " + "; ".join(re.findall(r'data-code="([^"]+)"', saved.text or ""))
            )
        detail = self.follow(saved, "page", "/appointments/<id>")
        self.watch_push(str(appointment_id), detail.text or "")
        return None

    @task(6)
    @flow
    def dms_activity(self) -> None:
        """An open repair order of the DMS → DMS Activity; a receipt added and exported where the DMS takes them."""
        page = self.get("/repair-orders/all?status=open", "page", "/repair-orders/all?status=open")
        ros = re.findall(r'href="/repair-orders/dms/([^"]+)"', page.text or "")
        if not ros:
            raise self.broken(page, "no open repair orders listed")
        self.read()
        dms_id = self.rng.choice(ros)
        detail = self.get(f"/repair-orders/dms/{dms_id}", "page", "/repair-orders/dms/<id>")
        self.read()
        start = f"/repair-orders/dms/{dms_id}/dms-activity"
        if f'action="{start}"' not in (detail.text or ""):
            return
        started = self.send(
            "POST", start, "other", "/repair-orders/dms/<id>/dms-activity (start)", {"csrf_token": self.csrf}
        )
        activity = self.follow(started, "page", "/repair-orders/<wf>/dms-activity")
        base = urlsplit(started.headers["Location"]).path
        self.read()
        payments = self.get(f"{base}?tab=payments", "page", "/repair-orders/<wf>/dms-activity?tab=payments")
        self.read()
        if self.location["vendor"] in ("cdk", "dealertrack") and 'name="payer"' in (payments.text or ""):
            receipt = {
                "csrf_token": self.csrf,
                "kind": "customer",
                "amount": f"{self.rng.randint(20, 900)}.{self.rng.randint(0, 99):02d}",
                "payer": "Walk-in customer",
                "method": self.rng.choice(("card", "cash", "check")),
                "reference": f"AUTH {self.rng.randint(100000, 999999)}",
                "received_on": "",
            }
            saved = self.send(
                "POST", f"{base}/payments", "other", "/repair-orders/<wf>/dms-activity/payments (add)", receipt
            )
            self.follow(saved, "page", "/repair-orders/<wf>/dms-activity?tab=payments", check="saved (Ready)")
            self.read()
            exported = self.send(
                "POST",
                f"{base}/payments/export",
                "other",
                "/repair-orders/<wf>/dms-activity/payments/export",
                {"csrf_token": self.csrf},
            )
            if "/exporting" not in exported.headers.get("Location", ""):
                raise self.broken(exported, "payment export refused")
            progress = self.follow(exported, "page", "/repair-orders/<wf>/dms-activity/payments/exporting").text or ""
            target = urlsplit(exported.headers["Location"])
            for _ in range(15):
                if "hx-trigger" not in progress:
                    break
                time.sleep(1.0)
                progress = (
                    self.fragment(
                        f"{target.path}?{target.query}",
                        "other",
                        "/repair-orders/<wf>/dms-activity/payments/exporting (poll)",
                        "export-progress",
                    ).text
                    or ""
                )
            self.get(f"{base}?tab=payments", "page", "/repair-orders/<wf>/dms-activity?tab=payments")
        elif activity.status_code == 200:
            self.get(f"{base}?tab=history", "page", "/repair-orders/<wf>/dms-activity?tab=history")
        self.read()

    @task(10)
    @flow
    def look_around(self) -> None:
        """The home page, the appointment list, the repair orders; managers check integration health."""
        self.get("/", "page", "/ (home)")
        self.read()
        choice = self.rng.random()
        if choice < 0.4:
            self.get("/appointments/", "page", "/appointments/")
        elif choice < 0.7:
            self.get("/repair-orders/all", "page", "/repair-orders/all")
        elif self.account["role"] == "manager":
            self.get("/integrations/", "page", "/integrations/ (health)")
        else:
            self.get("/customers", "page", "/customers")
        self.read()
