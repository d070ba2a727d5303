"""The server's counters and gauges, rendered in the Prometheus text format (0.0.4)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


@dataclass
class Metrics:
    connections: int = 0
    runs_active: int = 0
    events_sent: int = 0
    runs_total: Counter[str] = field(default_factory=Counter)
    errors_total: Counter[str] = field(default_factory=Counter)
    handshakes_rejected: Counter[int] = field(default_factory=Counter)

    def render(self, *, uptime_s: float) -> str:
        lines = [
            "# HELP agent_connections Open WebSocket connections.",
            "# TYPE agent_connections gauge",
            f"agent_connections {self.connections}",
            "# HELP agent_runs_active Runs that have not completed.",
            "# TYPE agent_runs_active gauge",
            f"agent_runs_active {self.runs_active}",
            "# HELP agent_runs_total Completed runs by final status.",
            "# TYPE agent_runs_total counter",
        ]
        for status in ("succeeded", "failed", "cancelled"):
            lines.append(f'agent_runs_total{{status="{status}"}} {self.runs_total[status]}')
        lines += [
            "# HELP agent_events_sent_total Run events handed to connections (replays included).",
            "# TYPE agent_events_sent_total counter",
            f"agent_events_sent_total {self.events_sent}",
            "# HELP agent_errors_total Error messages sent to clients, by code.",
            "# TYPE agent_errors_total counter",
        ]
        for code, count in sorted(self.errors_total.items()):
            lines.append(f'agent_errors_total{{code="{_escape(code)}"}} {count}')
        lines += [
            "# HELP agent_handshakes_rejected_total WebSocket handshakes refused, by HTTP status.",
            "# TYPE agent_handshakes_rejected_total counter",
        ]
        for status_code, count in sorted(self.handshakes_rejected.items()):
            lines.append(f'agent_handshakes_rejected_total{{status="{status_code}"}} {count}')
        lines += [
            "# HELP agent_uptime_seconds Seconds since the server started.",
            "# TYPE agent_uptime_seconds gauge",
            f"agent_uptime_seconds {uptime_s:.3f}",
        ]
        return "\n".join(lines) + "\n"
