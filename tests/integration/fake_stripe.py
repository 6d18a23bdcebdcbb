"""A stand-in for the parts of Stripe's API that Coach OS calls, on loopback, for the real stripe SDK.

It creates accounts, account links, Checkout sessions, payment intents (off-session charges) and
refunds, records the Stripe-Account header of each request (direct charges are made on the coach's
connected account), lists an invoice's payments, reads a PaymentIntent with its latest charge's
balance transaction expanded (the fee, from `fees`), and reads, updates and cancels subscriptions
(those a test put in `subscriptions`); like Stripe it keeps the first answer per Idempotency-Key and
replays it for a repeated key (creating nothing), answers scripted errors in turn, and can hold its
answer to the next create back (after creating the object) until released, which makes the client's
read time out exactly where a lost answer would.
"""

from __future__ import annotations

import html
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

import attrs

SECRET_KEY = "sk_test_stub"

_PREFIX = {
    "/v1/accounts": ("acct_", "account"),
    "/v1/account_links": ("", "account_link"),
    "/v1/checkout/sessions": ("cs_test_", "checkout.session"),
    "/v1/refunds": ("re_", "refund"),
    "/v1/payment_intents": ("pi_", "payment_intent"),
}


@attrs.frozen
class StubRequest:
    """A request as the stub received it: path, form fields (Stripe's bracketed names), Idempotency-Key,
    and the Stripe-Account header (the connected account the call is made on; None: the platform's)."""

    path: str
    form: dict[str, str]
    idempotency_key: str | None
    authorization: str | None
    stripe_account: str | None = None


@attrs.define
class FakeStripe:
    """Stripe's create endpoints, in memory."""

    url: str = ""
    #: Every request, in order, including replays and those answered with an error.
    requests: list[StubRequest] = attrs.Factory(list)
    #: Objects created, in order (a replayed key adds none).
    objects: list[dict[str, Any]] = attrs.Factory(list)
    #: Stripe's fee on each PaymentIntent whose charge has settled (tests set it); a PaymentIntent in
    #: `unsettled` has a charge without a balance transaction yet; any other id is "No such payment_intent".
    fees: dict[str, tuple[int, str]] = attrs.Factory(dict)
    unsettled: set[str] = attrs.Factory(set)
    #: Set to let a held answer go (see `hold_next`).
    release: threading.Event = attrs.Factory(threading.Event)
    #: Subscriptions by id, as a test sets them (GET reads one, POST updates it, DELETE cancels it; others 404).
    subscriptions: dict[str, dict[str, Any]] = attrs.Factory(dict)
    #: The PaymentIntent that paid each invoice (GET /v1/invoice_payments?invoice=… lists it; tests set it).
    invoice_intents: dict[str, str] = attrs.Factory(dict)
    #: When True, Checkout and account-link URLs are pages this stub serves (for browser tests): a "Pay" or
    #: "Continue" link back to the session's success_url or the link's return_url.
    serve_pages: bool = False
    #: The form each Checkout Session was created with, by session id (its metadata, success_url…).
    checkout_forms: dict[str, dict[str, str]] = attrs.Factory(dict)
    _answers: dict[str, tuple[int, dict[str, Any]]] = attrs.field(factory=dict, alias="_answers")
    _errors: list[tuple[int, dict[str, Any]]] = attrs.field(factory=list, alias="_errors")
    _hold: int = attrs.field(default=0, alias="_hold")
    _lock: threading.Lock = attrs.field(factory=threading.Lock, alias="_lock")

    def fail_next(self, status: int, error: dict[str, Any], times: int = 1) -> None:
        """Answer the next `times` requests with this status and `{"error": error}`, creating nothing."""
        self._errors.extend([(status, {"error": error})] * times)

    def hold_next(self) -> None:
        """Create the next object but keep its answer back until `release` is set (the client times out)."""
        self._hold += 1

    def handle(self, request: StubRequest) -> tuple[int, dict[str, Any], bool, bool]:
        """(status, body, replayed, hold) for one request."""
        with self._lock:
            self.requests.append(request)
            key = request.idempotency_key
            if key is not None and key in self._answers:
                status, body = self._answers[key]
                return status, body, True, False
            if self._errors:
                status, body = self._errors.pop(0)
                return status, body, False, False
            created = self._create(request)
            if key is not None:
                self._answers[key] = (200, created)
            hold = self._hold > 0
            self._hold = max(0, self._hold - 1)
            return 200, created, False, hold

    def subscription(self, method: str, request: StubRequest) -> tuple[int, dict[str, Any], bool]:
        """(status, body, replayed) for GET or DELETE /v1/subscriptions/<id>."""
        sub_id = request.path.rsplit("/", 1)[-1]
        with self._lock:
            self.requests.append(request)
            key = request.idempotency_key
            if method == "DELETE" and key is not None and key in self._answers:
                status, body = self._answers[key]
                return status, body, True
            if self._errors:
                status, body = self._errors.pop(0)
                return status, body, False
            found = self.subscriptions.get(sub_id)
            if found is None:
                missing = {
                    "type": "invalid_request_error",
                    "code": "resource_missing",
                    "message": "No such subscription",
                }
                return 404, {"error": missing}, False
            if method == "DELETE":
                found = self.subscriptions[sub_id] = found | {"status": "canceled"}
                if key is not None:
                    self._answers[key] = (200, found)
            return 200, found, False

    def read(self, request: StubRequest) -> tuple[int, dict[str, Any]]:
        """(status, body) for a GET of /v1/payment_intents/<id> (expanding latest_charge.balance_transaction)."""
        with self._lock:
            self.requests.append(request)
            intent = request.path.split("?")[0].removeprefix("/v1/payment_intents/")
            expanded = "latest_charge.balance_transaction" in request.form.values()
            if intent not in self.fees and intent not in self.unsettled:
                return 404, {"error": {"type": "invalid_request_error", "code": "resource_missing"}}
            txn: Any = None
            if intent in self.fees:
                fee, currency = self.fees[intent]
                txn = {
                    "id": "txn_" + intent.removeprefix("pi_"),
                    "object": "balance_transaction",
                    "fee": fee + 500,  # the platform's application fee is listed too; only stripe_fee is Stripe's
                    "currency": currency,
                    "fee_details": [
                        {"type": "stripe_fee", "amount": fee, "currency": currency},
                        {"type": "application_fee", "amount": 500, "currency": currency},
                    ],
                }
                if not expanded:
                    txn = txn["id"]
            charge = {"id": "ch_" + intent.removeprefix("pi_"), "object": "charge", "balance_transaction": txn}
            return 200, {
                "id": intent,
                "object": "payment_intent",
                "latest_charge": charge if expanded else charge["id"],
            }

    def invoice_payments(self, request: StubRequest) -> tuple[int, dict[str, Any]]:
        """(status, body) for GET /v1/invoice_payments?invoice=<id>: the invoice's paid payment, if a test set one."""
        with self._lock:
            self.requests.append(request)
            invoice = request.form.get("invoice", "")
            intent = self.invoice_intents.get(invoice)
            data = []
            if intent is not None:
                payment = {"type": "payment_intent", "payment_intent": intent}
                data.append({"object": "invoice_payment", "invoice": invoice, "status": "paid", "payment": payment})
            return 200, {"object": "list", "url": "/v1/invoice_payments", "has_more": False, "data": data}

    def update_subscription(self, request: StubRequest) -> tuple[int, dict[str, Any], bool, bool]:
        """POST /v1/subscriptions/<id>: the fields set on a subscription a test set (404 for others)."""
        with self._lock:
            self.requests.append(request)
            found = self.subscriptions.get(request.path.removeprefix("/v1/subscriptions/"))
            if found is None:
                return 404, {"error": {"type": "invalid_request_error", "code": "resource_missing"}}, False, False
            found |= {k: v == "true" if v in ("true", "false") else v for k, v in request.form.items()}
            return 200, found, False, False

    def page(self, path: str) -> str | None:
        """The HTML of a stub Checkout page (`/pages/c/pay/<n>`) or onboarding page (`/pages/setup/<acct>/<n>`)."""
        parts = path.strip("/").split("/")
        with self._lock:
            if parts[:3] == ["pages", "c", "pay"] and len(parts) == 4:
                session = next((o for o in self.objects if o.get("url", "").endswith(f"/c/pay/{parts[3]}")), None)
                if session is None:
                    return None
                form = self.checkout_forms[session["id"]]
                title, target, back = "Pay", form["success_url"], form.get("cancel_url")
            elif parts[:2] == ["pages", "setup"] and len(parts) == 4:
                form = self.checkout_forms.get(f"link{parts[3]}", {})
                if "return_url" not in form:
                    return None
                title, target, back = "Continue", form["return_url"], None
            else:
                return None
        return (
            f"<!doctype html><html><head><title>Stub Stripe</title></head><body>"
            f'<h1>Stub Stripe</h1><p><a id="stub-go" href="{html.escape(target)}">{title}</a></p>'
            + (f'<p><a id="stub-back" href="{html.escape(back)}">Back</a></p>' if back else "")
            + "</body></html>"
        )

    def _create(self, request: StubRequest) -> dict[str, Any]:
        prefix, kind = _PREFIX[request.path]
        n = len(self.objects) + 1
        form = request.form
        body: dict[str, Any] = {"object": kind}
        if kind == "account":
            body |= {"id": f"acct_{n:016d}", "type": form.get("type"), "charges_enabled": False}
        elif kind == "account_link":
            base = f"{self.url}/pages" if self.serve_pages else "https://connect.stripe.test"
            body |= {"url": f"{base}/setup/{form['account']}/{n}", "expires_at": 0}
            self.checkout_forms[f"link{n}"] = dict(form)
        elif kind == "payment_intent":
            amount = int(form["amount"])
            body |= {"id": f"{prefix}{n:016d}", "status": "succeeded", "amount": amount, "currency": form["currency"]}
        elif kind == "checkout.session":
            base = f"{self.url}/pages" if self.serve_pages else "https://checkout.stripe.test"
            body |= {"id": f"{prefix}{n:016d}", "url": f"{base}/c/pay/{n}", "mode": form["mode"]}
            self.checkout_forms[body["id"]] = dict(form)
        else:
            amount = int(form.get("amount", "5000"))
            body |= {"id": f"{prefix}{n:016d}", "status": "succeeded", "amount": amount, "currency": "usd"}
        self.objects.append(body)
        return body


@contextmanager
def fake_stripe(*, serve_pages: bool = False) -> Iterator[FakeStripe]:
    """A FakeStripe served on 127.0.0.1 from threads (`serve_pages`: its Checkout/onboarding URLs are its own pages)."""
    state = FakeStripe(serve_pages=serve_pages)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            form = dict(parse_qsl(self.rfile.read(length).decode(), keep_blank_values=True))
            request = StubRequest(
                self.path,
                form,
                self.headers.get("Idempotency-Key"),
                self.headers.get("Authorization"),
                self.headers.get("Stripe-Account"),
            )
            if self.path.startswith("/v1/subscriptions/"):
                status, body, replayed, hold = state.update_subscription(request)
            elif self.path not in _PREFIX:
                status, body, replayed, hold = 404, {"error": {"type": "invalid_request_error"}}, False, False
            else:
                status, body, replayed, hold = state.handle(request)
            if hold:
                state.release.wait(30)
            data = json.dumps(body).encode()
            with suppress(BrokenPipeError, ConnectionResetError):
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                if replayed:
                    self.send_header("Idempotent-Replayed", "true")
                self.end_headers()
                self.wfile.write(data)

        def _subscription(self, method: str) -> None:
            length = int(self.headers.get("Content-Length", "0") or "0")
            form = dict(parse_qsl(self.rfile.read(length).decode(), keep_blank_values=True)) if length else {}
            path = self.path.split("?", 1)[0]
            request = StubRequest(
                path,
                form,
                self.headers.get("Idempotency-Key"),
                self.headers.get("Authorization"),
                self.headers.get("Stripe-Account"),
            )
            status, body, replayed = state.subscription(method, request)
            self._answer(status, body, replayed)

        def do_GET(self) -> None:
            if self.path.startswith("/pages/"):
                found = state.page(self.path.split("?", 1)[0])
                data = (found or "not found").encode()
                with suppress(BrokenPipeError, ConnectionResetError):
                    self.send_response(200 if found else 404)
                    self.send_header("Content-Type", "text/html; charset=utf-8")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                return
            if self.path.startswith("/v1/subscriptions/"):
                self._subscription("GET")
                return
            query = self.path.split("?", 1)[1] if "?" in self.path else ""
            request = StubRequest(
                self.path.split("?")[0],
                dict(parse_qsl(query)),
                None,
                self.headers.get("Authorization"),
                self.headers.get("Stripe-Account"),
            )
            if request.path.startswith("/v1/payment_intents/"):
                status, body = state.read(request)
            elif request.path == "/v1/invoice_payments":
                status, body = state.invoice_payments(request)
            else:
                status, body = 404, {"error": {"type": "invalid_request_error"}}
            self._answer(status, body, False)

        def do_DELETE(self) -> None:
            self._subscription("DELETE")

        def _answer(self, status: int, body: dict[str, Any], replayed: bool) -> None:
            data = json.dumps(body).encode()
            with suppress(BrokenPipeError, ConnectionResetError):
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                if replayed:
                    self.send_header("Idempotent-Replayed", "true")
                self.end_headers()
                self.wfile.write(data)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield state
    finally:
        state.release.set()
        server.shutdown()
        server.server_close()
        thread.join()
