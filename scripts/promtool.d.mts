/** The path of promtool, installed from Debian's prometheus package when missing (see promtool.mjs). */
export function ensurePromtool(): string;
