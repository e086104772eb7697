#!/usr/bin/env python3
"""Seeds the fuzzers' corpora from the UK Core example resources in ../shared/fixtures
(or the folder given as the first argument): each resource on its own for the `resource`
target, and for the `bundle` target each one in a transaction bundle beside a Patient,
all of them in one bundle, and the UK Core batch bundle as it is. Safe to run again: the
seeds are named by their content."""

import hashlib
import json
import pathlib
import sys

here = pathlib.Path(__file__).resolve().parent
fixtures = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else here.parents[2] / "shared" / "fixtures" / "ukcore"
if not fixtures.is_dir():
    sys.exit(f"no fixtures at {fixtures}")

patient = {
    "fullUrl": "urn:uuid:p",
    "resource": {
        "resourceType": "Patient",
        "identifier": [{"system": "https://fhir.nhs.uk/Id/nhs-number", "value": "9990000018"}],
    },
}


def write(target, text):
    folder = here / "corpus" / target
    folder.mkdir(parents=True, exist_ok=True)
    name = hashlib.sha1(text.encode()).hexdigest()
    (folder / name).write_text(text)


resources = []
for path in sorted(fixtures.glob("*.json")):
    resource = json.loads(path.read_text())
    if resource.get("resourceType") == "Bundle":
        write("bundle", json.dumps(resource))
        continue
    resources.append(resource)
    write("resource", json.dumps(resource))
    write("bundle", json.dumps({
        "resourceType": "Bundle", "type": "transaction",
        "entry": [patient, {"fullUrl": f"urn:uuid:{resource.get('id', 'x')}", "resource": resource}],
    }))
write("bundle", json.dumps({
    "resourceType": "Bundle", "type": "transaction",
    "entry": [patient] + [{"fullUrl": f"urn:uuid:{r.get('id', n)}", "resource": r} for n, r in enumerate(resources)],
}))
print(f"seeded from {len(resources)} resources in {fixtures}")
