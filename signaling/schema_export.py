"""JSON Schema of every client event payload, per namespace, for the TypeScript type generator."""

from __future__ import annotations

import json
import sys
from typing import Any

import msgspec

from signaling.schemas import AGENT_NS, EVENTS, SUPERVISOR_NS, VISITOR_NS, TrailEvent

REF = "#/definitions/{name}"
# One interface per namespace: event name -> payload type.
TITLES = {AGENT_NS: "AgentPayloads", SUPERVISOR_NS: "SupervisorPayloads",
          VISITOR_NS: "VisitorPayloads"}
# Named types that no single event payload is, but clients use on their own.
EXTRA: dict[str, Any] = {"TrailEvent": TrailEvent}


def payload_schema() -> dict[str, Any]:
    """One JSON Schema document: a property per namespace, each an object of its events."""
    structs = sorted({spec.schema for events in EVENTS.values() for spec in events.values()},
                     key=lambda t: t.__name__)
    extras = list(EXTRA.values())
    schemas, definitions = msgspec.json.schema_components([*structs, *extras], ref_template=REF)
    refs = dict(zip(structs, schemas[:len(structs)], strict=True))
    properties: dict[str, Any] = {}
    for namespace, title in TITLES.items():
        events = EVENTS[namespace]
        properties[title] = {
            "title": title,
            "type": "object",
            "properties": {name: refs[spec.schema] for name, spec in sorted(events.items())},
            "required": sorted(events),
            "additionalProperties": False,
        }
    for (name, _), schema in zip(EXTRA.items(), schemas[len(structs):], strict=True):
        properties[name] = {"title": name, **schema}
    return {
        "title": "EngagePayloads",
        "description": "Client event payloads of the Socket.IO contract (signaling/schemas.py).",
        "type": "object",
        "properties": properties,
        "required": sorted(properties),
        "additionalProperties": False,
        "definitions": dict(sorted(definitions.items())),
    }


def main(argv: list[str]) -> int:
    """Writes the schema to the file named in argv, else to stdout."""
    text = json.dumps(payload_schema(), indent=2, sort_keys=False) + "\n"
    if argv:
        with open(argv[0], "w", encoding="utf-8") as out:
            out.write(text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
