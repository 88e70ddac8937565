/**
 * Policy YAML for end-to-end suites: consult hours every day around the clock (UTC), so
 * what a test shows never depends on the day or hour it happens to run.
 */

/** `body` is the rest of the policy (monitor, approved, mode, ...), as YAML at the top level. */
export function allDayPolicy(name: string, body: string): string {
  return `version: 1
name: ${name}
default: true
timezone: UTC
consultHours:
  - days: [mon, tue, wed, thu, fri, sat, sun]
    from: "00:00"
    to: "24:00"
${body}`;
}
