#!/usr/bin/env bash
# One version for the whole repository: the workspace Cargo.toml's. Checks that every manifest
# agrees with it (crates, pyproject, npm packages and lock file, pom.xml, the JVM consumer test)
# and that CHANGELOG.md has a section for it. Fast: reads files only.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
python3 - <<'PY'
import glob, json, re, sys, tomllib, xml.etree.ElementTree as ET

def load_toml(path):
    with open(path, "rb") as f:
        return tomllib.load(f)

version = load_toml("Cargo.toml")["workspace"]["package"]["version"]
problems, checked = [], 0

def expect(where, found):
    global checked
    checked += 1
    if found != version:
        problems.append(f"{where}: {found!r}, expected {version!r}")

for member in load_toml("Cargo.toml")["workspace"]["members"]:
    pkg = load_toml(f"{member}/Cargo.toml")["package"]
    v = pkg.get("version")
    expect(f"{member}/Cargo.toml version", version if v == {"workspace": True} else v)

py = load_toml("python/pyproject.toml")["project"]
checked += 1
if "version" in py or "version" not in py.get("dynamic", []):
    problems.append("python/pyproject.toml: the version must be dynamic (maturin reads Cargo.toml)")

expect("node/package.json", json.load(open("node/package.json"))["version"])
lock = json.load(open("node/package-lock.json"))
expect("node/package-lock.json", lock["version"])
expect("node/package-lock.json packages['']", lock["packages"][""]["version"])
for path in sorted(glob.glob("node/npm/*/package.json")):
    expect(path, json.load(open(path))["version"])

ns = {"m": "http://maven.apache.org/POM/4.0.0"}
pom = ET.parse("mobile/kotlin/pom.xml").getroot()
expect("mobile/kotlin/pom.xml", pom.find("m:version", ns).text)
consumer = ET.parse("scripts/install-tests/jvm-consumer/pom.xml").getroot()
expect("scripts/install-tests/jvm-consumer/pom.xml wstether.version",
       consumer.find("m:properties/m:wstether.version", ns).text)

checked += 1
if not re.search(rf"^## \[{re.escape(version)}\]", open("CHANGELOG.md").read(), re.M):
    problems.append(f"CHANGELOG.md: no '## [{version}]' section")

for p in problems:
    print("version mismatch:", p, file=sys.stderr)
print(f"versions: {checked - len(problems)} passed, {len(problems)} failed (version {version})")
sys.exit(1 if problems else 0)
PY
