/**
 * Node (V8) flags the installed services start the agent with, on every OS: the systemd
 * unit (installers/linux/templates.ts), the launchd launcher (installers/macos/launchd.ts)
 * and the Windows service host's node command lines (agent and per-session helper). `npm run bench` starts the agent with
 * the same flags, so agent.rss_mb measures what a clinic PC runs.
 *
 * --max-semi-space-size=2 (MB): V8 lets the young generation grow to 16 MB semi-spaces on a
 * 64-bit machine, and an agent that allocates a little on every poll grows it to the
 * maximum and keeps it: ~14 MB of resident memory for garbage. The agent's young objects
 * (one poll's snapshot) are far smaller than 2 MB, so scavenges stay cheap and only come
 * more often: measured on the simulated consult day (test/bench/agent.ts), anonymous
 * memory 43 -> 28 MB with no measurable change in the agent's CPU (agent.poll_cpu_ms).
 * --optimize-for-size: V8's own trade of memory for speed (smaller code and object
 * layouts, earlier heap shrinking). Measured: another 2-3 MB resident off the simulated day
 * (agent.rss_mb 76-77 -> 74-75 MB) with agent.poll_cpu_ms the same within noise (22-25 ms
 * either way, two interleaved runs each) and the day's total CPU unchanged.
 * --single-threaded: V8 does its garbage collection and compilation on the agent's own thread
 * instead of handing work to its helper threads, whose allocations each keep memory of their
 * own. Measured on the simulated consult day (test/bench/agent.ts, the bundle, five runs of
 * each on a quiet 2-core machine, interleaved): agent.rss_mb 62.5-63.4 -> 60.3-61.1 MB,
 * anonymous memory 19.4-20.3 -> 17.1-17.9 MB, and the agent's CPU over the whole day the same
 * (8.6-8.8 s either way, 720 polls). The agent's heap is ~13 MB, so what the helper threads
 * did in parallel (marking, sweeping, optimising a few hot functions) is a few ms here.
 * --no-opt (alias of --no-turbofan on node 20 and 22): no optimising compiler; hot code
 * runs as Sparkplug's baseline code. The poll's cost is reading the process and socket
 * tables (a native collector's output on Windows), not JavaScript arithmetic, and TurboFan's
 * own code and compile memory cost more than it saves here. Measured on a quiet 2-core
 * machine, with --single-threaded: the simulated day 60.3-61.1 -> 56.2 MB on node 20 and
 * 68.8 -> 63.2-63.3 MB on node 22.23.2 (the runtime the installers ship), two runs each;
 * the day's CPU 8.6-8.8 -> 9.0-9.1 s on node 20 and 8.6-8.7 -> 8.7-8.8 s on node 22;
 * agent.poll_cpu_ms run under these flags 26.6/27.9 -> 28.4/29.2 ms (interleaved), so
 * 5-7% more CPU per poll. An earlier measurement on a machine loaded by other test runs
 * (load ~10) put it at a quarter to a third more per poll; on a quiet machine it is not.
 * --no-node-snapshot: node builds its start-up context by running its bootstrap code instead
 * of deserialising the whole start-up snapshot embedded in the binary, so only the built-ins
 * the agent loads are ever made. Measured on node 22.23.2 on a quiet 2-core machine, the
 * simulated day with three agents side by side (scratch copy of test/bench/agent.ts' day), two
 * runs: 63.3-63.4 -> 59.5 MB (node-binary file pages 40.3 -> 37.0 MB, V8 heap and malloc
 * 0.6 MB less); the day's CPU the same (steady-state 3,750/3,440 ms vs 3,700/3,450 ms over
 * the same polls); agent.poll_cpu_ms run under these flags on node 22: 21.0 vs 25.5 ms with
 * the flag run first, 23.6 vs 15.7 ms with it run second, so the order, not the flag, moved
 * it (ratio to the direct /proc read 0.58-0.59 either way). Its one cost: ~50 ms more CPU at
 * start-up (`node -e 0` 0.03 -> 0.08 s), once per service or helper start.
 * Not used: --no-sparkplug on top (58.3-58.4 MB, but 0.3-2% more CPU over the day),
 * --v8-pool-size=1 (fewer threads, but saved less: 61.1-61.3 MB),
 * --interrupt-budget x4 or x16 (fewer functions optimised: within the noise of 0.5 MB),
 * leaving pino's worker-thread transports out of the bundle (no measurable change),
 * a CommonJS bundle (no ESM loader, but one source string for everything: +1.8 MB),
 * --jitless / --lite-mode (3-10x the CPU of a poll), --max-old-space-size (a
 * ceiling turns a large policy or outbox into a crash, and saved nothing measurable here),
 * --no-opt --no-sparkplug saves another ~1 MB for still more CPU.
 * The Windows service host gets these flags through a C header generated from this list
 * (installers/windows/node-flags.ts), so each must be a single word without quotes.
 */
export const AGENT_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=2', '--optimize-for-size', '--single-threaded', '--no-opt', '--no-node-snapshot'];
