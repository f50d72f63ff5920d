#!/usr/bin/python3
"""Checks docs/schemas/ and validates the repository's JSON documents against them.

usage: validate.py REPO_ROOT [SCHEMA_DIR]

SCHEMA_DIR defaults to REPO_ROOT/docs/schemas (tests/package passes the installed copy).
What is checked:
- every schema is a valid draft 2020-12 schema, and every object it describes is closed
  (additionalProperties or unevaluatedProperties false), except the *_base definitions, which
  exist to be closed by the schemas that extend them;
- every document named in tests/schemas/documents.txt satisfies its schema, every document the
  file says to refuse is refused, and every JSON file in a covered directory is named there.
Runs on Debian's /usr/bin/python3 with python3-jsonschema (4.10).
"""
import fnmatch
import json
import pathlib
import sys

import jsonschema
from jsonschema import Draft202012Validator

SCHEMA_SUFFIX = ".schema.json"


def load_schemas(schema_dir):
    schemas = {}
    for path in sorted(schema_dir.glob("*" + SCHEMA_SUFFIX)):
        with open(path, encoding="utf-8") as f:
            schemas[path.name] = json.load(f)
    return schemas


def open_objects(node, where, problems):
    """Records every object subschema of `node` that accepts unknown fields."""
    if isinstance(node, list):
        for i, item in enumerate(node):
            open_objects(item, f"{where}[{i}]", problems)
        return
    if not isinstance(node, dict):
        return
    types = node.get("type")
    types = types if isinstance(types, list) else [types]
    describes_object = "object" in types or "properties" in node
    closed = node.get("additionalProperties", True) is not True or \
        node.get("unevaluatedProperties", True) is not True
    is_base = where.rsplit("/", 1)[-1].endswith("_base")
    if describes_object and not closed and not is_base:
        problems.append(f"{where}: an object schema without additionalProperties: false")
    for key, value in node.items():
        if key in ("enum", "const", "examples", "default"):
            continue
        open_objects(value, f"{where}/{key}", problems)


def validator_for(schema_name, schemas):
    schema = schemas[schema_name]
    store = {s["$id"]: s for s in schemas.values()}
    resolver = jsonschema.RefResolver.from_schema(schema, store=store)
    return Draft202012Validator(schema, resolver=resolver)


def schema_by_name(path, schemas):
    name = path.name.split(".", 1)[0] + SCHEMA_SUFFIX
    if name not in schemas:
        raise SystemExit(f"{path}: no schema {name} for this file name")
    return name


def read_manifest(manifest):
    covers, checks, refusals = [], [], []
    for number, line in enumerate(manifest.read_text(encoding="utf-8").splitlines(), 1):
        words = line.split("#", 1)[0].split()
        if not words:
            continue
        if words[0] == "cover" and len(words) == 2:
            covers.append(words[1])
        elif words[0] == "check" and len(words) == 3:
            checks.append((words[1], words[2]))
        elif words[0] == "refuse" and len(words) == 2:
            refusals.append(words[1])
        else:
            raise SystemExit(f"{manifest}:{number}: cannot read '{line}'")
    return covers, checks, refusals


def main():
    root = pathlib.Path(sys.argv[1]).resolve()
    schema_dir = pathlib.Path(sys.argv[2]) if len(sys.argv) > 2 else root / "docs" / "schemas"
    schemas = load_schemas(schema_dir)
    if not schemas:
        raise SystemExit(f"no *{SCHEMA_SUFFIX} files in {schema_dir}")
    problems = []

    ids = set()
    for name, schema in schemas.items():
        try:
            Draft202012Validator.check_schema(schema)
        except jsonschema.SchemaError as e:
            problems.append(f"{name}: not a valid draft 2020-12 schema: {e.message}")
        if schema.get("$id", "").rsplit("/", 1)[-1] != name:
            problems.append(f"{name}: $id must end with the file name")
        if schema.get("$id") in ids:
            problems.append(f"{name}: $id {schema.get('$id')} is used twice")
        ids.add(schema.get("$id"))
        open_objects(schema, name + "#", problems)

    covers, checks, refusals = read_manifest(root / "tests" / "schemas" / "documents.txt")
    checked = 0
    matched = set()
    for pattern, schema_name in checks:
        paths = sorted(root.glob(pattern))
        if not paths:
            problems.append(f"documents.txt: 'check {pattern}' matches no file")
        for path in paths:
            relative = str(path.relative_to(root))
            if relative in matched:
                continue
            matched.add(relative)
            name = schema_by_name(path, schemas) if schema_name == "by-name" else schema_name
            if name not in schemas:
                problems.append(f"{relative}: no schema {name}")
                continue
            document = json.loads(path.read_text(encoding="utf-8"))
            for error in validator_for(name, schemas).iter_errors(document):
                location = "/".join(str(p) for p in error.absolute_path) or "(document)"
                problems.append(f"{relative}: {location}: {error.message} (against {name})")
            checked += 1
    refused = 0
    for pattern in refusals:
        paths = sorted(root.glob(pattern))
        if not paths:
            problems.append(f"documents.txt: 'refuse {pattern}' matches no file")
        for path in paths:
            relative = str(path.relative_to(root))
            matched.add(relative)
            name = schema_by_name(path, schemas)
            document = json.loads(path.read_text(encoding="utf-8"))
            if validator_for(name, schemas).is_valid(document):
                problems.append(f"{relative}: {name} accepts it, but it must be refused")
            refused += 1
    for directory in covers:
        for path in sorted((root / directory).glob("*.json")):
            relative = str(path.relative_to(root))
            if relative not in matched:
                problems.append(f"{relative}: not named in tests/schemas/documents.txt")

    for problem in problems:
        print(problem)
    if problems:
        print(f"FAILED: {len(problems)} problems")
        return 1
    print(f"OK: {len(schemas)} schemas; {checked} documents valid, {refused} refused")
    return 0


if __name__ == "__main__":
    sys.exit(main())
