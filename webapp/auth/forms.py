"""Sign-in and password forms."""

from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField
from wtforms.validators import DataRequired, EqualTo, Length, ValidationError

MIN_PASSWORD = 12


class LoginForm(FlaskForm):
    """E-mail and password."""

    email = EmailField(
        "E-mail",
        validators=[DataRequired(message="Enter your e-mail address."), Length(max=254)],
        render_kw={"autocomplete": "username", "spellcheck": "false", "autocapitalize": "none"},
    )
    password = PasswordField(
        "Password",
        validators=[DataRequired(message="Enter your password."), Length(max=1024)],
        render_kw={"autocomplete": "current-password"},
    )


class ChangePasswordForm(FlaskForm):
    """A user changing their own password."""

    current_password = PasswordField(
        "Current password",
        validators=[DataRequired(), Length(max=1024)],
        render_kw={"autocomplete": "current-password"},
    )
    new_password = PasswordField(
        "New password",
        validators=[
            DataRequired(),
            Length(min=MIN_PASSWORD, max=1024, message=f"Use at least {MIN_PASSWORD} characters."),
        ],
        render_kw={"autocomplete": "new-password"},
    )
    confirm = PasswordField(
        "Repeat new password",
        validators=[DataRequired(), EqualTo("new_password", message="The passwords differ.")],
        render_kw={"autocomplete": "new-password"},
    )

    def validate_new_password(self, field) -> None:
        """The new password must differ from the current one."""
        if field.data and field.data == self.current_password.data:
            raise ValidationError("Choose a password different from the current one.")
