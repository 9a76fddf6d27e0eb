/** The path of promtool, installed from Debian's prometheus package when missing (see debian-tools.mjs). */
export function ensurePromtool(): string;
/** The path of chromium, installed from Debian's chromium package when missing. */
export function ensureChromium(): string;
