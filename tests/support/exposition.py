"""Fleet rows and exposition helpers shared by the fleet /metrics tests: a small fleet with
awkward text, the parsed samples of an exposition, and the prometheus_client reference text."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from consola_wire import ALL_STATES
from exporter.fleet.reference_collector import ConsoleFamiliesCollector
from exporter.storage.records import FleetRow

AWKWARD_TEXT = 'Consola "norte"\\sala\nB — ñandú 🎬'


def row(index: int, estado: str, **changes: object) -> FleetRow:
    values: dict[str, object] = {
        "cid": f"{index:08x}-0000-4000-8000-{index:012x}",
        "nombre": f"Consola {index}",
        "estado": estado,
        "seen": 1764300000.123456 + index,
        "threshold": 600.0,
        "since": 1764290000.5,
        "actividad": 1764300001.25,
        "clean": estado == "inactiva",
        "video": "Video Historia 1 (2/5)",
        "hostname": f"consola-{index}",
        "platform": "linux",
        "arch": "x64",
        "version": "3.11.7",
        "maintenance_until": 1764303600.0 if index % 3 == 0 else None,
    }
    values.update(changes)
    return tuple(values.values())  # type: ignore[return-value]


def fleet() -> list[FleetRow]:
    rows = [row(i, state) for i, state in enumerate(ALL_STATES)]
    rows.append(row(10, "ocupada", nombre=AWKWARD_TEXT, video=AWKWARD_TEXT, hostname='a"b\\c'))
    rows.append(row(11, "esperando", actividad=None, video=None, version=""))
    rows.append(row(12, "ocupada", video=None))
    return rows


def parsed(text: str) -> dict[str, set[tuple[tuple[tuple[str, str], ...], float]]]:
    families: dict[str, set[tuple[tuple[tuple[str, str], ...], float]]] = {}
    for family in text_string_to_metric_families(text):
        samples = families.setdefault(f"{family.name}:{family.type}:{family.documentation}", set())
        for sample in family.samples:
            samples.add((tuple(sorted(sample.labels.items())), sample.value))
    return families


def reference(rows: list[FleetRow], video_info: bool) -> str:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ConsoleFamiliesCollector(rows, video_info))
    return generate_latest(registry).decode()
