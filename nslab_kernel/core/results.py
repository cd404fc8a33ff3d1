"""Probe results as plain data: a ping matrix, its pairs and probes (no kernel access)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from .i18n import _

OK, PARTIAL, FAILED = "ok", "partial", "failed"


@dataclass(frozen=True)
class Probe:
    """One echo request from ``source`` to ``address`` (which belongs to ``node``)."""

    source: str
    node: str
    address: str
    ok: bool
    rtt_ms: float | None = None
    error: str = ""
    expected: bool | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "node": self.node, "address": self.address, "ok": self.ok,
                "rtt_ms": self.rtt_ms, "error": self.error, "expected": self.expected}


@dataclass(frozen=True)
class Pair:
    source: str
    destination: str
    probes: tuple[Probe, ...]

    @property
    def state(self) -> str:
        oks = sum(p.ok for p in self.probes)
        return OK if oks == len(self.probes) else FAILED if oks == 0 else PARTIAL

    @property
    def expected_state(self) -> str | None:
        if any(p.expected is None for p in self.probes):
            return None
        oks = sum(bool(p.expected) for p in self.probes)
        return OK if oks == len(self.probes) else FAILED if oks == 0 else PARTIAL

    @property
    def rtt_ms(self) -> float | None:
        times = [p.rtt_ms for p in self.probes if p.rtt_ms is not None]
        return min(times) if times else None

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "destination": self.destination, "state": self.state,
                "expected": self.expected_state, "rtt_ms": self.rtt_ms,
                "probes": [p.to_dict() for p in self.probes]}


@dataclass
class PingMatrix:
    lab: str
    nodes: list[str]
    probes: list[Probe]
    timeout: float = 1.0
    elapsed_s: float = 0.0
    expected_for: tuple[str, ...] | None = None  # the stages built when probed (None: the whole lab)
    _pairs: dict[tuple[str, str], Pair] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        grouped: dict[tuple[str, str], list[Probe]] = {}
        for p in self.probes:
            grouped.setdefault((p.source, p.node), []).append(p)
        self._pairs = {k: Pair(k[0], k[1], tuple(v)) for k, v in grouped.items()}

    @property
    def elapsed(self) -> str:
        """How long the matrix took, for people: milliseconds below a tenth of a second."""
        return f"{self.elapsed_s * 1000:.0f} ms" if self.elapsed_s < 0.1 else f"{self.elapsed_s:.2f} s"

    def pair(self, source: str, destination: str) -> Pair:
        return self._pairs[(source, destination)]

    @property
    def pairs(self) -> list[Pair]:
        return [self._pairs[(s, d)] for s in self.nodes for d in self.nodes if (s, d) in self._pairs]

    @property
    def reachable(self) -> bool:
        return bool(self.probes) and all(p.ok for p in self.probes)

    @property
    def failed(self) -> list[list[str]]:
        return [[p.source, p.address] for p in self.probes if not p.ok]

    @property
    def unexpected(self) -> list[Probe]:
        """Probes whose outcome differs from what the topology says."""
        return [p for p in self.probes if p.expected is not None and p.ok != p.expected]

    def to_dict(self) -> dict[str, Any]:
        return {"lab": self.lab, "nodes": self.nodes, "timeout": self.timeout, "elapsed_s": round(self.elapsed_s, 4),
                "reachable": self.reachable, "failed": self.failed,
                "ok_probes": sum(p.ok for p in self.probes), "total_probes": len(self.probes),
                "pairs": [p.to_dict() for p in self.pairs],
                **({"expected_for": list(self.expected_for)} if self.expected_for else {})}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "PingMatrix":
        probes = [Probe(**p) for pair in data["pairs"] for p in pair["probes"]]
        stages = data.get("expected_for")
        return cls(data["lab"], list(data["nodes"]), probes, data.get("timeout", 1.0), data.get("elapsed_s", 0.0),
                   tuple(stages) if stages else None)

    def __str__(self) -> str:
        symbol = {OK: "ok", PARTIAL: "~~", FAILED: "--"}
        width = max([len(n) for n in self.nodes] + [4])
        lines = [" " * (width + 1) + " ".join(n.rjust(width) for n in self.nodes)]
        for s in self.nodes:
            cells = []
            for d in self.nodes:
                cells.append(("" if s == d else symbol[self.pair(s, d).state]).rjust(width)
                             if (s, d) in self._pairs or s == d else "".rjust(width))
            lines.append(s.ljust(width) + " " + " ".join(cells))
        ok = sum(p.ok for p in self.probes)
        line = _("{ok}/{total} probes answered in {elapsed}").format(ok=ok, total=len(self.probes), elapsed=self.elapsed)
        if not self.reachable:
            line += "; " + _("failed: {pairs}").format(pairs=", ".join(f"{a}->{b}" for a, b in self.failed[:8])) \
                + (" ..." if len(self.failed) > 8 else "")
        lines.append(line)
        return "\n".join(lines)
