#!/usr/bin/env python3
"""Regenerate docs/simulator.md's S1-S10 tables: each scenario as written,
its synthesized plan and the two baselines, seed 1, whole mission.

Usage: scripts/sim-tables.py [path/to/hivemind]   (default: target/release/hivemind)
Prints two markdown tables (predictions checked, baselines) to paste in.
"""
import glob
import json
import os
import subprocess
import sys

BIN = sys.argv[1] if len(sys.argv) > 1 else "target/release/hivemind"
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run(mission):
    out = subprocess.run(
        [BIN, "sim", mission, "--baseline", "all", "--seed", "1", "--json"],
        check=True,
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    return json.loads(out.stdout)


def ms(us):
    return f"{us / 1000:.1f}"


def pct(permille):
    return "—" if permille is None else f"{permille / 10:+.1f}%"


def kj(uj):
    return f"{uj / 1e9:.2f}"


def usd(nusd):
    return f"${nusd / 1e9:.4f}"


def short(us):
    if us >= 10_000_000:
        return f"{us / 1e6:.1f} s"
    return f"{us / 1000:.0f} ms"


def predictions(name, r):
    rows = []
    fleets = "; ".join(
        f"{f['fleet']} {kj(f['energy_max_uj'])} / {kj(f['predicted_energy_per_device_uj'] or 0)} kJ ({pct(f['energy_error_permille'])})"
        for f in r["fleets"]
    )
    cost = f"{usd(r['cloud']['cost_nusd'])} / {usd(r['cloud']['predicted_cost_nusd'])}"
    for i, p in enumerate(r["paths"]):
        pb = p["percentile_bp"]
        label = f"p{pb // 100}" if pb % 100 == 0 else f"p{pb / 100}"
        tail = f"{label} {ms(p['measured_us'])} / {ms(p['predicted_us'])} ms, < {ms(p['bound_us'])} ms"
        if not p["met"]:
            tail += " **not met**"
        median = f"{ms(p['p50_us'])} / {ms(p['predicted_median_us'] or 0)} ms ({pct(p['median_error_permille'])})"
        first = i == 0
        rows.append(
            "| {} | {} → {} | {} | {} | {} | {} | {} |".format(
                name if first else "",
                p["from"],
                p["to"],
                median,
                tail,
                fleets if first else "",
                pct(r["bytes"]["uplink_error_permille"]) if first else "",
                cost if first else "",
            )
        )
    return rows


def summary(r):
    sampled = [p for p in r["paths"] if p["samples"] > 0]
    if sampled:
        p50 = max(p["p50_us"] for p in sampled)
        p99 = max(p["p99_us"] for p in sampled)
        lat = f"{short(p50)} / {short(p99)}"
    else:
        lat = "no path completed"
    energy = max((f["energy_mean_uj"] for f in r["fleets"]), default=0)
    up = r["bytes"]["uplink"] / 1e6
    done = sum(t["completed"] for t in r["controller"]["tasks"])
    made = sum(t["created"] for t in r["controller"]["tasks"])
    return f"{lat}; {energy / 1e9:.1f} kJ; {up:.0f} MB; ${r['cloud']['cost_nusd'] / 1e9:.3f}; {done}/{made}"


def main():
    missions = sorted(glob.glob(os.path.join(ROOT, "examples/missions/s[0-9][0-9]_*.hm")))
    pred, base = [], []
    for m in missions:
        name = "S" + os.path.basename(m)[1:3]
        d = run(m)
        runs = {r["strategy"]: r for r in d["runs"]}
        synth = d["runs"][0]
        pred += predictions(name, synth)
        cells = [summary(synth)]
        for s in ("centralized", "decentralized"):
            r = runs.get(s)
            cells.append(summary(r) if r else "—")
        base.append(f"| {name} | " + " | ".join(cells) + " |")
        print(f"{name} done", file=sys.stderr)
    print("| scenario | required path | median: measured / predicted (error) | tail: measured / predicted, bound | energy, busiest device: measured / predicted | bytes up: error | cloud cost: measured / predicted |")
    print("|---|---|---|---|---|---|---|")
    print("\n".join(pred))
    print()
    print("Baselines (worst required path p50 / p99, energy per device (the highest fleet mean), bytes sent up, cloud cost, instances completed):")
    print()
    print("| scenario | synthesized | fully centralized | fully decentralized |")
    print("|---|---|---|---|")
    print("\n".join(base))


if __name__ == "__main__":
    main()
