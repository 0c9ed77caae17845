"""DMS Activity forms: a new workfile, the three DMS ids, linking a DMS RO, a new receipt and its
void, and the new-vehicle confirmation."""

from datetime import date
from decimal import Decimal, InvalidOperation

from flask_wtf import FlaskForm
from wtforms import DateField, DecimalField, IntegerField, SelectField, StringField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional, ValidationError

from webapp.models.payment import PAYMENT_METHODS, PaymentKind


class PropertiesForm(FlaskForm):
    """DMS Repair ID, DMS Customer ID, DMS Vehicle ID: editable by hand any time before close."""

    dms_repair_id = StringField("DMS Repair ID", validators=[Optional(), Length(max=64)])
    dms_customer_id = StringField("DMS Customer ID", validators=[Optional(), Length(max=64)])
    dms_vehicle_id = StringField("DMS Vehicle ID", validators=[Optional(), Length(max=64)])


class MoneyField(DecimalField):
    """A dollar amount: "1,250.00" and "$1250" are read; anything else is one clear error."""

    def process_formdata(self, valuelist):
        if not valuelist:
            return
        text = (valuelist[0] or "").strip().replace(",", "").replace("$", "")
        if not text:
            self.data = None
            return
        try:
            self.data = Decimal(text)
            if not self.data.is_finite():
                raise InvalidOperation
        except (InvalidOperation, ValueError):
            self.data = None
            raise ValueError("Enter the amount as a number, like 125.00.") from None


class _Amount:
    """Above zero, at most 9,999,999.99, two decimals; silent when the field already has an error."""

    def __init__(self, allow_zero: bool = False) -> None:
        self.allow_zero = allow_zero

    def __call__(self, form, field) -> None:
        if field.errors or field.data is None:
            return
        if field.data < 0:
            raise ValidationError("The amount cannot be negative.")
        if field.data == 0 and not self.allow_zero:
            raise ValidationError("Enter an amount above $0.00.")
        if field.data > Decimal("9999999.99"):
            raise ValidationError("The amount is too large (at most $9,999,999.99).")
        if field.data != field.data.quantize(Decimal("0.01")):
            raise ValidationError("Use at most two decimals (cents).")


class PaymentForm(FlaskForm):
    """A receipt saved on the workfile (Ready until exported)."""

    kind = SelectField(
        "Receipt type",
        choices=[(k.value, k.label) for k in PaymentKind],
        validators=[DataRequired(message="Choose the receipt type.")],
    )
    amount = MoneyField("Amount ($)", places=2, validators=[InputRequired(message="Enter the amount."), _Amount()])
    payer = StringField("Payer", validators=[DataRequired(message="Enter who paid."), Length(max=160)])
    method = SelectField(
        "Method",
        choices=[("", "Choose…")] + [(m, m.title()) for m in PAYMENT_METHODS],
        validate_choice=False,
        validators=[DataRequired(message="Choose the payment method.")],
    )
    reference = StringField(
        "Reference",
        validators=[Optional(), Length(max=64)],
        description="Check number, card authorisation or claim number (optional).",
    )
    received_on = DateField("Received on", validators=[Optional()])

    # The location's today (set by the view before validating): receipts cannot be dated later.
    today: date | None = None

    def validate_method(self, field) -> None:
        if field.data and field.data not in PAYMENT_METHODS:
            raise ValidationError("Choose one of the listed payment methods.")

    def validate_received_on(self, field) -> None:
        if field.data and self.today and field.data > self.today:
            raise ValidationError(f"The date cannot be in the future (today is {self.today:%m/%d/%Y}).")


class VoidForm(FlaskForm):
    """Void a receipt: why (kept on the receipt and in History)."""

    reason = StringField(
        "Reason for voiding", validators=[DataRequired(message="Say why the receipt is voided."), Length(max=500)]
    )


class LinkRoForm(FlaskForm):
    """Link the workfile to a repair order the DMS already has, by its RO number."""

    ro_number = StringField(
        "DMS RO number", validators=[DataRequired(message="Enter the RO number to look up."), Length(max=64)]
    )


class WorkfileForm(FlaskForm):
    """A new repair order (workfile) for a customer and vehicle."""

    asset_id = SelectField("Vehicle", coerce=int, validate_choice=False)
    insurer = StringField(
        "Insurer",
        validators=[Optional(), Length(max=160)],
        description="Only for insurance work; leave empty for customer-pay work.",
    )
    total = MoneyField(
        "Estimate total ($)",
        places=2,
        validators=[Optional(), _Amount(allow_zero=True)],
        description="The estimate's total, if you have one. You can leave it empty.",
    )


class NewVehicleForm(FlaskForm):
    """ "Vehicle not listed": confirm the make and model from the workfile before export."""

    year = IntegerField("Year", validators=[Optional(), NumberRange(min=1900, max=2100)])
    make = StringField("Make", validators=[DataRequired(message="Enter the make."), Length(max=40)])
    model = StringField("Model", validators=[DataRequired(message="Enter the model."), Length(max=60)])
    vin = StringField("VIN", validators=[Optional(), Length(max=32)])
