// Whether a compiled output (scripts/build.mjs) is newer than every source it
// was built from: a stale build is never run, the TypeScript is.
const { readFileSync, renameSync, statSync, writeFileSync } = require('node:fs');
const Module = require('node:module');
const path = require('node:path');
const vm = require('node:vm');

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

/**
 * Runs a compiled CommonJS output with V8's code cache beside it (`<output>.v8cache`), as Node 22's
 * module.enableCompileCache does, which Node 20 lacks: a call then compiles almost none of the bundle
 * (a third of the CLI's start). The cache names the Node version and the output's size and mtime, so a
 * rebuilt output or another Node never takes a stale one; one missing or refused is written at exit,
 * with the functions this call compiled, atomically. A read-only install just runs without one.
 */
function runCompiled(output) {
  const file = path.join(root, output);
  const source = readFileSync(file, 'utf8');
  const { size, mtimeMs: built } = statSync(file);
  const cacheFile = `${file}.v8cache`;
  const stamp = Buffer.from(`${process.version} ${process.arch} ${size} ${built}\n`);
  let cachedData;
  try {
    const cache = readFileSync(cacheFile);
    if (cache.subarray(0, stamp.length).equals(stamp)) cachedData = cache.subarray(stamp.length);
  } catch {
    // No cache yet: this call writes one.
  }
  const script = new vm.Script(Module.wrap(source), {
    filename: file,
    cachedData,
  });
  if (cachedData === undefined || script.cachedDataRejected)
    process.once('exit', () => {
      try {
        const partial = `${cacheFile}.${process.pid}`;
        writeFileSync(partial, Buffer.concat([stamp, script.createCachedData()]));
        renameSync(partial, cacheFile);
      } catch {
        // Read-only or full: the next call compiles again.
      }
    });
  const compiled = new Module(file, module);
  compiled.filename = file;
  compiled.paths = Module._nodeModulePaths(path.dirname(file));
  script
    .runInThisContext()
    .call(compiled.exports, compiled.exports, Module.createRequire(file), compiled, file, path.dirname(file));
  compiled.loaded = true;
  return compiled.exports;
}

module.exports = { isFresh, root, runCompiled };
