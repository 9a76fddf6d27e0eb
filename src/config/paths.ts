import { existsSync } from 'node:fs';
import path from 'node:path';

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
