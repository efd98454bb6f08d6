"""Concurrent customers placing orders through the HTTP API, as real clients would: one thread
and one keep-alive connection per customer, an `Idempotency-Key` per order (so a retry after a
lost answer never places twice), retries on transport errors, 5xx and 429, and sometimes a
cancel right after placing. For a count of orders or a duration, optionally paced to a rate.
"""

from __future__ import annotations

import http.client
import json
import random
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

ATTEMPTS = 8
ADDRESS = {"name": "Harness Customer", "line1": "1 Load Street", "city": "Testville",
           "postal_code": "10115", "country": "DE"}
REFUSED_POSTAL_CODE = "00000"  # the simulated carrier refuses it


@dataclass(frozen=True)
class OrderMix:
    """What the customers order, and how they pay and behave."""

    skus: tuple[str, ...]
    tokens: tuple[tuple[str, float], ...] = (("tok_ok", 1.0),)  # (token, weight)
    refused_address: float = 0.0  # share of orders shipped to postal code 00000
    cancel: float = 0.0  # share of orders the customer cancels right after placing
    scarce_sku: str | None = None
    scarce: float = 0.0  # share of orders asking for the scarce sku
    max_lines: int = 3
    max_quantity: int = 3

    def draw(self, rng: random.Random) -> Intent:
        skus = rng.sample(self.skus, k=rng.randint(1, min(self.max_lines, len(self.skus))))
        lines = [{"sku": sku, "quantity": rng.randint(1, self.max_quantity)} for sku in skus]
        if self.scarce_sku and rng.random() < self.scarce:
            lines.append({"sku": self.scarce_sku, "quantity": 1})
        names, weights = zip(*self.tokens, strict=True)
        return Intent(lines=lines, token=rng.choices(names, weights)[0],
                      refused_address=rng.random() < self.refused_address,
                      cancel=rng.random() < self.cancel)


CHAOS_TOKENS = (("tok_ok", 0.7), ("tok_decline", 0.1), ("tok_lost_response", 0.1),
                ("tok_flaky", 0.1))


@dataclass(frozen=True)
class Intent:
    lines: list[dict[str, object]]
    token: str
    refused_address: bool
    cancel: bool

    def body(self) -> dict[str, object]:
        address = dict(ADDRESS, postal_code=REFUSED_POSTAL_CODE) if self.refused_address \
            else ADDRESS
        return {"lines": self.lines, "shipping_address": address,
                "payment": {"token": self.token}}


@dataclass
class Placed:
    order_id: str
    token: str
    refused_address: bool
    seconds: float  # the placement's HTTP latency (retries included)
    cancel_status: int | None = None  # the cancel request's answer, if one was made


@dataclass
class ClientResults:
    placed: list[Placed] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)  # every HTTP answer, by status
    transport_errors: int = 0
    server_errors: list[str] = field(default_factory=list)  # the first few 5xx bodies
    rejected: list[str] = field(default_factory=list)  # 4xx other than 429, first few
    gave_up: int = 0  # orders not placed after every attempt
    started: float = 0.0
    finished: float = 0.0

    @property
    def seconds(self) -> float:
        return max(self.finished - self.started, 1e-9)

    def merge(self, later: ClientResults) -> None:
        """Add the results of a later phase of the same run."""
        if not later.started:
            return
        self.placed += later.placed
        self.statuses.update(later.statuses)
        self.transport_errors += later.transport_errors
        self.server_errors += later.server_errors
        self.rejected += later.rejected
        self.gave_up += later.gave_up
        self.finished = later.finished


class Session:
    """One customer's keep-alive connection to the API."""

    def __init__(self, base_url: str, token: str, timeout: float = 30.0) -> None:
        parts = urlsplit(base_url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.https = parts.scheme == "https"
        self.prefix = parts.path.rstrip("/")
        self.token, self.timeout = token, timeout
        self.conn: http.client.HTTPConnection | None = None

    def request(self, method: str, path: str, body: object = None,
                headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
        if self.conn is None:
            cls = http.client.HTTPSConnection if self.https else http.client.HTTPConnection
            self.conn = cls(self.host, self.port, timeout=self.timeout)
        data = json.dumps(body).encode() if body is not None else None
        all_headers = {"Authorization": f"Token {self.token}", "Accept": "application/json",
                       **({"Content-Type": "application/json"} if data is not None else {}),
                       **(headers or {})}
        try:
            self.conn.request(method, self.prefix + path, body=data, headers=all_headers)
            response = self.conn.getresponse()
            return response.status, dict(response.getheaders()), response.read()
        except (OSError, http.client.HTTPException):
            self.close()
            raise

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


class OrderClients:
    """`tokens` customers placing orders of `mix`, until `count` orders or `duration` seconds
    (whichever comes first), at `rate` orders/s in total if given (else as fast as they can)."""

    def __init__(self, base_url: str, tokens: list[str], mix: OrderMix, *,
                 count: int | None = None, duration: float | None = None,
                 rate: float | None = None, seed: int | None = None) -> None:
        if count is None and duration is None:
            raise ValueError("give a count of orders or a duration")
        self.base_url, self.tokens, self.mix = base_url, tokens, mix
        self.count, self.duration, self.rate = count, duration, rate
        self.rng = random.Random(seed)
        self.results = ClientResults()
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self._claimed = 0

    def run(self, progress: Callable[[ClientResults, OrderClients], None] | None = None,
            every: float = 0.5) -> ClientResults:
        self.results.started = time.monotonic()
        threads = [threading.Thread(target=self._customer, args=(token, self.rng.random()),
                                    daemon=True, name=f"customer-{i}")
                   for i, token in enumerate(self.tokens)]
        for thread in threads:
            thread.start()
        try:
            while any(t.is_alive() for t in threads):
                for thread in threads:
                    thread.join(timeout=every / len(threads))
                if progress:
                    progress(self.results, self)
        finally:
            self.stopping.set()
            for thread in threads:
                thread.join(timeout=60)
            self.results.finished = time.monotonic()
        return self.results

    def _claim(self) -> float | None:
        """The next order's slot: when it may be sent (monotonic), or None when done."""
        with self._lock:
            elapsed = time.monotonic() - self.results.started
            if self.stopping.is_set() or (self.count is not None and self._claimed >= self.count) \
                    or (self.duration is not None and elapsed >= self.duration):
                return None
            slot = self._claimed
            self._claimed += 1
        return self.results.started + slot / self.rate if self.rate else 0.0

    def _customer(self, token: str, seed: float) -> None:
        session = Session(self.base_url, token)
        rng = random.Random(seed)
        try:
            while (when := self._claim()) is not None:
                wait = when - time.monotonic()
                if wait > 0 and self.stopping.wait(wait):
                    return
                intent = self.mix.draw(rng)
                placed = self._place(session, intent)
                if placed is None:
                    continue
                if intent.cancel:
                    placed.cancel_status = self._send(session, "POST",
                                                      f"/api/orders/{placed.order_id}/cancel/")
                with self._lock:
                    self.results.placed.append(placed)
        finally:
            session.close()

    def _place(self, session: Session, intent: Intent) -> Placed | None:
        key = str(uuid.uuid4())
        started = time.perf_counter()
        status, body = self._call(session, "POST", "/api/orders/", intent.body(),
                                  {"Idempotency-Key": key})
        if status in (200, 201, 202) and body:
            return Placed(json.loads(body)["id"], intent.token, intent.refused_address,
                          time.perf_counter() - started)
        with self._lock:
            if status == 0:
                self.results.gave_up += 1
            elif len(self.results.rejected) < 20:
                self.results.rejected.append(f"{status}: {body[:300].decode(errors='replace')}")
        return None

    def _send(self, session: Session, method: str, path: str) -> int:
        return self._call(session, method, path)[0]

    def _call(self, session: Session, method: str, path: str, body: object = None,
              headers: dict[str, str] | None = None) -> tuple[int, bytes]:
        """The answer after retries of transport errors, 5xx, 429 and 409 (a key in progress);
        (0, b"") when every attempt failed."""
        for attempt in range(ATTEMPTS):
            try:
                status, answer_headers, answer = session.request(method, path, body, headers)
            except (OSError, http.client.HTTPException):
                with self._lock:
                    self.results.transport_errors += 1
                time.sleep(min(0.1 * 2 ** attempt, 3))  # an order under way is finished
                continue
            with self._lock:
                self.results.statuses[status] += 1
                if status >= 500 and len(self.results.server_errors) < 20:
                    self.results.server_errors.append(
                        f"{method} {path} -> {status}: {answer[:300].decode(errors='replace')}")
            if status == 429:
                time.sleep(min(float(answer_headers.get("Retry-After") or 1), 10))
            elif status >= 500 or (status == 409 and method == "POST" and path.endswith(
                    "/orders/")):
                time.sleep(min(0.1 * 2 ** attempt, 3))
            else:
                return status, answer
        return 0, b""
