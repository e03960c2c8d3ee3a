"""Renders the chart with the helm binary `make test-helm` built, and parses the output."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

HELM_DIR = Path(__file__).resolve().parent.parent
CHART = HELM_DIR / "whisperlive-hybrid"
CI_VALUES = HELM_DIR / "ci"
RELEASE = "stt"
NAMESPACE = "speech"


def tool_path(variable: str) -> Path:
    """A tool path from the environment; absent when not run through `make test-helm`."""
    value = os.environ.get(variable)
    if not value:
        pytest.fail(f"{variable} is not set: run these tests with `make test-helm`")
    return Path(value).resolve()


def kube_versions() -> list[str]:
    """The Kubernetes versions the manifests are checked against (Makefile: HELM_KUBE_VERSIONS)."""
    versions = os.environ.get("HELM_KUBE_VERSIONS", "").split()
    if not versions:
        # Parametrised over an empty list, the schema tests would be skipped, not failed.
        raise pytest.UsageError(
            "HELM_KUBE_VERSIONS is not set: run these tests with `make test-helm`"
        )
    return versions


@dataclass(frozen=True)
class Rendered:
    """`helm template` output: the manifest text and its documents."""

    text: str
    documents: list[dict[str, Any]]

    def get(self, kind: str, name: str) -> dict[str, Any]:
        """The one document of this kind and name."""
        found = [d for d in self.documents if d["kind"] == kind and d["metadata"]["name"] == name]
        assert len(found) == 1, f"{kind}/{name}: {len(found)} documents"
        return found[0]

    def kinds(self) -> list[tuple[str, str]]:
        """(kind, name) of every document, sorted."""
        return sorted((d["kind"], d["metadata"]["name"]) for d in self.documents)


def helm(*args: str) -> subprocess.CompletedProcess[str]:
    """Runs helm; the caller checks the exit status."""
    return subprocess.run(
        [str(tool_path("HELM")), *args], capture_output=True, text=True, check=False
    )


def template(
    *values_files: str, kube_version: str = "", sets: tuple[str, ...] = ()
) -> subprocess.CompletedProcess[str]:
    """`helm template` of the chart as release `stt` in namespace `speech`, for the oldest
    Kubernetes tested unless told (helm's own default is older than the chart supports)."""
    args = ["template", RELEASE, str(CHART), "--namespace", NAMESPACE]
    args += ["--kube-version", kube_version or kube_versions()[0]]
    for name in values_files:
        args += ["--values", str(CI_VALUES / name)]
    for assignment in sets:
        args += ["--set", assignment]
    return helm(*args)


def render(*values_files: str, kube_version: str = "", sets: tuple[str, ...] = ()) -> Rendered:
    """Rendered manifests; fails the test with helm's message when rendering fails."""
    result = template(*values_files, kube_version=kube_version, sets=sets)
    assert result.returncode == 0, result.stderr
    documents = [d for d in yaml.safe_load_all(result.stdout) if d]
    return Rendered(result.stdout, documents)


def container(deployment: dict[str, Any]) -> dict[str, Any]:
    """The one container of a Deployment's pods."""
    (only,) = deployment["spec"]["template"]["spec"]["containers"]
    return only


def env(deployment: dict[str, Any]) -> dict[str, Any]:
    """A Deployment's container environment: name → value, or valueFrom."""
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container(deployment)["env"]}
