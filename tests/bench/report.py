#!/usr/bin/env python3
"""Turns tests/bench/run.sh's raw data (TSV) into results.md and a PNG chart.

usage: report.py DATA.tsv ENV.tsv RESULTS.md RESULTS.png

Rows of DATA (tab-separated):
  rate  SERVER OFFERED ACHIEVED DISCOVERS ACKS DO_AVG DO_MAX RA_AVG RA_MAX CPU_TICKS [ROWS [RCVBUF_ERRORS [CLIENT_RCVBUF_ERRORS [CPU_NS]]]]
        (several rows per SERVER and OFFERED: rounds; the round with the median drops stands
        for the rate, CPU per exchange is the median of the rounds, capacity the best round;
        SERVERs `floor` and `floor-batch` are wren-floor, the cheapest stateless responder,
        per packet and batched: the lower of their CPU is the floor that wrend's and Kea's
        figures are read against)
  direct SERVER OFFERED ROUND STARTED ACKS DROPS ACHIEVED LAT_AVG_MS LAT_P99_MS LAT_MAX_MS CPU_NS
        (wren-loadgen's broadcast DORA over AF_PACKET: the raw-socket path; rounds as above)
  mem   SERVER TARGET VMRSS_KB VMHWM_KB LEASES
  start SERVER empty|100k RUN MS RSS_KB OFFERED_ADDRESS
  size  SERVER STRIPPED_BYTES NLIBS LIBS_BYTES NAMES...
The chart uses matplotlib when importable, else gnuplot when installed, else none is drawn.
"""
import shutil
import statistics
import subprocess
import sys
from collections import defaultdict

NAMES = {"wrend": "wrend", "kea": "kea-dhcp4 2.2", "floor": "floor (per packet)", "floor-batch": "floor (batched, paced)"}
# wren-floor's two loops: recvfrom/sendto per query, and recvmmsg/sendmmsg up to 32 per wakeup
# with 1 ms between wakeups (wrend's batching and group-commit pacing).
FLOORS = ("floor", "floor-batch")
MAX_DROP_PERCENT = 1.0


def load(path):
    rows = defaultdict(list)
    with open(path) as f:
        for line in f:
            parts = line.rstrip("\n").split("\t")
            if parts and parts[0]:
                rows[parts[0]].append(parts[1:])
    return rows


def num(text, default=0.0):
    try:
        return float(text)
    except (TypeError, ValueError):
        return default


def rate_table(rows, env):
    ticks = num(env.get("clk_tck"), 100.0)
    period = num(env.get("period"), 0.0)
    rounds = defaultdict(lambda: defaultdict(list))
    for r in rows:
        server, offered = r[0], int(num(r[1]))
        achieved, discovers, acks = num(r[2]), num(r[3]), num(r[4])
        drops = 100.0 * (discovers - acks) / discovers if discovers else 100.0
        # CPU_NS (the scheduler's exact runtime) when recorded, else utime+stime ticks.
        cpu_s = num(r[13]) / 1e9 if len(r) > 13 and r[13] else num(r[9]) / ticks
        rounds[server][offered].append({
            # ACKs per second of offered load (perfdhcp's own "Rate" also counts its
            # exit wait); perfdhcp's figure when the period is unknown.
            "achieved": acks / period if period > 0 else achieved,
            # DISCOVERs per second perfdhcp really sent (it does not always manage the rate
            # asked for).
            "sent": discovers / period if period > 0 else achieved,
            "discovers": discovers,
            "acks": acks,
            "drops": max(drops, 0.0),
            "do_avg": num(r[5]),
            "do_max": num(r[6]),
            "ra_avg": num(r[7]),
            "ra_max": num(r[8]),
            "cpu_per_1000": 1000.0 * cpu_s / acks if acks else float("nan"),
            "cpu_s": cpu_s,
            # lease rows the server wrote = ACKs it sent (absent in older data)
            "rows": num(r[10]) if len(r) > 10 else None,
            # UDP receive-buffer overflows in the server's namespace during the load
            "rcvbuf": num(r[11]) if len(r) > 11 else None,
            "client_rcvbuf": num(r[12]) if len(r) > 12 else None,
        })
    by = defaultdict(dict)
    for server, per_rate in rounds.items():
        for offered, runs in per_rate.items():
            # The round with the median drops (then ACK count) stands for the rate: its
            # counts, drops and latencies belong together. CPU per exchange is the median
            # over the rounds; `runs` keeps every round (capacity: the best one).
            ordered = sorted(runs, key=lambda run: (run["drops"], run["acks"]))
            point = dict(ordered[(len(ordered) - 1) // 2])
            point["rounds"] = len(runs)
            point["runs"] = runs
            point["cpu_per_1000"] = statistics.median(run["cpu_per_1000"] for run in runs)
            for key in ("discovers", "acks", "rows", "rcvbuf", "client_rcvbuf"):
                if point[key] is not None:
                    point[key] = int(round(point[key]))
            point["cpu_runs"] = sorted(run["cpu_per_1000"] for run in runs)
            by[server][offered] = point
    return by


def rate_label(by, offered):
    """`offered/s`, and what perfdhcp really sent when it fell short of that by > 10 %."""
    sent = min(p[offered]["sent"] for p in by.values() if offered in p)
    if sent < 0.9 * offered:
        return f"{offered}/s offered ({sent:.0f}/s sent)"
    return f"{offered}/s"


def cpu_cell(p):
    """The median CPU per 1,000 exchanges, with the rounds' spread when there were several."""
    runs = p.get("cpu_runs") or []
    if len(runs) > 1:
        return f"{p['cpu_per_1000']:.3f} ({runs[0]:.3f}–{runs[-1]:.3f})"
    return f"{p['cpu_per_1000']:.3f}"


def best_rate(points):
    ok = [o for o, p in points.items() if p["drops"] < MAX_DROP_PERCENT]
    return max(ok) if ok else None


def server_drops(p):
    """Drops not explained by the load generator's own socket overflowing: perfdhcp's
    receive-buffer overflows in its namespace are replies the server did send."""
    lost = p["discovers"] - p["acks"] - (p.get("client_rcvbuf") or 0)
    return 100.0 * max(lost, 0) / p["discovers"] if p["discovers"] else 100.0


def best_server_rate(points):
    ok = [o for o, p in points.items() if server_drops(p) < MAX_DROP_PERCENT]
    return max(ok) if ok else None


def md_throughput(by):
    servers = [s for s in ("wrend", "kea") if s in by]
    rates = sorted({o for s in servers for o in by[s]})
    out = []
    head = "| offered /s |"
    sep = "|---:|"
    for s in servers:
        n = NAMES.get(s, s)
        head += f" {n} achieved /s | {n} drops | {n} ACKs sent | {n} latency avg DO / RA (ms) | {n} max DO / RA (ms) | {n} CPU s per 1,000 |"
        sep += "---:|---:|---:|---:|---:|---:|"
    both = "wrend" in by and "kea" in by
    if both:
        head += " Kea CPU / wrend CPU |"
        sep += "---:|"
    floors = [s for s in FLOORS if s in by]
    for s in floors:
        # The floor answers without state or disk: only its rate, losses and CPU mean anything.
        n = NAMES[s]
        head += f" {n} achieved /s | {n} drops | {n} CPU s per 1,000 |"
        sep += "---:|---:|---:|"
    out += [head, sep]
    for o in rates:
        line = f"| {o} |"
        for s in servers:
            p = by[s].get(o)
            if p is None:
                line += " – | – | – | – | – | – |"
                continue
            sent = "?" if p["rows"] is None else str(p["rows"])
            if p.get("rcvbuf") or p.get("client_rcvbuf"):
                sent += f" (full socket buffers: server {p['rcvbuf'] or 0}, perfdhcp {p['client_rcvbuf'] or 0})"
            line += (
                f" {p['achieved']:.0f} | {p['drops']:.2f} % ({p['discovers'] - p['acks']}/{p['discovers']}) | {sent} |"
                f" {p['do_avg']:.2f} / {p['ra_avg']:.2f} | {p['do_max']:.1f} / {p['ra_max']:.1f} |"
                f" {cpu_cell(p)} |"
            )
        if both:
            w, k = by["wrend"].get(o), by["kea"].get(o)
            line += f" {k['cpu_per_1000'] / w['cpu_per_1000']:.1f}× |" if w and k and w["cpu_per_1000"] else " – |"
        for s in floors:
            f = by[s].get(o)
            line += (f" {f['achieved']:.0f} | {f['drops']:.2f} % ({f['discovers'] - f['acks']}/{f['discovers']}) |"
                     f" {cpu_cell(f)} |") if f else " – | – | – |"
        out.append(line)
    out.append("")
    best = {s: best_rate(by[s]) for s in servers}
    # perfdhcp does not always manage the offered rate (one process on one CPU): what it
    # really sent, DISCOVERs per second, is the load each server was given.
    for s in servers:
        name = NAMES.get(s, s)
        # Every round counts here: perfdhcp's own rate varies between rounds, and the most a
        # server answered without loss in any of them is what it can do.
        good = [(run["achieved"], o) for o, p in by[s].items() for run in p.get("runs", [p])
                if run["drops"] < MAX_DROP_PERCENT]
        failed = sorted(o for o, p in by[s].items() if p["drops"] >= MAX_DROP_PERCENT)
        if not good:
            out.append(f"* {name}: no offered rate had < {MAX_DROP_PERCENT:g} % drops.")
            continue
        best_achieved, top = max(good)
        line = (f"* {name}: served with < {MAX_DROP_PERCENT:g} % drops up to **{best_achieved:.0f} "
                f"exchanges/s** (a round at {top}/s offered)")
        if failed:
            f = failed[0]
            line += (f"; at {f}/s offered it lost {by[s][f]['drops']:.0f} % "
                     f"({by[s][f]['achieved']:.0f} ACKs/s, the median round).")
        else:
            line += (" and lost nothing at any rate: perfdhcp sent at most "
                     f"{max(run['sent'] for p in by[s].values() for run in p.get('runs', [p])):.0f} DISCOVERs/s, the load generator's "
                     "ceiling came first.")
        out.append(line)
    # The same without the load generator's own losses: at high rates perfdhcp (one
    # process, one socket) may overflow its receive buffer with replies the server did send
    # (a batch's replies leave together after its group commit); that is the generator's
    # ceiling, not the server's.
    server_best = {s: best_server_rate(by[s]) for s in servers}
    if server_best.get("wrend") and server_best.get("kea"):
        # Offered rates above what perfdhcp can send mean nothing: compare ACKs per second
        # achieved at the rates where the server lost < 1 %.
        served = {s: max(run["achieved"] for p in by[s].values() for run in p.get("runs", [p])
                         if server_drops(run) < MAX_DROP_PERCENT)
                  for s in ("wrend", "kea")}
        limited = all(server_drops(run) < MAX_DROP_PERCENT
                      for p in by["wrend"].values() for run in p.get("runs", [p]))
        out.append(
            f"* ACKs per second served with < {MAX_DROP_PERCENT:g} % loss on the server's side (perfdhcp's own "
            f"socket-buffer overflows not counted): wrend {served['wrend']:.0f}/s, Kea {served['kea']:.0f}/s: "
            f"**{served['wrend'] / served['kea']:.1f}×**"
            + (" (at least: wrend lost nothing at any rate, its figure is the load generator's ceiling)."
               if limited else "."))
    cpu = {}
    for s in servers:
        vals = [p["cpu_per_1000"] for p in by[s].values() if p["acks"] > 0 and p["drops"] < MAX_DROP_PERCENT]
        if vals:
            cpu[s] = sum(vals) / len(vals)
    if cpu.get("wrend") and cpu.get("kea"):
        out.append(
            f"* Server CPU per 1,000 exchanges (mean over the rates without drops): wrend "
            f"{cpu['wrend']:.3f} s, Kea {cpu['kea']:.3f} s: Kea uses **{cpu['kea'] / cpu['wrend']:.1f}×** as much."
        )
        # The same over the rates both served with < 1 % drops (Kea's mean above is over
        # fewer, lower rates, where every exchange costs more).
        common = [o for o in by["wrend"] if o in by["kea"]
                  and by["wrend"][o]["drops"] < MAX_DROP_PERCENT and by["kea"][o]["drops"] < MAX_DROP_PERCENT]
        if common:
            ratios = [by["kea"][o]["cpu_per_1000"] / by["wrend"][o]["cpu_per_1000"] for o in sorted(common)]
            out.append(
                "* Kea CPU / wrend CPU per exchange at each rate both served with < 1 % drops: "
                + ", ".join(f"{rate_label(by, o)} {r:.1f}×" for o, r in zip(sorted(common), ratios))
                + f" (geometric mean {statistics.geometric_mean(ratios):.1f}×).")
    out += md_floor(by)
    return out, best


def floor_at(by, offered):
    """The floor at a rate: the lower CPU per exchange of the floors measured there (without
    loss), and which one it was."""
    found = [(by[s][offered]["cpu_per_1000"], s) for s in FLOORS
             if offered in by.get(s, {}) and by[s][offered]["drops"] < MAX_DROP_PERCENT]
    return min(found) if found else (None, None)


def md_floor(by):
    """Per rate: Kea's, wrend's and the floor's CPU per 1,000 exchanges, what each server
    spends above the floor, and whether Kea / 10 is below the floor (then no server on this
    machine can reach 1/10 of Kea's CPU, and the part above the floor is the figure that
    matters)."""
    floors = [s for s in FLOORS if s in by]
    if not floors or "wrend" not in by or "kea" not in by:
        return []
    rates = sorted(o for o in by["wrend"] if o in by["kea"] and floor_at(by, o)[0] is not None)
    if not rates:
        return []
    out = ["", "Above the floor: wren-floor (tests/loadgen/src/floor.rs) answers the same relayed DORA with "
           "no state, no disk and no log, one thread: `floor (per packet)` with a blocking `recvfrom` and one `sendto` "
           "per query, `floor (batched, paced)` with `recvmmsg` (up to 32 per wakeup), one `sendmmsg` per "
           "wakeup and 1 ms between wakeups (wrend's batching and group-commit pacing, at the same added latency). The floor is the lower of the two: what any server pays per exchange on this machine. "
           "CPU s per 1,000 exchanges, medians of the rounds:", "",
           "| rate | Kea | wrend | " + " | ".join(NAMES[s] for s in floors)
           + " | Kea − floor | wrend − floor | (Kea − floor) / (wrend − floor) | Kea / 10 | Kea / 10 below the floor? |",
           "|---:|---:|---:|" + "---:|" * len(floors) + "---:|---:|---:|---:|---|"]
    unreachable = []
    for o in rates:
        k, w = by["kea"][o]["cpu_per_1000"], by["wrend"][o]["cpu_per_1000"]
        f, _ = floor_at(by, o)
        k_above, w_above = k - f, w - f
        ratio = f"{k_above / w_above:.1f}×" if w_above > 0 and k_above > 0 else "–"
        below = k / 10 < f
        if below:
            unreachable.append(o)
        notes = [f"{NAMES[s]} lost {by[s][o]['drops']:.0f} %" for s in ("kea", "wrend", *floors)
                 if o in by[s] and by[s][o]["drops"] >= MAX_DROP_PERCENT]
        label = rate_label(by, o) + (f" ({', '.join(notes)})" if notes else "")
        cells = " | ".join(f"{by[s][o]['cpu_per_1000']:.3f}" if o in by[s] else "–" for s in floors)
        out.append(f"| {label} | {k:.3f} | {w:.3f} | {cells} | {k_above:.3f} | {w_above:.3f} | {ratio} |"
                   f" {k / 10:.3f} | {'**yes**' if below else 'no'} |")
    out.append("")
    for o in rates:
        k, w = by["kea"][o]["cpu_per_1000"], by["wrend"][o]["cpu_per_1000"]
        f, which = floor_at(by, o)
        line = (f"* {rate_label(by, o)}: Kea {k:.3f}, wrend {w:.3f}, floor {f:.3f} ({NAMES[which]}) s per 1,000; "
                f"above the floor wrend {w - f:.3f} vs Kea {k - f:.3f}")
        if w - f > 0 and k - f > 0:
            line += f" (Kea's part {(k - f) / (w - f):.1f}× wrend's)"
        if k / 10 < f:
            line += (f"; Kea / 10 = {k / 10:.3f} is below the floor: 1/10 of Kea's CPU is "
                     "unreachable by any server on this machine at this rate.")
        else:
            line += f"; Kea / 10 = {k / 10:.3f} is above the floor."
        out.append(line)
    if unreachable:
        out.append("* The 1/10 target is below the floor at " + ", ".join(f"{o}/s" for o in unreachable)
                   + ": there the figure that matters is the CPU above the floor (Kea − floor vs wrend − floor).")
    return out


def md_direct(rows):
    """wren-loadgen rounds per server and rate: the round with the median drops stands for the
    rate, CPU per exchange is the median over the rounds."""
    by = defaultdict(lambda: defaultdict(list))
    for r in rows:
        if len(r) < 11:
            continue
        by[r[0]][int(num(r[1]))].append(r)
    servers = [s for s in ("wrend", "kea") if s in by]
    if not servers:
        return []

    def cpu_per_1000(r):
        acks = num(r[4])
        return num(r[10]) / 1e9 / acks * 1000 if acks > 0 else None

    out = ["| offered /s | " + " | ".join(
        f"{NAMES.get(s, s)} achieved /s | {NAMES.get(s, s)} drops | {NAMES.get(s, s)} latency avg / p99 / max (ms) | "
        f"{NAMES.get(s, s)} CPU s per 1,000" for s in servers)
        + (" | Kea CPU / wrend CPU |" if len(servers) == 2 else " |"),
        "|---:|" + "---:|---:|---:|---:|" * len(servers) + ("---:|" if len(servers) == 2 else "")]
    for rate in sorted({rate for s in servers for rate in by[s]}):
        line = f"| {rate} |"
        cpus = {}
        for s in servers:
            rounds = by[s].get(rate, [])
            if not rounds:
                line += " – | – | – | – |"
                continue
            pick = sorted(rounds, key=lambda r: num(r[5]))[len(rounds) // 2]
            started, drops = int(num(pick[3])), int(num(pick[5]))
            pct = 100.0 * drops / started if started else 0.0
            values = [c for c in (cpu_per_1000(r) for r in rounds) if c is not None]
            cpu = statistics.median(values) if values else None
            cpus[s] = cpu
            cell = "–" if cpu is None else (f"{cpu:.3f}" if len(values) == 1 else f"{cpu:.3f} ({min(values):.3f}–{max(values):.3f})")
            line += (f" {num(pick[6]):.0f} | {pct:.2f} % ({drops}/{started}) | "
                     f"{num(pick[7]):.2f} / {num(pick[8]):.2f} / {num(pick[9]):.1f} | {cell} |")
        if len(servers) == 2:
            w, k = cpus.get("wrend"), cpus.get("kea")
            line += f" {k / w:.1f}× |" if w and k else " – |"
        out.append(line)
    out += ["", "Drops: conversations wren-loadgen started without an ACK within 1 s; latency: "
            "DISCOVER to ACK of each completed conversation; CPU as in the throughput table."]
    return out


def md_memory(rows):
    by = defaultdict(dict)
    for r in rows:
        anon = int(num(r[5])) if len(r) > 5 and r[5] else -1
        by[r[0]][int(num(r[1]))] = (int(num(r[2])), int(num(r[3])), int(num(r[4])), anon)
    servers = [s for s in ("wrend", "kea") if s in by]
    if not servers:
        return []
    out = ["| leases held | " + " | ".join(f"{NAMES.get(s, s)} VmRSS / VmHWM / RssAnon (MiB)" for s in servers) + " |",
           "|---|" + "---:|" * len(servers)]
    for target in (0, 10, 10000, 50000):
        if target == 0:
            label = "idle (empty lease file)"
        elif target == 10:
            label = "after its first 10 exchanges (counted: " + ", ".join(str(by[s].get(target, (0, 0, 0, 0))[2]) for s in servers) + ")"
        else:
            label = f"{target:,} (counted: " + ", ".join(str(by[s].get(target, (0, 0, 0, 0))[2]) for s in servers) + ")"
        if not any(target in by[s] for s in servers):
            continue
        line = f"| {label} |"
        for s in servers:
            v = by[s].get(target)
            anon = f" / {v[3] / 1024:.2f}" if v and v[3] >= 0 else " / –"
            line += f" {v[0] / 1024:.2f} / {v[1] / 1024:.2f}{anon} |" if v else " – |"
        out.append(line)
    out += ["", "VmRSS counts every resident page mapped, including the shared text of the binary and "
            "of libc/ld.so (page-cache pages shared with every other process); VmHWM is the peak of "
            "VmRSS since the start; RssAnon is the process's own memory (heap, stacks, lease table). "
            "wrend unmaps its start-up code (configuration parsing, lease-file load) once it is "
            "ready (daemon/src/resident.rs: the pages stay in the page cache), so its idle VmRSS is "
            "below its VmHWM; the row after the first 10 exchanges shows the packet path's code "
            "faulted back in."]
    return out


def md_startup(rows):
    by = defaultdict(lambda: defaultdict(list))
    for r in rows:
        ms = num(r[3], -1)
        cpu = num(r[6], -1) if len(r) > 6 else -1
        wait = num(r[7], -1) if len(r) > 7 else -1
        by[r[0]][r[1]].append((ms, int(num(r[4])), r[5] if len(r) > 5 else "?", cpu, wait))
    servers = [s for s in ("wrend", "kea") if s in by]
    if not servers:
        return []
    out = ["| lease file | " + " | ".join(f"{NAMES.get(s, s)} ms to first OFFER (median of runs) | {NAMES.get(s, s)} CPU ms · waiting for a CPU ms (medians) | {NAMES.get(s, s)} VmRSS after (MiB)" for s in servers) + " |",
           "|---|" + "---:|---:|---:|" * len(servers)]

    def median(values):
        values = sorted(v for v in values if v >= 0)
        return values[len(values) // 2] if values else None

    for kind, label in (("empty", "empty"), ("100k", "100,000 leases (generated Kea CSV)")):
        line = f"| {label} |"
        for s in servers:
            runs = sorted(m for m, _, _, _, _ in by[s][kind] if m >= 0)
            rss = max((r for _, r, _, _, _ in by[s][kind]), default=0)
            med = f"{runs[len(runs) // 2]:.1f} ({', '.join(f'{m:.1f}' for m in runs)})" if runs else "no answer"
            cpu = median(c for _, _, _, c, _ in by[s][kind])
            wait = median(w for _, _, _, _, w in by[s][kind])
            cpu_text = f"{cpu:.1f}" if cpu is not None else "–"
            wait_text = f"{wait:.1f}" if wait is not None else "–"
            line += f" {med} | {cpu_text} · {wait_text} | {rss / 1024:.1f} |"
        out.append(line)
    out += ["", "CPU ms: the server's time on a CPU (`/proc/PID/schedstat`) from its exec until 0.5 s "
            "after the first OFFER (start-up plus the probe's few DISCOVERs); waiting: the time it was "
            "runnable but its CPU was taken (schedstat's run-queue delay). The wall time also counts "
            "that wait, so on a shared machine the CPU time is the steadier start-up figure."]
    offers = sorted({f"{NAMES.get(s, s)} {a}" for s in servers for _, _, a, _, _ in by[s]["100k"]})
    out += ["", "With the 100,000-lease file (198.18.1.0 – 198.19.135.159 taken) the first OFFERs were: "
            + ", ".join(offers) + " (an address above the loaded range shows the leases were loaded)."]
    return out


def md_size(rows):
    out = ["| | binary, stripped (bytes) | shared libraries (ldd) | their total size (bytes) | libraries |",
           "|---|---:|---:|---:|---|"]
    for r in rows:
        out.append(f"| {NAMES.get(r[0], r[0])} | {int(num(r[1])):,} | {r[2]} | {int(num(r[3])):,} | {' '.join(r[4:]).strip()} |")
    return out


def chart(by, png):
    servers = [s for s in ("wrend", "kea") if s in by]
    if not servers:
        return "no throughput data"
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        plt = None
    if plt is not None:
        fig, (ax1, ax2, ax3) = plt.subplots(1, 3, figsize=(15, 4.4))
        for s in servers:
            rates = sorted(by[s])
            line, = ax1.plot(rates, [by[s][o]["achieved"] for o in rates], marker="o", label=NAMES.get(s, s))
            if all(by[s][o].get("sent") is not None for o in rates):
                ax1.plot(rates, [by[s][o]["sent"] for o in rates], linestyle="--", linewidth=0.8,
                         color=line.get_color(), label=f"perfdhcp sent ({NAMES.get(s, s)} run)")
            ax2.plot(rates, [by[s][o]["drops"] for o in rates], marker="o", label=NAMES.get(s, s))
            ax3.plot(rates, [by[s][o]["cpu_per_1000"] for o in rates], marker="o", label=NAMES.get(s, s))
        for s, style in zip(FLOORS, ("--", ":")):
            if s in by:
                rates = sorted(by[s])
                ax3.plot(rates, [by[s][o]["cpu_per_1000"] for o in rates], marker=".", linestyle=style,
                         color="grey", label=f"{NAMES[s]} (wren-floor)")
        top = max(o for s in servers for o in by[s])
        ax1.plot([0, top], [0, top], linestyle=":", color="grey", label="offered")
        ax3.set_yscale("log")
        ax3.set_ylabel("server CPU s per 1,000 exchanges (median)")
        for ax in (ax1, ax2, ax3):
            ax.set_xscale("log")
            ax.set_xlabel("offered rate (DORA exchanges/s, perfdhcp relayed)")
            ax.grid(True, which="both", alpha=0.3)
            ax.legend()
        ax1.set_yscale("log")
        ax1.legend(fontsize=7)
        ax1.set_ylabel("achieved rate (exchanges/s)")
        ax2.set_ylabel("drops (%)")
        ax2.axhline(MAX_DROP_PERCENT, color="red", linewidth=0.8, linestyle="--")
        fig.suptitle("wrend vs kea-dhcp4 2.2, each pinned to one CPU")
        fig.tight_layout()
        fig.savefig(png, dpi=110)
        return "matplotlib"
    if shutil.which("gnuplot"):
        dat = png + ".dat"
        with open(dat, "w") as f:
            for s in servers:
                f.write(f"# {s}\n")
                for o in sorted(by[s]):
                    f.write(f"{o} {by[s][o]['achieved']} {by[s][o]['drops']}\n")
                f.write("\n\n")
        plots1 = ", ".join(f"'{dat}' index {i} using 1:2 with linespoints title '{NAMES.get(s, s)}'" for i, s in enumerate(servers))
        plots2 = ", ".join(f"'{dat}' index {i} using 1:3 with linespoints title '{NAMES.get(s, s)}'" for i, s in enumerate(servers))
        script = (
            f"set terminal png size 1100,420; set output '{png}'; set multiplot layout 1,2;"
            f"set logscale x; set logscale y; set xlabel 'offered /s'; set ylabel 'achieved /s'; plot {plots1};"
            f"unset logscale y; set ylabel 'drops %'; plot {plots2}; unset multiplot"
        )
        subprocess.run(["gnuplot", "-e", script], check=False)
        return "gnuplot"
    return "no chart (install python3-matplotlib or gnuplot)"


def not_this_run(env, part):
    """A note when `part` was not run this time (run.sh's PARTS): its figures are those of
    the run named by `part_<part>`."""
    when = env.get(f"part_{part}", "")
    if not when or when.startswith(env.get("date", "?")):
        return []
    return [f"*Not measured in this run: these figures are from the run of {when} (that run's "
            "machine load and wrend build).*", ""]


def main():
    data, env_path, md_path, png = sys.argv[1:5]
    rows = load(data)
    env = {}
    with open(env_path) as f:
        for line in f:
            k, _, v = line.rstrip("\n").partition("\t")
            env[k] = v
    by = rate_table(rows.get("rate", []), env)
    out = [
        "# wrend vs kea-dhcp4 2.2",
        "",
        f"Generated by `sudo tests/bench/run.sh` on {env.get('date', '?')}: {env.get('cpu', '?')}, "
        f"Linux {env.get('kernel', '?')}, {env.get('kea', 'Kea')}, wren at {env.get('wrend', '?')}. "
        "Each server runs pinned to one CPU (taskset), the load generator on the other, in private "
        "network namespaces (198.18.0.0/15); both read the same Kea config (one /15 subnet, "
        "memfile `persist: true`, no LFC, valid-lifetime 3600 s). Note: wrend fdatasyncs the lease "
        "file before it sends the ACKs of each batch; Kea 2.2's memfile writes without fsync.",
        "",
        f"Machine: {env.get('cpus', '?')} CPUs; load average (1/5/15 min) {env.get('load_start', '?')} "
        f"at the start and {env.get('load_end', '?')} at the end of the run (other jobs share the "
        f"machine); servers and load generators ran at nice {env.get('nice', '0')}.",
        "",
        f"wrend build: {env.get('wrend_build', 'glibc, dynamically linked (cargo build --release)')}.",
        "",
    ]
    if env.get("repeat"):
        out += [
            f"Throughput method: {env['repeat']} rounds per rate, the two servers alternating; each row is "
            "the round with the median drops, CPU per exchange the median of the rounds (with their "
            "range), capacity the best round; CPU = the scheduler's run time of "
            "all the server's threads (`/proc/PID/task/*/schedstat`, ns); perfdhcp's socket receive "
            f"buffer {int(num(env.get('client_rcvbuf'), 0)) // 1024} KiB (`net.core.rmem_default` "
            "raised for the loads, for both servers; 0 = the system default).",
            "",
        ]
    out += [
        f"## Throughput: perfdhcp relayed DORA, {env.get('period', '?')} s per rate, fresh server and empty lease file per rate",
        "",
    ]
    table, _ = md_throughput(by)
    out += not_this_run(env, "throughput")
    out += table
    out += ["", "![achieved rate and drops vs offered rate](results.png)", ""]
    direct = md_direct(rows.get("direct", []))
    if direct:
        out += [f"## Direct clients: wren-loadgen broadcast DORA over AF_PACKET (the raw-socket path), "
                f"{env.get('period', '?')} s per rate, fresh server and empty lease file per rate", ""]
        out += not_this_run(env, "direct") + direct + [""]
    out += ["## Memory", ""] + not_this_run(env, "memory") + md_memory(rows.get("mem", [])) + [""]
    out += ["## Start-up: exec to the first OFFER (wren-loadgen --probe, a DISCOVER every 1 ms; t0 taken by the shell that execs the server)", ""]
    out += not_this_run(env, "startup") + md_startup(rows.get("start", [])) + [""]
    out += ["## Size", ""] + md_size(rows.get("size", [])) + [""]
    how = chart(by, png)
    out += [f"Chart: {how}. Raw data: results.tsv. Latency: perfdhcp's DISCOVER→OFFER (DO) and REQUEST→ACK (RA) delays; "
            "drops: DISCOVERs sent without an ACK received (perfdhcp, 1 s drop time); ACKs sent: lease rows the server wrote "
            "(one per ACK), so ACKs sent > ACKs received means the loss was on perfdhcp's side. "
            "The machine is shared; rerun for figures without neighbours."]
    with open(md_path, "w") as f:
        f.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
