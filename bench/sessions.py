#!/usr/bin/env python3
"""Sessions benchmark (issue 3): Sallyport against an OpenSSH bastion (`ssh -J`) on the same
machine in the same run. Prints each figure and its ratio to ssh -J.

  start     `… -- true` until exit, and until the first prompt byte of an interactive shell
  echo      keystroke round trip on an interactive shell (p50, p99), alternating between the two
  bulk      512 MiB through a non-interactive session, remote to local and local to remote;
            three runs of each side, alternating, and the median of each; timed from the command's
            start, and printed again without each side's median start latency

Usage: bench/sessions.py [--mib 512] [--starts 20] [--keys 300] [--bulk-runs 3]   (build with scripts/build.sh release)
"""
import argparse
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import (PROMPT, Processes, Sallyport, SshBastion, Terminal, median, percentile, timed,  # noqa: E402
                      workspace)


def start_latency(client, runs, env=None):
    return [timed(client.command("true"), env=env) for _ in range(runs)]


def first_prompt(client, runs, env=None):
    times = []
    for _ in range(runs):
        terminal = Terminal(client.shell(), env)
        times.append(terminal.read_until(PROMPT) - terminal.started)
        terminal.close()
    return times


def echo(ours, theirs, keys, env):
    """Keystroke round trips on both interactive shells, alternating key by key so that both
    see the same moments of the machine. Returns (ours, theirs) in seconds."""
    terminals = [Terminal(ours.shell(), env), Terminal(theirs.shell(), None)]
    for terminal in terminals:
        terminal.read_until(PROMPT)
        terminal.drain(0.3)
    times = ([], [])
    for i in range(keys):
        for side, terminal in enumerate(terminals):
            # Type a letter, then erase it, so the line never grows.
            times[side].append(terminal.echo_round_trip(b"x" if i % 2 == 0 else b"\x7f"))
            terminal.drain(0.002)
    for terminal in terminals:
        terminal.close()
    return times


def bulk(client, mib, env=None):
    """Seconds for `mib` MiB remote to local and local to remote, each from the command's start
    to its exit, so a session's start is in them."""
    size = mib << 20
    down = timed(["sh", "-c", f"{quote(client.command(f'head -c {size} /dev/zero'))} | wc -c > /dev/null"], env=env)
    with open("/dev/zero", "rb") as zero:
        feeder = subprocess.Popen(["head", "-c", str(size)], stdin=zero, stdout=subprocess.PIPE)
        up = timed(client.command("wc -c > /dev/null"), stdin=feeder.stdout, env=env)
        feeder.wait()
    return down, up


def quote(argv):
    return " ".join("'" + word.replace("'", "'\\''") + "'" for word in argv)


def row(name, ours, theirs, unit, better_low=True):
    ratio = ours / theirs if theirs else float("inf")
    verdict = f"{ratio:.2f}x of ssh -J" + (" (lower is better)" if better_low else " (higher is better)")
    print(f"{name:<34} sallyport {ours:10.2f} {unit:<5}  ssh -J {theirs:10.2f} {unit:<5}  {verdict}")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--mib", type=int, default=512)
    parser.add_argument("--starts", type=int, default=20)
    parser.add_argument("--keys", type=int, default=300)
    parser.add_argument("--bulk-runs", type=int, default=3, help="alternating bulk runs per side; the median counts")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args()

    work = workspace()
    processes = Processes()
    try:
        ours = Sallyport(work, processes)
        theirs = SshBastion(work, processes)
        env = ours.env
        print(f"# sessions benchmark: {os.cpu_count()} cores, build {os.path.relpath(ours.bin)}, {args.mib} MiB bulk")
        s_start, o_start = start_latency(ours, args.starts, env), start_latency(theirs, args.starts)
        row("start: -- true (median)", median(s_start) * 1e3, median(o_start) * 1e3, "ms")
        s_prompt, o_prompt = first_prompt(ours, 5, env), first_prompt(theirs, 5)
        row("start: first prompt (median)", median(s_prompt) * 1e3, median(o_prompt) * 1e3, "ms")
        s_echo, o_echo = echo(ours, theirs, args.keys, env)
        row("echo round trip p50", percentile(s_echo, 50) * 1e3, percentile(o_echo, 50) * 1e3, "ms")
        row("echo round trip p99", percentile(s_echo, 99) * 1e3, percentile(o_echo, 99) * 1e3, "ms")
        # Alternated, then the median of each: this VM's speed drifts, and one run of each
        # side apart from the other measured the drift as often as the difference.
        s_runs, o_runs = [], []
        for _ in range(args.bulk_runs):
            s_runs.append(bulk(ours, args.mib, env))
            o_runs.append(bulk(theirs, args.mib))
        size = (args.mib << 20) / 1e6
        label = f", median of {args.bulk_runs}" if args.bulk_runs > 1 else ""
        for index, direction in enumerate(("remote->local", "local->remote")):
            s_time, o_time = median([r[index] for r in s_runs]), median([r[index] for r in o_runs])
            row(f"bulk {direction}{label}", size / s_time, size / o_time, "MB/s", better_low=False)
            # The same without each side's median start (ssh -J's is a large part of its time).
            s_stream, o_stream = s_time - median(s_start), o_time - median(o_start)
            row("  the same, start excluded", size / s_stream, size / o_stream, "MB/s", better_low=False)
    finally:
        processes.stop()
        if args.keep:
            print(f"# kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
