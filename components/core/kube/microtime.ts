/**
 * Kubernetes `MicroTime` formatting (Lease `acquireTime`/`renewTime`, Event `eventTime`).
 *
 * @module
 */

/**
 * Formats a date as a Kubernetes MicroTime: RFC 3339 in UTC with exactly six fractional digits, which the API
 * server requires, e.g. `2026-11-23T10:00:00.123000Z`.
 *
 * @param date The instant to format.
 * @returns The MicroTime string.
 */
export function formatMicroTime(date: Date): string {
  return date.toISOString().replace(/\.(\d{3})Z$/, ".$1000Z");
}
