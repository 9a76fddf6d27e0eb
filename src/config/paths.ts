import { existsSync } from 'node:fs';
import path from 'node:path';
import { isFresh } from '../../bin/built.cjs';

/** The nearest folder up from here with a package.json: from src/config and from the compiled dist/ alike. */
function findProjectRoot(from: string): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, 'package.json'))) return dir;
    if (path.dirname(dir) === dir) throw new Error(`no package.json above ${from}`);
  }
}

/** The repository root: tools and the default data folder hang off it. */
export const projectRoot = findProjectRoot(__dirname);
const toolsDir = process.env.WARDEN_TOOLS_DIR ?? path.join(projectRoot, '.tools');

/** Installed by `npm run setup` (scripts/setup.mjs); never downloaded at test time. */
export const toolPaths = {
  temporal: path.join(toolsDir, 'bin', 'temporal'),
  testServer: path.join(toolsDir, 'bin', 'temporal-test-server'),
};

/** The workflow bundle's entry, for `Worker.create` and `bundleWorkflowCode`. */
export const workflowsEntry = path.join(projectRoot, 'workflows', 'index.ts');

/** Built by set-up (scripts/build.mjs) from the workflow sources and the lock. */
const PREBUILT_WORKFLOW_BUNDLE = 'dist/workflows.bundle.js';

/**
 * Where a worker's workflows come from: the bundle set-up built, while it is newer than every source it
 * was built from (a worker then starts without webpack), else the sources, bundled at start.
 */
export function workflowSource(): { workflowBundle: { codePath: string } } | { workflowsPath: string } {
  return isFresh(PREBUILT_WORKFLOW_BUNDLE)
    ? { workflowBundle: { codePath: path.join(projectRoot, PREBUILT_WORKFLOW_BUNDLE) } }
    : { workflowsPath: workflowsEntry };
}
