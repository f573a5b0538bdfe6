/**
 * Small formatting helpers shared by nvidia-smi's output formats.
 *
 * @module
 */

const DAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

function two(n: number): string {
  return String(n).padStart(2, "0");
}

/** `ctime`-style time as nvidia-smi prints it (UTC): `Thu Dec  3 18:37:13 2026`. */
export function ctime(time: Date): string {
  return `${DAYS[time.getUTCDay()]} ${MONTHS[time.getUTCMonth()]} ${String(time.getUTCDate()).padStart(2)} ` +
    `${two(time.getUTCHours())}:${two(time.getUTCMinutes())}:${
      two(time.getUTCSeconds())
    } ${time.getUTCFullYear()}`;
}

/** The CSV `timestamp` field (UTC): `2026/12/03 18:38:24.083`. */
export function csvTimestamp(time: Date): string {
  return `${time.getUTCFullYear()}/${two(time.getUTCMonth() + 1)}/${two(time.getUTCDate())} ` +
    `${two(time.getUTCHours())}:${two(time.getUTCMinutes())}:${two(time.getUTCSeconds())}.` +
    String(time.getUTCMilliseconds()).padStart(3, "0");
}

/** `text` cut to `width` characters from the left, marked with `...` as nvidia-smi does. */
export function cutLeft(text: string, width: number): string {
  return text.length <= width ? text : `...${text.slice(text.length - width + 3)}`;
}

/** `text` cut to `width` characters from the right, marked with `...`. */
export function cutRight(text: string, width: number): string {
  return text.length <= width ? text : `${text.slice(0, width - 3)}...`;
}
