"""A chaos run's report in a few readable lines (the JSON file has everything)."""

from __future__ import annotations

from typing import Any


def summary(report: dict[str, Any]) -> str:
    """The report in a few readable lines."""
    o, c, f = report["orders"], report["convergence"], report["faults"]
    lines = [
        f"chaos run: {'PASSED' if report['ok'] else 'FAILED'}"
        + (f" ({'; '.join(report['failures'])})" if report["failures"] else ""),
        f"  orders: {o['placed']} placed, {o['confirmed']} confirmed, {o['cancelled']} "
        f"cancelled, {o['pending']} pending, {o['needs_attention']} need attention",
        "  faults injected: " + ", ".join(f"{k} {v}" for k, v in f["injected"].items()),
        f"  invariants: {'all hold' if report['invariants']['ok'] else 'VIOLATED'}"
        + "".join(f"\n    - {v['name']}: {v['count']} ({v['first'][:1]})"
                  for v in report["invariants"]["violations"]),
        f"  deliveries dead: {report['deliveries']['dead']}",
        _email_line(report["emails"]),
        f"  convergence after the faults: {c['in_flight_at_end_of_faults']} sagas in flight; "
        f"all settled after {_s(c['all_settled_after_seconds'])}; per saga median "
        f"{_s(c['per_saga_seconds']['median'])}, max {_s(c['per_saga_seconds']['max'])}",
        "  corrections: " + (", ".join(f"{k} {sum(v.values())}"
                                       for k, v in report["corrections"].items()) or "none"),
        f"  http: {report['http']['statuses']}, transport errors "
        f"{report['http']['transport_errors']}",
        f"  phases (s): {report['phases_seconds']}",
    ]
    attention = report["sagas"]["needs_attention"]
    if attention:
        lines.append("  needing attention: " + "; ".join(
            f"{a['order_id'][:8]}: {a['reason'][:120]}" for a in attention[:5]))
    return "\n".join(lines)


def _email_line(emails: dict[str, Any]) -> str:
    if not emails.get("checked"):
        return "  e-mails: not checked"
    return (f"  e-mails: {emails['sent']} sent; to orders not confirmed "
            f"{len(emails['sent_for_unconfirmed'])}, twice {len(emails['sent_twice'])}, "
            f"missing {len(emails['confirmed_without'])}")


def _s(seconds: float | None) -> str:
    return "n/a" if seconds is None else f"{seconds}s"
