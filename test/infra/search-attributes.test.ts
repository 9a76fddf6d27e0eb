import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toolPaths } from '../../src/config/paths';
import { ensureSearchAttributes, SearchAttributesMissing } from '../../src/temporal/search-attributes';
import { WARDEN_SEARCH_ATTRIBUTES } from '../../workflows/search-attributes';

const run = promisify(execFile);
const root = path.join(__dirname, '..', '..');

// A dev server started without Warden's flags stands for a cluster nobody set up: the worker refuses it,
// docker-compose's set-up job (deploy/temporal-setup.sh, run here with the same CLI) registers them.
describe("Warden's search attributes on a cluster", () => {
  let env: TestWorkflowEnvironment;
  beforeAll(async () => {
    env = await TestWorkflowEnvironment.createLocal({
      server: { executable: { type: 'existing-path', path: toolPaths.temporal }, ui: false },
    });
  });
  afterAll(async () => {
    await env?.teardown();
  });
  const createNamespace = (namespace: string) =>
    run(toolPaths.temporal, ['operator', 'namespace', 'create', '--namespace', namespace, '--address', env.address]);

  it('a worker refuses a namespace without them, naming each and the command; the set-up job registers them, twice harmlessly', async () => {
    const namespace = 'warden-bare';
    await createNamespace(namespace);
    const refused = await ensureSearchAttributes(env.nativeConnection, namespace).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(SearchAttributesMissing);
    const message = (refused as Error).message;
    for (const name of Object.keys(WARDEN_SEARCH_ATTRIBUTES)) expect(message).toContain(name);
    expect(message).toContain(
      `temporal operator search-attribute create --namespace ${namespace} --name WardenAwaitingApproval --type KeywordList`,
    );

    const setup = () =>
      run('/bin/sh', [path.join(root, 'deploy', 'temporal-setup.sh')], {
        env: {
          PATH: `${path.dirname(toolPaths.temporal)}:${process.env.PATH ?? ''}`,
          TEMPORAL_ADDRESS: env.address,
          WARDEN_NAMESPACE: namespace,
          WARDEN_TASK_QUEUE: 'warden',
          PRODUCER_NAMESPACE: 'producers-bare',
        },
      });
    await setup();
    await expect(ensureSearchAttributes(env.nativeConnection, namespace)).resolves.toBeUndefined();
    // A second run finds everything in place and changes nothing.
    const again = await setup();
    expect(again.stdout).toContain("Warden's search attributes");
    const listed = await env.nativeConnection.operatorService.listSearchAttributes({ namespace });
    expect(Object.keys(listed.customAttributes ?? {}).filter((name) => name.startsWith('Warden'))).toHaveLength(
      Object.keys(WARDEN_SEARCH_ATTRIBUTES).length,
    );
  });

  it('the embedded dev server registers what is missing instead (npm start on a state file from before)', async () => {
    const namespace = 'warden-embedded';
    await createNamespace(namespace);
    await ensureSearchAttributes(env.nativeConnection, namespace, { register: true });
    await expect(ensureSearchAttributes(env.nativeConnection, namespace)).resolves.toBeUndefined();
  });
});
