import path from 'node:path';

/** The repository root: tools and the default data folder hang off it. */
export const projectRoot = path.resolve(__dirname, '..', '..');
const toolsDir = process.env.WARDEN_TOOLS_DIR ?? path.join(projectRoot, '.tools');

/** Installed by `npm run setup` (scripts/setup.mjs); never downloaded at test time. */
export const toolPaths = {
  temporal: path.join(toolsDir, 'bin', 'temporal'),
  testServer: path.join(toolsDir, 'bin', 'temporal-test-server'),
};

/** The workflow bundle's entry, for `Worker.create` and `bundleWorkflowCode`. */
export const workflowsEntry = path.join(projectRoot, 'workflows', 'index.ts');
