import { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode } from '@temporalio/worker';
import type { TestProject } from 'vitest/node';
import { readFile } from 'node:fs/promises';
import { toolPaths, workflowSource } from '../src/config/paths';
import { devServerArgs } from '../src/temporal/dev-server';

/** Namespaces created on the shared dev server, one per file that runs `warden-control-plane`. */
export const E2E_NAMESPACES = [
  'warden-deals-e2e',
  'warden-control-plane-cli-e2e',
  'warden-watchdogs-e2e',
  'warden-restart-e2e',
  'warden-autonomy-e2e',
  'warden-metrics-e2e',
  'warden-notifications-e2e',
  'warden-go-live-e2e',
  'warden-api-e2e',
  'warden-commands-e2e',
  'warden-change-requests-e2e',
  'warden-policy-e2e',
  'warden-policies-api-e2e',
  'warden-command-policies-e2e',
  'warden-ops-e2e',
  'warden-fuzz-e2e',
  'warden-long-lived-e2e',
  'warden-control-plane-e2e',
  'warden-control-plane-unjammable-e2e',
  'warden-approvals-page-e2e',
];

declare module 'vitest' {
  export interface ProvidedContext {
    temporalAddress: string;
    workflowBundleCode: string;
  }
}

// One dev server and one workflow bundle for the whole run.
export default async function setup(project: TestProject) {
  const [env, bundle] = await Promise.all([
    TestWorkflowEnvironment.createLocal({
      server: {
        executable: { type: 'existing-path', path: toolPaths.temporal },
        ui: false,
        log: { format: 'pretty', level: 'error' },
        // Files that own the singleton control plane each get a namespace of their own.
        extraArgs: devServerArgs(E2E_NAMESPACES),
      },
    }),
    workflowBundleCode(),
  ]);
  project.provide('temporalAddress', env.address);
  project.provide('workflowBundleCode', bundle);
  return async () => {
    await env.teardown();
  };
}

/** The bundle set-up built (the test command runs set-up first), or one built now from sources edited since. */
async function workflowBundleCode(): Promise<string> {
  const source = workflowSource();
  if ('workflowBundle' in source) return readFile(source.workflowBundle.codePath, 'utf8');
  return (await bundleWorkflowCode({ workflowsPath: source.workflowsPath, logger: quietLogger })).code;
}

const quietLogger = {
  log: () => undefined,
  trace: () => undefined,
  debug: () => undefined,
  info: () => undefined,
  warn: (message: string) => console.warn(message),
  error: (message: string) => console.error(message),
};
