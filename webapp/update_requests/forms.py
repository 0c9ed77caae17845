"""Forms: the Customer Info Update Request page and the reviewer's decision."""

from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import BooleanField, HiddenField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from webapp.domain.normalise import email_problem, normalise_phone
from webapp.domain.update_request_fields import GROUPS, canonical, differs


def _strip(value):
    """Trim surrounding blanks from text input."""
    return value.strip() if isinstance(value, str) else value


class UpdateRequestForm(FlaskForm):
    """Pick the groups of fields to change, type the new values, attach the screenshot."""

    update_name = BooleanField("Name")
    update_company = BooleanField("Company")
    update_phones = BooleanField("Phones")
    update_email = BooleanField("E-mail")
    update_address = BooleanField("Address")

    first_name = StringField("First name", filters=[_strip], validators=[Optional(), Length(max=80)])
    last_name = StringField("Last name", filters=[_strip], validators=[Optional(), Length(max=80)])
    company_name = StringField("Company name", filters=[_strip], validators=[Optional(), Length(max=160)])
    phone = StringField("Phone", filters=[_strip], validators=[Optional(), Length(max=32)])
    mobile_phone = StringField("Mobile phone", filters=[_strip], validators=[Optional(), Length(max=32)])
    email = StringField("E-mail address", filters=[_strip], validators=[Optional(), Length(max=254)])
    address_line1 = StringField("Street address", filters=[_strip], validators=[Optional(), Length(max=160)])
    address_line2 = StringField("Address line 2", filters=[_strip], validators=[Optional(), Length(max=160)])
    city = StringField("City", filters=[_strip], validators=[Optional(), Length(max=80)])
    state = StringField("State / province", filters=[_strip], validators=[Optional(), Length(max=40)])
    postal_code = StringField("ZIP / postal code", filters=[_strip], validators=[Optional(), Length(max=20)])

    screenshot = FileField("Screenshot of the updated DMS record")
    # A screenshot checked on an earlier attempt that failed for another field (webapp.uploads.pending).
    screenshot_token = HiddenField()
    note = TextAreaField(
        "Note for the admin team (optional)", filters=[_strip], validators=[Optional(), Length(max=1000)]
    )

    def chosen_groups(self):
        """The field groups whose tick-box is ticked."""
        return [group for group in GROUPS if self[f"update_{group.key}"].data]

    def check_values(self, customer, region: str = "US") -> dict | None:
        """Validate the chosen groups against ``customer``; the canonical requested values, or None.

        Errors are attached to the fields (and ``self.form_errors``) for the re-rendered page.
        """
        groups = self.chosen_groups()
        if not groups:
            self.form_errors.append(
                "Tick at least one group of fields to update (name, company, phones, e-mail or address)."
            )
            return None
        values: dict = {}
        ok = True
        for group in groups:
            typed = {attr: (self[attr].data or "") for attr in group.attrs}
            group_ok = self._check_group(group.key, typed, region)
            ok = ok and group_ok
            if not group_ok:
                continue
            for attr, text in typed.items():
                values[attr] = _canonical(attr, text, region)
            if not any(differs(attr, getattr(customer, attr), values[attr]) for attr in group.attrs):
                self[f"update_{group.key}"].errors = list(self[f"update_{group.key}"].errors) + [
                    f"The {group.label.lower()} you entered is what the customer already has. "
                    "Change the value, or untick this group."
                ]
                ok = False
        return values if ok else None

    def _check_group(self, key: str, typed: dict, region: str) -> bool:
        """Per-group rules: required parts and formats."""
        errors: dict[str, str] = {}
        if key == "name" and not (typed["first_name"] or typed["last_name"]):
            errors["last_name"] = "Enter the customer's first and/or last name."
        if key == "company" and not typed["company_name"]:
            errors["company_name"] = "Enter the company name."
        if key == "phones":
            if not (typed["phone"] or typed["mobile_phone"]):
                errors["phone"] = "Enter at least one phone number."
            for attr in ("phone", "mobile_phone"):
                if typed[attr] and normalise_phone(typed[attr], region) is None:
                    errors[attr] = "This is not a valid phone number. Include the area code, e.g. (217) 555-0100."
        if key == "email":
            if not typed["email"]:
                errors["email"] = "Enter the e-mail address."
            else:
                problem = email_problem(typed["email"])
                if problem:
                    errors["email"] = f"This is not a valid e-mail address: {problem}"
        if key == "address":
            for attr, message in (
                ("address_line1", "Enter the street address."),
                ("city", "Enter the city."),
                ("postal_code", "Enter the ZIP or postal code."),
            ):
                if not typed[attr]:
                    errors[attr] = message
        for attr, message in errors.items():
            self[attr].errors = list(self[attr].errors) + [message]
        return not errors


def _canonical(attr: str, text: str, region: str):
    """The stored form of a typed value (phones in the customer's region)."""
    if attr in ("phone", "mobile_phone"):
        return normalise_phone(text, region) if text else None
    return canonical(attr, text)


class ApproveForm(FlaskForm):
    """Approve: nothing to type; the CSRF token is the whole form."""

    confirm = HiddenField(default="approve")


class RejectForm(FlaskForm):
    """Reject: the requester is told why."""

    reason = TextAreaField(
        "Reason for rejecting",
        filters=[_strip],
        validators=[
            DataRequired(message="Say why the request is rejected: the requester sees this reason."),
            Length(max=1000),
        ],
    )
