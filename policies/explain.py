"""Human rendering of a decision, for ``scratchwarden policy explain``.

Shows the rule and where it is defined, the steps and their times relative to
``now``, and the reasons. Never shows content: decisions hold none."""

from __future__ import annotations

from datetime import datetime

from policies.decision import Decision
from policies.loader import LoadedPolicy
from policies.testing import describe_when


def explain(decision: Decision, policy: LoadedPolicy, now: datetime) -> str:
    """A few lines a reviewer can read: which rule, what next, when, and why."""
    where = policy.origins.get(f"rule:{decision.rule}") if decision.rule else None
    rule = f"{decision.rule} ({where})" if where else (decision.rule or "(no rule)")
    lines = [
        f"rule:     {rule}",
        f"mode:     {decision.mode.value}",
        f"action:   {decision.action.value}, due {describe_when(decision.due_at, now)}",
        f"deadline: {describe_when(decision.deadline, now)}",
        f"classes:  {', '.join(decision.classes) or '(none)'}",
        f"policy:   {decision.revision}",
    ]
    lines += [f"step:     {s.action.value} {describe_when(s.due_at, now)}"
              for s in decision.pending]
    lines += [f"because:  {r}" for r in decision.reasons]
    return "\n".join(lines)
