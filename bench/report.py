#!/usr/bin/env python3
"""Turns the measurements bench/run.sh collected (a TSV file) into the markdown report.

Every figure is a median over the rounds of one size; every ratio is between medians of the
same size, measured in the same invocation with the commands alternating.
"""

import statistics
import sys
from collections import defaultdict

PG2LITE = ("export", "export_jobs", "import", "migrate_fast", "migrate", "tenant", "redact",
           "each_tenant")


def load(path):
    data = {"info": {}, "sizes": {}, "typed_by": {}, "skipped": [], "labels": {},
            "runs": defaultdict(list)}
    with open(path, encoding="utf-8") as f:
        for line in f:
            kind, *v = line.rstrip("\n").split("\t")
            if kind == "info":
                data["info"][v[0]] = v[1]
            elif kind == "size":
                keys = ("tenants", "events", "notes", "db_bytes", "table_bytes", "t1_rows", "gen_s")
                data["sizes"][int(v[0])] = {k: float(x) for k, x in zip(keys, v[1:])}
            elif kind == "typed_by":
                data["typed_by"][int(v[0])] = v[1]
            elif kind == "skipped":
                data["skipped"].append(v[0])
            elif kind == "label":
                data["labels"][v[0]] = v[1]
            elif kind == "run":
                size, cid, _round, wall, cpu, rss, pgcpu, extra = v
                data["runs"][(int(size), cid)].append({
                    "wall": float(wall), "cpu": float(cpu), "rss": float(rss) / 1024,
                    "pgcpu": None if pgcpu == "NA" else float(pgcpu),
                    "bytes": None if extra == "NA" else float(extra)})
    return data


def medians(runs):
    def med(key):
        values = [r[key] for r in runs if r[key] is not None]
        return statistics.median(values) if values else None
    return {k: med(k) for k in ("wall", "cpu", "rss", "pgcpu", "bytes")}


def num(x, digits=2):
    return "–" if x is None else f"{x:.{digits}f}"


def ratio(a, b):
    return None if a is None or not b else a / b


def cell(text):
    """Text for a markdown table cell: a `|` would end the cell."""
    return text.replace("|", "\\|")


def mark(ok):
    return "✓" if ok else "✗ **missed**"


def size_section(data, size, ids):
    s = data["sizes"][size]
    m = {cid: medians(data["runs"][(size, cid)]) for cid in ids if (size, cid) in data["runs"]}
    wall = {cid: v["wall"] for cid, v in m.items()}
    out = [f"## {int(s['events']):,} rows: tenants {int(s['tenants']):,}, events "
           f"{int(s['events']):,}, notes {int(s['notes']):,}; "
           f"{s['table_bytes'] / 2**20:,.0f} MB in PostgreSQL (generated in {s['gen_s']:.0f} s)",
           "",
           "| command | wall s | CPU s | PG CPU s | peak RSS MB | × source limit "
           "| × shell pipeline | compared with |",
           "|---|---:|---:|---:|---:|---:|---:|---|"]
    for cid in ids:
        if cid not in m:
            continue
        v = m[cid]
        others = compare(cid, wall, m, s)
        out.append(f"| {cell(data['labels'][cid])} | {num(v['wall'])} | {num(v['cpu'])} "
                   f"| {num(v['pgcpu'])} | {num(v['rss'], 0)} "
                   f"| {num(ratio(v['wall'], wall.get('source')))} "
                   f"| {num(ratio(v['wall'], wall.get('pipeline')))} | {others} |")
    if size in data["typed_by"]:
        out += ["", f"The SQLite write limit copies from a file made by {data['typed_by'][size]}."]
    return out, m


def compare(cid, wall, m, s):
    parts = []
    def vs(ref, name):
        r = ratio(wall[cid], wall.get(ref))
        if r is not None:
            parts.append(f"{r:.2f} × {name}")
    if cid == "import":
        vs("writelimit", "SQLite write limit")
        vs("csvimport", "sqlite3 .import")
    elif cid in ("migrate_fast", "migrate"):
        vs("duckdb", "DuckDB")
    elif cid == "export_jobs":
        vs("export", "default export")
    elif cid == "redact":
        vs("export", "export without --redact")
    elif cid == "tenant":
        vs("export", "full export")
        rows = s["t1_rows"] / (s["tenants"] + s["events"] + s["notes"])
        parts.append(f"tenant 1 owns {100 * rows:.1f} % of the rows")
        full, mine = m.get("export", {}).get("bytes"), m["tenant"]["bytes"]
        if full and mine:
            parts.append(f"{100 * mine / full:.1f} % of the exported bytes")
    return "; ".join(parts)


def bars(data, per_size):
    sizes = sorted(per_size)
    # (bar, command, reference, limit, strictly below)
    rows = [("pg2lite export ≤ 1.3 × source limit", "export", "source", 1.3, False),
            ("pg2lite import ≤ 1.5 × SQLite write limit", "import", "writelimit", 1.5, False),
            ("pg2lite import < sqlite3 .import", "import", "csvimport", 1.0, True),
            ("pg2lite migrate --skip-validate ≤ DuckDB", "migrate_fast", "duckdb", 1.0, False),
            ("pg2lite migrate (with validation) ≤ 1.5 × DuckDB", "migrate", "duckdb", 1.5, False)]
    out = ["## Issue 6 bars (ratios of medians from this run)", "",
           "| bar | " + " | ".join(f"{n:,} rows" for n in sizes) + " |",
           "|---|" + "---:|" * len(sizes)]
    for name, cid, ref, limit, strict in rows:
        cells = []
        for n in sizes:
            w = {c: v["wall"] for c, v in per_size[n].items()}
            r = ratio(w.get(cid), w.get(ref))
            ok = r is not None and (r < limit if strict else r <= limit)
            cells.append("not measured" if r is None else f"{r:.2f} {mark(ok)}")
        out.append(f"| {name} | " + " | ".join(cells) + " |")
    cells = []
    for n in sizes:
        w, s = per_size[n], data["sizes"][n]
        r = ratio(w.get("tenant", {}).get("wall"), w.get("export", {}).get("wall"))
        share = s["t1_rows"] / (s["tenants"] + s["events"] + s["notes"])
        cells.append("not measured" if r is None else f"{r:.2f} (owns {100 * share:.1f} %)")
    out.append("| tenant-scoped export ÷ full export, in proportion to the tenant's share (issue 5) | "
               + " | ".join(cells) + " |")
    cells = []
    for n in sizes:
        w = {c: v["wall"] for c, v in per_size[n].items()}
        r = ratio(w.get("redact"), w.get("export"))
        cells.append("not measured" if r is None else f"{r:.2f} {mark(r <= 1.10)}")
    out.append("| export with one hashed column ÷ export ≤ 1.10 (issue 16) | " + " | ".join(cells) + " |")
    cells = []
    for n in sizes:
        w = {c: v["wall"] for c, v in per_size[n].items()}
        r = ratio(w.get("each_tenant"), w.get("migrate"))
        rss = per_size[n].get("each_tenant", {}).get("rss")
        cells.append("not measured" if r is None
                     else f"{r:.2f} {mark(r <= 1.5)}, peak {rss:.0f} MB {mark(rss < 150)}")
    out.append("| migrate --each-tenant ÷ migrate ≤ 1.5, peak RSS < 150 MB (issue 17) | "
               + " | ".join(cells) + " |")
    cells = []
    for n in sizes:
        rss = [(v["rss"], cid) for cid, v in per_size[n].items()
               if cid in PG2LITE and cid != "each_tenant"]
        if rss:
            top, cid = max(rss)
            cells.append(f"{top:.0f} MB ({cid}) {mark(top < 100)}")
        else:
            cells.append("not measured")
    out.append("| peak RSS < 100 MB, every pg2lite command (largest shown) | " + " | ".join(cells) + " |")
    return out


def floors(data, per_size):
    """The fastest wall time the work allows on this machine's cores: CPU seconds of this run
    divided by the cores, every core busy all the time. The floors of the work count baselines
    only, so they are lower bounds for any program doing the job (bench/README.md, "The
    report", says what each part stands for)."""
    cores = int(data["info"].get("cores", "0") or 0)
    if not cores:
        return []
    sizes = sorted(per_size)
    def get(w, cid, key):
        return w.get(cid, {}).get(key)
    def per_core(*values):
        return None if None in values else sum(values) / cores
    rows = []
    for n in sizes:
        w = per_size[n]
        source, hashed, written = (get(w, "source", "pgcpu"), get(w, "hashlimit", "cpu"),
                                   get(w, "writelimit", "cpu"))
        rows.append({"duck_wall": get(w, "duckdb", "wall"),
                     "duck": per_core(get(w, "duckdb", "cpu"), get(w, "duckdb", "pgcpu")),
                     "work": per_core(source, hashed, written),
                     "work_valid": per_core(source, hashed, written, hashed),
                     "ours_export": per_core(source, get(w, "export", "cpu"), written),
                     "fast": per_core(get(w, "migrate_fast", "cpu"), get(w, "migrate_fast", "pgcpu")),
                     "valid": per_core(get(w, "migrate", "cpu"), get(w, "migrate", "pgcpu"))})
    def line(name, key, scale=1.0):
        cells = [num(None if r[key] is None else r[key] * scale) for r in rows]
        return f"| {name} | " + " | ".join(cells) + " |"
    return [f"## What {cores} cores allow (CPU seconds of this run ÷ {cores})", "",
            "| wall s, at best | " + " | ".join(f"{n:,} rows" for n in sizes) + " |",
            "|---|" + "---:|" * len(sizes),
            line("DuckDB, measured", "duck_wall"),
            line("DuckDB's floor: its CPU + its PG CPU", "duck"),
            line("floor of the work without validation: source limit PG CPU + checksum limit "
                 "CPU + write limit CPU", "work"),
            line("the same with pg2lite export's CPU for the checksum limit's (the export as it "
                 "is, with an import that costs nothing beyond SQLite's own write)", "ours_export"),
            line("pg2lite migrate --skip-validate's floor: its CPU + its PG CPU", "fast"),
            line("1.5 × DuckDB, measured", "duck_wall", 1.5),
            line("floor of the work with validation: the floor of the work + checksum limit CPU",
                 "work_valid"),
            line("pg2lite migrate's floor: its CPU + its PG CPU", "valid"),
            "",
            "The floors of the work count only baselines and leave out work any migrate also "
            "does (decoding rows, writing JSON text, binding values, reading both sides back to "
            "validate). Where such a floor is above DuckDB's measured time (or 1.5 times it, "
            "with validation), no program doing that work on this machine can match it, however "
            "it is written. The line with pg2lite export's CPU says the same of any import fed "
            "by pg2lite's exporter as it is.", ""]


def growth(data, per_size):
    sizes = sorted(per_size)
    if len(sizes) < 2:
        return []
    small = sizes[0]
    out = ["## Growth", ""]
    for big in sizes[1:]:
        rows = data["sizes"][big]["events"] / data["sizes"][small]["events"]
        out += [f"From {small:,} to {big:,} rows (× {rows:.1f} rows). Linear growth is time × "
                f"within 0.8–1.2 of the row ratio; flat memory is RSS × near 1.", "",
                "| command | time × | time × ÷ rows × | CPU × | peak RSS × | peak RSS MB |",
                "|---|---:|---:|---:|---:|---|"]
        for cid, v in per_size[big].items():
            s = per_size[small].get(cid)
            if not s:
                continue
            t = ratio(v["wall"], s["wall"])
            lin = None if t is None else t / rows
            flag = "" if lin is None or cid not in PG2LITE else (" ✓" if 0.8 <= lin <= 1.2 else " ✗")
            out.append(f"| {cell(data['labels'][cid])} | {num(t)} | {num(lin)}{flag} "
                       f"| {num(ratio(v['cpu'], s['cpu']))} | {num(ratio(v['rss'], s['rss']))} "
                       f"| {s['rss']:.0f} → {v['rss']:.0f} |")
        out.append("")
    return out


def main():
    data = load(sys.argv[1])
    info = data["info"]
    ids = list(data["labels"])
    out = ["# pg2lite benchmark", "",
           f"{info.get('date')} · {info.get('machine')} · {info.get('postgres')} · "
           f"{info.get('sqlite3')} · {info.get('pg2lite')} · DuckDB {info.get('duckdb')}", "",
           f"Median of {info.get('runs')} rounds per command; within each round the commands "
           "alternate (round-robin, each round starting one command later). "
           f"The whole benchmark took {info.get('minutes')} min.", "",
           "Columns: **wall s** elapsed time; **CPU s** user + system time of the command and "
           "its child processes (the PostgreSQL backend's work is not in it); **PG CPU s** the "
           "CPU time of the server processes that served the command (backends and parallel "
           "workers; throwaway cluster only); **peak RSS MB** the largest single process of the "
           "command (ru_maxrss; for a pipeline its biggest member, not the sum); **× source "
           "limit** and **× shell pipeline** the wall time divided by theirs at the same size.", ""]
    for s in data["skipped"]:
        out.append(f"- {s}")
    if data["skipped"]:
        out.append("")
    per_size = {}
    for size in sorted(data["sizes"]):
        section, per_size[size] = size_section(data, size, ids)
        out += section + [""]
    out += growth(data, per_size)
    out += bars(data, per_size)
    out += [""] + floors(data, per_size)
    print("\n".join(out))


if __name__ == "__main__":
    main()
