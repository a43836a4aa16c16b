#!/usr/bin/env python3
"""Checks that an installed Debian package declares every package whose files its running program
actually loaded: each file-backed mapping in /proc/PID/maps (shared libraries, Qt and QML plugins,
fonts...) must belong to a package reachable from the package's Depends (following Depends and
Pre-Depends, alternatives and virtual packages as installed here), to an Essential package, or to
one the package Recommends.

Usage: check_runtime_depends.py PACKAGE FILE
FILE is a /proc/PID/maps copy or ldd's output: on each line the first word that starts with / is a
loaded file.
"""
import os
import re
import subprocess
import sys


def installed_packages():
    """name -> {depends: [[alternative names]], provides: [names], essential: bool, recommends: [[...]]}"""
    fields = "${Package}\t${db:Status-Status}\t${Essential}\t${Depends}\t${Pre-Depends}\t${Provides}\t${Recommends}\n"
    out = subprocess.run(["dpkg-query", "-W", "-f", fields], check=True, capture_output=True, text=True).stdout
    packages = {}
    for line in out.splitlines():
        name, status, essential, depends, predepends, provides, recommends = line.split("\t")
        # Files on disk; "triggers-pending" and the like are passing states while another dpkg runs.
        if status in ("not-installed", "config-files", "half-installed"):
            continue
        packages[name] = {
            "depends": parse_relations(depends) + parse_relations(predepends),
            "recommends": parse_relations(recommends),
            "provides": [alternative[0] for alternative in parse_relations(provides)],
            "essential": essential == "yes",
        }
    return packages


def parse_relations(field):
    """'a (>= 1), b | c:any' -> [['a'], ['b', 'c']]"""
    relations = []
    for group in filter(None, (part.strip() for part in field.split(","))):
        names = [re.split(r"[\s(:\[]", alternative.strip(), maxsplit=1)[0] for alternative in group.split("|")]
        relations.append([name for name in names if name])
    return relations


def providers(packages):
    by_name = {}
    for name, info in packages.items():
        by_name.setdefault(name, set()).add(name)
        for virtual in info["provides"]:
            by_name.setdefault(virtual, set()).add(name)
    return by_name


def closure(roots, packages, provided_by):
    """Every installed package reachable from roots (lists of alternatives) through Depends."""
    reached, todo = set(), [alternative for group in roots for alternative in group]
    while todo:
        for name in provided_by.get(todo.pop(), ()):
            if name not in reached:
                reached.add(name)
                todo.extend(alternative for group in packages[name]["depends"] for alternative in group)
    return reached


def owners(paths):
    """path -> owning package, for the paths dpkg knows (one dpkg -S call for all)."""
    # dpkg knows a file by the path its package shipped, /lib/... or /usr/lib/... (merged /usr).
    # A link managed by update-alternatives (libblas.so.3) belongs to no package; its target does.
    spelled = {}
    for path in paths:
        for name in {path, os.path.realpath(path)}:
            spelled.setdefault(name, path)
            if name.startswith("/usr/lib/"):
                spelled.setdefault(name[len("/usr"):], path)
            elif name.startswith("/lib"):
                spelled.setdefault("/usr" + name, path)
    result = subprocess.run(["dpkg", "-S", *spelled], capture_output=True, text=True)
    found = {}
    for line in result.stdout.splitlines():
        if line.startswith("diversion"):
            continue
        names, _, shipped = line.partition(": ")
        if shipped in spelled:
            # "libqt6gui6:amd64: /usr/lib/..."; a file shared by packages lists them all
            found[spelled[shipped]] = names.split(", ")[0].split(":")[0]
    return found


def main():
    package, maps_file = sys.argv[1], sys.argv[2]
    packages = installed_packages()
    if package not in packages:
        sys.exit(f"FAIL: {package} is not installed")
    provided_by = providers(packages)
    needed = closure(packages[package]["depends"], packages, provided_by)
    recommended = closure(packages[package]["recommends"], packages, provided_by)

    mapped = set()
    with open(maps_file) as maps:
        for line in maps:
            path = next((word for word in line.split() if word.startswith("/")), None)
            if path and path.startswith(("/usr/", "/lib")):
                mapped.add(path)
    if not mapped:
        sys.exit(f"FAIL: {maps_file} lists no files from /usr: not the maps of a running program")

    missing, unowned, by_package = [], [], {}
    owned = owners(mapped)
    for path in sorted(mapped):
        name = owned.get(path)
        if name is None:
            unowned.append(path)
            continue
        by_package.setdefault(name, []).append(path)
    for name, paths in sorted(by_package.items()):
        if name == package or name in needed or packages.get(name, {}).get("essential"):
            continue
        if name in recommended:
            print(f"note: {name} (loaded: {paths[0]}) comes from {package}'s Recommends")
            continue
        missing.append(f"  {name}: {', '.join(paths[:3])}")
    for path in unowned:
        print(f"note: {path} belongs to no package; not checked")
    print(f"checked {len(mapped)} mapped files from {len(by_package)} packages against {package}'s "
          f"dependencies ({len(needed)} packages)")
    if missing:
        sys.exit(f"FAIL: the running {package} loaded files of packages its Depends do not reach:\n" +
                 "\n".join(missing))


if __name__ == "__main__":
    main()
