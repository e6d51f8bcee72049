"""Service-mesh edges from Istio or Linkerd metrics in Prometheus (DESIGN.md
section 8, `MESH_DISCOVERY=istio|linkerd`).

* Istio: `istio_requests_total{reporter="source"}` summed by source and
  destination workload (and namespaces); failures are `response_code=~"5.."`.
  TCP connections (`istio_tcp_sent_bytes_total`) are edges too, without
  request health.
* Linkerd: `response_total{direction="outbound"}` summed by `deployment` and
  `dst_deployment` (and namespaces); failures are `classification="failure"`.

An end named `unknown` (or empty: traffic from or to outside the mesh) is
skipped.
"""

from dataclasses import dataclass
from string import Template

from telemetry.sources.base import duration_seconds
from telemetry.sources.prometheus import PrometheusSource, _number

MESHES = ("istio", "linkerd")

_ISTIO_BY = ("source_workload, source_workload_namespace, destination_workload, "
             "destination_workload_namespace, destination_service_name")
MESH_PROMQL: dict[str, dict[str, str]] = {
    "istio": {
        "requests": f'sum by ({_ISTIO_BY}) (increase(istio_requests_total{{reporter="source"}}[$window])) > 0',
        "failed": f'sum by ({_ISTIO_BY}) (increase(istio_requests_total{{reporter="source",response_code=~"5.."}}'
                  "[$window]))",
        "tcp": f'sum by ({_ISTIO_BY}) (increase(istio_tcp_sent_bytes_total{{reporter="source"}}[$window])) > 0',
    },
    "linkerd": {
        "requests": "sum by (deployment, namespace, dst_deployment, dst_namespace) "
                    '(increase(response_total{direction="outbound"}[$window])) > 0',
        "failed": "sum by (deployment, namespace, dst_deployment, dst_namespace) "
                  '(increase(response_total{direction="outbound",classification="failure"}[$window]))',
    },
}
# Which labels name each end: (source, source namespace, destination, destination namespace).
MESH_LABELS = {
    "istio": ("source_workload", "source_workload_namespace", "destination_workload",
              "destination_workload_namespace"),
    "linkerd": ("deployment", "namespace", "dst_deployment", "dst_namespace"),
}
UNKNOWN = "unknown"


@dataclass(frozen=True)
class MeshEdge:
    """One workload-to-workload edge seen by the mesh over `window_seconds`.
    `requests` is None for a TCP-only edge (bytes, not requests)."""

    source: str
    source_namespace: str
    destination: str
    destination_namespace: str
    protocol: str
    requests: float | None
    failed: float
    window_seconds: float


class MeshSource:
    """Reads one mesh's metrics through a PrometheusSource."""

    def __init__(self, prometheus: PrometheusSource, mesh: str):
        if mesh not in MESHES:
            raise ValueError(f"mesh must be one of {MESHES}")
        self.prometheus = prometheus
        self.mesh = mesh

    def _series(self, key: str, lookback: str) -> dict[tuple[str, str, str, str], float]:
        query = Template(MESH_PROMQL[self.mesh][key]).safe_substitute(window=lookback)
        out: dict[tuple[str, str, str, str], float] = {}
        for item in self.prometheus.query(query):
            labels = item.get("metric", {})
            value = _number(item.get("value", [0, "nan"])[1])
            if value is None:
                continue
            key_labels = tuple(labels.get(name, "") for name in MESH_LABELS[self.mesh])
            out[key_labels] = out.get(key_labels, 0.0) + value
        return out

    def mesh_edges(self, *, lookback: str) -> tuple[list[MeshEdge], list[str]]:
        """Edges with traffic in the trailing `lookback`, and notes on the
        series skipped (an `unknown` or missing end)."""
        window = duration_seconds(lookback)
        requests = self._series("requests", lookback)
        failed = self._series("failed", lookback)
        tcp = self._series("tcp", lookback) if "tcp" in MESH_PROMQL[self.mesh] else {}
        edges, notes = [], []
        for key in sorted(set(requests) | set(tcp)):
            source, source_ns, destination, destination_ns = key
            if not source or not destination or UNKNOWN in (source, destination):
                notes.append(f"skipped {source or '?'} -> {destination or '?'}: an end is outside the mesh")
                continue
            if key in requests:
                edges.append(MeshEdge(source, source_ns, destination, destination_ns, "http", requests[key],
                                      min(failed.get(key, 0.0), requests[key]), window))
            else:
                edges.append(MeshEdge(source, source_ns, destination, destination_ns, "tcp", None, 0.0, window))
        return edges, notes
