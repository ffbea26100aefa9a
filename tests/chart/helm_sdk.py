"""The Python side of the chart tests (tests/tests/chart.rs): the Helm v4 SDK
(PyPI helm-python-sdk) and strict schema validation (PyPI kubernetes-validate), driven
with JSON on stdin and stdout so the Rust test owns every decision.

  python helm_sdk.py render    {"chart", "values", "name", "namespace"}  -> {template: manifest}
  python helm_sdk.py lint      {"chart", "values"}                       -> lint report
  python helm_sdk.py validate  {"version", "documents": [...]}           -> [{"kind", "name", "error"}]

Errors of the SDK are printed as {"error": "<class>: <message>"} with exit status 0, so the
test can tell a refused value from a broken tool (any other exit status).
"""

import json
import sys


def render(req):
    import helm_python

    chart = helm_python.Chart.load(req["chart"])
    return chart.render(
        req.get("values") or {},
        name=req["name"],
        namespace=req["namespace"],
        is_install=True,
    )


def lint(req):
    import helm_python

    return helm_python.lint(
        req["chart"],
        req.get("values") or {},
        strict=True,
        namespace=req.get("namespace", "default"),
    )


def validate(req):
    import kubernetes_validate

    results = []
    for doc in req["documents"]:
        kind = doc.get("kind", "")
        name = (doc.get("metadata") or {}).get("name", "")
        try:
            kubernetes_validate.validate(doc, req["version"], strict=True)
            error = None
        except kubernetes_validate.ValidationError as e:
            path = ".".join(str(p) for p in e.path)
            error = f"{path}: {e.message}"
        except kubernetes_validate.SchemaNotFoundError as e:
            error = f"no schema: {e.message}"
        results.append({"kind": kind, "name": name, "error": error})
    return results


def main():
    command = sys.argv[1]
    req = json.load(sys.stdin)
    try:
        out = {"render": render, "lint": lint, "validate": validate}[command](req)
    except Exception as e:  # noqa: BLE001 - reported to the test as data
        if type(e).__module__.startswith("helm_python"):
            out = {"error": f"{type(e).__name__}: {e}"}
        else:
            raise
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
