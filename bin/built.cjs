// Whether a compiled output (scripts/build.mjs) is newer than every source it
// was built from: a stale build is never run, the TypeScript is.
const { readFileSync, statSync } = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');

function mtimeMs(file) {
  try {
    return statSync(file).mtimeMs;
  } catch {
    return Number.POSITIVE_INFINITY;
  }
}

/** `output` is relative to the repository root; its inputs are listed beside it in `<output>.inputs.json`. */
function isFresh(output) {
  const built = mtimeMs(path.join(root, output));
  if (!Number.isFinite(built)) return false;
  try {
    const inputs = JSON.parse(readFileSync(path.join(root, `${output}.inputs.json`), 'utf8'));
    return inputs.every((input) => mtimeMs(path.join(root, input)) <= built);
  } catch {
    return false;
  }
}

module.exports = { isFresh, root };
