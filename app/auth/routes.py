"""Register, log in, log out, change password. Thin adapters over services.accounts."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import current_app, flash, redirect, request, session, url_for
from flask_login import current_user, login_user, logout_user

from app.access import access
from app.auth import bp
from app.auth.forms import ChangePasswordForm, LoginForm, RegisterForm
from app.errors import render_error
from app.extensions import limiter, login_manager
from app.forms import EmptyForm, attempt, form_status
from app.rendering import redirect_to, render
from app.services import accounts, live
from app.services.errors import AuthenticationFailed

login_manager.login_view = "auth.login"
login_manager.login_message = "Please log in to continue."
login_manager.login_message_category = "info"
login_manager.session_protection = "basic"


@login_manager.user_loader
def load_user(session_token: str):
    """The cookie names the user's session token and this browser's login key; both must
    still be valid server side (see accounts.open_login)."""
    return accounts.load_user(session_token, session.get("login_key"))


@login_manager.unauthorized_handler
def unauthorized():
    target = url_for("auth.login", next=request.full_path.rstrip("?"))
    if request.htmx or request.path.startswith("/api/") or request.is_json:
        response = render_error(401)
        response.headers["HX-Redirect"] = target
        return response
    flash(login_manager.login_message, "info")
    return redirect(target)


def safe_next(default: str) -> str:
    """Only same-site relative paths: never an open redirect."""
    target = request.args.get("next") or ""
    parts = urlsplit(target)
    if target.startswith("/") and not target.startswith("//") and not parts.netloc:
        return target
    return default


def start_session(user) -> None:
    """Renew the session at login: nothing from before survives (no fixation), and the new
    login is recorded server side so that logging out ends it for good."""
    session.clear()
    session["login_key"] = accounts.open_login(user)
    session.permanent = True
    login_user(user)


def login_limit() -> str:
    return current_app.config["LOGIN_RATE_LIMIT"]


def client_address() -> str:
    """The rate-limit key per address: the peer, or what the configured proxies say it is
    (ProxyFix, TRADEOFF_PROXY_COUNT); a client's own X-Forwarded-For is ignored otherwise."""
    return request.remote_addr or "?"


def login_account() -> str:
    """The rate-limit key per account: guessing one person's password from many addresses is
    limited as well."""
    return "account:" + accounts.normalise_email(request.form.get("email", ""))[:254]


@bp.route("/login", methods=["GET", "POST"])
@access("public")
@limiter.limit(login_limit, methods=["POST"], key_func=client_address)
@limiter.limit(login_limit, methods=["POST"], key_func=login_account)
def login():
    if current_user.is_authenticated:
        return redirect(url_for("main.index"))
    form = LoginForm()
    if form.validate_on_submit():
        try:
            user = accounts.authenticate(form.email.data, form.password.data, ip=request.remote_addr)
        except AuthenticationFailed as err:
            form.form_errors.append(err.message)
            return render("auth/login.html", "form", form=form, status=401)
        start_session(user)
        flash(f"Welcome back, {user.name}.", "success")
        return redirect_to(safe_next(url_for("main.index")))
    return render("auth/login.html", "form", form=form, status=form_status(form))


@bp.route("/register", methods=["GET", "POST"])
@access("public")
@limiter.limit(login_limit, methods=["POST"], key_func=client_address)
def register():
    if current_user.is_authenticated:
        return redirect(url_for("main.index"))
    form = RegisterForm()
    user = attempt(form, lambda: accounts.register(form.email.data, form.name.data,
                                                    form.password.data))
    if user:
        start_session(user)
        flash("Your account is ready. Create a team or open an invitation link.", "success")
        return redirect_to(safe_next(url_for("main.index")))
    return render("auth/register.html", "form", form=form, status=form_status(form))


@bp.post("/logout")
@access("login")
def logout():
    """Log out this browser and close its open sockets."""
    if EmptyForm().validate_on_submit():
        login_key = session.get("login_key")
        accounts.record_logout(current_user, ip=request.remote_addr)
        accounts.end_login(login_key)
        logout_user()
        session.clear()
        live.disconnect_login(login_key)
        flash("You are logged out.", "info")
    return redirect_to(url_for("auth.login"))


@bp.route("/account", methods=["GET", "POST"])
@access("login")
def account():
    form = ChangePasswordForm()
    changed = attempt(form, lambda: accounts.change_password(
        current_user, form.current_password.data, form.password.data) or True)
    if changed:
        user = current_user._get_current_object()
        live.disconnect_user(user.id)
        start_session(user)
        flash("Password changed. Your other sessions have been logged out.", "success")
        return redirect_to(url_for("auth.account"))
    return render("auth/account.html", "form", form=form, status=form_status(form))
