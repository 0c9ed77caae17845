"""DMS Activity forms: the three DMS ids, a new receipt, and the new-vehicle confirmation."""
from decimal import Decimal

from flask_wtf import FlaskForm
from wtforms import DateField, DecimalField, IntegerField, SelectField, StringField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from webapp.models.payment import PAYMENT_METHODS, PaymentKind


class PropertiesForm(FlaskForm):
    """DMS Repair ID, DMS Customer ID, DMS Vehicle ID: editable by hand any time before close."""

    dms_repair_id = StringField("DMS Repair ID", validators=[Optional(), Length(max=64)])
    dms_customer_id = StringField("DMS Customer ID", validators=[Optional(), Length(max=64)])
    dms_vehicle_id = StringField("DMS Vehicle ID", validators=[Optional(), Length(max=64)])


class PaymentForm(FlaskForm):
    """A receipt saved on the workfile (Ready until exported)."""

    kind = SelectField("Receipt type", choices=[(k.value, k.label) for k in PaymentKind],
                       validators=[DataRequired(message="Choose the receipt type.")])
    amount = DecimalField("Amount ($)", places=2, validators=[
        InputRequired(message="Enter the amount."),
        NumberRange(min=Decimal("0.01"), max=Decimal("9999999"), message="Enter an amount above $0.00.")])
    payer = StringField("Payer", validators=[DataRequired(message="Enter who paid."), Length(max=160)])
    method = SelectField("Method", choices=[(m, m.title()) for m in PAYMENT_METHODS],
                         validators=[DataRequired(message="Choose the payment method.")])
    received_on = DateField("Received on", validators=[Optional()])


class NewVehicleForm(FlaskForm):
    """"Vehicle not listed": confirm the make and model from the workfile before export."""

    year = IntegerField("Year", validators=[Optional(), NumberRange(min=1900, max=2100)])
    make = StringField("Make", validators=[DataRequired(message="Enter the make."), Length(max=40)])
    model = StringField("Model", validators=[DataRequired(message="Enter the model."), Length(max=60)])
    vin = StringField("VIN", validators=[Optional(), Length(max=32)])
