/** How the web client writes times, days and lengths. */

/** The protocol's text limit, in code points. */
export const MAX_TEXT = 4096;

/** Length in code points, as the server counts it (an emoji is one, not two). */
export function codePoints(text: string): number {
  let n = 0;
  for (const _ of text) n++;
  return n;
}

/** `14:05` in the reader's locale. */
export function timeOf(ts: number): string {
  return new Date(ts).toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit" });
}

/** The local calendar day of `ts`, for day separators: `2026-12-01`. */
export function dayKey(ts: number): string {
  const d = new Date(ts);
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}-${String(d.getDate()).padStart(2, "0")}`;
}

/** "Today", "Yesterday", or the date. */
export function dayLabel(ts: number, now = Date.now()): string {
  const key = dayKey(ts);
  if (key === dayKey(now)) return "Today";
  if (key === dayKey(now - 86_400_000)) return "Yesterday";
  return new Date(ts).toLocaleDateString(undefined, { weekday: "short", year: "numeric", month: "short", day: "numeric" });
}

/** What a conversation list shows for its last message: the time today, else the day. */
export function shortWhen(ts: number, now = Date.now()): string {
  if (dayKey(ts) === dayKey(now)) return timeOf(ts);
  return new Date(ts).toLocaleDateString(undefined, { month: "short", day: "numeric" });
}

/** One line of a message for a preview: newlines as spaces, cut at `max` code points. */
export function preview(text: string, max = 80): string {
  const flat = text.replace(/\s+/g, " ").trim();
  const chars = [...flat];
  return chars.length > max ? `${chars.slice(0, max).join("")}…` : flat;
}
